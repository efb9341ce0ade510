import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LevelStats } from "../../../src/aggregate/level-stats.js";
import { SoundLevelMeter, type SoundLevelMeterOptions } from "../../../src/sensors/sound-level-meter.js";
import { SimBoard } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { SoundLevelMeterPart, type SoundSource } from "../../../hosts/sim/sound-level-meter-part.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 6, 15, 8, 0, 0); // a Wednesday, 09:00 local: morning rush hour
const INTERVAL_MS = 125; // 8 Hz, the meter's fast time weighting

/** A 12-bit ADC input that converts to whatever the test puts in `counts` (no simulation). */
function scripted(counts: number, options: Partial<SoundLevelMeterOptions> = {}) {
  const input = { counts };
  const board = new SimBoard();
  board.attachAnalog("sound", { resolution: 12, sample: () => input.counts });
  const clock = new SimClock({ startWallMs: START });
  const driver = new SoundLevelMeter({ buses: board, clock, sensor: { pin: "sound" }, ...options });
  driver.configure();
  return { input, driver };
}

describe("sound level meter driver on hand-computed ADC counts", () => {
  // Reference board: dBA = 50 × V_meter (DFRobot SEN0232: 0.6 V at 30 dBA, 2.6 V at 130 dBA),
  // V_meter = V_pin / (2/3), V_pin = counts × 3.1 / 4095, so dBA = counts × 50 × 3.1 × 1.5 / 4095
  // = counts × 232.5 / 4095 = counts × 0.0567766 dBA per count.
  it.each([
    [1000, 56.77656], // 1000 × 232.5 / 4095
    [1233, 70.00549], // 70 dBA is 1.4 V at the meter, 0.9333 V at the pin, 1232.9 counts
    [2289, 129.96154],
    [600, 34.06593], // 600 × 232.5 / 4095: 0.4542 V at the pin, 0.6813 V at the meter
  ])("%d counts read as %f dBA", (counts, db) => {
    const { driver } = scripted(counts);
    const values = driver.sample();
    expect(values).toBeDefined();
    expect(values![0]).toBeCloseTo(db, 4);
    expect(driver.health.readings).toBe(1);
    expect(driver.outputs[0]).toMatchObject({ quantity: "sound", kind: "level", unit: "dB", min: 30, max: 130, logarithmic: true });
  });

  it("clips levels just outside 30..130 dBA to the meter's floor and ceiling (5 dB tolerance)", () => {
    // 528 counts = 29.978 dBA (the 0.6 V floor with ADC error), 441 counts = 25.038 dBA -> 30;
    // 2290 counts = 130.018 dBA, 2377 counts = 134.958 dBA -> 130
    for (const [counts, db] of [
      [528, 30],
      [441, 30],
      [2290, 130],
      [2377, 130],
    ] as const) {
      const { driver } = scripted(counts);
      expect(driver.sample()?.[0]).toBe(db);
    }
  });

  it("drops levels far outside the meter's range as 'range': 440 counts = 24.98 dBA, 2378 = 135.01 dBA, 5 = unplugged", () => {
    for (const counts of [440, 2378, 5, 100]) {
      const { driver } = scripted(counts);
      expect(driver.sample()).toBeUndefined();
      expect(driver.health.drops.range).toBe(1);
      expect(driver.health.readings).toBe(0);
    }
  });

  it("drops rail readings (0 and full scale 4095) as 'range', also with a tolerance that would admit them", () => {
    for (const counts of [0, 4095]) {
      const { driver } = scripted(counts, { rangeToleranceDb: 200 });
      expect(driver.sample()).toBeUndefined();
      expect(driver.health.drops.range).toBe(1);
    }
  });

  it("follows a piecewise-linear calibration curve, extrapolating along the end segments", () => {
    // 1 count = 1 mV at the meter: full scale 4.095 V, no divider.
    // Curve 0.6 V -> 30, 1.6 V -> 82 (52 dB/V), 2.6 V -> 130 (48 dB/V).
    const calibration = [
      { volts: 0.6, db: 30 },
      { volts: 1.6, db: 82 },
      { volts: 2.6, db: 130 },
    ];
    const cases: [number, number | undefined][] = [
      [1100, 56], // 30 + 0.5 × 52
      [1600, 82], // on the middle point
      [2100, 106], // 82 + 0.5 × 48
      [2650, 130], // 130 + 0.05 × 48 = 132.4 -> ceiling
      [550, 30], // 30 - 0.05 × 52 = 27.4 -> floor
      [500, undefined], // 30 - 0.1 × 52 = 24.8: beyond the tolerance
    ];
    for (const [counts, db] of cases) {
      const { driver } = scripted(counts, { adcFullScaleVolts: 4.095, dividerRatio: 1, calibration });
      const values = driver.sample();
      if (db === undefined) expect(values).toBeUndefined();
      else expect(values![0]).toBeCloseTo(db, 9);
    }
  });

  it("refuses bad calibration curves and options with a clear RangeError", () => {
    const bad: unknown[] = [
      [],
      [{ volts: 0.6, db: 30 }],
      [
        { volts: 2.6, db: 130 },
        { volts: 0.6, db: 30 },
      ],
      [
        { volts: 0.6, db: 30 },
        { volts: 0.6, db: 40 },
      ],
      [
        { volts: 0.6, db: 30 },
        { volts: 1.6, db: 30 },
      ],
      [
        { volts: 0.6, db: 30 },
        { volts: 1.6, db: 20 },
      ],
      [
        { volts: Number.NaN, db: 30 },
        { volts: 1.6, db: 80 },
      ],
      [
        { volts: -0.1, db: 30 },
        { volts: 1.6, db: 80 },
      ],
      Array.from({ length: 33 }, (_, i) => ({ volts: i / 10, db: i })),
    ];
    for (const calibration of bad) {
      expect(() => scripted(1000, { calibration: calibration as never })).toThrow(RangeError);
    }
    expect(() => scripted(1000, { calibration: [{ volts: 0.6, db: 30 }] })).toThrow(/2\.\.32 points/);
    expect(() =>
      scripted(1000, {
        calibration: [
          { volts: 1, db: 50 },
          { volts: 0.5, db: 60 },
        ],
      }),
    ).toThrow(/strictly increasing/);
    expect(() => scripted(1000, { dividerRatio: 0 })).toThrow(RangeError);
    expect(() => scripted(1000, { dividerRatio: 1.5 })).toThrow(RangeError);
    expect(() => scripted(1000, { adcFullScaleVolts: 0 })).toThrow(RangeError);
    expect(() => scripted(1000, { stuckAfter: -1 })).toThrow(RangeError);
    expect(() => scripted(1000, { rangeToleranceDb: -1 })).toThrow(RangeError);
  });

  it("drops identical counts as 'stuck' after stuckAfter in a row, goes faulty, and recovers when they move", () => {
    const { input, driver } = scripted(1000, { stuckAfter: 10, faultyAfter: 3 });
    for (let i = 0; i < 10; i++) expect(driver.sample()).toBeDefined(); // 10 identical: still plausible
    for (let i = 0; i < 3; i++) expect(driver.sample()).toBeUndefined(); // the 11th, 12th, 13th
    expect(driver.health.drops.stuck).toBe(3);
    expect(driver.health.faulty).toBe(true);
    input.counts = 1001;
    expect(driver.sample()![0]).toBeCloseTo((1001 * 232.5) / 4095, 6);
    expect(driver.health.faulty).toBe(false);
  });

  it("counts a throwing ADC as a 'bus' drop and never throws", () => {
    const { driver } = scripted(1000);
    driver.close(); // the board's handle now throws on read
    expect(() => driver.sample()).not.toThrow();
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops.bus).toBe(2);
  });

  it("never throws and only ever reports 30..130 dBA, whatever the ADC converts", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4095 }), { minLength: 1, maxLength: 50 }), (sequence) => {
        const { input, driver } = scripted(0, { stuckAfter: 3 });
        let results = 0;
        for (const counts of sequence) {
          input.counts = counts;
          const values = driver.sample();
          if (values !== undefined) {
            results++;
            expect(values[0]).toBeGreaterThanOrEqual(30);
            expect(values[0]).toBeLessThanOrEqual(130);
            expect(counts).toBeGreaterThanOrEqual(441);
            expect(counts).toBeLessThanOrEqual(2377);
          }
        }
        expect(driver.health.readings).toBe(results);
        expect(driver.health.readings + driver.health.totalDrops).toBe(sequence.length);
      }),
    );
  });

  it("reuses one values array", () => {
    const { input, driver } = scripted(1000);
    const first = driver.sample();
    input.counts = 1200;
    expect(driver.sample()).toBe(first);
  });
});

function simulated(options: { activity?: SoundSource; pinned?: boolean; stuckAfter?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const activity = options.activity ?? new StreetActivity({ seed: "street-1", siteSeed: "site-7" });
  const pinned = options.pinned ?? true;
  const part = new SoundLevelMeterPart({
    clock,
    activity,
    seed: "meter-1",
    ...(pinned ? { offsetDb: 0, adcOffsetCounts: 0, noiseScale: 0 } : {}),
  });
  const board = new SimBoard();
  board.attachAnalog("sound", part);
  const driver = new SoundLevelMeter({
    buses: board,
    clock,
    faultyAfter: 3,
    sensor: { pin: "sound" },
    ...(options.stuckAfter === undefined ? {} : { stuckAfter: options.stuckAfter }),
  });
  driver.configure();
  const tick = () => {
    clock.advanceBy(INTERVAL_MS);
    return driver.sample();
  };
  const truth = () => activity.noiseDb(clock.wallMs());
  return { clock, activity, part, driver, tick, truth };
}

describe("sound level meter driver against the simulated part", () => {
  it("reads the street's level to within the ADC's quantisation when the part is ideal", () => {
    const { tick, truth } = simulated();
    for (let i = 0; i < 200; i++) {
      const values = tick()!;
      const world = truth();
      const expected = world < 30 ? 30 : world > 130 ? 130 : world;
      expect(Math.abs(values[0]! - expected)).toBeLessThan(0.06); // one count is 0.057 dB
    }
  });

  it("reads within the meter's accuracy of the street with a drawn calibration and noise", () => {
    const { part, tick, truth } = simulated({ pinned: false });
    expect(Math.abs(part.calibration.offsetDb)).toBeLessThanOrEqual(1.5);
    let worst = 0;
    for (let i = 0; i < 400; i++) {
      const values = tick()!;
      worst = Math.max(worst, Math.abs(values[0]! - truth()));
    }
    // ±1.5 dB meter, ±6 counts (0.34 dB) ADC offset, ripple 0.2 dB and 2 counts σ
    expect(worst).toBeLessThan(3.2);
    expect(worst).toBeGreaterThan(0.05); // noise is present
  });

  it("gives a window Leq that matches the energy average of the street, and ordered percentiles", () => {
    const { tick, truth } = simulated();
    const stats = new LevelStats();
    let energy = 0;
    const n = 8 * 120; // two minutes at 8 Hz
    for (let i = 0; i < n; i++) {
      stats.add(tick()![0]!);
      energy += 10 ** (truth() / 10);
    }
    const trueLeq = 10 * Math.log10(energy / n);
    expect(stats.count).toBe(n);
    expect(Math.abs(stats.leq - trueLeq)).toBeLessThan(0.1);
    expect(stats.exceeded(10)).toBeGreaterThanOrEqual(stats.exceeded(50));
    expect(stats.exceeded(50)).toBeGreaterThanOrEqual(stats.exceeded(90));
    // A busy street at rush hour: pass-bys lift L10 well above the background L90.
    expect(stats.exceeded(10) - stats.exceeded(90)).toBeGreaterThan(3);
  });

  it("drops an unplugged meter as 'range', is faulty after 3, and recovers by itself after clearFaults()", () => {
    const { part, driver, tick } = simulated({ pinned: false });
    expect(tick()).toBeDefined();
    part.injectFault("unplugged");
    for (let i = 0; i < 3; i++) expect(() => tick()).not.toThrow();
    expect(driver.health.drops.range).toBe(3);
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.faultEpisodes).toBe(1);
    part.clearFaults();
    expect(tick()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("drops a rail-stuck input ('out-of-range') as 'range' and recovers", () => {
    const { part, driver, tick } = simulated({ pinned: false });
    part.injectFault("out-of-range");
    for (let i = 0; i < 5; i++) expect(tick()).toBeUndefined();
    expect(driver.health.drops.range).toBe(5);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(tick()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("drops a stuck ADC as 'stuck' once the counts repeat stuckAfter times, and recovers", () => {
    const { part, driver, tick } = simulated({ pinned: false, stuckAfter: 20 });
    for (let i = 0; i < 5; i++) tick();
    part.injectFault("stuck"); // freezes at the last conversion's counts, which count as the first repeat
    let dropped = 0;
    for (let i = 0; i < 40; i++) if (tick() === undefined) dropped++;
    // the last good one is repeat 1, the stuck ones are repeats 2..41; repeats 21..41 are dropped
    expect(dropped).toBe(21);
    expect(driver.health.drops.stuck).toBe(21);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(tick()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("passes a noise burst through as real readings (+20..+40 dB, capped at 130), then returns to the street", () => {
    const quiet: SoundSource = { noiseDb: () => 55 };
    const { part, driver, tick } = simulated({ activity: quiet });
    expect(tick()![0]).toBeCloseTo(55, 1);
    part.injectFault("noise-burst", { durationMs: 2000 });
    const burst: number[] = [];
    for (let i = 0; i < 15; i++) burst.push(tick()![0]!);
    for (const db of burst) {
      expect(db).toBeGreaterThanOrEqual(55 + 20 - 0.1);
      expect(db).toBeLessThanOrEqual(55 + 40 + 0.1);
    }
    expect(new Set(burst.map((d) => Math.round(d))).size).toBeGreaterThan(3); // spikes, not a step
    for (let i = 0; i < 3; i++) tick(); // 2 s = 16 samples: the burst has ended
    expect(tick()![0]).toBeCloseTo(55, 1);
    expect(driver.health.totalDrops).toBe(0); // a loud street is not a fault
  });

  it("follows an offset drift (the driver cannot tell it from the street: no drop)", () => {
    const quiet: SoundSource = { noiseDb: () => 60 };
    const { clock, part, driver, tick } = simulated({ activity: quiet });
    part.injectFault("offset-drift", { dbPerHour: 60 });
    clock.advanceBy(5 * 60_000 - INTERVAL_MS);
    expect(tick()![0]).toBeCloseTo(65, 1); // 1 dB a minute for 5 minutes
    expect(driver.health.totalDrops).toBe(0);
    part.clearFaults();
    expect(tick()![0]).toBeCloseTo(60, 1);
  });

  it("sees the meter's 30 dBA floor on a quiet night as 30, not as a fault", () => {
    const silent: SoundSource = { noiseDb: () => 20 };
    const { driver, tick } = simulated({ activity: silent, pinned: false });
    for (let i = 0; i < 50; i++) {
      const values = tick();
      expect(values).toBeDefined();
      expect(values![0]).toBeGreaterThanOrEqual(30);
      expect(values![0]).toBeLessThan(32);
    }
    expect(driver.health.totalDrops).toBe(0);
  });
});
