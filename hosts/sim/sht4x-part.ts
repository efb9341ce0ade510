/**
 * A simulated Sensirion SHT4x temperature/humidity sensor at the I2C byte level, behaving as the silicon
 * does per the SHT4x datasheet (version 6.x). Plug it into a `SimBoard` with `attachI2C("main", 0x44, part)`.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node.
 *
 * Protocol (one-byte commands; every response word is followed by its Sensirion CRC-8):
 *   0xFD / 0xF6 / 0xE0  measure T and RH, high / medium / low precision, ready after 8.3 / 4.5 / 1.7 ms
 *   0x89                read serial number: 6 bytes [SN3, SN2, CRC, SN1, SN0, CRC], ready at once
 *   0x94                soft reset: busy for 1 ms, drops any pending result and residual heater state
 *   0x39 / 0x32         heater 200 mW for 1 s / 0.1 s, then a high-precision measurement (ready after 1.1 s / 0.11 s)
 *   0x2F / 0x24         heater 110 mW, likewise
 *   0x1E / 0x15         heater 20 mW, likewise
 * - While a conversion (or reset) runs, the part NACKs every transaction, reads and writes alike: the
 *   part times with the MAXIMUM datasheet durations, so a driver that waits less is caught.
 * - After it, a read returns the result ([T_msb, T_lsb, CRC, RH_msb, RH_lsb, CRC]) once; a read with no
 *   result pending is NACKed. A shorter read returns the first bytes and still consumes the result; bytes
 *   past the sixth read as 0xFF. A write of zero bytes is an address probe (ACKed unless busy).
 * - An unknown command, or a write of more than one byte, is NACKed and ignored.
 * - A new command discards an unread result.
 * - Raw signals: S_T = round((T + 45) × 65535 / 175), S_RH = round((RH + 6) × 65535 / 125), clamped to
 *   0..65535 (so RH below 0 or above 100 % can appear, as on the real part; the host clips).
 *
 * Physics: the reading is the climate source's value at the end of the conversion, plus a fixed per-part
 * calibration offset (drawn from the seed within the SHT40's typical accuracy, ±0.2 °C and ±1.8 %RH,
 * unless pinned), plus Gaussian noise whose 3σ is the datasheet repeatability (0.04/0.07/0.1 °C and
 * 0.08/0.15/0.25 %RH for high/medium/low precision; `noiseScale` scales it, 0 turns it off).
 * Heater: a first-order thermal model (steady state 0.3 °C per mW, time constant 1 s, the same for
 * heating and cooling): 200 mW for 1 s warms the die by about 38 °C. The reading after a pulse, and any
 * reading while the die is still warm, shows the warmer die and the correspondingly lower RH (the water
 * vapour pressure of the air is unchanged). A simple model, not a calibrated one.
 *
 * Fault injection for tests: see `injectFault`.
 */

import type { Clock } from "../../src/platform.js";
import { sensirionCrc8 } from "../../src/sensors/sensirion-crc.js";
import { Prng, type Seed } from "./prng.js";
import type { SimI2CDevice } from "./sim-board.js";
import { saturationVapourPressureHPa, type ClimateSource } from "./street-climate.js";

export const SHT4X_DEFAULT_ADDRESS = 0x44;

export const SHT4X_COMMANDS = {
  measureHighPrecision: 0xfd,
  measureMediumPrecision: 0xf6,
  measureLowPrecision: 0xe0,
  readSerialNumber: 0x89,
  softReset: 0x94,
  heater200mW1s: 0x39,
  heater200mW100ms: 0x32,
  heater110mW1s: 0x2f,
  heater110mW100ms: 0x24,
  heater20mW1s: 0x1e,
  heater20mW100ms: 0x15,
} as const;

/** Maximum conversion times (ms) from the datasheet. */
export const SHT4X_DURATIONS_MS = {
  highPrecision: 8.3,
  mediumPrecision: 4.5,
  lowPrecision: 1.7,
  softReset: 1,
  heater1s: 1100,
  heater100ms: 110,
} as const;

/**
 * - "crc": the next `count` reads that return data (default 1) carry a corrupted CRC byte
 *   (`word`: "temperature", "humidity" or "both", default "both"); the data bytes are intact.
 * - "nack": the next `count` transactions (reads or writes, default 1) are NACKed and have no effect.
 * - "unplugged": every transaction is NACKed until `clearFaults()`, which plugs the part back in
 *   (power-cycled: no pending result, heater cold).
 * - "stuck": every measurement returns the same raw words (those of the last measurement, or of the next
 *   one if there was none), with valid CRCs, until cleared.
 * - "offset": adds `temperatureC` / `humidityPct` to every reading (drift, a splash of water), until cleared.
 * - "out-of-range": every measurement reads the top of the raw scale (S_T = 0xFFFF, 130 °C), as a
 *   broken element or a short does, until cleared.
 * - "noise-burst": the next `count` measurements (default 30) carry large random errors (±`temperatureC`,
 *   default 15 °C, and ±`humidityPct`, default 30 %RH), as a wet or electrically disturbed part gives.
 */
export type Sht4xFaultKind = "crc" | "nack" | "unplugged" | "stuck" | "offset" | "out-of-range" | "noise-burst";


export interface Sht4xFaultOptions {
  /** For "crc" and "nack": how many reads / transactions are affected; default 1. */
  readonly count?: number;
  /** For "crc": which word's CRC is corrupted; default "both". */
  readonly word?: "temperature" | "humidity" | "both";
  /** For "offset". */
  readonly temperatureC?: number;
  readonly humidityPct?: number;
}

/** Counters since construction or `resetStats()`. */
export interface Sht4xStats {
  /** Every read or write addressed to the part, NACKed ones included. */
  transactions: number;
  writes: number;
  reads: number;
  /** Transactions that were NACKed, for whatever reason. */
  nacks: number;
  /** Measurement commands accepted (heater commands included). */
  measurements: number;
  heaterPulses: number;
  serialNumberCommands: number;
  softResets: number;
  /** Reads that delivered a result (measurement or serial number). */
  dataReads: number;
  /** Reads delivered with an injected CRC corruption. */
  corruptedReads: number;
}

export interface Sht4xPartOptions {
  /** Time source: monotonic time for conversion timing, wall time for the climate query. */
  readonly clock: Clock;
  /** The air around the part. */
  readonly climate: ClimateSource;
  /** Seeds the part's serial number, calibration and noise. */
  readonly seed: Seed;
  /** I2C address, for messages only (the board routes); default 0x44. */
  readonly address?: number;
  /** 32-bit serial number; drawn from the seed when absent. */
  readonly serialNumber?: number;
  /** Calibration error of this part; drawn from the seed when absent. */
  readonly temperatureOffsetC?: number;
  readonly humidityOffsetPct?: number;
  /** Multiplies the datasheet noise; default 1, 0 for noise-free readings. */
  readonly noiseScale?: number;
}

type Precision = "high" | "medium" | "low";

/** 1σ noise per precision: the datasheet repeatability is 3σ. */
const NOISE_SIGMA: Readonly<Record<Precision, { readonly t: number; readonly rh: number }>> = {
  high: { t: 0.04 / 3, rh: 0.08 / 3 },
  medium: { t: 0.07 / 3, rh: 0.15 / 3 },
  low: { t: 0.1 / 3, rh: 0.25 / 3 },
};

const HEATER_C_PER_MW = 0.3;
const HEATER_TIME_CONSTANT_MS = 1000;

function encodeTemperature(temperatureC: number): number {
  const raw = Math.round(((temperatureC + 45) * 65535) / 175);
  return raw < 0 ? 0 : raw > 65535 ? 65535 : raw; // NaN is not produced by the model
}

function encodeHumidity(humidityPct: number): number {
  const raw = Math.round(((humidityPct + 6) * 65535) / 125);
  return raw < 0 ? 0 : raw > 65535 ? 65535 : raw;
}

export class Sht4xPart implements SimI2CDevice {
  readonly address: number;
  readonly serialNumber: number;
  /** The part's fixed calibration error, added to every reading. */
  readonly calibration: { readonly temperatureOffsetC: number; readonly humidityOffsetPct: number };

  private readonly clock: Clock;
  private readonly climate: ClimateSource;
  private readonly noise: Prng;
  private readonly noiseScale: number;
  private readonly counters: Sht4xStats = Sht4xPart.zeroStats();

  /** The pending response, 6 bytes with CRCs. */
  private readonly response = new Uint8Array(6);
  /** True while a result (measurement or serial number) waits to be read. */
  private pending = false;
  /** Monotonic time until which the part NACKs everything (conversion, reset). */
  private busyUntilMs = Number.NEGATIVE_INFINITY;
  /** Excess die temperature from the heater at `heatAtMs`. */
  private heatC = 0;
  private heatAtMs = 0;
  private lastRawT = -1;
  private lastRawRH = -1;

  // Fault state
  private crcFaultsLeft = 0;
  private crcFaultWord: "temperature" | "humidity" | "both" = "both";
  private nackFaultsLeft = 0;
  private unplugged = false;
  private stuck = false;
  private stuckRawT = -1;
  private stuckRawRH = -1;
  private offsetC = 0;
  private outOfRange = false;
  private noiseBurstLeft = 0;
  private noiseBurstC = 0;
  private noiseBurstPct = 0;
  private offsetPct = 0;

  constructor(options: Sht4xPartOptions) {
    this.clock = options.clock;
    this.climate = options.climate;
    this.address = options.address ?? SHT4X_DEFAULT_ADDRESS;
    const prng = new Prng(options.seed).fork("sht4x");
    const identity = prng.fork("identity");
    const drawnSerial = identity.nextUint32();
    const drawnT = identity.range(-0.2, 0.2);
    const drawnRH = identity.range(-1.8, 1.8);
    this.serialNumber = (options.serialNumber ?? drawnSerial) >>> 0;
    this.calibration = {
      temperatureOffsetC: options.temperatureOffsetC ?? drawnT,
      humidityOffsetPct: options.humidityOffsetPct ?? drawnRH,
    };
    this.noise = prng.fork("noise");
    this.noiseScale = options.noiseScale ?? 1;
  }

  private static zeroStats(): Sht4xStats {
    return {
      transactions: 0,
      writes: 0,
      reads: 0,
      nacks: 0,
      measurements: 0,
      heaterPulses: 0,
      serialNumberCommands: 0,
      softResets: 0,
      dataReads: 0,
      corruptedReads: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<Sht4xStats> {
    return this.counters;
  }

  resetStats(): void {
    Object.assign(this.counters, Sht4xPart.zeroStats());
  }

  // Fault injection

  /** Injects a fault; see `Sht4xFaultKind`. Faults of different kinds combine. */
  injectFault(kind: Sht4xFaultKind, options: Sht4xFaultOptions = {}): void {
    const count = options.count ?? 1;
    switch (kind) {
      case "crc":
        if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
        this.crcFaultsLeft = count;
        this.crcFaultWord = options.word ?? "both";
        return;
      case "nack":
        if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
        this.nackFaultsLeft = count;
        return;
      case "unplugged":
        this.unplugged = true;
        return;
      case "stuck":
        this.stuck = true;
        this.stuckRawT = this.lastRawT;
        this.stuckRawRH = this.lastRawRH;
        return;
      case "offset":
        this.offsetC = options.temperatureC ?? 0;
        this.offsetPct = options.humidityPct ?? 0;
        return;
      case "out-of-range":
        this.outOfRange = true;
        return;
      case "noise-burst":
        this.noiseBurstLeft = options.count ?? 30;
        this.noiseBurstC = options.temperatureC ?? 15;
        this.noiseBurstPct = options.humidityPct ?? 30;
        return;
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault. A part that was unplugged comes back power-cycled. */
  clearFaults(): void {
    if (this.unplugged) {
      this.pending = false;
      this.busyUntilMs = Number.NEGATIVE_INFINITY;
      this.heatC = 0;
    }
    this.crcFaultsLeft = 0;
    this.crcFaultWord = "both";
    this.nackFaultsLeft = 0;
    this.unplugged = false;
    this.stuck = false;
    this.stuckRawT = -1;
    this.stuckRawRH = -1;
    this.offsetC = 0;
    this.outOfRange = false;
    this.noiseBurstLeft = 0;
    this.offsetPct = 0;
  }

  // I2C, device side

  write(bytes: Uint8Array): void {
    this.counters.writes++;
    this.beginTransaction();
    if (bytes.length === 0) return; // address probe
    if (bytes.length > 1) this.nack(`SHT4x takes one-byte commands, got ${bytes.length} bytes`);
    const command = bytes[0]!;
    const now = this.clock.monotonicMs();
    switch (command) {
      case SHT4X_COMMANDS.measureHighPrecision:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.highPrecision, 0, 0);
      case SHT4X_COMMANDS.measureMediumPrecision:
        return this.startMeasurement(now, "medium", SHT4X_DURATIONS_MS.mediumPrecision, 0, 0);
      case SHT4X_COMMANDS.measureLowPrecision:
        return this.startMeasurement(now, "low", SHT4X_DURATIONS_MS.lowPrecision, 0, 0);
      case SHT4X_COMMANDS.heater200mW1s:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater1s, 200, 1000);
      case SHT4X_COMMANDS.heater200mW100ms:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater100ms, 200, 100);
      case SHT4X_COMMANDS.heater110mW1s:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater1s, 110, 1000);
      case SHT4X_COMMANDS.heater110mW100ms:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater100ms, 110, 100);
      case SHT4X_COMMANDS.heater20mW1s:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater1s, 20, 1000);
      case SHT4X_COMMANDS.heater20mW100ms:
        return this.startMeasurement(now, "high", SHT4X_DURATIONS_MS.heater100ms, 20, 100);
      case SHT4X_COMMANDS.readSerialNumber: {
        this.counters.serialNumberCommands++;
        const serial = this.serialNumber;
        this.setResponse(serial >>> 16, serial & 0xffff);
        this.pending = true;
        return;
      }
      case SHT4X_COMMANDS.softReset:
        this.counters.softResets++;
        this.pending = false;
        this.heatC = 0;
        this.busyUntilMs = now + SHT4X_DURATIONS_MS.softReset;
        return;
      default:
        this.nack(`SHT4x: unknown command 0x${command.toString(16).padStart(2, "0")}`);
    }
  }

  read(into: Uint8Array): void {
    this.counters.reads++;
    this.beginTransaction();
    if (into.length === 0) return;
    if (!this.pending) this.nack("SHT4x: no result pending");
    const response = this.response;
    const length = into.length;
    for (let i = 0; i < length; i++) into[i] = i < 6 ? response[i]! : 0xff;
    this.pending = false;
    this.counters.dataReads++;
    if (this.crcFaultsLeft > 0) {
      this.crcFaultsLeft--;
      this.counters.corruptedReads++;
      if (this.crcFaultWord !== "humidity" && length > 2) into[2] = into[2]! ^ 0x01;
      if (this.crcFaultWord !== "temperature" && length > 5) into[5] = into[5]! ^ 0x01;
    }
  }

  // Internals

  /** Counts a transaction and NACKs it when a fault or a running conversion says so. */
  private beginTransaction(): void {
    this.counters.transactions++;
    if (this.unplugged) this.nack("SHT4x unplugged");
    if (this.nackFaultsLeft > 0) {
      this.nackFaultsLeft--;
      this.nack("SHT4x: injected NACK");
    }
    if (this.clock.monotonicMs() < this.busyUntilMs) this.nack("SHT4x busy");
  }

  private nack(reason: string): never {
    this.counters.nacks++;
    throw new Error(`NACK at 0x${this.address.toString(16).padStart(2, "0")}: ${reason}`);
  }

  /** Excess die temperature from the heater at monotonic time `atMs`. */
  private residualHeatC(atMs: number): number {
    if (this.heatC === 0) return 0;
    return this.heatC * Math.exp(-Math.max(0, atMs - this.heatAtMs) / HEATER_TIME_CONSTANT_MS);
  }

  private startMeasurement(nowMs: number, precision: Precision, durationMs: number, heaterMW: number, pulseMs: number): void {
    this.counters.measurements++;
    let excessC = this.residualHeatC(nowMs);
    if (heaterMW > 0) {
      this.counters.heaterPulses++;
      const steadyC = HEATER_C_PER_MW * heaterMW;
      excessC = steadyC + (excessC - steadyC) * Math.exp(-pulseMs / HEATER_TIME_CONSTANT_MS);
      this.heatC = excessC;
      this.heatAtMs = nowMs + pulseMs;
    }

    const ambient = this.climate.at(this.clock.wallMs() + durationMs);
    const dieC = ambient.temperatureC + excessC;
    const dieRH =
      excessC === 0
        ? ambient.humidityPct
        : (ambient.humidityPct * saturationVapourPressureHPa(ambient.temperatureC)) / saturationVapourPressureHPa(dieC);
    const sigma = NOISE_SIGMA[precision];
    const scale = this.noiseScale;
    // Draw both always, so the noise stream does not depend on the noise scale or faults.
    const noiseT = this.noise.normal() * sigma.t * scale;
    const noiseRH = this.noise.normal() * sigma.rh * scale;
    let burstT = 0;
    let burstRH = 0;
    if (this.noiseBurstLeft > 0) {
      // Its own draws, after the regular ones, so a burst leaves the regular noise stream intact.
      this.noiseBurstLeft--;
      burstT = (this.noise.next() * 2 - 1) * this.noiseBurstC;
      burstRH = (this.noise.next() * 2 - 1) * this.noiseBurstPct;
    }
    let rawT = encodeTemperature(dieC + this.calibration.temperatureOffsetC + this.offsetC + noiseT + burstT);
    let rawRH = encodeHumidity(dieRH + this.calibration.humidityOffsetPct + this.offsetPct + noiseRH + burstRH);
    if (this.outOfRange) rawT = 0xffff;
    if (this.stuck) {
      if (this.stuckRawT < 0) {
        this.stuckRawT = rawT;
        this.stuckRawRH = rawRH;
      }
      rawT = this.stuckRawT;
      rawRH = this.stuckRawRH;
    }
    this.lastRawT = rawT;
    this.lastRawRH = rawRH;
    this.setResponse(rawT, rawRH);
    this.pending = true;
    this.busyUntilMs = nowMs + durationMs;
  }

  private setResponse(word0: number, word1: number): void {
    const response = this.response;
    response[0] = (word0 >>> 8) & 0xff;
    response[1] = word0 & 0xff;
    response[2] = sensirionCrc8(response, 0, 2);
    response[3] = (word1 >>> 8) & 0xff;
    response[4] = word1 & 0xff;
    response[5] = sensirionCrc8(response, 3, 2);
  }
}
