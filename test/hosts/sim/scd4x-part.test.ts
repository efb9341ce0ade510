import { describe, expect, it } from "vitest";
import { sensirionCrc8, sensirionWordValid } from "../../../src/sensors/sensirion-crc.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { Scd4xPart, SCD4X_COMMANDS, type Scd4xPartOptions } from "../../../hosts/sim/scd4x-part.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";
import { saturationVapourPressureHPa, type ClimateSource } from "../../../hosts/sim/street-climate.js";

const START = Date.UTC(2026, 6, 14, 13, 0, 0);
const AIR: ClimateSource = { at: () => ({ temperatureC: 20, humidityPct: 50 }) };

function rig(options: Partial<Omit<Scd4xPartOptions, "clock">> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new Scd4xPart({
    clock,
    activity: { co2Ppm: () => 700 },
    climate: AIR,
    seed: "scd-1",
    co2OffsetPpm: 0,
    co2GainError: 0,
    temperatureOffsetC: 0,
    humidityOffsetPct: 0,
    noiseScale: 0,
    ...options,
  });
  const send = (command: number, ...args: number[]) => part.write(Uint8Array.of(command >> 8, command & 0xff, ...args));
  /** Sends `command`, waits `waitMs`, reads `length` bytes. */
  const query = (command: number, length: number, waitMs = 1): Uint8Array => {
    send(command);
    clock.advanceBy(waitMs);
    const buffer = new Uint8Array(length);
    part.read(buffer);
    return buffer;
  };
  return { clock, part, send, query };
}

const wordAt = (buffer: Uint8Array, index: number): number => (buffer[index * 3]! << 8) | buffer[index * 3 + 1]!;
const C = SCD4X_COMMANDS;

describe("Scd4xPart protocol", () => {
  it("measures every 5 s after start; data-ready flips and read_measurement empties the buffer", () => {
    const { clock, part, send, query } = rig();
    send(C.startPeriodicMeasurement);
    expect(part.mode).toBe("periodic");
    clock.advanceBy(4990);
    expect(wordAt(query(C.getDataReadyStatus, 3), 0) & 0x7ff).toBe(0);
    clock.advanceBy(10);
    const status = query(C.getDataReadyStatus, 3);
    expect(sensirionWordValid(status, 0)).toBe(true);
    expect(wordAt(status, 0) & 0x7ff).not.toBe(0);
    const frame = query(C.readMeasurement, 9);
    for (const at of [0, 3, 6]) expect(sensirionWordValid(frame, at)).toBe(true);
    expect(wordAt(frame, 0)).toBe(700);
    expect(wordAt(query(C.getDataReadyStatus, 3), 0) & 0x7ff).toBe(0);
    // With the buffer empty, the read of read_measurement is NACKed.
    expect(() => query(C.readMeasurement, 9)).toThrow(/NACK/);
    expect(part.stats.measurements).toBe(1);
    expect(part.stats.measurementReads).toBe(1);
  });

  it("encodes T and RH as the datasheet formulas invert, 1 °C warmer than the air from self-heating", () => {
    const { clock, send, query } = rig();
    send(C.startPeriodicMeasurement);
    clock.advanceBy(5000);
    const frame = query(C.readMeasurement, 9);
    const t = -45 + (175 * wordAt(frame, 1)) / 65535;
    const rh = (100 * wordAt(frame, 2)) / 65535;
    expect(t).toBeCloseTo(21, 2); // 20 °C air + 5 °C self-heating - 4 °C offset setting
    expect(rh).toBeCloseTo((50 * saturationVapourPressureHPa(20)) / saturationVapourPressureHPa(21), 2);
  });

  it("NACKs start, serial number and self-test while measuring, and accepts them when idle", () => {
    const { clock, part, send, query } = rig();
    send(C.startPeriodicMeasurement);
    expect(() => send(C.startPeriodicMeasurement)).toThrow(/not allowed/);
    expect(() => send(C.getSerialNumber)).toThrow(/NACK/);
    expect(() => send(C.performSelfTest)).toThrow(/NACK/);
    expect(() => send(C.reinit)).toThrow(/NACK/);
    expect(part.stats.rejectedCommands).toBe(4);
    expect(part.stats.starts).toBe(1);
    send(C.stopPeriodicMeasurement);
    clock.advanceBy(500);
    expect(part.mode).toBe("idle");
    const serial = query(C.getSerialNumber, 9);
    for (const at of [0, 3, 6]) expect(sensirionWordValid(serial, at)).toBe(true);
    expect(wordAt(serial, 0) * 2 ** 32 + wordAt(serial, 1) * 65536 + wordAt(serial, 2)).toBe(part.serialNumber);
  });

  it("is busy for 500 ms after stop and 1 ms after a query: NACKs reads and writes until then", () => {
    const { clock, part, send } = rig();
    send(C.startPeriodicMeasurement);
    send(C.stopPeriodicMeasurement);
    clock.advanceBy(499);
    expect(() => send(C.getDataReadyStatus)).toThrow(/busy/);
    clock.advanceBy(1);
    send(C.getDataReadyStatus);
    clock.advanceBy(0.5);
    expect(() => part.read(new Uint8Array(3))).toThrow(/busy/);
    clock.advanceBy(0.5);
    const buffer = new Uint8Array(3);
    part.read(buffer); // the answer survived the early read
    expect(sensirionWordValid(buffer, 0)).toBe(true);
    expect(() => part.read(buffer)).toThrow(/no answer/);
  });

  it("takes the self-test 10 s and reports no malfunction", () => {
    const { clock, part, send } = rig();
    send(C.performSelfTest);
    clock.advanceBy(9999);
    expect(() => part.read(new Uint8Array(3))).toThrow(/busy/);
    clock.advanceBy(1);
    const result = new Uint8Array(3);
    part.read(result);
    expect(Array.from(result)).toEqual([0, 0, 0x81]);
  });

  it("sets and reads back the temperature offset, which moves T and RH; reinit restores 4 °C", () => {
    const { clock, part, send, query } = rig();
    const offsetWord = 0x07e6; // datasheet example: 5.4 °C, CRC 0x48
    expect(sensirionCrc8(Uint8Array.of(0x07, 0xe6), 0, 2)).toBe(0x48);
    expect(() => send(C.setTemperatureOffset, 0x07, 0xe6, 0x49)).toThrow(/bad CRC/);
    send(C.setTemperatureOffset, 0x07, 0xe6, 0x48);
    clock.advanceBy(1);
    expect(part.temperatureOffsetSetting).toBeCloseTo(5.4, 2);
    expect(wordAt(query(C.getTemperatureOffset, 3), 0)).toBe(offsetWord);
    send(C.startPeriodicMeasurement);
    clock.advanceBy(5000);
    const frame = query(C.readMeasurement, 9);
    expect(-45 + (175 * wordAt(frame, 1)) / 65535).toBeCloseTo(20 + 5 - 5.4, 2);
    expect((100 * wordAt(frame, 2)) / 65535).toBeGreaterThan(50); // reads cooler than the air: higher RH
    send(C.stopPeriodicMeasurement);
    clock.advanceBy(500);
    send(C.reinit);
    clock.advanceBy(20);
    expect(part.temperatureOffsetSetting).toBe(4);
  });

  it("NACKs unknown commands, one-byte writes, and set commands without their word", () => {
    const { part, send } = rig();
    expect(() => send(0x1234)).toThrow(/unknown/);
    expect(() => part.write(Uint8Array.of(0x21))).toThrow(/NACK/);
    expect(() => send(C.setTemperatureOffset)).toThrow(/NACK/);
    expect(() => send(C.startPeriodicMeasurement, 0, 0, 0x81)).toThrow(/NACK/);
    expect(part.mode).toBe("idle");
    part.write(new Uint8Array(0)); // address probe
    expect(part.stats.nacks).toBe(4);
  });

  it("keeps only the newest measurement; unread ones are counted as lost", () => {
    const { clock, part, send, query } = rig();
    send(C.startPeriodicMeasurement);
    clock.advanceBy(16_000);
    query(C.readMeasurement, 9);
    expect(part.stats.measurements).toBe(3);
    expect(part.stats.measurementsLost).toBe(2);
  });
});

describe("Scd4xPart physics", () => {
  it("stays within the SCD41's accuracy of a real street, with ~5 ppm repeatability", () => {
    const clock = new SimClock({ startWallMs: START });
    const activity = new StreetActivity({ seed: "street", siteSeed: "site-3" });
    const part = new Scd4xPart({ clock, activity, climate: AIR, seed: "part-7" });
    const { co2OffsetPpm, co2GainError, temperatureOffsetC, humidityOffsetPct } = part.calibration;
    expect(Math.abs(co2OffsetPpm)).toBeLessThanOrEqual(30);
    expect(Math.abs(co2GainError)).toBeLessThanOrEqual(0.03);
    expect(Math.abs(temperatureOffsetC)).toBeLessThanOrEqual(0.8);
    expect(Math.abs(humidityOffsetPct)).toBeLessThanOrEqual(6);
    part.write(Uint8Array.of(0x21, 0xb1));
    const residuals: number[] = [];
    for (let i = 0; i < 200; i++) {
      clock.advanceBy(4999); // 5 s per loop with the 1 ms below
      part.write(Uint8Array.of(0xec, 0x05));
      clock.advanceBy(1);
      const frame = new Uint8Array(9);
      part.read(frame);
      const truth = activity.co2Ppm(clock.wallMs() - 1);
      const co2 = wordAt(frame, 0);
      expect(Math.abs(co2 - truth)).toBeLessThan(40 + 0.05 * truth);
      residuals.push(co2 - (truth * (1 + co2GainError) + co2OffsetPpm));
    }
    const mean = residuals.reduce((a, b) => a + b, 0) / residuals.length;
    const sigma = Math.sqrt(residuals.reduce((a, b) => a + (b - mean) ** 2, 0) / residuals.length);
    expect(Math.abs(mean)).toBeLessThan(1.5);
    expect(sigma).toBeGreaterThan(4);
    expect(sigma).toBeLessThan(6.5);
  });

  it("is deterministic for a seed and differs between seeds", () => {
    const frames = (seed: string) => {
      const { clock, send, query } = rig({ seed, noiseScale: 1, co2OffsetPpm: undefined });
      send(C.startPeriodicMeasurement);
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        clock.advanceBy(5000);
        out.push(...query(C.readMeasurement, 9));
      }
      return out;
    };
    expect(frames("a")).toEqual(frames("a"));
    expect(frames("a")).not.toEqual(frames("b"));
  });
});

describe("Scd4xPart faults", () => {
  function measuring(options: Partial<Omit<Scd4xPartOptions, "clock">> = {}) {
    const r = rig(options);
    r.send(C.startPeriodicMeasurement);
    const next = (): Uint8Array => {
      r.clock.advanceBy(5000);
      return r.query(C.readMeasurement, 9);
    };
    return { ...r, next };
  }

  it("crc: corrupts the CRC bytes of the chosen word only, for `count` reads", () => {
    const { part, next } = measuring();
    part.injectFault("crc", { word: 1, count: 2 });
    for (let i = 0; i < 2; i++) {
      const frame = next();
      expect([sensirionWordValid(frame, 0), sensirionWordValid(frame, 3), sensirionWordValid(frame, 6)]).toEqual([true, false, true]);
    }
    const clean = next();
    expect([0, 3, 6].every((at) => sensirionWordValid(clean, at))).toBe(true);
    expect(part.stats.corruptedReads).toBe(2);
  });

  it("nack: NACKs the next transactions and has no effect", () => {
    const { part, send } = rig();
    part.injectFault("nack", { count: 2 });
    expect(() => send(C.startPeriodicMeasurement)).toThrow(/injected/);
    expect(() => send(C.startPeriodicMeasurement)).toThrow(/injected/);
    expect(part.mode).toBe("idle");
    send(C.startPeriodicMeasurement);
    expect(part.mode).toBe("periodic");
  });

  it("unplugged: NACKs everything; plugged back in it is idle and busy for its 1 s power-up", () => {
    const { clock, part, send } = measuring();
    part.injectFault("unplugged");
    expect(() => send(C.getDataReadyStatus)).toThrow(/unplugged/);
    part.clearFaults();
    expect(part.mode).toBe("idle");
    expect(() => send(C.startPeriodicMeasurement)).toThrow(/busy/);
    clock.advanceBy(1000);
    send(C.startPeriodicMeasurement);
    expect(part.stats.powerUps).toBe(1);
  });

  it("stuck: repeats the last raw words with valid CRCs until cleared", () => {
    const { part, next } = measuring({ noiseScale: 1 });
    const before = next();
    part.injectFault("stuck");
    for (let i = 0; i < 3; i++) expect(Array.from(next())).toEqual(Array.from(before));
    part.clearFaults();
    expect(Array.from(next())).not.toEqual(Array.from(before));
  });

  it.each([0, 65535])("out-of-range: reports CO2 %d ppm with a valid CRC", (co2Ppm) => {
    const { part, next } = measuring();
    part.injectFault("out-of-range", { co2Ppm });
    const frame = next();
    expect(wordAt(frame, 0)).toBe(co2Ppm);
    expect(sensirionWordValid(frame, 0)).toBe(true);
    part.clearFaults();
    expect(wordAt(next(), 0)).toBe(700);
  });

  it("noise-burst: scatters `count` measurements, then the normal noise returns", () => {
    const { part, next } = measuring({ noiseScale: 1 });
    part.injectFault("noise-burst", { count: 4, scale: 40 });
    const burst = [0, 1, 2, 3].map(() => Math.abs(wordAt(next(), 0) - 700));
    const after = [0, 1, 2, 3].map(() => Math.abs(wordAt(next(), 0) - 700));
    expect(Math.max(...burst)).toBeGreaterThan(60);
    expect(Math.max(...after)).toBeLessThan(25);
  });

  it("not-started: the part browns out into idle; data never becomes ready until start is sent", () => {
    const { clock, part, send, query } = measuring();
    part.injectFault("not-started");
    expect(part.mode).toBe("idle");
    clock.advanceBy(30_000);
    expect(wordAt(query(C.getDataReadyStatus, 3), 0) & 0x7ff).toBe(0);
    expect(() => query(C.readMeasurement, 9)).toThrow(/no measurement/);
    send(C.startPeriodicMeasurement);
    clock.advanceBy(5000);
    expect(wordAt(query(C.readMeasurement, 9), 0)).toBe(700);
  });

  it("rejects unknown fault kinds and bad options", () => {
    const { part } = rig();
    expect(() => part.injectFault("melted" as never)).toThrow(RangeError);
    expect(() => part.injectFault("crc", { count: 0 })).toThrow(RangeError);
    expect(() => part.injectFault("out-of-range", { co2Ppm: 70000 })).toThrow(RangeError);
  });
});
