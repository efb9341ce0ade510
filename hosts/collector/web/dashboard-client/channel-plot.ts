/// <reference lib="dom" />
/**
 * One channel of one node over time, with uPlot: a line per released statistic, each point at its
 * window's start. Where no value was released the line stops: uPlot breaks it at a null
 * (spanGaps off), and the plot marks the window with a shaded band whose colour says why (a list
 * under the plot says it in words: window-series.ts). A window not stored at all is a band of its
 * own; nothing is ever drawn as zero or bridged.
 *
 * A noisy count (a `sum` or `distinct` the node released with differential-privacy noise) is
 * drawn as released, below zero too, never clamped, with a band of ±1 standard deviation of the
 * declared discrete Laplace noise around it (noise-band.ts, from ε and Δ in the node's disclosure).
 *
 * The values the plot was given are also a table (opened on demand: it is built from the plot's
 * own data arrays), for reading exact numbers, for screen readers, and for the tests.
 */
import uPlot from "uplot";
import type { DisclosedPrivacy } from "./api-types.js";
import { append, el, replace } from "./dom.js";
import { utcMinute, utcTicks, utcTime, value } from "./format.js";
import { discreteLaplaceSigma, NOISY_STATS } from "./noise-band.js";
import { Pager } from "./pager.js";
import { gapText, type ChannelSeries, type GapReason, type WindowGap, type WindowPoint } from "./window-series.js";

const COLORS = ["#1d6fa5", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d"];
const BAND_FILL = "rgba(29, 111, 165, 0.18)";
export const GAP_FILL: Record<GapReason, string> = {
  missing: "rgba(120, 120, 120, 0.28)",
  "no-readings": "rgba(192, 57, 43, 0.22)",
  suppressed: "rgba(142, 68, 173, 0.22)",
  "budget-exhausted": "rgba(211, 84, 0, 0.25)",
  withheld: "rgba(52, 73, 94, 0.22)",
  absent: "rgba(189, 195, 199, 0.35)",
};
export const GAP_LABEL: Record<GapReason, string> = {
  missing: "window not stored",
  "no-readings": "no readings",
  suppressed: "suppressed (k-anonymity)",
  "budget-exhausted": "privacy budget spent",
  withheld: "withheld",
  absent: "not in the summary",
};
const HEIGHT = 190;
const READINGS_SCALE = "readings";
const GAPS_PER_PAGE = 6;

export interface PlotOptions {
  /** The channel's privacy parameters from the node's disclosure, if it has any. */
  readonly privacy: DisclosedPrivacy | undefined;
  /** A stored window picked on the plot (clicked): the inspector shows its message. */
  readonly onPick: (point: WindowPoint) => void;
}

export class ChannelPlot {
  readonly element: HTMLElement;
  readonly #options: PlotOptions;
  readonly #target = el("div", { class: "plot-canvas" });
  readonly #note = el("p", { class: "note" });
  readonly #gapBody = el("ol", { class: "gap-list" });
  readonly #gapPager: Pager<WindowGap>;
  readonly #table = el("details", { class: "plot-values" });
  readonly #resize: ResizeObserver;
  #series: ChannelSeries;
  #sigma: number | undefined;
  #plot: uPlot | undefined;
  #noisy: string[] = [];

  constructor(series: ChannelSeries, options: PlotOptions) {
    this.#series = series;
    this.#options = options;
    this.#gapPager = new Pager(this.#gapBody, (gap) => this.#gapRow(gap), GAPS_PER_PAGE, "no gap: every window has its values", `gaps of ${series.channel}`);
    this.#table.append(el("summary", {}, "values"));
    this.#table.addEventListener("toggle", () => {
      if (this.#table.open) this.#fillTable();
    });
    const title = el("h4", {}, series.channel, series.unit ? el("span", { class: "unit" }, ` (${series.unit})`) : null);
    this.element = el(
      "section",
      { class: "channel-plot", "data-channel": series.channel },
      title,
      this.#target,
      this.#note,
      el("div", { class: "gaps" }, el("h5", {}, "Gaps"), this.#gapBody, this.#gapPager.controls),
      this.#table,
    );
    this.#resize = new ResizeObserver(() => {
      const width = this.#width();
      if (this.#plot && width !== this.#plot.width) this.#plot.setSize({ width, height: HEIGHT });
    });
    this.#resize.observe(this.#target);
    this.update(series);
  }

  get channel(): string {
    return this.#series.channel;
  }

  /** The same channel with newer data; the plot is made again when its statistics changed. */
  update(series: ChannelSeries): void {
    const statsChanged = series.stats.join() !== this.#series.stats.join();
    this.#series = series;
    this.#sigma = discreteLaplaceSigma(this.#options.privacy?.epsilonPerRelease, this.#options.privacy?.sensitivity);
    const noisy = this.#sigma === undefined ? [] : series.stats.filter((s) => NOISY_STATS.has(s));
    const data = this.#data(series, noisy);
    if (this.#plot && !statsChanged && noisy.join() === this.#noisy.join()) {
      this.#plot.setData(data);
    } else {
      this.#plot?.destroy();
      this.#noisy = noisy;
      this.#plot = new uPlot(this.#plotOptions(series, noisy), data, this.#target);
      this.#plot.over.addEventListener("click", () => {
        const index = this.#plot?.cursor.idx;
        const point = index === null || index === undefined ? undefined : this.#series.points[index];
        if (point?.summary) this.#options.onPick(point);
      });
    }
    // What the plot holds, for a reader's tools and the tests: its stored windows, the newest one.
    const stored = series.points.filter((p) => p.summary !== undefined);
    this.element.setAttribute("data-windows", String(stored.length));
    this.element.setAttribute("data-last-window", String(stored.at(-1)?.windowStart ?? ""));
    this.#gapPager.set([...series.gaps].reverse());
    replace(this.#note, ...this.#notes(noisy));
    if (this.#table.open) this.#fillTable();
  }

  destroy(): void {
    this.#resize.disconnect();
    this.#plot?.destroy();
  }

  #data(series: ChannelSeries, noisy: readonly string[]): uPlot.AlignedData {
    const x = series.points.map((p) => p.windowStart);
    const columns: Array<Array<number | null>> = series.stats.map((stat) => [...series.values.get(stat)!]);
    for (const stat of noisy) {
      const released = series.values.get(stat)!;
      columns.push(released.map((v) => (v === null ? null : v + this.#sigma!)));
      columns.push(released.map((v) => (v === null ? null : v - this.#sigma!)));
    }
    return [x, ...columns] as uPlot.AlignedData;
  }

  #plotOptions(series: ChannelSeries, noisy: readonly string[]): uPlot.Options {
    // A count of readings is not in the channel's unit: it has an axis of its own, on the right.
    const lines: uPlot.Series[] = series.stats.map((stat, i) => ({
      label: stat === "count" ? "count (readings)" : stat,
      scale: stat === "count" ? READINGS_SCALE : "y",
      stroke: COLORS[i % COLORS.length]!,
      width: 1.5,
      spanGaps: false,
      points: { show: (u: uPlot) => u.data[0].length <= 96 } as uPlot.Series.Points,
    }));
    const counted = series.stats.includes("count");
    const bands: uPlot.Band[] = [];
    noisy.forEach((stat, i) => {
      const first = series.stats.length + 1 + 2 * i;
      lines.push({ label: `${stat} +1σ`, stroke: "rgba(29, 111, 165, 0.35)", width: 1, spanGaps: false, points: { show: false } });
      lines.push({ label: `${stat} −1σ`, stroke: "rgba(29, 111, 165, 0.35)", width: 1, spanGaps: false, points: { show: false } });
      bands.push({ series: [first, first + 1], fill: BAND_FILL });
    });
    return {
      width: this.#width(),
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: {
        x: {
          time: true,
          // From the first window's start to the end of the newest, so that its band (a gap there)
          // shows whole; from the data itself, since uPlot widens a single point's range to days.
          range: (u, min, max) => {
            const xs = u.data[0];
            if (xs.length === 0) return [min, max];
            const first = xs[0]!;
            return [first, Math.max(xs[xs.length - 1]! + (this.#series.points.at(-1)?.windowSeconds ?? 0), first + 1)];
          },
        },
      },
      series: [{ label: "window (UTC)", value: (_u, v) => (v === null ? "" : utcMinute(v)) }, ...lines],
      bands,
      axes: [
        { values: (_u, splits) => utcTicks(splits), size: 32 },
        { scale: "y", label: series.unit ?? "", size: 56 },
        ...(counted ? [{ scale: READINGS_SCALE, side: 1 as const, label: "readings", size: 56, grid: { show: false } }] : []),
      ],
      legend: { live: true },
      hooks: { drawClear: [(u) => this.#drawGaps(u)] },
    };
  }

  /** The gap bands, under the lines. */
  #drawGaps(u: uPlot): void {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    for (const gap of this.#series.gaps) {
      const x0 = u.valToPos(gap.from, "x", true);
      const x1 = u.valToPos(gap.to, "x", true);
      ctx.fillStyle = GAP_FILL[gap.reason];
      ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
    }
    ctx.restore();
  }

  #notes(noisy: readonly string[]): Node[] {
    const notes: Node[] = [];
    if (noisy.length > 0) {
      const p = this.#options.privacy!;
      notes.push(
        el(
          "span",
          { class: "noise-note", "data-sigma": this.#sigma!.toFixed(4) },
          `${noisy.join(" and ")}: released with discrete Laplace noise (ε = ${p.epsilonPerRelease} per release, Δ = ${p.sensitivity}); the band is ±1 standard deviation, σ = ${this.#sigma!.toFixed(2)}. ` +
            "Values are drawn as released, negative ones too: the noise is added to the true count and never clamped, so sums over many windows stay unbiased.",
        ),
      );
    }
    const reasons = new Set(this.#series.gaps.map((g) => g.reason));
    if (reasons.size > 0) {
      notes.push(el("span", { class: "gap-legend" }, "Bands: ", ...[...reasons].flatMap((r) => [el("span", { class: `gap-swatch gap-${r}`, "aria-hidden": "true" }), ` ${GAP_LABEL[r]} `])));
    }
    return notes;
  }

  #gapRow(gap: WindowGap): HTMLElement {
    const k = this.#options.privacy?.kAnonymity;
    const span = gap.windows === 1 ? utcMinute(gap.from) : `${utcMinute(gap.from)} – ${utcTime(gap.to)}`;
    return el(
      "li",
      { class: `gap gap-${gap.reason}`, "data-reason": gap.reason, "data-from": gap.from, "data-to": gap.to, "data-stats": gap.stats.join(",") },
      el("span", { class: `gap-swatch gap-${gap.reason}`, "aria-hidden": "true" }),
      el("time", {}, span),
      el("strong", {}, ` ${GAP_LABEL[gap.reason]}`),
      gap.stats.length < this.#series.stats.length ? ` (${gap.stats.join(", ")})` : null,
      `: ${gapText(gap, k)}`,
    );
  }

  /** The table of what the plot holds: one row per x, a cell per series (the reason where there is no value). */
  #fillTable(): void {
    const plot = this.#plot;
    if (!plot) return;
    const labels = plot.series.slice(1).map((s) => String(s.label ?? ""));
    const head = el("tr", {}, el("th", { scope: "col" }, "window (UTC)"), ...labels.map((l) => el("th", { scope: "col" }, l)));
    const body = el("tbody");
    const columns = plot.data.slice(1);
    plot.data[0].forEach((x, i) => {
      const point = this.#series.points[i];
      const cells = columns.map((column, c) => {
        const v = column[i];
        const stat = this.#series.stats[c];
        const reason = stat === undefined ? undefined : this.#series.reasons.get(stat)?.[i];
        const shown = v === null || v === undefined ? (reason ? GAP_LABEL[reason] : "") : c >= this.#series.stats.length ? v.toFixed(2) : value(v);
        return el("td", { "data-series": labels[c], "data-value": v === null || v === undefined ? "" : String(v) }, shown);
      });
      append(body, el("tr", { "data-x": x, "data-stored": String(point?.summary !== undefined) }, el("th", { scope: "row" }, utcMinute(x)), ...cells));
    });
    replace(this.#table, el("summary", {}, "values"), el("table", {}, el("thead", {}, head), body));
  }

  #width(): number {
    return Math.max(320, Math.floor(this.#target.clientWidth || 720));
  }
}
