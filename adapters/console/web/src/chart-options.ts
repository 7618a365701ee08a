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
        ? ({ type: 'line', name: s.name, data: s.values, color: s.color, smooth: false, symbolSize: 5 } satisfies LineSeriesOption)
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
  // A value axis with one bucket per whole number, so the shading can
  // start and end on the edges between buckets (a category axis would
  // shade from centre to centre).
  const bar = (name: string, color: string, values: number[]): BarSeriesOption => ({
    type: 'bar',
    name,
    color,
    stack: 'a',
    barWidth: '60%',
    data: values.map((v, i) => [i, v]),
  });
  const series = [bar(names.recalled, colors.recalled, recalled), bar(names.refused, colors.refused, refused), bar(names.timeouts, colors.timeouts, timeouts)];
  if (firstPast >= 0 && firstPast < buckets.length) {
    series[0].markArea = {
      silent: true,
      itemStyle: { color: 'rgba(207, 34, 46, 0.08)' },
      label: { show: true, position: 'insideTop', color: colors.timeouts, formatter: names.past },
      data: [[{ xAxis: firstPast - 0.5 }, { xAxis: buckets.length - 0.5 }]],
    };
  }
  return {
    xAxis: {
      type: 'value',
      min: -0.5,
      max: buckets.length - 0.5,
      splitLine: { show: false },
      axisTick: { customValues: buckets.map((_, i) => i - 0.5).concat(buckets.length - 0.5) },
      axisLabel: { customValues: buckets.map((_, i) => i), formatter: (v: number) => buckets[v] ?? '' },
    },
    yAxis: { type: 'value', minInterval: 1 },
    series,
  };
}
