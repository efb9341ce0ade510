/**
 * A simulated Sensirion SCD4x (SCD40/SCD41) CO2, temperature and humidity sensor at the I2C byte level,
 * behaving as the silicon does per the SCD4x datasheet (version 1.3, chapter 3). Plug it into a `SimBoard`
 * with `attachI2C("main", 0x62, part)`.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node. No timers: the part works out
 * what has happened since the last transaction from the clock, lazily.
 *
 * Protocol (16-bit commands, most significant byte first; every 16-bit word in either direction is followed
 * by its Sensirion CRC-8). "idle" / "periodic" is the mode the command is accepted in (table 9):
 *   0x21B1 start_periodic_measurement  idle            a measurement every 5 s, the first 5 s after the start
 *   0x3F86 stop_periodic_measurement   idle, periodic  back to idle; busy for 500 ms (accepted in idle too:
 *                                                      drivers send it at boot, not knowing the mode)
 *   0xE4B8 get_data_ready_status       idle, periodic  after 1 ms one word: 0x8006 when a measurement waits,
 *                                                      0x8000 when not (only the 11 low bits carry meaning)
 *   0xEC05 read_measurement            idle, periodic  after 1 ms 3 words: CO2 ppm, S_T, S_RH; the read empties
 *                                                      the buffer; with no measurement waiting it is NACKed
 *   0x241D set_temperature_offset      idle            + word + CRC: offset = word * 175 / 65535 °C; busy 1 ms
 *   0x2318 get_temperature_offset      idle            after 1 ms one word
 *   0x3682 get_serial_number           idle            after 1 ms 3 words (48-bit serial number, MSW first)
 *   0x3639 perform_self_test           idle            after 10 s one word: 0 = no malfunction
 *   0x3646 reinit                      idle            busy 20 ms; reloads settings (temperature offset 4 °C)
 * - A command not accepted in the current mode (start while measuring, serial number while measuring), an
 *   unknown or unmodelled command (altitude, pressure, calibration, low-power and single-shot commands), a
 *   write of the wrong length or a set command with a bad CRC is NACKed and has no effect.
 * - While a command executes, the part NACKs everything, reads (the datasheet's "read header") and writes;
 *   it times with the datasheet's execution times, so a driver that waits less is caught.
 * - A read with no answer pending is NACKed; a read delivers the answer once; a shorter read takes the first
 *   bytes and still consumes the answer; bytes past its end read as 0xFF. A new command drops an unread
 *   answer. A write of zero bytes is an address probe (ACKed unless busy).
 * - Power-up (after "unplugged" is cleared, or the brown-out of "not-started"): idle, no measurement,
 *   temperature offset back to 4 °C, and NACKs for the first 1000 ms (datasheet 3.1).
 *
 * Physics of one measurement, taken when its 5 s period ends (at that instant's wall time):
 * - CO2: the street's CO2 × (1 + gain error) + offset error + Gaussian noise, rounded, clamped to 0..40000.
 *   The per-part errors are drawn from the seed (offset ±30 ppm, gain ±3 %) so that, with the noise, they stay
 *   within the SCD41's accuracy of ±(40 ppm + 5 % of reading); the noise's σ is 5 ppm, the datasheet's
 *   repeatability of ±10 ppm taken as 2σ.
 * - Temperature: the part warms itself and its surroundings (its IR source, the node's electronics) by
 *   `selfHeatingC` (default 5 °C); it subtracts its temperature offset setting (4 °C by default), so it reads
 *   about 1 °C warmer than the air, plus a per-part error (±0.8 °C, the datasheet accuracy) and noise
 *   (σ 0.05 °C, repeatability 0.1 °C as 2σ).
 * - Humidity: the air's water vapour at the part's compensated temperature (the part compensates RH for its
 *   offset setting, so too warm a reading shows too low an RH), plus a per-part error (±6 %RH, the datasheet
 *   accuracy) and noise (σ 0.2 %RH, repeatability 0.4 %RH as 2σ), clamped to 0..100.
 * - The part keeps only the newest measurement: an unread one is overwritten 5 s later.
 *
 * Fault injection for tests: see `injectFault`.
 */

import type { Clock } from "../../src/platform.js";
import { sensirionCrc8 } from "../../src/sensors/sensirion-crc.js";
import { Prng, type Seed } from "./prng.js";
import type { SimI2CDevice } from "./sim-board.js";
import type { StreetActivity } from "./street-activity.js";
import { saturationVapourPressureHPa, type ClimateSource } from "./street-climate.js";

export const SCD4X_DEFAULT_ADDRESS = 0x62;

export const SCD4X_COMMANDS = {
  startPeriodicMeasurement: 0x21b1,
  stopPeriodicMeasurement: 0x3f86,
  getDataReadyStatus: 0xe4b8,
  readMeasurement: 0xec05,
  setTemperatureOffset: 0x241d,
  getTemperatureOffset: 0x2318,
  getSerialNumber: 0x3682,
  performSelfTest: 0x3639,
  reinit: 0x3646,
} as const;

/** Execution times and intervals (ms) from the datasheet. */
export const SCD4X_TIMING_MS = {
  measurementPeriod: 5000,
  stopPeriodicMeasurement: 500,
  /** get_data_ready_status, read_measurement, set/get_temperature_offset, get_serial_number. */
  shortCommand: 1,
  performSelfTest: 10_000,
  reinit: 20,
  powerUp: 1000,
} as const;

/** The temperature offset the part starts with and returns to on reinit or power-up. */
export const SCD4X_DEFAULT_TEMPERATURE_OFFSET_C = 4;

/**
 * - "crc": the next `count` reads that deliver an answer (default 1) carry corrupted CRC bytes, of word
 *   `word` (0-based index in the answer) or of every word when absent; the data bytes are intact.
 * - "nack": the next `count` transactions (reads or writes, default 1) are NACKed and have no effect.
 * - "unplugged": every transaction is NACKed until `clearFaults()`, which plugs the part back in: powered up
 *   (idle, NACKing for 1 s), so a driver must start it again.
 * - "stuck": every measurement repeats the raw words of the last one (or of the next one if there was none),
 *   with valid CRCs, until cleared.
 * - "out-of-range": every measurement reports CO2 as `co2Ppm` (default 0, the part's "invalid" value; 65535
 *   is the other extreme the 16-bit word can carry), until cleared.
 * - "noise-burst": the next `count` measurements (default 3) carry `scale` times (default 40) the normal
 *   noise (electrical interference, a gust through the optical cell).
 * - "not-started": a brown-out, now: the part restarts (NACKs for 1 s, then idle, offset setting reset) and
 *   forgets periodic mode, so data never becomes ready until start is sent again. It happens once; there is
 *   nothing left for `clearFaults()` to clear.
 */
export type Scd4xFaultKind = "crc" | "nack" | "unplugged" | "stuck" | "out-of-range" | "noise-burst" | "not-started";

export interface Scd4xFaultOptions {
  /** For "crc", "nack" and "noise-burst": how many reads / transactions / measurements are affected. */
  readonly count?: number;
  /** For "crc": the index of the word whose CRC is corrupted; default every word. */
  readonly word?: number;
  /** For "out-of-range": the raw CO2 word to report, 0..65535; default 0. */
  readonly co2Ppm?: number;
  /** For "noise-burst": the noise multiplier; default 40. */
  readonly scale?: number;
}

/** Counters since construction or `resetStats()`. */
export interface Scd4xStats {
  /** Every read or write addressed to the part, NACKed ones included. */
  transactions: number;
  writes: number;
  reads: number;
  /** Transactions that were NACKed, for whatever reason. */
  nacks: number;
  /** Commands refused: not allowed in the current mode, unknown, malformed. */
  rejectedCommands: number;
  starts: number;
  stops: number;
  dataReadyPolls: number;
  /** read_measurement commands accepted. */
  measurementCommands: number;
  /** Measurements completed by the part (read or not). */
  measurements: number;
  /** Measurements overwritten before anyone read them. */
  measurementsLost: number;
  /** Reads that delivered an answer (a measurement, a status word, a serial number, ...). */
  dataReads: number;
  /** Reads that delivered a measurement. */
  measurementReads: number;
  /** Reads delivered with an injected CRC corruption. */
  corruptedReads: number;
  serialNumberCommands: number;
  selfTests: number;
  reinits: number;
  temperatureOffsetCommands: number;
  /** Power-ups after "unplugged" or "not-started". */
  powerUps: number;
}

export interface Scd4xPartOptions {
  /** Time source: monotonic time for the part's timing, wall time for the world's state. */
  readonly clock: Clock;
  /** The street, for its CO2 (`co2Ppm`). */
  readonly activity: Pick<StreetActivity, "co2Ppm">;
  /** The air around the part. */
  readonly climate: ClimateSource;
  /** Seeds the part's serial number, calibration errors and noise. */
  readonly seed: Seed;
  /** I2C address, for messages only (the board routes); default 0x62. */
  readonly address?: number;
  /** 48-bit serial number; drawn from the seed when absent. */
  readonly serialNumber?: number;
  /** Calibration errors of this part; drawn from the seed when absent. */
  readonly co2OffsetPpm?: number;
  /** Relative CO2 gain error, e.g. 0.02 for +2 %. */
  readonly co2GainError?: number;
  readonly temperatureOffsetC?: number;
  readonly humidityOffsetPct?: number;
  /** How much warmer than the air the part's sensing element is; default 5 °C. */
  readonly selfHeatingC?: number;
  /** Multiplies the datasheet noise; default 1, 0 for noise-free readings. */
  readonly noiseScale?: number;
}

/** 1σ noise: the datasheet repeatability taken as 2σ. */
const SIGMA_CO2_PPM = 5;
const SIGMA_T_C = 0.05;
const SIGMA_RH_PCT = 0.2;
const CO2_MAX_PPM = 40000;
const TWO_POW_48 = 2 ** 48;

// What a pending answer is.
const ANSWER_NONE = 0;
/** Fixed words prepared when the command was written. */
const ANSWER_WORDS = 1;
/** The measurement buffer, taken at read time. */
const ANSWER_MEASUREMENT = 2;

/** The raw words of one measurement. */
interface RawMeasurement {
  co2: number;
  t: number;
  rh: number;
}

function clampWord(value: number): number {
  const raw = Math.round(value);
  return raw < 0 ? 0 : raw > 65535 ? 65535 : raw;
}

function countOption(value: number | undefined, fallback: number): number {
  const count = value ?? fallback;
  if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
  return count;
}

export class Scd4xPart implements SimI2CDevice {
  readonly address: number;
  /** 48-bit serial number. */
  readonly serialNumber: number;
  /** The part's fixed calibration errors, applied to every measurement. */
  readonly calibration: {
    readonly co2OffsetPpm: number;
    readonly co2GainError: number;
    readonly temperatureOffsetC: number;
    readonly humidityOffsetPct: number;
  };
  readonly selfHeatingC: number;

  private readonly clock: Clock;
  private readonly activity: Pick<StreetActivity, "co2Ppm">;
  private readonly climate: ClimateSource;
  private readonly noise: Prng;
  private readonly noiseScale: number;
  private readonly counters: Scd4xStats = Scd4xPart.zeroStats();

  private periodic = false;
  /** Monotonic time of start_periodic_measurement. */
  private startedAtMs = 0;
  /** Index (periods since the start) of the newest measurement taken. */
  private measurementIndex = 0;
  /** True while the newest measurement waits to be read. */
  private dataReady = false;
  private readonly latest: RawMeasurement = { co2: 0, t: 0, rh: 0 };
  /** True once `latest` holds a measurement. */
  private measuredOnce = false;
  /** The part's temperature offset setting (°C), subtracted from the measured temperature. */
  private temperatureOffsetSettingC = SCD4X_DEFAULT_TEMPERATURE_OFFSET_C;

  /** The pending answer: up to 3 words with CRCs. */
  private readonly answer = new Uint8Array(9);
  private answerLength = 0;
  private answerKind = ANSWER_NONE;
  /** Monotonic time until which the part NACKs everything (execution, power-up). */
  private busyUntilMs = Number.NEGATIVE_INFINITY;

  // Fault state
  private crcFaultsLeft = 0;
  private crcFaultWord = -1;
  private nackFaultsLeft = 0;
  private unplugged = false;
  private stuck = false;
  private stuckRaw: RawMeasurement | undefined;
  private outOfRangeCo2 = -1;
  private burstLeft = 0;
  private burstScale = 1;

  constructor(options: Scd4xPartOptions) {
    this.clock = options.clock;
    this.activity = options.activity;
    this.climate = options.climate;
    this.address = options.address ?? SCD4X_DEFAULT_ADDRESS;
    const prng = new Prng(options.seed).fork("scd4x");
    const identity = prng.fork("identity");
    const drawnSerial = identity.nextUint32() * 65536 + (identity.nextUint32() >>> 16);
    const drawn = {
      co2OffsetPpm: identity.range(-30, 30),
      co2GainError: identity.range(-0.03, 0.03),
      temperatureOffsetC: identity.range(-0.8, 0.8),
      humidityOffsetPct: identity.range(-6, 6),
    };
    const serial = options.serialNumber ?? drawnSerial;
    if (!Number.isInteger(serial) || serial < 0 || serial >= TWO_POW_48) throw new RangeError("serialNumber must be a 48-bit integer");
    this.serialNumber = serial;
    this.calibration = {
      co2OffsetPpm: options.co2OffsetPpm ?? drawn.co2OffsetPpm,
      co2GainError: options.co2GainError ?? drawn.co2GainError,
      temperatureOffsetC: options.temperatureOffsetC ?? drawn.temperatureOffsetC,
      humidityOffsetPct: options.humidityOffsetPct ?? drawn.humidityOffsetPct,
    };
    this.selfHeatingC = options.selfHeatingC ?? 5;
    this.noise = prng.fork("noise");
    this.noiseScale = options.noiseScale ?? 1;
  }

  private static zeroStats(): Scd4xStats {
    return {
      transactions: 0,
      writes: 0,
      reads: 0,
      nacks: 0,
      rejectedCommands: 0,
      starts: 0,
      stops: 0,
      dataReadyPolls: 0,
      measurementCommands: 0,
      measurements: 0,
      measurementsLost: 0,
      dataReads: 0,
      measurementReads: 0,
      corruptedReads: 0,
      serialNumberCommands: 0,
      selfTests: 0,
      reinits: 0,
      temperatureOffsetCommands: 0,
      powerUps: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<Scd4xStats> {
    return this.counters;
  }

  resetStats(): void {
    Object.assign(this.counters, Scd4xPart.zeroStats());
  }

  /** "periodic" while measuring, else "idle". */
  get mode(): "idle" | "periodic" {
    return this.periodic ? "periodic" : "idle";
  }

  /** The temperature offset setting, °C (4 by default; set_temperature_offset changes it). */
  get temperatureOffsetSetting(): number {
    return this.temperatureOffsetSettingC;
  }

  // Fault injection

  /** Injects a fault; see `Scd4xFaultKind`. Faults of different kinds combine. */
  injectFault(kind: Scd4xFaultKind, options: Scd4xFaultOptions = {}): void {
    switch (kind) {
      case "crc": {
        this.crcFaultsLeft = countOption(options.count, 1);
        const word = options.word ?? -1;
        if (!Number.isInteger(word) || word < -1 || word > 2) throw new RangeError("injectFault: word must be 0, 1 or 2");
        this.crcFaultWord = word;
        return;
      }
      case "nack":
        this.nackFaultsLeft = countOption(options.count, 1);
        return;
      case "unplugged":
        this.unplugged = true;
        return;
      case "stuck":
        this.catchUp(this.clock.monotonicMs());
        this.stuck = true;
        this.stuckRaw = this.measuredOnce ? { ...this.latest } : undefined;
        return;
      case "out-of-range": {
        const co2 = options.co2Ppm ?? 0;
        if (!Number.isInteger(co2) || co2 < 0 || co2 > 65535) throw new RangeError("injectFault: co2Ppm must be a 16-bit integer");
        this.outOfRangeCo2 = co2;
        return;
      }
      case "noise-burst": {
        this.burstLeft = countOption(options.count, 3);
        const scale = options.scale ?? 40;
        if (!(scale >= 0)) throw new RangeError("injectFault: scale must be >= 0");
        this.burstScale = scale;
        return;
      }
      case "not-started":
        this.powerUp(this.clock.monotonicMs());
        return;
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault. A part that was unplugged comes back powered up afresh (idle). */
  clearFaults(): void {
    if (this.unplugged) this.powerUp(this.clock.monotonicMs());
    this.crcFaultsLeft = 0;
    this.crcFaultWord = -1;
    this.nackFaultsLeft = 0;
    this.unplugged = false;
    this.stuck = false;
    this.stuckRaw = undefined;
    this.outOfRangeCo2 = -1;
    this.burstLeft = 0;
    this.burstScale = 1;
  }

  // I2C, device side

  write(bytes: Uint8Array): void {
    this.counters.writes++;
    const now = this.beginTransaction();
    const length = bytes.length;
    if (length === 0) return; // address probe
    if (length < 2) this.reject(`SCD4x takes 16-bit commands, got ${length} byte`);
    const command = (bytes[0]! << 8) | bytes[1]!;
    const C = SCD4X_COMMANDS;
    if (command === C.setTemperatureOffset) {
      if (length !== 5) this.reject(`set_temperature_offset takes one word and its CRC, got ${length} bytes`);
    } else if (length !== 2) {
      this.reject(`command 0x${command.toString(16)} takes no data, got ${length} bytes`);
    }
    // Periodic mode allows only these (table 9; set_ambient_pressure is not modelled).
    if (this.periodic && command !== C.stopPeriodicMeasurement && command !== C.getDataReadyStatus && command !== C.readMeasurement) {
      this.reject(`command 0x${command.toString(16)} is not allowed during periodic measurement`);
    }
    switch (command) {
      case C.startPeriodicMeasurement:
        this.dropAnswer();
        this.counters.starts++;
        this.periodic = true;
        this.startedAtMs = now;
        this.measurementIndex = 0;
        this.dataReady = false;
        return;
      case C.stopPeriodicMeasurement:
        this.dropAnswer();
        this.counters.stops++;
        this.periodic = false;
        this.busyUntilMs = now + SCD4X_TIMING_MS.stopPeriodicMeasurement;
        return;
      case C.getDataReadyStatus:
        this.counters.dataReadyPolls++;
        this.setAnswer(now, SCD4X_TIMING_MS.shortCommand, this.dataReady ? 0x8006 : 0x8000);
        return;
      case C.readMeasurement:
        this.counters.measurementCommands++;
        this.answerKind = ANSWER_MEASUREMENT;
        this.answerLength = 9;
        this.busyUntilMs = now + SCD4X_TIMING_MS.shortCommand;
        return;
      case C.setTemperatureOffset: {
        const word = (bytes[2]! << 8) | bytes[3]!;
        if (sensirionCrc8(bytes, 2, 2) !== bytes[4]) this.reject("set_temperature_offset: bad CRC");
        this.dropAnswer();
        this.counters.temperatureOffsetCommands++;
        this.temperatureOffsetSettingC = (word * 175) / 65535;
        this.busyUntilMs = now + SCD4X_TIMING_MS.shortCommand;
        return;
      }
      case C.getTemperatureOffset:
        this.counters.temperatureOffsetCommands++;
        this.setAnswer(now, SCD4X_TIMING_MS.shortCommand, clampWord((this.temperatureOffsetSettingC * 65535) / 175));
        return;
      case C.getSerialNumber: {
        this.counters.serialNumberCommands++;
        const serial = this.serialNumber;
        const high = Math.floor(serial / 2 ** 32);
        const low = serial >>> 0;
        this.setAnswer(now, SCD4X_TIMING_MS.shortCommand, high, low >>> 16, low & 0xffff);
        return;
      }
      case C.performSelfTest:
        this.counters.selfTests++;
        this.setAnswer(now, SCD4X_TIMING_MS.performSelfTest, 0x0000);
        return;
      case C.reinit:
        this.dropAnswer();
        this.counters.reinits++;
        this.temperatureOffsetSettingC = SCD4X_DEFAULT_TEMPERATURE_OFFSET_C;
        this.busyUntilMs = now + SCD4X_TIMING_MS.reinit;
        return;
      default:
        this.reject(`unknown or unmodelled command 0x${command.toString(16).padStart(4, "0")}`);
    }
  }

  read(into: Uint8Array): void {
    this.counters.reads++;
    this.beginTransaction();
    if (into.length === 0) return;
    if (this.answerKind === ANSWER_NONE) this.nack("SCD4x: no answer pending");
    if (this.answerKind === ANSWER_MEASUREMENT) {
      this.answerKind = ANSWER_NONE;
      if (!this.dataReady) this.nack("SCD4x: no measurement in the buffer");
      const m = this.stuck && this.stuckRaw !== undefined ? this.stuckRaw : this.latest;
      this.encodeWords(m.co2, m.t, m.rh);
      this.dataReady = false;
      this.counters.measurementReads++;
    }
    const answer = this.answer;
    const answerLength = this.answerLength;
    const length = into.length;
    for (let i = 0; i < length; i++) into[i] = i < answerLength ? answer[i]! : 0xff;
    this.answerKind = ANSWER_NONE;
    this.counters.dataReads++;
    if (this.crcFaultsLeft > 0) {
      this.crcFaultsLeft--;
      this.counters.corruptedReads++;
      for (let word = 0; word * 3 < answerLength; word++) {
        const at = word * 3 + 2;
        if ((this.crcFaultWord < 0 || this.crcFaultWord === word) && at < length) into[at] = into[at]! ^ 0x01;
      }
    }
  }

  // Internals

  /** Counts a transaction, brings the measurements up to date, and NACKs when a fault or execution says so. */
  private beginTransaction(): number {
    this.counters.transactions++;
    if (this.unplugged) this.nack("SCD4x unplugged");
    if (this.nackFaultsLeft > 0) {
      this.nackFaultsLeft--;
      this.nack("SCD4x: injected NACK");
    }
    const now = this.clock.monotonicMs();
    this.catchUp(now);
    if (now < this.busyUntilMs) this.nack("SCD4x busy");
    return now;
  }

  /** Takes the newest measurement whose period has ended by `nowMs`, if it is not taken yet. */
  private catchUp(nowMs: number): void {
    if (!this.periodic) return;
    const period = SCD4X_TIMING_MS.measurementPeriod;
    const index = Math.floor((nowMs - this.startedAtMs) / period);
    if (index <= this.measurementIndex) return;
    const completed = index - this.measurementIndex;
    // Every completed measurement but the newest was overwritten; so was an unread earlier one.
    this.counters.measurementsLost += completed - 1 + (this.dataReady ? 1 : 0);
    this.counters.measurements += completed;
    this.measurementIndex = index;
    const atMs = this.startedAtMs + index * period;
    this.takeMeasurement(this.clock.wallMs() - (nowMs - atMs));
    this.dataReady = true;
  }

  private takeMeasurement(wallMs: number): void {
    const air = this.climate.at(wallMs);
    const cal = this.calibration;
    let scale = this.noiseScale;
    if (this.burstLeft > 0) {
      this.burstLeft--;
      scale *= this.burstScale;
    }
    // Draw all three always, so the noise stream does not depend on the noise scale or faults.
    const noiseCo2 = this.noise.normal() * SIGMA_CO2_PPM * scale;
    const noiseT = this.noise.normal() * SIGMA_T_C * scale;
    const noiseRh = this.noise.normal() * SIGMA_RH_PCT * scale;

    const co2Ppm = this.activity.co2Ppm(wallMs) * (1 + cal.co2GainError) + cal.co2OffsetPpm + noiseCo2;
    let co2 = Math.round(co2Ppm);
    co2 = co2 < 0 ? 0 : co2 > CO2_MAX_PPM ? CO2_MAX_PPM : co2;
    if (this.outOfRangeCo2 >= 0) co2 = this.outOfRangeCo2;

    // The part's compensated temperature; the vapour pressure of the air is unchanged.
    const compensatedC = air.temperatureC + this.selfHeatingC - this.temperatureOffsetSettingC;
    const rhAtPart = (air.humidityPct * saturationVapourPressureHPa(air.temperatureC)) / saturationVapourPressureHPa(compensatedC);
    const temperatureC = compensatedC + cal.temperatureOffsetC + noiseT;
    let humidityPct = rhAtPart + cal.humidityOffsetPct + noiseRh;
    humidityPct = humidityPct < 0 ? 0 : humidityPct > 100 ? 100 : humidityPct;

    const latest = this.latest;
    latest.co2 = co2;
    latest.t = clampWord(((temperatureC + 45) * 65535) / 175);
    latest.rh = clampWord((humidityPct * 65535) / 100);
    this.measuredOnce = true;
    if (this.stuck && this.stuckRaw === undefined) this.stuckRaw = { ...latest };
  }

  /** Power-up after a power loss: idle, no data, settings reloaded, NACKing until it is ready. */
  private powerUp(nowMs: number): void {
    this.counters.powerUps++;
    this.periodic = false;
    this.dataReady = false;
    this.measurementIndex = 0;
    this.dropAnswer();
    this.temperatureOffsetSettingC = SCD4X_DEFAULT_TEMPERATURE_OFFSET_C;
    this.busyUntilMs = nowMs + SCD4X_TIMING_MS.powerUp;
  }

  /** Prepares a fixed answer of 1..3 words, readable after `executionMs`. */
  private setAnswer(nowMs: number, executionMs: number, word0: number, word1 = -1, word2 = -1): void {
    this.encodeWords(word0, word1, word2);
    this.answerLength = word1 < 0 ? 3 : word2 < 0 ? 6 : 9;
    this.answerKind = ANSWER_WORDS;
    this.busyUntilMs = nowMs + executionMs;
  }

  /** Puts 1..3 words (a negative word ends the answer) with their CRCs into the answer buffer. */
  private encodeWords(word0: number, word1 = -1, word2 = -1): void {
    this.putWord(0, word0);
    if (word1 >= 0) this.putWord(1, word1);
    if (word2 >= 0) this.putWord(2, word2);
  }

  private putWord(index: number, word: number): void {
    const answer = this.answer;
    const at = index * 3;
    answer[at] = (word >>> 8) & 0xff;
    answer[at + 1] = word & 0xff;
    answer[at + 2] = sensirionCrc8(answer, at, 2);
  }

  private dropAnswer(): void {
    this.answerKind = ANSWER_NONE;
    this.answerLength = 0;
  }

  /** NACKs a command the part refuses. */
  private reject(reason: string): never {
    this.counters.rejectedCommands++;
    this.nack(reason);
  }

  private nack(reason: string): never {
    this.counters.nacks++;
    throw new Error(`NACK at 0x${this.address.toString(16).padStart(2, "0")}: ${reason}`);
  }
}
