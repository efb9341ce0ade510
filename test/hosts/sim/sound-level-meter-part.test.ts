import { describe, expect, it } from "vitest";
import { SimBoard } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { SoundLevelMeterPart, type SoundSource } from "../../../hosts/sim/sound-level-meter-part.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);
/** Counts per dB on the reference board: 0.02 V/dB × (2/3) / 3.1 V × 4095 = 17.613. */
const COUNTS_PER_DB = (0.02 * (2 / 3) * 4095) / 3.1;

function rig(options: { level?: number; source?: SoundSource; seed?: string; ideal?: boolean } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const source = options.source ?? { noiseDb: () => options.level ?? 70 };
  const ideal = options.ideal ?? true;
  const part = new SoundLevelMeterPart({
    clock,
    activity: source,
    seed: options.seed ?? "meter-1",
    ...(ideal ? { offsetDb: 0, adcOffsetCounts: 0, noiseScale: 0 } : {}),
  });
  const next = (ms = 125): number => {
    clock.advanceBy(ms);
    return part.sample();
  };
  return { clock, part, next };
}

function spread(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  return { mean, sd };
}

describe("SoundLevelMeterPart: the module's transfer function through the divider", () => {
  it.each([
    // dBA -> V_meter = dBA / 50 -> V_pin = × 2/3 -> counts = V_pin / 3.1 × 4095, rounded
    [70, 1233], // 1.4 V -> 0.9333 V -> 1232.90
    [30, 528], // 0.6 V -> 0.4 V -> 528.39
    [130, 2290], // 2.6 V -> 1.7333 V -> 2289.68
    [55.5, 978], // 1.11 V -> 0.74 V -> 977.52
    [20, 528], // below the module's floor: 0.6 V
    [145, 2290], // above its ceiling: 2.6 V
  ])("%f dBA converts to %d counts", (level, counts) => {
    const { next } = rig({ level });
    expect(next()).toBe(counts);
  });

  it("counts floor and saturated conversions", () => {
    let level = 20;
    const { part, next } = rig({ source: { noiseDb: () => level } });
    next();
    level = 140;
    next();
    next();
    level = 80;
    next();
    expect(part.stats).toMatchObject({ samples: 4, floorSamples: 1, saturatedSamples: 2 });
  });

  it("draws a per-part calibration within the accuracy, deterministically per seed", () => {
    const a = rig({ seed: "a", ideal: false }).part.calibration;
    const a2 = rig({ seed: "a", ideal: false }).part.calibration;
    const b = rig({ seed: "b", ideal: false }).part.calibration;
    expect(a).toEqual(a2);
    expect(a).not.toEqual(b);
    for (const c of [a, b]) {
      expect(Math.abs(c.offsetDb)).toBeLessThanOrEqual(1.5);
      expect(Math.abs(c.adcOffsetCounts)).toBeLessThanOrEqual(6);
    }
  });

  it("adds its offsets and a few counts of noise around the true level", () => {
    const { part, next } = rig({ level: 70, ideal: false });
    const counts = Array.from({ length: 2000 }, () => next());
    const { mean, sd } = spread(counts);
    const { offsetDb, adcOffsetCounts } = part.calibration;
    const expected = ((70 + offsetDb) / 50) * (2 / 3) * (4095 / 3.1) + adcOffsetCounts;
    expect(Math.abs(mean - expected)).toBeLessThan(0.5);
    // σ = √(2² + (0.2 dB × 17.6 counts/dB)²) ≈ 4.05 counts
    expect(sd).toBeGreaterThan(3.5);
    expect(sd).toBeLessThan(4.6);
  });

  it("is reproducible: the same seed and clock give the same conversions", () => {
    const run = () => {
      const activity = new StreetActivity({ seed: "s", siteSeed: "site" });
      const { next } = rig({ source: activity, ideal: false });
      return Array.from({ length: 50 }, () => next());
    };
    expect(run()).toEqual(run());
  });

  it("follows the street: pass-bys raise the counts", () => {
    const activity = new StreetActivity({ seed: "s", siteSeed: "site", peakVehiclesPerHour: 900 });
    const { clock, next } = rig({ source: activity });
    let max = 0;
    let min = Infinity;
    for (let i = 0; i < 8 * 60; i++) {
      const counts = next();
      const expected = (activity.noiseDb(clock.wallMs()) / 50) * (2 / 3) * (4095 / 3.1);
      expect(Math.abs(counts - expected)).toBeLessThanOrEqual(0.5);
      max = Math.max(max, counts);
      min = Math.min(min, counts);
    }
    expect(max - min).toBeGreaterThan(10 * COUNTS_PER_DB); // at least 10 dB between background and a pass-by
  });

  it("plugs into a SimBoard as a 12-bit analog input", () => {
    const { part } = rig({ level: 70 });
    const board = new SimBoard();
    board.attachAnalog("sound", part);
    const adc = board.openAnalog({ pin: "sound" });
    expect(adc.resolution).toBe(12);
    expect(adc.read()).toBe(1233);
  });
});

describe("SoundLevelMeterPart: faults", () => {
  it("unplugged: the input floats at a few counts, and comes back on clearFaults()", () => {
    const { part, next } = rig({ level: 70, ideal: false });
    part.injectFault("unplugged");
    const floating = Array.from({ length: 200 }, () => next());
    expect(Math.max(...floating)).toBeLessThan(20);
    expect(new Set(floating).size).toBeGreaterThan(3); // floating, not a fixed value
    expect(part.stats.unpluggedSamples).toBe(200);
    part.clearFaults();
    expect(Math.abs(next() - 1233)).toBeLessThan(60);
  });

  it("stuck: the same counts as the last conversion until cleared", () => {
    let level = 60;
    const { part, next } = rig({ source: { noiseDb: () => level }, ideal: false });
    const last = next();
    part.injectFault("stuck");
    level = 90;
    for (let i = 0; i < 20; i++) expect(next()).toBe(last);
    expect(part.stats.stuckSamples).toBe(20);
    part.clearFaults();
    expect(next()).toBeGreaterThan(last + 25 * COUNTS_PER_DB);
  });

  it("stuck before any conversion freezes at the first one", () => {
    const { part, next } = rig({ level: 70, ideal: false });
    part.injectFault("stuck");
    const first = next();
    for (let i = 0; i < 10; i++) expect(next()).toBe(first);
  });

  it("out-of-range: the input sits at full scale", () => {
    const { part, next } = rig({ level: 70 });
    part.injectFault("out-of-range");
    expect(next()).toBe(4095);
    expect(next()).toBe(4095);
    expect(part.stats.railSamples).toBe(2);
    part.clearFaults();
    expect(next()).toBe(1233);
  });

  it("noise-burst: +20..+40 dB spikes for its duration, then the street again", () => {
    const { part, next } = rig({ level: 60 });
    part.injectFault("noise-burst", { durationMs: 1000 });
    const burst = Array.from({ length: 7 }, () => next()); // 125..875 ms
    for (const counts of burst) {
      const db = (counts / (4095 / 3.1) / (2 / 3)) * 50;
      expect(db).toBeGreaterThanOrEqual(80 - 0.05);
      expect(db).toBeLessThanOrEqual(100 + 0.05);
    }
    expect(new Set(burst).size).toBeGreaterThan(3);
    next(); // 1000 ms: over
    expect(next()).toBe(Math.round((60 / 50) * (2 / 3) * (4095 / 3.1)));
    expect(part.stats.burstSamples).toBe(7);
  });

  it("noise-burst saturates at 130 dBA", () => {
    const { part, next } = rig({ level: 110 });
    part.injectFault("noise-burst", { minDb: 30, maxDb: 30 });
    expect(next()).toBe(2290);
    expect(part.stats.saturatedSamples).toBe(1);
  });

  it("offset-drift: the level walks away at the given rate until cleared", () => {
    const { clock, part, next } = rig({ level: 60 });
    part.injectFault("offset-drift", { dbPerHour: -6 });
    clock.advanceBy(30 * 60_000 - 125);
    const drifted = next(); // 30 minutes: -3 dB
    expect(drifted).toBe(Math.round((57 / 50) * (2 / 3) * (4095 / 3.1)));
    part.clearFaults();
    expect(next()).toBe(Math.round((60 / 50) * (2 / 3) * (4095 / 3.1)));
    expect(part.stats.driftedSamples).toBe(1);
  });

  it("does not shift later noise: a run with a fault in the middle matches one without, after clearing", () => {
    const a = rig({ level: 70, ideal: false });
    const b = rig({ level: 70, ideal: false });
    for (let i = 0; i < 5; i++) expect(a.next()).toBe(b.next());
    b.part.injectFault("unplugged");
    for (let i = 0; i < 5; i++) {
      a.next();
      b.next();
    }
    b.part.clearFaults();
    for (let i = 0; i < 5; i++) expect(b.next()).toBe(a.next());
  });

  it("rejects unknown faults and bad options", () => {
    const { part } = rig();
    expect(() => part.injectFault("crc" as never)).toThrow(RangeError);
    expect(() => part.injectFault("noise-burst", { durationMs: 0 })).toThrow(RangeError);
    expect(() => part.injectFault("noise-burst", { minDb: 40, maxDb: 20 })).toThrow(RangeError);
    expect(() => part.injectFault("offset-drift", { dbPerHour: Number.NaN })).toThrow(RangeError);
    const clock = new SimClock({ startWallMs: START });
    expect(() => new SoundLevelMeterPart({ clock, activity: { noiseDb: () => 60 }, seed: 1, dividerRatio: 2 })).toThrow(RangeError);
    expect(() => new SoundLevelMeterPart({ clock, activity: { noiseDb: () => 60 }, seed: 1, resolution: 0 })).toThrow(RangeError);
  });
});
