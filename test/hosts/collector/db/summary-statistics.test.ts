/**
 * A summary's statistics as the JSON text of its row (summary-statistics.ts): every kind of
 * statistic read back as the API showed it from one row per statistic (numbers with their units, a
 * count without one, statuses as statuses, NaN and infinite numbers), in the node's order; the
 * channel names the filter looks for; and a text the collector did not write refused as corrupt.
 */
import { describe, expect, it } from "vitest";
import type { ChannelSummary } from "../../../../hosts/collector/decoded-messages.js";
import { CollectorDbError } from "../../../../hosts/collector/db/db-errors.js";
import { channelNeedle, channelsOf, parseStatistics, statisticsColumns } from "../../../../hosts/collector/db/summary-statistics.js";

/** Channels as the decoder builds them: objects without a prototype, keys in the node's order. */
function channels(entries: Record<string, Record<string, number | string>>): Record<string, ChannelSummary> {
  const out: Record<string, ChannelSummary> = Object.create(null);
  for (const [name, stats] of Object.entries(entries)) out[name] = Object.assign(Object.create(null) as ChannelSummary, stats);
  return out;
}

describe("a summary's statistics column", () => {
  it("keeps every statistic in the node's order, a status never a number and a number never a status", () => {
    const decoded = channels({
      noise: { count: 300, unit: "dB", leq: 51.5, l90: 0.1 + 0.2 },
      footfall: { distinct: "suppressed", sum: "budget-exhausted" },
      pm25: { status: "missing" },
      odd: { unit: "x", mean: NaN, max: Infinity, min: -Infinity, tiny: 5e-324, huge: Number.MAX_VALUE },
    });
    const { statistics, channels: names } = statisticsColumns(decoded);
    expect(JSON.parse(statistics)).toEqual([
      ["noise", "count", 300],
      ["noise", "leq", 51.5, "dB"],
      ["noise", "l90", 0.30000000000000004, "dB"],
      ["footfall", "distinct", null, null, "suppressed"],
      ["footfall", "sum", null, null, "budget-exhausted"],
      ["pm25", "status", null, null, "missing"],
      ["odd", "mean", null, "x"],
      ["odd", "max", "Infinity", "x"],
      ["odd", "min", "-Infinity", "x"],
      ["odd", "tiny", 5e-324, "x"],
      ["odd", "huge", Number.MAX_VALUE, "x"],
    ]);
    expect(names).toBe("/noise/footfall/pm25/odd/");
    const read = parseStatistics(statistics, 1);
    expect(read).toEqual([
      { channel: "noise", stat: "count", value: 300, unit: undefined, status: undefined },
      { channel: "noise", stat: "leq", value: 51.5, unit: "dB", status: undefined },
      { channel: "noise", stat: "l90", value: 0.1 + 0.2, unit: "dB", status: undefined },
      { channel: "footfall", stat: "distinct", value: undefined, unit: undefined, status: "suppressed" },
      { channel: "footfall", stat: "sum", value: undefined, unit: undefined, status: "budget-exhausted" },
      { channel: "pm25", stat: "status", value: undefined, unit: undefined, status: "missing" },
      { channel: "odd", stat: "mean", value: undefined, unit: "x", status: undefined },
      { channel: "odd", stat: "max", value: Infinity, unit: "x", status: undefined },
      { channel: "odd", stat: "min", value: -Infinity, unit: "x", status: undefined },
      { channel: "odd", stat: "tiny", value: 5e-324, unit: "x", status: undefined },
      { channel: "odd", stat: "huge", value: Number.MAX_VALUE, unit: "x", status: undefined },
    ]);
    expect(channelsOf(read)).toEqual(decoded);
  });

  it("names each channel that has a statistic once, so that a name is found only for itself", () => {
    const decoded = channels({ "a/b": { count: 1 }, "50%": { count: 2 }, a: { count: 3 }, empty: {}, b: { count: 4 } });
    const { channels: names } = statisticsColumns(decoded);
    expect(names).toBe("/a%2Fb/50%25/a/b/");
    expect(names.includes(channelNeedle("a"))).toBe(true);
    expect(names.includes(channelNeedle("a/b"))).toBe(true);
    expect(names.includes(channelNeedle("50%"))).toBe(true);
    expect(names.includes(channelNeedle("empty"))).toBe(false); // no statistic: not filtered in, as no row was before
    expect(names.includes(channelNeedle("50"))).toBe(false);
    expect(statisticsColumns(channels({}))).toEqual({ statistics: "[]", channels: "" });
  });

  it("writes strings as JSON escapes them, and reads them back", () => {
    const odd = 'quote " backslash \\ newline \n nul \u0000 é 漢';
    const { statistics } = statisticsColumns(channels({ [odd]: { [odd]: odd, count: 1 } }));
    expect(parseStatistics(statistics, 1)).toEqual([
      { channel: odd, stat: odd, value: undefined, unit: undefined, status: odd },
      { channel: odd, stat: "count", value: 1, unit: undefined, status: undefined },
    ]);
  });

  it("refuses a text it did not write as corrupt, naming the summary", () => {
    for (const text of ["", "{}", "[1]", '[["a"]]', '[["a","b",true]]', '[["a","b","12"]]', '[["a","b",1,2]]', '[["a","b",1,null,null,null]]']) {
      let error: unknown;
      try {
        parseStatistics(text, 42);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(CollectorDbError);
      expect((error as CollectorDbError).failure).toBe("corrupt");
      expect((error as Error).message).toContain("summary 42");
    }
  });
});
