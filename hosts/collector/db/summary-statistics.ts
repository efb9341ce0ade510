/**
 * A decoded summary's released statistics as `summaries.statistics`, and back: one JSON text per
 * summary (migrations/002), written and read whole, since the API always reads a summary's
 * statistics together. An array with one entry per statistic, in the order the node sent them:
 *
 *   [channel, stat, value, unit, status]                 trailing nulls left out
 *
 *   a number        value = the number, unit = the channel's SenML unit (none on a count, which
 *                   the node sends without one: src/aggregate/window-summary.ts), no status
 *   a withheld one  value null, status "suppressed" / "budget-exhausted" (what the node sent)
 *   the channel's   stat "status", value null, status "missing" (no valid reading)
 *   NaN             value and status null (no value and no status: NaN in channelsOf)
 *   ±Infinity       value "Infinity" / "-Infinity" (JSON has no infinite number)
 *
 *   [["noise","count",300],["noise","leq",51,"dB"],["footfall","sum",null,null,"suppressed"]]
 *
 * A status is never turned into a number, and a number never into a status: a string stands in
 * the status place only, and in the value place only for an infinite number.
 *
 * `summaries.channels` names the channels that have a statistic, for the API's `channel` filter
 * (one position test on the row, as cheap as the summary's own columns): "/noise/footfall/", each
 * name with "%" and "/" written %25 and %2F, so that "/name/" is found only for that channel.
 */
import type { ChannelSummary, DecodedSummary } from "../decoded-messages.js";
import type { StoredStatistic } from "./collector-db.js";
import { CollectorDbError } from "./db-errors.js";

type Entry = [string, string, number | string | null, (string | null)?, (string | null)?];

/** What a summary's row holds of its statistics. */
export interface StatisticsColumns {
  readonly statistics: string;
  readonly channels: string;
}

/** A decoded summary's channels as its row's `statistics` and `channels`, in one pass. */
export function statisticsColumns(channels: DecodedSummary["channels"]): StatisticsColumns {
  const entries: Entry[] = [];
  let names = "";
  for (const channel of Object.keys(channels)) {
    const stats = channels[channel]!;
    const unit = stats.unit ?? null;
    let any = false;
    for (const stat of Object.keys(stats)) {
      const value = stats[stat];
      if (stat === "unit" || value === undefined) continue;
      any = true;
      if (typeof value === "string") entries.push([channel, stat, null, null, value]);
      else {
        // A null (a NaN that went through JSON, in an imported line) is kept as a NaN.
        const number = typeof value !== "number" || Number.isNaN(value) ? null : Number.isFinite(value) ? value : value > 0 ? "Infinity" : "-Infinity";
        entries.push(stat === "count" || unit === null ? [channel, stat, number] : [channel, stat, number, unit]);
      }
    }
    if (any) names += `/${escapedName(channel)}`;
  }
  return { statistics: JSON.stringify(entries), channels: names === "" ? "" : `${names}/` };
}

/** What `channels` holds when a summary has a statistic of `channel`. */
export function channelNeedle(channel: string): string {
  return `/${escapedName(channel)}/`;
}

function escapedName(channel: string): string {
  return channel.includes("%") || channel.includes("/") ? channel.replaceAll("%", "%25").replaceAll("/", "%2F") : channel;
}

/** The `statistics` column read back. Throws CollectorDbError `corrupt` for a text this module did not write. */
export function parseStatistics(json: string, summaryId: number): StoredStatistic[] {
  let entries: unknown;
  try {
    entries = JSON.parse(json);
  } catch {
    entries = undefined;
  }
  if (!Array.isArray(entries)) throw corrupt(summaryId);
  return entries.map((entry: unknown) => {
    if (!Array.isArray(entry) || entry.length < 2 || entry.length > 5) throw corrupt(summaryId);
    const [channel, stat, value = null, unit = null, status = null] = entry as unknown[];
    if (typeof channel !== "string" || typeof stat !== "string" || (unit !== null && typeof unit !== "string") || (status !== null && typeof status !== "string")) throw corrupt(summaryId);
    let number: number | undefined;
    if (typeof value === "number") number = value;
    else if (value === "Infinity" || value === "-Infinity") number = value === "Infinity" ? Infinity : -Infinity;
    else if (value === null) number = undefined;
    else throw corrupt(summaryId);
    return { channel, stat, value: number, unit: unit ?? undefined, status: status ?? undefined };
  });
}

function corrupt(summaryId: number): CollectorDbError {
  return new CollectorDbError("corrupt", `the statistics of summary ${summaryId} do not read as the collector writes them`);
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
