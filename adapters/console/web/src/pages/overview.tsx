// Overview: recall attempts, recalled, refused and timeouts over time and
// by platform, chat type and refusal reason; the distribution of elapsed
// time with the recall window marked; the share that timed out. It
// refreshes every few seconds while the tab is visible.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { getPolicy, recallReport, type GroupBy, type RecallReport, type ReportRow, type Session } from '../api';
import { Chart, type ChartData } from '../chart';
import { colors, elapsedChart, seriesChart } from '../chart-options';
import type { ChartOption } from '../charts';
import { dayKey, formatDay, formatNumber, formatPercent, formatTime, hourOfDay, instantToWall, t, useI18n, wallToInstant, type MessageKey } from '../i18n';
import { Empty, ErrorBox, Loading, PageHead, Panel } from '../ui';
import { reasonLabel } from '../labels';

const refreshMs = 5000;

type Range = '24h' | '7d' | '30d';

// The server's elapsed buckets (upper-inclusive), in order, with their
// upper bounds in seconds.
export const elapsedBuckets: { key: string; upper: number }[] = [
  { key: '0-10s', upper: 10 },
  { key: '10-30s', upper: 30 },
  { key: '30-60s', upper: 60 },
  { key: '60-90s', upper: 90 },
  { key: '90-120s', upper: 120 },
  { key: '120-180s', upper: 180 },
  { key: '3-10min', upper: 600 },
  { key: '>10min', upper: Infinity },
];

interface Period {
  from: Date;
  to: Date;
  step: 'hour' | 'day';
  keys: string[]; // report keys in time order
  labels: string[];
}

// period is the range ending now, aligned to whole hours or days on the
// operator's wall clock, so each hour-of-day or day key appears once.
function period(range: Range, tz: string, now: Date): Period {
  if (range === '24h') {
    const hourStart = wallToInstant(instantToWall(now, tz).slice(0, 13) + ':00', tz) ?? now;
    const from = new Date(hourStart.getTime() - 23 * 3600_000);
    const keys: string[] = [];
    const labels: string[] = [];
    for (let i = 0; i < 24; i++) {
      const h = hourOfDay(new Date(from.getTime() + i * 3600_000), tz);
      keys.push(String(h).padStart(2, '0'));
      labels.push(`${String(h).padStart(2, '0')}:00`);
    }
    return { from, to: now, step: 'hour', keys, labels };
  }
  const days = range === '7d' ? 7 : 30;
  const today = wallToInstant(dayKey(now, tz) + 'T00:00', tz) ?? now;
  const from = new Date(today.getTime() - (days - 1) * 86400_000);
  const keys: string[] = [];
  for (let i = 0; i < days; i++) {
    // noon avoids landing on the wrong day across a DST change
    keys.push(dayKey(new Date(from.getTime() + i * 86400_000 + 12 * 3600_000), tz));
  }
  return { from: wallToInstant(keys[0] + 'T00:00', tz) ?? from, to: now, step: 'day', keys, labels: keys.map(formatDay) };
}

interface Data {
  period: Period;
  trend: RecallReport;
  platform: RecallReport;
  chatType: RecallReport;
  outcome: RecallReport;
  elapsed: RecallReport;
  at: Date;
}

function rows(r: RecallReport): ReportRow[] {
  return r.rows ?? [];
}

function byKey(r: RecallReport): Map<string, ReportRow> {
  return new Map(rows(r).map((row) => [row.key, row]));
}

function pick(keys: string[], r: RecallReport, f: keyof Omit<ReportRow, 'key'>): number[] {
  const m = byKey(r);
  return keys.map((k) => m.get(k)?.[f] ?? 0);
}

export function OverviewPage(props: { session: Session }) {
  const { session: s } = props;
  const { timeZone: tz, locale } = useI18n();
  const [range, setRange] = useState<Range>('24h');
  const [live, setLive] = useState(true);
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [windowS, setWindowS] = useState<{ s: number; known: boolean }>({ s: 120, known: false });
  const [tick, setTick] = useState(0);

  // The sender window marks the elapsed chart; only admins may read the
  // policy, auditors see the default marked as such.
  useEffect(() => {
    if (s.operator.role !== 'admin') return;
    getPolicy(s.tenant).then(
      (p) => typeof p.policy.sender_window_s === 'number' && setWindowS({ s: p.policy.sender_window_s, known: true }),
      () => undefined,
    );
  }, [s.tenant, s.operator.role]);

  useEffect(() => {
    let gone = false;
    const p = period(range, tz, new Date());
    const q = (group_by: GroupBy) => recallReport(s.tenant, { from: p.from.toISOString(), to: p.to.toISOString(), group_by, tz });
    Promise.all([q(p.step), q('platform'), q('chat_type'), q('outcome'), q('elapsed')]).then(
      ([trend, platform, chatType, outcome, elapsed]) => {
        if (gone) return;
        setData({ period: p, trend, platform, chatType, outcome, elapsed, at: new Date() });
        setError(null);
      },
      (e: unknown) => !gone && setError(e),
    );
    return () => {
      gone = true;
    };
  }, [s.tenant, range, tz, tick]);

  useEffect(() => {
    if (!live) return;
    const id = setInterval(() => {
      if (!document.hidden) setTick((n) => n + 1);
    }, refreshMs);
    return () => clearInterval(id);
  }, [live]);

  const names = { attempts: t('metric.attempts'), recalled: t('metric.recalled'), refused: t('metric.refused'), timeouts: t('metric.timeouts') };

  const charts = useMemo(() => {
    if (!data) return null;
    const p = data.period;
    const trendSeries = [
      { name: names.attempts, color: colors.attempts, values: pick(p.keys, data.trend, 'attempts'), kind: 'line' as const },
      { name: names.recalled, color: colors.recalled, values: pick(p.keys, data.trend, 'recalled'), kind: 'line' as const },
      { name: names.refused, color: colors.refused, values: pick(p.keys, data.trend, 'refused'), kind: 'line' as const },
      { name: names.timeouts, color: colors.timeouts, values: pick(p.keys, data.trend, 'timeouts'), kind: 'line' as const },
    ];
    const trend = seriesChart(p.labels, trendSeries);
    const trendData: ChartData = { categories: p.labels, series: trendSeries };
    const dimension = (r: RecallReport, label: (k: string) => string): ChartOption => {
      const keys = rows(r).map((x) => x.key);
      return seriesChart(keys.map(label), [
        { name: names.recalled, color: colors.recalled, values: pick(keys, r, 'recalled'), stack: 'o' },
        { name: names.refused, color: colors.refused, values: keys.map((k) => (byKey(r).get(k)?.refused ?? 0) - (byKey(r).get(k)?.timeouts ?? 0)), stack: 'o' },
        { name: names.timeouts, color: colors.timeouts, values: pick(keys, r, 'timeouts'), stack: 'o' },
      ], { horizontal: true });
    };
    const refusals = rows(data.outcome).filter((r) => r.key !== 'recalled').sort((a, b) => b.attempts - a.attempts);
    const reasons = seriesChart(refusals.map((r) => reasonLabel(r.key)), [
      { name: names.refused, color: colors.refused, values: refusals.map((r) => r.attempts) },
    ], { horizontal: true });
    const bk = elapsedBuckets.map((b) => b.key);
    const firstPast = elapsedBuckets.findIndex((_, i) => (i === 0 ? 0 : elapsedBuckets[i - 1].upper) >= windowS.s);
    const bucketNames = bk.map((k) => t(`bucket.${k}` as MessageKey));
    const elapsedSeries = [
      { name: names.recalled, values: pick(bk, data.elapsed, 'recalled') },
      { name: t('metric.refusedOther'), values: bk.map((k) => (byKey(data.elapsed).get(k)?.refused ?? 0) - (byKey(data.elapsed).get(k)?.timeouts ?? 0)) },
      { name: names.timeouts, values: pick(bk, data.elapsed, 'timeouts') },
    ];
    const elapsed = elapsedChart(bucketNames, elapsedSeries[0].values, elapsedSeries[1].values, elapsedSeries[2].values, firstPast, {
      ...names,
      refused: t('metric.refusedOther'),
      past: t('overview.pastWindow', { window: windowS.s }),
    });
    const elapsedData: ChartData = { categories: bucketNames, series: elapsedSeries };
    return {
      trend,
      trendData,
      elapsedData,
      platform: dimension(data.platform, (k) => k || t('label.unknown')),
      chatType: dimension(data.chatType, (k) => (k ? t(`chat.${k}` as MessageKey) : t('label.unknown'))),
      reasons,
      refusals: refusals.length,
      elapsed,
    };
  }, [data, locale, windowS]);

  const totals = useMemo(() => {
    const sum = { attempts: 0, recalled: 0, refused: 0, timeouts: 0 };
    for (const r of data ? rows(data.outcome) : []) {
      sum.attempts += r.attempts;
      sum.recalled += r.recalled;
      sum.refused += r.refused;
      sum.timeouts += r.timeouts;
    }
    return sum;
  }, [data]);

  const rangeButtons: { r: Range; label: MessageKey }[] = [
    { r: '24h', label: 'range.24h' },
    { r: '7d', label: 'range.7d' },
    { r: '30d', label: 'range.30d' },
  ];

  return (
    <div class="page" data-testid="page-overview">
      <PageHead
        title={t('nav.overview')}
        subtitle={t('overview.subtitle', { tz })}
        actions={
          <>
            <div class="segmented" role="group" aria-label={t('overview.range')}>
              {rangeButtons.map((b) => (
                <button key={b.r} type="button" class={range === b.r ? 'active' : ''} aria-pressed={range === b.r} onClick={() => setRange(b.r)}>
                  {t(b.label)}
                </button>
              ))}
            </div>
            <label class="toggle">
              <input type="checkbox" checked={live} onChange={(e) => setLive((e.target as HTMLInputElement).checked)} />
              {t('overview.live')}
            </label>
            {data && <span class="muted small" data-testid="updated">{t('overview.updated', { at: formatTime(data.at) })}</span>}
          </>
        }
      />
      {error && !data ? (
        <ErrorBox error={error} onRetry={() => setTick((n) => n + 1)} />
      ) : !data || !charts ? (
        <Loading />
      ) : (
        <>
          {error && <ErrorBox error={error} />}
          <div class="kpis" data-testid="kpis">
            <Kpi label={names.attempts} value={formatNumber(totals.attempts)} kind="attempts" testid="kpi-attempts" />
            <Kpi label={names.recalled} value={formatNumber(totals.recalled)} kind="recalled" testid="kpi-recalled" />
            <Kpi label={names.refused} value={formatNumber(totals.refused)} kind="refused" testid="kpi-refused" />
            <Kpi label={names.timeouts} value={formatNumber(totals.timeouts)} kind="timeouts" testid="kpi-timeouts" />
            <Kpi
              label={t('metric.timeoutShare')}
              value={totals.attempts ? formatPercent(totals.timeouts / totals.attempts) : '—'}
              hint={t('overview.timeoutShareHint')}
              kind="timeouts"
              testid="kpi-timeout-share"
            />
          </div>
          {totals.attempts === 0 ? (
            <Panel>
              <Empty title={t('overview.empty')} hint={t('overview.emptyHint')} />
            </Panel>
          ) : (
            <div class="grid">
              <Panel title={data.period.step === 'hour' ? t('overview.byHour') : t('overview.byDay')} class="span-2">
                <Chart option={charts.trend} height={280} label={data.period.step === 'hour' ? t('overview.byHour') : t('overview.byDay')} testid="chart-trend" data={charts.trendData} />
              </Panel>
              <Panel title={t('overview.elapsed')} class="span-2">
                <p class="muted small">
                  {windowS.known ? t('overview.elapsedHint', { window: windowS.s }) : t('overview.elapsedHintDefault', { window: windowS.s })}
                </p>
                <Chart option={charts.elapsed} height={260} label={t('overview.elapsed')} testid="chart-elapsed" data={charts.elapsedData} />
              </Panel>
              <Panel title={t('overview.byPlatform')}>
                <Chart option={charts.platform} label={t('overview.byPlatform')} />
              </Panel>
              <Panel title={t('overview.byChatType')}>
                <Chart option={charts.chatType} label={t('overview.byChatType')} />
              </Panel>
              <Panel title={t('overview.byReason')} class="span-2">
                {charts.refusals === 0 ? <Empty title={t('overview.noRefusals')} /> : <Chart option={charts.reasons} label={t('overview.byReason')} />}
              </Panel>
            </div>
          )}
        </>
      )}
    </div>
  );
}

function Kpi(props: { label: string; value: string; hint?: string; kind: keyof typeof colors; testid: string }) {
  return (
    <div class={`kpi kpi-${props.kind}`} title={props.hint}>
      <span class="kpi-label">{props.label}</span>
      <strong class="kpi-value" data-testid={props.testid}>
        {props.value}
      </strong>
    </div>
  );
}
