// Chart is a panel-sized ECharts chart; ECharts itself is loaded on first use.
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ChartHandle, ChartOption } from './charts';
import { t } from './i18n';

// ChartData is what a chart shows, as a table: a canvas says nothing to a
// screen reader, so every chart carries its numbers in a visually hidden
// table beside it (and what a test reads).
export interface ChartData {
  categories: string[];
  series: { name: string; values: number[] }[];
}

export function Chart(props: { option: ChartOption; height?: number; label: string; testid?: string; data?: ChartData }) {
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
  const d = props.data;
  return (
    <>
      <div ref={el} class="chart" role="img" aria-label={props.label} data-testid={props.testid} style={{ height: `${props.height ?? 260}px` }} />
      {d && (
        <table class="sr-only" data-testid={props.testid ? `${props.testid}-data` : undefined}>
          <caption>{props.label}</caption>
          <thead>
            <tr>
              <td />
              {d.series.map((s) => (
                <th key={s.name} scope="col">
                  {s.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {d.categories.map((c, i) => (
              <tr key={c}>
                <th scope="row">{c}</th>
                {d.series.map((s) => (
                  <td key={s.name}>{s.values[i] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
