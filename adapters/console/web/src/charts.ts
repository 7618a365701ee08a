// Charts, drawn by Apache ECharts on canvas. Only the parts used are
// imported, so the rest of ECharts stays out of the bundle; this module is
// loaded on demand by the pages that chart, never by the login page.
//
// Canvas matters for the Content-Security-Policy: the canvas renderer sets
// styles through the CSSOM only, and tooltips are drawn on the canvas too
// (renderMode 'richText'), so no HTML is built from data and no inline style
// attribute is parsed.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, type BarSeriesOption, type LineSeriesOption } from 'echarts/charts';
import {
  GridComponent,
  LegendComponent,
  MarkAreaComponent,
  TooltipComponent,
  type GridComponentOption,
  type LegendComponentOption,
  type MarkAreaComponentOption,
  type TooltipComponentOption,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, MarkAreaComponent, TooltipComponent, CanvasRenderer]);

export type ChartOption = echarts.ComposeOption<
  BarSeriesOption | LineSeriesOption | GridComponentOption | LegendComponentOption | TooltipComponentOption | MarkAreaComponentOption
>;

export interface ChartHandle {
  update(option: ChartOption): void;
  dispose(): void;
}

// mountChart draws option into el and follows el's size.
export function mountChart(el: HTMLElement, option: ChartOption): ChartHandle {
  const chart = echarts.init(el, null, { renderer: 'canvas' });
  chart.setOption(base(option));
  const ro = new ResizeObserver(() => chart.resize());
  ro.observe(el);
  return {
    update(o) {
      chart.setOption(base(o), { notMerge: true });
    },
    dispose() {
      ro.disconnect();
      chart.dispose();
    },
  };
}

function base(o: ChartOption): ChartOption {
  return {
    animationDuration: 300,
    textStyle: { fontFamily: 'inherit' },
    grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
    tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
    legend: { top: 0, left: 0, icon: 'roundRect', itemWidth: 10, itemHeight: 10 },
    ...o,
  };
}

