// Chart is a panel-sized ECharts chart; ECharts itself is loaded on first use.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChartHandle, ChartOption } from './charts';
import { t } from './i18n';

export function Chart(props: { option: ChartOption; height?: number; label: string; testid?: string }) {
  const el = useRef<HTMLDivElement>(null);
  const handle = useRef<ChartHandle | null>(null);
  const [failed, setFailed] = useState(false);
  const latest = useRef(props.option);
  latest.current = props.option;

  useEffect(() => {
    let gone = false;
    import('./charts').then(
      (m) => {
        if (gone || !el.current) return;
        handle.current = m.mountChart(el.current, latest.current);
      },
      () => setFailed(true),
    );
    return () => {
      gone = true;
      handle.current?.dispose();
      handle.current = null;
    };
  }, []);

  useEffect(() => {
    handle.current?.update(props.option);
  }, [props.option]);

  if (failed) return <p class="muted">{t('chart.failed')}</p>;
  return <div ref={el} class="chart" role="img" aria-label={props.label} data-testid={props.testid} style={{ height: `${props.height ?? 260}px` }} />;
}
