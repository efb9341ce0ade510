/**
 * How the dashboard turns stored summaries into plot series (window-series.ts): a window not
 * stored is a null row and a `missing` gap, a withheld value a null and a gap with its reason,
 * runs of the same reason merged, never a zero; and the noise band's σ is that of discrete Laplace
 * noise (noise-band.ts), checked against the distribution summed out.
 */
import { describe, expect, it } from "vitest";
import type { Summary } from "../../../../hosts/collector/web/dashboard-client/api-types.js";
import { discreteLaplaceSigma } from "../../../../hosts/collector/web/dashboard-client/noise-band.js";
import { channelSeries, NO_STATISTIC } from "../../../../hosts/collector/web/dashboard-client/window-series.js";

const T0 = 1_790_841_600;
const W = 300;

function summary(window: number, statistics: Summary["statistics"]): Summary {
  const windowStart = T0 + window * W;
  return { device: "lamp-1", zone: "old-town", windowStart, windowStartIso: new Date(windowStart * 1000).toISOString(), windowSeconds: W, epoch: 0, counter: window, receivedAt: "", statistics };
}

const people = (value: number | null, status: string | null = null) => ({ channel: "people", stat: "sum", value, unit: null, status });
const noise = (leq: number) => [
  { channel: "noise", stat: "count", value: 2400, unit: null, status: null },
  { channel: "noise", stat: "leq", value: leq, unit: "dB", status: null },
];

describe("the dashboard's plot series", () => {
  it("gives a window that was not stored a null row of its own and a missing gap over exactly its span", () => {
    const series = channelSeries([summary(0, noise(50)), summary(1, noise(51)), summary(4, noise(54)), summary(5, noise(55))]);
    const [noiseSeries] = series;
    expect(noiseSeries!.channel).toBe("noise");
    expect(noiseSeries!.unit).toBe("dB");
    expect(noiseSeries!.points.map((p) => [p.windowStart - T0, p.summary !== undefined])).toEqual([[0, true], [300, true], [600, false], [1200, true], [1500, true]]);
    expect(noiseSeries!.values.get("leq")).toEqual([50, 51, null, 54, 55]);
    expect(noiseSeries!.gaps).toEqual([{ from: T0 + 600, to: T0 + 1200, reason: "missing", status: undefined, stats: ["count", "leq"], windows: 2 }]);
  });

  it("keeps a withheld count null with its reason, merges a run of one reason, and parts different ones", () => {
    const [series] = channelSeries([
      summary(0, [people(7)]),
      summary(1, [people(null, "suppressed")]),
      summary(2, [people(null, "suppressed")]),
      summary(3, [people(null, "budget-exhausted")]),
      summary(4, [people(-2)]),
      summary(5, [people(null, "quiet hours")]),
    ]);
    expect(series!.values.get("sum")).toEqual([7, null, null, null, -2, null]);
    expect(series!.gaps.map((g) => [g.reason, g.from - T0, g.to - T0, g.windows, g.status])).toEqual([
      ["suppressed", 300, 900, 2, "suppressed"],
      ["budget-exhausted", 900, 1200, 1, "budget-exhausted"],
      ["withheld", 1500, 1800, 1, "quiet hours"],
    ]);
  });

  it("marks the windows of a channel that had no readings, and of one that only ever said so", () => {
    const series = channelSeries([
      summary(0, [...noise(50), { channel: "pm2_5", stat: "status", value: null, unit: null, status: "missing" }]),
      summary(1, [{ channel: "noise", stat: "status", value: null, unit: null, status: "missing" }, { channel: "pm2_5", stat: "status", value: null, unit: null, status: "missing" }]),
    ]);
    const byChannel = new Map(series.map((s) => [s.channel, s]));
    expect(byChannel.get("noise")!.gaps.map((g) => [g.reason, g.from - T0])).toEqual([["no-readings", 300]]);
    expect(byChannel.get("pm2_5")!.stats).toEqual([NO_STATISTIC]);
    expect(byChannel.get("pm2_5")!.gaps).toMatchObject([{ reason: "no-readings", from: T0, to: T0 + 600, windows: 2 }]);
  });

  it("computes σ of discrete Laplace noise from ε and Δ as the distribution gives it", () => {
    for (const [epsilon, sensitivity] of [[0.5, 2], [0.5, 1], [0.5, 6], [1, 1], [0.1, 1]] as const) {
      const a = Math.exp(-epsilon / sensitivity);
      let variance = 0;
      for (let z = -5000; z <= 5000; z++) variance += ((1 - a) / (1 + a)) * a ** Math.abs(z) * z * z;
      expect(discreteLaplaceSigma(epsilon, sensitivity)).toBeCloseTo(Math.sqrt(variance), 6);
    }
    expect(discreteLaplaceSigma(0.5, 2)).toBeCloseTo(5.6421, 4);
    expect(discreteLaplaceSigma(0, 2)).toBeUndefined();
    expect(discreteLaplaceSigma(undefined, 2)).toBeUndefined();
  });
});
