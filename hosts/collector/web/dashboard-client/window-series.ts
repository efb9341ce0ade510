/**
 * A node's stored summaries as the plots draw them: per channel, one x per window (its start,
 * Unix s) and per statistic its released value, or null where none was released, with the reason
 * kept beside it as a gap. A gap is never a zero and never bridged: uPlot breaks a line at a null
 * (spanGaps off), and a window that is not stored at all gets a null row of its own at the time it
 * should have started, so the line does not run across it either.
 *
 * The reasons, as the node and the collector say them:
 *   missing           no summary of the window is stored (never received, or deleted by retention)
 *   no-readings       the summary says the channel had no readings ("missing": a sensor that gave none)
 *   suppressed        withheld by k-anonymity: a count of people, devices or vehicles below k
 *   budget-exhausted  withheld: the channel's daily privacy budget (ε) was spent
 *   withheld          any other status the node gave (shown as it gave it)
 *   absent            the summary has no statistic of the channel at all (another policy)
 *
 * Pure: no DOM; the tests run it on the API's answers.
 */
import type { Summary } from "./api-types.js";

/** The series of a channel with no statistic released in the span. */
export const NO_STATISTIC = "value";

export type GapReason = "missing" | "no-readings" | "suppressed" | "budget-exhausted" | "withheld" | "absent";

export interface WindowGap {
  /** [from, to): Unix s. */
  readonly from: number;
  readonly to: number;
  readonly reason: GapReason;
  /** The node's own word for it, where it gave one ("suppressed", "missing", ...). */
  readonly status: string | undefined;
  /** The statistics without a value. */
  readonly stats: readonly string[];
  /** Windows it spans. */
  readonly windows: number;
}

/** One x of a channel's plot: a stored window, or the place of windows not stored. */
export interface WindowPoint {
  readonly windowStart: number;
  readonly windowSeconds: number;
  /** The summary it comes from; undefined for windows not stored. */
  readonly summary: Summary | undefined;
}

export interface ChannelSeries {
  readonly channel: string;
  readonly unit: string | null;
  /** Statistics in the order the node sends them. */
  readonly stats: readonly string[];
  readonly points: readonly WindowPoint[];
  /** Per statistic, one value per point: null where none was released. */
  readonly values: ReadonlyMap<string, ReadonlyArray<number | null>>;
  /** Per statistic, per point: why there is no value (undefined where there is one). */
  readonly reasons: ReadonlyMap<string, ReadonlyArray<GapReason | undefined>>;
  /** Consecutive windows without a value for the same reason, merged. */
  readonly gaps: readonly WindowGap[];
}

/** Per channel (in the order they first appear), the series of `summaries` (any order). */
export function channelSeries(summaries: readonly Summary[]): ChannelSeries[] {
  const ordered = [...summaries].sort((a, b) => a.windowStart - b.windowStart);
  const points: WindowPoint[] = [];
  for (const summary of ordered) {
    const previous = points.at(-1);
    const expected = previous === undefined ? undefined : previous.windowStart + previous.windowSeconds;
    if (expected !== undefined && summary.windowStart > expected) {
      points.push({ windowStart: expected, windowSeconds: summary.windowStart - expected, summary: undefined });
    }
    points.push({ windowStart: summary.windowStart, windowSeconds: summary.windowSeconds, summary });
  }
  const channels = new Map<string, { unit: string | null; stats: string[] }>();
  for (const summary of ordered) {
    for (const s of summary.statistics) {
      const channel = channels.get(s.channel) ?? { unit: null, stats: [] };
      if (s.unit !== null && channel.unit === null) channel.unit = s.unit;
      if (s.stat !== "status" && !channel.stats.includes(s.stat)) channel.stats.push(s.stat);
      channels.set(s.channel, channel);
    }
  }
  // A channel that only ever said a status ("missing") released no statistic to name: one placeholder
  // series carries its gaps, so that its windows are still marked.
  return [...channels].map(([channel, { unit, stats }]) => seriesOf(channel, unit, stats.length > 0 ? stats : [NO_STATISTIC], points));
}

function seriesOf(channel: string, unit: string | null, stats: readonly string[], points: readonly WindowPoint[]): ChannelSeries {
  const values = new Map<string, Array<number | null>>(stats.map((stat) => [stat, []]));
  const reasons = new Map<string, Array<GapReason | undefined>>(stats.map((stat) => [stat, []]));
  const statuses: Array<string | undefined> = [];
  for (const point of points) {
    const mine = point.summary?.statistics.filter((s) => s.channel === channel) ?? [];
    const channelStatus = mine.find((s) => s.stat === "status")?.status ?? undefined;
    statuses.push(channelStatus);
    for (const stat of stats) {
      const found = mine.find((s) => s.stat === stat);
      let reason: GapReason | undefined;
      if (point.summary === undefined) reason = "missing";
      else if (found?.value !== null && found?.value !== undefined) reason = undefined;
      else if (found?.status) reason = reasonOf(found.status);
      else if (channelStatus !== undefined) reason = reasonOf(channelStatus);
      else reason = "absent";
      values.get(stat)!.push(reason === undefined ? found!.value : null);
      reasons.get(stat)!.push(reason);
    }
  }
  return { channel, unit, stats, points, values, reasons, gaps: mergeGaps(stats, points, reasons, statuses, channel) };
}

function reasonOf(status: string): GapReason {
  if (status === "missing") return "no-readings";
  if (status === "suppressed" || status === "budget-exhausted") return status;
  return "withheld";
}

/** Runs of points where some statistic has no value, for the same reason and the same statistics. */
function mergeGaps(stats: readonly string[], points: readonly WindowPoint[], reasons: ReadonlyMap<string, ReadonlyArray<GapReason | undefined>>, statuses: ReadonlyArray<string | undefined>, channel: string): WindowGap[] {
  const gaps: WindowGap[] = [];
  let open: { from: number; to: number; reason: GapReason; status: string | undefined; stats: string[]; windows: number; key: string } | undefined;
  points.forEach((point, i) => {
    const without = stats.filter((stat) => reasons.get(stat)![i] !== undefined);
    const reason = without.length > 0 ? reasons.get(without[0]!)![i] : undefined;
    const status = reason === undefined || reason === "missing" ? undefined : (point.summary?.statistics.find((s) => s.channel === channel && without.includes(s.stat))?.status ?? statuses[i] ?? undefined);
    const key = reason === undefined ? "" : `${reason}|${status ?? ""}|${without.join(",")}`;
    const windows = Math.max(1, Math.round(point.windowSeconds / (point.summary?.windowSeconds ?? points[i - 1]?.windowSeconds ?? point.windowSeconds)));
    if (open && key === open.key && open.to === point.windowStart) {
      open.to = point.windowStart + point.windowSeconds;
      open.windows += windows;
      return;
    }
    if (open) gaps.push(closeGap(open));
    open = reason === undefined ? undefined : { from: point.windowStart, to: point.windowStart + point.windowSeconds, reason, status, stats: without, windows, key };
  });
  if (open) gaps.push(closeGap(open));
  return gaps;
}

function closeGap(open: { from: number; to: number; reason: GapReason; status: string | undefined; stats: string[]; windows: number }): WindowGap {
  return { from: open.from, to: open.to, reason: open.reason, status: open.status, stats: open.stats, windows: open.windows };
}

/** What a gap means, in words, with the channel's k where the disclosure gives it. */
export function gapText(gap: WindowGap, k?: number): string {
  switch (gap.reason) {
    case "missing":
      return `no summary stored for ${gap.windows === 1 ? "this window" : `${gap.windows} windows`}: never received (an outage beyond the node's outbox, a message dropped) or deleted by retention`;
    case "no-readings":
      return "no readings in the window: the sensor gave none (faulty, disconnected or dropped every reading)";
    case "suppressed":
      return `withheld by k-anonymity: the count was above 0 and below ${k === undefined ? "k" : `k = ${k}`}, so it is not published`;
    case "budget-exhausted":
      return "withheld: the channel's privacy budget (ε) for the day was spent";
    case "absent":
      return "the summary has no value of this channel";
    case "withheld":
      return `withheld by the node: "${gap.status ?? ""}"`;
  }
}
