/// <reference lib="dom" />
/**
 * A plain time plot with uPlot for counters over time (health reports, rejections): a line per
 * series, times in UTC, steps between reports (a counter holds its value until the next report
 * says otherwise). A value a report does not carry is a gap, as in the channel plots.
 */
import uPlot from "uplot";
import { el, replace } from "./dom.js";
import { utcMinute, utcTicks } from "./format.js";

const COLORS = ["#1d6fa5", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b", "#5d6d7e", "#a93226"];

export interface LineSeries {
  readonly label: string;
  readonly values: ReadonlyArray<number | null>;
}

export class LinePlot {
  readonly element: HTMLElement;
  readonly #target = el("div", { class: "plot-canvas" });
  readonly #empty: string;
  readonly #bars: boolean;
  readonly #resize: ResizeObserver;
  #plot: uPlot | undefined;
  #labels = "";

  /** `bars`: each x a bucket, drawn as bars (rejections); otherwise steps. */
  constructor(title: string, note: string, empty: string, options: { readonly bars?: boolean; readonly name?: string } = {}) {
    this.#empty = empty;
    this.#bars = options.bars ?? false;
    this.element = el("section", { class: "line-plot", "data-plot": options.name ?? title }, el("h4", {}, title), this.#target, note ? el("p", { class: "note" }, note) : null);
    this.#resize = new ResizeObserver(() => {
      const width = this.#width();
      if (this.#plot && width !== this.#plot.width) this.#plot.setSize({ width, height: 170 });
    });
    this.#resize.observe(this.#target);
  }

  update(x: readonly number[], series: readonly LineSeries[]): void {
    if (x.length === 0 || series.length === 0) {
      this.#plot?.destroy();
      this.#plot = undefined;
      this.#labels = "";
      replace(this.#target, el("p", { class: "empty" }, this.#empty));
      return;
    }
    const data = [[...x], ...series.map((s) => [...s.values])] as uPlot.AlignedData;
    const labels = series.map((s) => s.label).join("\n");
    if (this.#plot && labels === this.#labels) {
      this.#plot.setData(data);
      return;
    }
    this.#plot?.destroy();
    replace(this.#target);
    this.#labels = labels;
    const paths = this.#bars ? uPlot.paths.bars!({ size: [0.8, 40], align: 1 }) : uPlot.paths.stepped!({ align: 1 });
    this.#plot = new uPlot(
      {
        width: this.#width(),
        height: 170,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        // One report alone: an hour around it (uPlot would widen a single point's range to days).
        // Bars: to the end of the last bucket, which each bar spans from its start.
        scales: { x: { time: true, range: (u, min, max) => this.#range(u, min, max) } },
        series: [
          { label: "time (UTC)", value: (_u, v) => (v === null ? "" : utcMinute(v)) },
          ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length]!, fill: this.#bars ? COLORS[i % COLORS.length]! + "99" : undefined, width: 1.5, spanGaps: false, paths })),
        ],
        axes: [{ values: (_u, splits) => utcTicks(splits), size: 32 }, { size: 56 }],
        legend: { live: true },
      },
      data,
      this.#target,
    );
  }

  #range(u: uPlot, min: number, max: number): uPlot.Range.MinMax {
    const xs = u.data[0];
    if (xs.length === 1) return [xs[0]! - 1800, xs[0]! + 1800];
    if (this.#bars && xs.length > 1) return [xs[0]!, xs[xs.length - 1]! + (xs[1]! - xs[0]!)];
    return [min, max];
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#plot?.destroy();
  }

  #width(): number {
    return Math.max(320, Math.floor(this.#target.clientWidth || 720));
  }
}
