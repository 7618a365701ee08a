// Chart options built from report data: plain objects, so pages can build
// them without loading ECharts (only types are imported from it here).
import type { BarSeriesOption, LineSeriesOption } from 'echarts/charts';
import type { ChartOption } from './charts';

export const colors = {
  attempts: '#1f6feb',
  recalled: '#1a7f37',
  refused: '#bf8700',
  timeouts: '#cf222e',
  muted: '#8c959f',
};

export interface Series {
  name: string;
  color: string;
  values: number[];
  kind?: 'line' | 'bar';
  stack?: string;
}

// seriesChart is a chart of named series over categories.
export function seriesChart(categories: string[], series: Series[], opts: { horizontal?: boolean } = {}): ChartOption {
  const cat = { type: 'category' as const, data: categories, axisTick: { alignWithLabel: true } };
  const val = { type: 'value' as const, minInterval: 1 };
  return {
    xAxis: opts.horizontal ? val : cat,
    yAxis: opts.horizontal ? { ...cat, inverse: true } : val,
    series: series.map((s) =>
      s.kind === 'line'
        ? ({ type: 'line', name: s.name, data: s.values, color: s.color, smooth: true, symbolSize: 6 } satisfies LineSeriesOption)
        : ({ type: 'bar', name: s.name, data: s.values, color: s.color, stack: s.stack, barMaxWidth: 28 } satisfies BarSeriesOption),
    ),
  };
}

// elapsedChart is the distribution of elapsed time over buckets, with the
// buckets past the recall window shaded: near misses just past it show.
export function elapsedChart(
  buckets: string[],
  recalled: number[],
  refused: number[],
  timeouts: number[],
  firstPast: number,
  names: { recalled: string; refused: string; timeouts: string; past: string },
): ChartOption {
  const o = seriesChart(buckets, [
    { name: names.recalled, color: colors.recalled, values: recalled, stack: 'a' },
    { name: names.refused, color: colors.refused, values: refused, stack: 'a' },
    { name: names.timeouts, color: colors.timeouts, values: timeouts, stack: 'a' },
  ]);
  const series = o.series as BarSeriesOption[];
  if (firstPast >= 0 && firstPast < buckets.length) {
    series[0].markArea = {
      silent: true,
      itemStyle: { color: 'rgba(207, 34, 46, 0.08)' },
      label: { show: true, position: 'insideTop', color: colors.timeouts, formatter: names.past },
      data: [[{ xAxis: buckets[firstPast] }, { xAxis: buckets[buckets.length - 1] }]],
    };
  }
  return o;
}
