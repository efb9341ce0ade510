import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sensirionCrc8 } from "../../../src/sensors/sensirion-crc.js";
import { Scd4x } from "../../../src/sensors/scd4x.js";
import { Scd4xPart } from "../../../hosts/sim/scd4x-part.js";
import { SimBoard, type SimI2CDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";
import { StreetClimate, saturationVapourPressureHPa } from "../../../hosts/sim/street-climate.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);

const STOP = 0x3f86;
const START_PERIODIC = 0x21b1;
const DATA_READY = 0xe4b8;
const READ_MEASUREMENT = 0xec05;

function word(value: number): number[] {
  const bytes = Uint8Array.of(value >> 8, value & 0xff);
  return [bytes[0]!, bytes[1]!, sensirionCrc8(bytes, 0, 2)];
}

/**
 * A device that answers each command with fixed bytes: datasheet byte sequences, no simulation.
 * It NACKs a read when nothing is scripted for the last command, or when `nackReads` says so.
 */
class ScriptedDevice implements SimI2CDevice {
  writes: number[] = [];
  reads = 0;
  nackReads = 0;
  answers = new Map<number, number[]>();
  #last = -1;
  write(buffer: Uint8Array): void {
    this.#last = (buffer[0]! << 8) | buffer[1]!;
    this.writes.push(this.#last);
  }
  read(buffer: Uint8Array): void {
    this.reads++;
    const answer = this.answers.get(this.#last);
    if (this.nackReads > 0 || answer === undefined) {
      if (this.nackReads > 0) this.nackReads--;
      throw new Error("NACK: scripted");
    }
    buffer.set(answer.slice(0, buffer.length));
  }
}

// Datasheet SCD4x v1.3, chapter 3.5, read_measurement example: 0x01F4 0x33, 0x6667 0xA2, 0x5EB9 0x3C
// is CO2 500 ppm, T = -45 + 175 * 26215 / 65535 = 25.0 °C, RH = 100 * 24249 / 65535 = 37.0 %.
const DATASHEET_MEASUREMENT = [0x01, 0xf4, 0x33, 0x66, 0x67, 0xa2, 0x5e, 0xb9, 0x3c];
// get_data_ready_status: ready when the 11 least significant bits are not 0 (datasheet chapter 3.8).
// 0x8006 with its CRC 0x04 is a "ready" answer as parts send it.
const READY = [0x80, 0x06, 0x04];

function scripted(options: { faultyAfter?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const device = new ScriptedDevice();
  device.answers.set(DATA_READY, READY);
  device.answers.set(READ_MEASUREMENT, DATASHEET_MEASUREMENT);
  const board = new SimBoard();
  board.attachI2C("main", 0x62, device);
  const driver = new Scd4x({ buses: board, clock, faultyAfter: options.faultyAfter ?? 5, sensor: { bus: "main" } });
  const tick = (ms = 1000) => {
    clock.advanceBy(ms);
    return driver.sample();
  };
  return { clock, device, driver, tick };
}

describe("SCD4x driver on datasheet bytes", () => {
  it("stops, waits, starts, polls data-ready, reads the measurement and converts it", () => {
    const { device, driver, tick } = scripted();
    driver.configure();
    expect(device.writes).toEqual([STOP]);
    expect(tick()).toBeUndefined();
    expect(device.writes).toEqual([STOP, START_PERIODIC]);
    expect(tick()).toBeUndefined();
    expect(device.writes).toEqual([STOP, START_PERIODIC, DATA_READY]);
    expect(device.reads).toBe(0);
    expect(tick()).toBeUndefined(); // reads "ready", asks for the measurement
    expect(device.writes).toEqual([STOP, START_PERIODIC, DATA_READY, READ_MEASUREMENT]);
    const values = tick()!;
    expect(values).toBeDefined();
    expect(values[0]).toBe(500);
    expect(values[1]).toBe(-45 + (175 * 0x6667) / 65535);
    expect(values[1]).toBeCloseTo(25.0, 2);
    expect(values[2]).toBe((100 * 0x5eb9) / 65535);
    expect(values[2]).toBeCloseTo(37.0, 2);
    expect(driver.health.readings).toBe(1);
    expect(driver.health.drops["not-ready"]).toBe(3);
    expect(driver.health.consecutiveFailures).toBe(0);
  });

  it("writes the commands as two bytes, most significant first", () => {
    const clock = new SimClock({ startWallMs: START });
    const bytes: number[][] = [];
    const board = new SimBoard();
    board.attachI2C("main", 0x62, { write: (b: Uint8Array) => void bytes.push([...b]), read: () => {} });
    const driver = new Scd4x({ buses: board, clock, sensor: { bus: "main", address: 0x62 } });
    driver.configure();
    clock.advanceBy(600);
    driver.sample();
    expect(bytes).toEqual([
      [0x3f, 0x86],
      [0x21, 0xb1],
    ]);
  });

  it("sends start only once 500 ms have passed since stop", () => {
    const { device, driver, tick } = scripted();
    driver.configure();
    tick(300);
    expect(device.writes).toEqual([STOP]);
    tick(199);
    expect(device.writes).toEqual([STOP]);
    tick(1);
    expect(device.writes).toEqual([STOP, START_PERIODIC]);
    expect(driver.health.consecutiveFailures).toBe(0);
  });

  it.each([
    [0x8000, false],
    [0xf800, false], // only the 11 low bits count
    [0x0000, false],
    [0x0001, true],
    [0x0400, true],
    [0x8006, true],
  ])("data-ready word 0x%s: ready = %s", (status, ready) => {
    const { device, driver, tick } = scripted();
    device.answers.set(DATA_READY, word(status));
    driver.configure();
    tick();
    tick();
    tick();
    expect(device.writes.at(-1)).toBe(ready ? READ_MEASUREMENT : DATA_READY);
    expect(driver.health.consecutiveFailures).toBe(0);
  });

  it("waits the 1 ms execution time before reading an answer", () => {
    const { device, driver, tick } = scripted();
    driver.configure();
    tick();
    tick(); // get_data_ready sent
    expect(tick(0.5)).toBeUndefined();
    expect(device.reads).toBe(0);
    tick(0.5);
    expect(device.reads).toBe(1);
  });

  it("drops a measurement whose CRC is wrong, counts it, and does not throw", () => {
    const { device, driver, tick } = scripted();
    const bad = [...DATASHEET_MEASUREMENT];
    bad[8] ^= 0x01; // humidity CRC
    device.answers.set(READ_MEASUREMENT, bad);
    driver.configure();
    for (let i = 0; i < 4; i++) expect(tick()).toBeUndefined();
    expect(driver.health.drops.checksum).toBe(1);
    expect(driver.health.readings).toBe(0);
  });

  it("drops a data-ready word whose CRC is wrong", () => {
    const { device, driver, tick } = scripted();
    device.answers.set(DATA_READY, [0x80, 0x06, 0x05]);
    driver.configure();
    for (let i = 0; i < 3; i++) tick();
    expect(driver.health.drops.checksum).toBe(1);
    expect(device.writes).not.toContain(READ_MEASUREMENT);
  });

  it.each([
    ["CO2 0 ppm (the part's invalid value)", [...word(0), ...word(0x6667), ...word(0x5eb9)]],
    ["CO2 65535 ppm", [...word(0xffff), ...word(0x6667), ...word(0x5eb9)]],
    ["CO2 40001 ppm", [...word(40001), ...word(0x6667), ...word(0x5eb9)]],
    ["T 130 °C", [...word(500), ...word(0xffff), ...word(0x5eb9)]],
    ["T -45 °C", [...word(500), ...word(0), ...word(0x5eb9)]],
  ])("drops %s as out of range", (_name, bytes) => {
    const { device, driver, tick } = scripted();
    device.answers.set(READ_MEASUREMENT, bytes);
    driver.configure();
    for (let i = 0; i < 4; i++) expect(tick()).toBeUndefined();
    expect(driver.health.drops.range).toBe(1);
  });

  it("accepts the range limits: 40000 ppm, 0 and 100 %RH", () => {
    const { device, driver, tick } = scripted();
    device.answers.set(READ_MEASUREMENT, [...word(40000), ...word(0x6667), ...word(0xffff)]);
    driver.configure();
    for (let i = 0; i < 3; i++) tick();
    expect(Array.from(tick()!)).toEqual([40000, expect.closeTo(25, 2), 100]);
    device.answers.set(READ_MEASUREMENT, [...word(1), ...word(0x6667), ...word(0)]);
    tick();
    tick();
    expect(tick()![2]).toBe(0);
  });

  it("counts a NACKed read as a bus drop", () => {
    const { device, driver, tick } = scripted();
    driver.configure();
    tick();
    tick();
    device.nackReads = 1;
    expect(() => tick()).not.toThrow();
    expect(driver.health.drops.bus).toBe(1);
  });

  it("times out when data never becomes ready: counts bus per sample and restarts the part", () => {
    const { device, driver, tick } = scripted({ faultyAfter: 3 });
    device.answers.set(DATA_READY, word(0x8000));
    driver.configure();
    // 15 s plus 3 sampling intervals of 1 s after configure()
    for (let i = 0; i < 18; i++) tick();
    expect(driver.health.drops.bus).toBe(0);
    expect(driver.restarts).toBe(0);
    tick();
    expect(driver.health.drops.bus).toBe(1);
    expect(driver.restarts).toBe(1);
    expect(device.writes.at(-1)).toBe(STOP);
    tick();
    expect(device.writes.at(-1)).toBe(START_PERIODIC);
    tick();
    expect(driver.health.drops.bus).toBe(3);
    expect(driver.health.faulty).toBe(true);
    // The part answers again: the next good reading clears the fault.
    device.answers.set(DATA_READY, READY);
    let values: Float64Array | undefined;
    for (let i = 0; i < 5 && !values; i++) values = tick();
    expect(values?.[0]).toBe(500);
    expect(driver.health.faulty).toBe(false);
  });
});

describe("SCD4x driver on arbitrary bus answers (property)", () => {
  it("never throws, returns only in-range values, and counts every sample once", () => {
    const step = fc.record({
      ms: fc.integer({ min: 0, max: 6000 }),
      bytes: fc.uint8Array({ minLength: 9, maxLength: 9 }),
      validCrc: fc.boolean(),
      nackRead: fc.boolean(),
      nackWrite: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        const clock = new SimClock({ startWallMs: START });
        let current = steps[0];
        const device: SimI2CDevice = {
          write() {
            if (current?.nackWrite) throw new Error("NACK: fuzz");
          },
          read(buffer) {
            if (current === undefined || current.nackRead) throw new Error("NACK: fuzz");
            buffer.set(current.bytes.subarray(0, buffer.length));
            if (current.validCrc) for (let at = 0; at + 2 < buffer.length; at += 3) buffer[at + 2] = sensirionCrc8(buffer, at, 2);
          },
        };
        const board = new SimBoard();
        board.attachI2C("main", 0x62, device);
        const driver = new Scd4x({ buses: board, clock, faultyAfter: 3, stuckAfter: 2, sensor: { bus: "main" } });
        driver.configure();
        const countsBefore = driver.health.readings + driver.health.totalDrops;
        let first: Float64Array | undefined;
        for (const s of steps) {
          current = s;
          clock.advanceBy(s.ms);
          const values = driver.sample();
          if (values) {
            first ??= values;
            expect(values).toBe(first);
            driver.outputs.forEach((output, i) => {
              expect(values[i]).toBeGreaterThanOrEqual(output.min);
              expect(values[i]).toBeLessThanOrEqual(output.max);
            });
            expect(values[0]).toBeGreaterThan(0);
          }
        }
        // Each sample records exactly one outcome: a reading or one drop.
        expect(driver.health.readings + driver.health.totalDrops - countsBefore).toBe(steps.length);
      }),
      { numRuns: 300, seed: 4242 },
    );
  });
});

function simulated(options: { noise?: number; faultyAfter?: number; stuckAfter?: number; co2?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const climate = { at: () => ({ temperatureC: 21.5, humidityPct: 48 }) };
  const activity = { co2Ppm: () => options.co2 ?? 612.4 };
  const part = new Scd4xPart({
    clock,
    activity,
    climate,
    seed: "test-scd",
    co2OffsetPpm: 0,
    co2GainError: 0,
    temperatureOffsetC: 0,
    humidityOffsetPct: 0,
    noiseScale: options.noise ?? 0,
  });
  const board = new SimBoard();
  board.attachI2C("main", 0x62, part);
  const driver = new Scd4x({
    buses: board,
    clock,
    faultyAfter: options.faultyAfter ?? 3,
    sensor: { bus: "main", address: 0x62 },
    ...(options.stuckAfter === undefined ? {} : { stuckAfter: options.stuckAfter }),
  });
  driver.configure();
  const tick = () => {
    clock.advanceBy(1000);
    return driver.sample();
  };
  /** Samples until a reading comes, at most `limit` times. */
  const untilReading = (limit = 30) => {
    for (let i = 0; i < limit; i++) {
      const values = tick();
      if (values) return values;
    }
    return undefined;
  };
  return { clock, part, board, driver, tick, untilReading };
}

describe("SCD4x driver against the simulated part", () => {
  it("reads the street's CO2 and the air, warmed by the part by 1 °C", () => {
    const { untilReading, part } = simulated();
    const values = untilReading()!;
    expect(values).toBeDefined();
    expect(values[0]).toBe(612);
    expect(values[1]).toBeCloseTo(22.5, 2);
    const rh = (48 * saturationVapourPressureHPa(21.5)) / saturationVapourPressureHPa(22.5);
    expect(values[2]).toBeCloseTo(rh, 1);
    expect(values[2]).toBeLessThan(47);
    expect(part.mode).toBe("periodic");
    expect(part.stats.nacks).toBe(0);
  });

  it("delivers every 5 s measurement at 1 s sampling, with no NACKs and no lost measurements", () => {
    const { tick, part, driver } = simulated({ noise: 1 });
    let readings = 0;
    for (let i = 0; i < 120; i++) if (tick()) readings++;
    // start at 1 s, measurements at 6, 11, ..., 121 s: 23 of them, the last read by 121 + 2 s
    expect(readings).toBeGreaterThanOrEqual(22);
    expect(readings).toBeLessThanOrEqual(24);
    expect(part.stats.nacks).toBe(0);
    expect(part.stats.measurementsLost).toBe(0);
    expect(driver.health.totalDrops).toBe(driver.health.drops["not-ready"]);
  });

  it("follows a real street within the part's accuracy", () => {
    const clock = new SimClock({ startWallMs: START });
    const activity = new StreetActivity({ seed: "street", siteSeed: "site-1" });
    const climate = new StreetClimate({ seed: "street" });
    const part = new Scd4xPart({ clock, activity, climate, seed: "part-1" });
    const board = new SimBoard();
    board.attachI2C("main", 0x62, part);
    const driver = new Scd4x({ buses: board, clock, sensor: { bus: "main" } });
    driver.configure();
    let readings = 0;
    for (let i = 0; i < 300; i++) {
      clock.advanceBy(1000);
      const values = driver.sample();
      if (!values) continue;
      readings++;
      const truth = activity.co2Ppm(clock.wallMs());
      const air = climate.at(clock.wallMs());
      expect(Math.abs(values[0]! - truth)).toBeLessThan(40 + 0.05 * truth + 20); // accuracy + a 4σ noise margin
      expect(values[1]! - air.temperatureC).toBeGreaterThan(0.2 - 0.8 - 0.2);
      expect(values[1]! - air.temperatureC).toBeLessThan(1.8 + 0.2);
    }
    expect(readings).toBeGreaterThan(55);
  });

  it("samples at 10 s intervals without timing out", () => {
    const { clock, driver } = simulated({ noise: 1 });
    let readings = 0;
    for (let i = 0; i < 30; i++) {
      clock.advanceBy(10_000);
      if (driver.sample()) readings++;
    }
    expect(readings).toBeGreaterThanOrEqual(9);
    expect(driver.health.drops.bus).toBe(0);
    expect(driver.restarts).toBe(0);
  });

  it("drops a corrupted-CRC reading, counts it, and reads again next time", () => {
    const { part, driver, untilReading } = simulated({ noise: 1 });
    expect(untilReading()).toBeDefined();
    part.injectFault("crc", { count: 1 });
    expect(untilReading()).toBeDefined();
    expect(driver.health.drops.checksum).toBe(1);
    expect(part.stats.corruptedReads).toBe(1);
  });

  it("counts NACKs as bus drops and never throws", () => {
    const { part, driver, tick, untilReading } = simulated({ noise: 1 });
    expect(untilReading()).toBeDefined();
    part.injectFault("nack", { count: 2 });
    expect(() => {
      tick();
      tick();
    }).not.toThrow();
    expect(driver.health.drops.bus).toBe(2);
    expect(untilReading()).toBeDefined();
  });

  it("marks an unplugged part faulty after N failures and recovers by itself once plugged in", () => {
    const { part, driver, tick, untilReading } = simulated({ noise: 1 });
    expect(untilReading()).toBeDefined();
    part.injectFault("unplugged");
    for (let i = 0; i < 3; i++) expect(tick()).toBeUndefined();
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.faultEpisodes).toBe(1);
    for (let i = 0; i < 30; i++) tick();
    part.clearFaults(); // powered up again: idle, it forgot periodic mode
    expect(part.mode).toBe("idle");
    expect(untilReading(40)).toBeDefined();
    expect(driver.health.faulty).toBe(false);
    expect(driver.restarts).toBeGreaterThanOrEqual(1);
    expect(part.mode).toBe("periodic");
  });

  it("restarts a part that browned out and forgot periodic mode", () => {
    const { part, driver, tick, untilReading } = simulated({ noise: 1 });
    expect(untilReading()).toBeDefined();
    part.injectFault("not-started");
    let busBefore = driver.health.drops.bus;
    expect(busBefore).toBe(0);
    for (let i = 0; i < 15; i++) expect(tick()).toBeUndefined(); // no timeout yet
    busBefore = driver.health.drops.bus;
    const values = untilReading(30);
    expect(values).toBeDefined();
    expect(driver.restarts).toBe(1);
    expect(part.stats.starts).toBe(2);
    expect(driver.health.drops.bus).toBeGreaterThan(busBefore);
    expect(driver.health.faultEpisodes).toBe(1); // timeouts made it faulty; the reading healed it
    expect(driver.health.faulty).toBe(false);
  });

  it("drops readings as stuck once the raw words repeat too long, and recovers when they move", () => {
    const { part, driver, untilReading, tick } = simulated({ noise: 1, stuckAfter: 4 });
    expect(untilReading()).toBeDefined();
    part.injectFault("stuck");
    for (let i = 0; i < 60; i++) tick();
    expect(driver.health.drops.stuck).toBeGreaterThanOrEqual(6);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(untilReading()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it.each([0, 65535])("drops out-of-range CO2 (%d ppm), goes faulty, recovers after clearFaults", (co2Ppm) => {
    const { part, driver, tick, untilReading } = simulated({ noise: 1 });
    expect(untilReading()).toBeDefined();
    part.injectFault("out-of-range", { co2Ppm });
    for (let i = 0; i < 20; i++) expect(tick()).toBeUndefined();
    expect(driver.health.drops.range).toBeGreaterThanOrEqual(3);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(untilReading()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("passes a noise burst on (it is plausible air) without throwing, then settles", () => {
    const { part, untilReading } = simulated({ noise: 1, co2: 800 });
    expect(untilReading()).toBeDefined();
    part.injectFault("noise-burst", { count: 3, scale: 40 });
    const burst: number[] = [];
    for (let i = 0; i < 3; i++) burst.push(untilReading()![0]!);
    expect(Math.max(...burst.map((co2) => Math.abs(co2 - 800)))).toBeGreaterThan(30);
    for (let i = 0; i < 3; i++) expect(Math.abs(untilReading()![0]! - 800)).toBeLessThan(25);
  });

  it("survives a part that is absent from the bus from the start", () => {
    const clock = new SimClock({ startWallMs: START });
    const driver = new Scd4x({ buses: new SimBoard(), clock, faultyAfter: 2, sensor: { bus: "main" } });
    expect(() => driver.configure()).not.toThrow();
    clock.advanceBy(1000);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.drops.bus).toBe(2);
  });

  it("starts the sequence when sampled without configure()", () => {
    const { clock, part } = simulated();
    const board = new SimBoard();
    board.attachI2C("main", 0x62, part);
    part.injectFault("not-started");
    clock.advanceBy(1000);
    const driver = new Scd4x({ buses: board, clock, sensor: { bus: "main" } });
    let values: Float64Array | undefined;
    for (let i = 0; i < 12 && !values; i++) {
      clock.advanceBy(1000);
      values = driver.sample();
    }
    expect(values).toBeDefined();
    expect(driver.health.drops.bus).toBe(0);
  });

  it("stops the part on close() and samples nothing afterwards", () => {
    const { part, driver, untilReading, tick } = simulated();
    expect(untilReading()).toBeDefined();
    driver.close();
    expect(part.mode).toBe("idle");
    expect(tick()).toBeUndefined();
    expect(() => driver.close()).not.toThrow();
  });

  it("reuses one values array (no allocation per reading)", () => {
    const { untilReading } = simulated({ noise: 1 });
    const first = untilReading();
    const second = untilReading();
    expect(second).toBe(first);
  });
});
