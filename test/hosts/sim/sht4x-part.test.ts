import { describe, expect, it } from "vitest";
import { sensirionCrc8, sensirionWordValid } from "../../../src/sensors/sensirion-crc.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { Sht4xPart, SHT4X_COMMANDS } from "../../../hosts/sim/sht4x-part.js";
import { StreetClimate, type ClimateSource } from "../../../hosts/sim/street-climate.js";

const START = Date.UTC(2026, 6, 14, 13, 0, 0);

function rig(options: { seed?: string; noiseScale?: number; climate?: ClimateSource } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const climate = options.climate ?? new StreetClimate({ seed: "street-1" });
  const part = new Sht4xPart({
    clock,
    climate,
    seed: options.seed ?? "sht-1",
    ...(options.noiseScale === undefined ? {} : { noiseScale: options.noiseScale }),
  });
  return { clock, climate, part };
}

const cmd = (byte: number): Uint8Array => Uint8Array.of(byte);
const decodeT = (buf: Uint8Array): number => -45 + (175 * ((buf[0]! << 8) | buf[1]!)) / 65535;
const decodeRH = (buf: Uint8Array): number => -6 + (125 * ((buf[3]! << 8) | buf[4]!)) / 65535;

/** Measures with `command`, waits `waitMs`, reads 6 bytes. */
function measure(r: ReturnType<typeof rig>, command: number = SHT4X_COMMANDS.measureHighPrecision, waitMs = 9): Uint8Array {
  r.part.write(cmd(command));
  r.clock.advanceBy(waitMs);
  const buf = new Uint8Array(6);
  r.part.read(buf);
  return buf;
}

describe("Sht4xPart", () => {
  it("measures: valid CRCs, values close to the climate model", () => {
    const r = rig();
    const truth = r.climate.at(r.clock.wallMs() + 8.3);
    const buf = measure(r);
    expect(sensirionCrc8(buf, 0, 2)).toBe(buf[2]);
    expect(sensirionCrc8(buf, 3, 2)).toBe(buf[5]);
    const { temperatureOffsetC, humidityOffsetPct } = r.part.calibration;
    expect(Math.abs(temperatureOffsetC)).toBeLessThanOrEqual(0.2);
    expect(Math.abs(humidityOffsetPct)).toBeLessThanOrEqual(1.8);
    // noise: 3σ = 0.04 °C / 0.08 %RH, quantisation 0.003 °C / 0.002 %RH
    expect(Math.abs(decodeT(buf) - (truth.temperatureC + temperatureOffsetC))).toBeLessThan(0.07);
    expect(Math.abs(decodeRH(buf) - (truth.humidityPct + humidityOffsetPct))).toBeLessThan(0.12);
    // and within the part's total accuracy of the truth itself
    expect(Math.abs(decodeT(buf) - truth.temperatureC)).toBeLessThan(0.3);
    expect(Math.abs(decodeRH(buf) - truth.humidityPct)).toBeLessThan(2);
    expect(r.part.stats.measurements).toBe(1);
    expect(r.part.stats.dataReads).toBe(1);
  });

  it("encodes exactly the inverted datasheet conversion without noise", () => {
    const fixed: ClimateSource = { at: () => ({ temperatureC: 21.5, humidityPct: 40 }) };
    const clock = new SimClock({ startWallMs: START });
    const part = new Sht4xPart({ clock, climate: fixed, seed: 1, noiseScale: 0, temperatureOffsetC: 0, humidityOffsetPct: 0 });
    part.write(cmd(0xfd));
    clock.advanceBy(9);
    const buf = new Uint8Array(6);
    part.read(buf);
    expect((buf[0]! << 8) | buf[1]!).toBe(Math.round(((21.5 + 45) * 65535) / 175));
    expect((buf[3]! << 8) | buf[4]!).toBe(Math.round(((40 + 6) * 65535) / 125));
  });

  it("clamps raw values to 0..65535", () => {
    const extreme: ClimateSource = { at: () => ({ temperatureC: 200, humidityPct: -20 }) };
    const clock = new SimClock({ startWallMs: START });
    const part = new Sht4xPart({ clock, climate: extreme, seed: 1, noiseScale: 0 });
    part.write(cmd(0xfd));
    clock.advanceBy(9);
    const buf = new Uint8Array(6);
    part.read(buf);
    expect(Array.from(buf.subarray(0, 2))).toEqual([0xff, 0xff]);
    expect(Array.from(buf.subarray(3, 5))).toEqual([0, 0]);
    expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
  });

  it("NACKs a read before the conversion has finished, and keeps the result", () => {
    const r = rig();
    r.part.write(cmd(SHT4X_COMMANDS.measureHighPrecision));
    const buf = new Uint8Array(6);
    expect(() => r.part.read(buf)).toThrow(/NACK/);
    r.clock.advanceBy(8); // 8 < 8.3 ms
    expect(() => r.part.read(buf)).toThrow(/NACK/);
    r.clock.advanceBy(1);
    r.part.read(buf);
    expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
    expect(r.part.stats.nacks).toBe(2);
  });

  it("times medium and low precision shorter", () => {
    const r = rig();
    const buf = new Uint8Array(6);
    r.part.write(cmd(SHT4X_COMMANDS.measureMediumPrecision));
    r.clock.advanceBy(4);
    expect(() => r.part.read(buf)).toThrow(/NACK/);
    r.clock.advanceBy(1);
    r.part.read(buf);
    r.part.write(cmd(SHT4X_COMMANDS.measureLowPrecision));
    r.clock.advanceBy(1);
    expect(() => r.part.read(buf)).toThrow(/NACK/);
    r.clock.advanceBy(1);
    r.part.read(buf);
    expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
  });

  it("NACKs a read with no result pending, including a second read of one result", () => {
    const r = rig();
    const buf = new Uint8Array(6);
    expect(() => r.part.read(buf)).toThrow(/NACK/);
    measure(r);
    expect(() => r.part.read(buf)).toThrow(/NACK/);
  });

  it("answers the serial number with CRCs", () => {
    const clock = new SimClock({ startWallMs: START });
    const part = new Sht4xPart({ clock, climate: new StreetClimate({ seed: 1 }), seed: 1, serialNumber: 0x12345678 });
    part.write(cmd(SHT4X_COMMANDS.readSerialNumber));
    const buf = new Uint8Array(6);
    part.read(buf);
    expect(Array.from(buf)).toEqual([0x12, 0x34, sensirionCrc8(Uint8Array.of(0x12, 0x34), 0, 2), 0x56, 0x78, sensirionCrc8(Uint8Array.of(0x56, 0x78), 0, 2)]);
    // seeded serial numbers: stable per seed, different between seeds
    const a = new Sht4xPart({ clock, climate: new StreetClimate({ seed: 1 }), seed: "x" }).serialNumber;
    const b = new Sht4xPart({ clock, climate: new StreetClimate({ seed: 1 }), seed: "x" }).serialNumber;
    const c = new Sht4xPart({ clock, climate: new StreetClimate({ seed: 1 }), seed: "y" }).serialNumber;
    expect(a).toBe(b);
    expect(a).not.toBe(c);
  });

  it("NACKs unknown commands and multi-byte writes; ACKs an address probe", () => {
    const r = rig();
    expect(() => r.part.write(cmd(0x00))).toThrow(/NACK/);
    expect(() => r.part.write(cmd(0x2c))).toThrow(/NACK/);
    expect(() => r.part.write(Uint8Array.of(0xfd, 0x00))).toThrow(/NACK/);
    expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/); // nothing was started
    r.part.write(new Uint8Array(0));
    expect(r.part.stats.nacks).toBe(4);
    expect(r.part.stats.transactions).toBe(5);
  });

  it("soft reset: busy for 1 ms, drops the pending result", () => {
    const r = rig();
    r.part.write(cmd(SHT4X_COMMANDS.measureHighPrecision));
    r.clock.advanceBy(9);
    r.part.write(cmd(SHT4X_COMMANDS.softReset));
    expect(() => r.part.write(cmd(SHT4X_COMMANDS.measureHighPrecision))).toThrow(/NACK/);
    r.clock.advanceBy(1);
    expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/);
    expect(measure(r).length).toBe(6);
    expect(r.part.stats.softResets).toBe(1);
  });

  it("heater: answers after the pulse with a warmer, drier reading that cools off", () => {
    const r = rig({ noiseScale: 0 });
    const ambient = measure(r);
    r.part.write(cmd(SHT4X_COMMANDS.heater200mW1s));
    r.clock.advanceBy(1000);
    expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/);
    r.clock.advanceBy(100);
    const heated = new Uint8Array(6);
    r.part.read(heated);
    expect(sensirionWordValid(heated, 0) && sensirionWordValid(heated, 3)).toBe(true);
    expect(decodeT(heated) - decodeT(ambient)).toBeGreaterThan(20);
    expect(decodeRH(heated)).toBeLessThan(decodeRH(ambient));
    r.clock.advanceBy(20_000);
    const cooled = measure(r);
    expect(Math.abs(decodeT(cooled) - decodeT(ambient))).toBeLessThan(0.5);
    // the short, weak pulse warms much less
    r.part.write(cmd(SHT4X_COMMANDS.heater20mW100ms));
    r.clock.advanceBy(110);
    const mild = new Uint8Array(6);
    r.part.read(mild);
    expect(decodeT(mild) - decodeT(cooled)).toBeGreaterThan(0);
    expect(decodeT(mild) - decodeT(cooled)).toBeLessThan(2);
    expect(r.part.stats.heaterPulses).toBe(2);
  });

  it("is reproducible: same seeds and commands, same bytes", () => {
    const a = rig();
    const b = rig();
    for (let i = 0; i < 20; i++) {
      expect(measure(a)).toEqual(measure(b));
      a.clock.advanceBy(1000);
      b.clock.advanceBy(1000);
    }
  });

  it("adds noise that varies between readings at constant conditions", () => {
    const fixed: ClimateSource = { at: () => ({ temperatureC: 20, humidityPct: 50 }) };
    const r = rig({ climate: fixed });
    const temps = new Set<number>();
    for (let i = 0; i < 30; i++) {
      temps.add(decodeT(measure(r, SHT4X_COMMANDS.measureLowPrecision, 2)));
      r.clock.advanceBy(100);
    }
    expect(temps.size).toBeGreaterThan(3);
    for (const t of temps) expect(Math.abs(t - 20 - r.part.calibration.temperatureOffsetC)).toBeLessThan(0.2);
  });

  it("fills a shorter read with the first bytes and a longer one with 0xFF", () => {
    const r = rig();
    r.part.write(cmd(SHT4X_COMMANDS.measureHighPrecision));
    r.clock.advanceBy(9);
    const short = new Uint8Array(3);
    r.part.read(short);
    expect(sensirionWordValid(short, 0)).toBe(true);
    expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/); // consumed
    r.part.write(cmd(SHT4X_COMMANDS.measureHighPrecision));
    r.clock.advanceBy(9);
    const long = new Uint8Array(8);
    r.part.read(long);
    expect(Array.from(long.subarray(6))).toEqual([0xff, 0xff]);
  });

  describe("faults", () => {
    it("crc: the next N reads carry a bad CRC, then valid again", () => {
      const r = rig();
      r.part.injectFault("crc", { count: 2 });
      for (let i = 0; i < 2; i++) {
        const buf = measure(r);
        expect(sensirionWordValid(buf, 0)).toBe(false);
        expect(sensirionWordValid(buf, 3)).toBe(false);
      }
      const ok = measure(r);
      expect(sensirionWordValid(ok, 0) && sensirionWordValid(ok, 3)).toBe(true);
      expect(r.part.stats.corruptedReads).toBe(2);

      r.part.injectFault("crc", { word: "humidity" });
      const half = measure(r);
      expect(sensirionWordValid(half, 0)).toBe(true);
      expect(sensirionWordValid(half, 3)).toBe(false);

      r.part.injectFault("crc", { count: 5 });
      r.part.clearFaults();
      const cleared = measure(r);
      expect(sensirionWordValid(cleared, 0) && sensirionWordValid(cleared, 3)).toBe(true);
    });

    it("nack: the next N transactions NACK without effect", () => {
      const r = rig();
      r.part.injectFault("nack", { count: 2 });
      expect(() => r.part.write(cmd(0xfd))).toThrow(/NACK/);
      expect(() => r.part.write(cmd(0xfd))).toThrow(/NACK/);
      expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/); // no measurement was started
      const buf = measure(r);
      expect(sensirionWordValid(buf, 0)).toBe(true);
      expect(r.part.stats.measurements).toBe(1);

      r.part.injectFault("nack", { count: 3 });
      r.part.clearFaults();
      expect(measure(r).length).toBe(6);
    });

    it("unplugged: everything NACKs until cleared; replugged power-cycled", () => {
      const r = rig();
      r.part.write(cmd(0xfd));
      r.part.injectFault("unplugged");
      r.clock.advanceBy(9);
      for (let i = 0; i < 5; i++) {
        expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/);
        expect(() => r.part.write(cmd(0xfd))).toThrow(/NACK/);
        expect(() => r.part.write(new Uint8Array(0))).toThrow(/NACK/);
      }
      r.part.clearFaults();
      expect(() => r.part.read(new Uint8Array(6))).toThrow(/NACK/); // the result died with the power
      const buf = measure(r);
      expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
    });

    it("stuck: repeats the same raw words with valid CRCs until cleared", () => {
      let temperatureC = 10;
      const moving: ClimateSource = { at: () => ({ temperatureC: (temperatureC += 1), humidityPct: 50 }) };
      const r = rig({ climate: moving });
      const before = measure(r);
      r.part.injectFault("stuck");
      const stuck = [measure(r), measure(r), measure(r)];
      for (const buf of stuck) {
        expect(buf).toEqual(before);
        expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
      }
      r.part.clearFaults();
      const after = measure(r);
      expect(decodeT(after)).toBeGreaterThan(decodeT(before) + 2);
    });

    it("stuck on a fresh part freezes the first measurement", () => {
      let temperatureC = 10;
      const moving: ClimateSource = { at: () => ({ temperatureC: (temperatureC += 1), humidityPct: 50 }) };
      const r = rig({ climate: moving });
      r.part.injectFault("stuck");
      const first = measure(r);
      expect(measure(r)).toEqual(first);
    });

    it("offset: shifts readings until cleared", () => {
      const fixed: ClimateSource = { at: () => ({ temperatureC: 20, humidityPct: 50 }) };
      const r = rig({ climate: fixed, noiseScale: 0 });
      const base = measure(r);
      r.part.injectFault("offset", { temperatureC: 3, humidityPct: -10 });
      const shifted = measure(r);
      expect(decodeT(shifted) - decodeT(base)).toBeCloseTo(3, 2);
      expect(decodeRH(shifted) - decodeRH(base)).toBeCloseTo(-10, 2);
      r.part.clearFaults();
      expect(measure(r)).toEqual(base);
    });

    it("rejects bad fault options", () => {
      const r = rig();
      expect(() => r.part.injectFault("crc", { count: 0 })).toThrow(RangeError);
      expect(() => r.part.injectFault("nack", { count: 1.5 })).toThrow(RangeError);
      expect(() => r.part.injectFault("melted" as never)).toThrow(RangeError);
    });
  });

  it("counts transactions and resets the counters", () => {
    const r = rig();
    measure(r);
    expect(r.part.stats).toMatchObject({ transactions: 2, writes: 1, reads: 1, nacks: 0, measurements: 1, dataReads: 1 });
    r.part.resetStats();
    expect(r.part.stats.transactions).toBe(0);
  });
});
