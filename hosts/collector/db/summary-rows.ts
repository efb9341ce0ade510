/**
 * A decoded summary's channels as rows of `summary_statistics`, and back. One row per released
 * statistic, in the order the node sent them:
 *
 *   a number        value = the number, unit = the channel's SenML unit (none on a count, which the
 *                   node sends without one: src/aggregate/window-summary.ts), status = NULL
 *   a withheld one  value = NULL, status = "suppressed" / "budget-exhausted" (what the node sent)
 *   the channel's   stat = "status", value = NULL, status = "missing" (no valid reading)
 *
 * A status is never turned into a number, and a number never into a status. A NaN a node might
 * send is kept as neither (value and status NULL: SQLite cannot store a NaN) and reads back as NaN.
 */
import type { ChannelSummary, DecodedSummary } from "../decoded-messages.js";
import type { StoredStatistic } from "./collector-db.js";

export interface StatisticRow {
  readonly channel: string;
  readonly stat: string;
  readonly value: number | null;
  readonly unit: string | null;
  readonly status: string | null;
}

/** The rows of a summary's statistics, in order. */
export function statisticRows(channels: DecodedSummary["channels"]): StatisticRow[] {
  const rows: StatisticRow[] = [];
  for (const [channel, stats] of Object.entries(channels)) {
    for (const [stat, value] of Object.entries(stats)) {
      if (stat === "unit" || value === undefined) continue;
      if (typeof value === "string") rows.push({ channel, stat, value: null, unit: null, status: value });
      else rows.push({ channel, stat, value: Number.isNaN(value) ? null : value, unit: stat === "count" ? null : (stats.unit ?? null), status: null });
    }
  }
  return rows;
}

/** A stored row as the API shows it. */
export function storedStatistic(row: StatisticRow): StoredStatistic {
  return { channel: row.channel, stat: row.stat, value: row.value ?? undefined, unit: row.unit ?? undefined, status: row.status ?? undefined };
}

/** The channels of a summary rebuilt from its statistics, as the collector decoded them. */
export function channelsOf(statistics: readonly StoredStatistic[]): Record<string, ChannelSummary> {
  const channels: Record<string, ChannelSummary> = Object.create(null);
  for (const { channel, stat, value, unit, status } of statistics) {
    const summary = (channels[channel] ??= Object.create(null) as ChannelSummary);
    summary[stat] = status ?? value ?? NaN;
    if (unit !== undefined) summary.unit ??= unit;
  }
  return channels;
}
