/**
 * A simulated analog sound-level meter module (DFRobot Gravity SEN0232 class) behind the reference board's
 * 2:3 divider, seen from a 12-bit ESP32 ADC. Plug it into a `SimBoard` with `attachAnalog("sound", part)`.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node.
 *
 * The module (DFRobot wiki, SEN0232): A-weighted, fast (125 ms) time weighting, 30..130 dBA, accuracy
 * ±1.5 dB, output 0.6 V at 30 dBA to 2.6 V at 130 dBA, linear (V = dBA / 50). Below 30 dBA the output
 * sits at its 0.6 V floor; above 130 dBA it saturates at 2.6 V.
 *
 * Model of one `sample()` (an ADC conversion at the clock's current time):
 *   level  = street.noiseDb(wall time)            the world: ambient floor + vehicle pass-bys, fast-weighted
 *          + part offset                           this module's calibration error, drawn within ±1.5 dB
 *          + meter ripple                          Gaussian, σ 0.2 dB (detector ripple), × noiseScale
 *   volts  = clamp(level / 50, 0.6, 2.6)           the module's output
 *   counts = volts × dividerRatio / adcFullScaleVolts × (2^resolution - 1)
 *          + ADC offset                            this ADC's offset error, drawn within ±6 counts
 *          + ADC noise                             Gaussian, σ 2 counts (ESP32 ADC), × noiseScale
 * rounded and clamped to 0 .. 2^resolution - 1, as a real conversion is (the board would do it too).
 * Every sample draws the same number of random numbers whatever the faults, so a fault does not shift
 * the noise that later samples see.
 *
 * Fault injection for tests: see `SoundMeterFaultKind`.
 */

import type { Clock } from "../../src/platform.js";
import { Prng, type Seed } from "./prng.js";
import type { SimAnalogDevice } from "./sim-board.js";

/** What the part needs from the street model (`StreetActivity` has it). */
export interface SoundSource {
  /** The fast-weighted A-level at the node at `wallMs`, dBA. */
  noiseDb(wallMs: number): number;
}

/** The module's transfer function and range (DFRobot SEN0232). */
export const SOUND_METER_VOLTS_PER_DB = 1 / 50;
export const SOUND_METER_MIN_DB = 30;
export const SOUND_METER_MAX_DB = 130;

/**
 * - "unplugged": the module is disconnected: the ADC input floats near 0 V, reading a few counts
 *   (0..~8, changing from sample to sample), until `clearFaults()`.
 * - "stuck": every conversion returns the same counts (those of the last sample, or of the next one if
 *   there was none): a frozen ADC or a latched input, until cleared.
 * - "out-of-range": the input is pulled to the rail (a short to the supply, an open divider ground leg):
 *   every conversion reads full scale, until cleared.
 * - "noise-burst": for `durationMs` (default 5000 ms) every sample adds a fresh +`minDb`..+`maxDb`
 *   (default +20..+40 dB) to the street level: a jackhammer, a siren, wind on the microphone. The module
 *   still saturates at 130 dBA. Ends by itself, or on `clearFaults()`.
 * - "offset-drift": the module's calibration drifts by `dbPerHour` (default +2 dB/h) from the moment of
 *   injection (an ageing or wet microphone capsule), until cleared.
 */
export type SoundMeterFaultKind = "unplugged" | "stuck" | "out-of-range" | "noise-burst" | "offset-drift";

export interface SoundMeterFaultOptions {
  /** For "noise-burst": how long it lasts; default 5000 ms. */
  readonly durationMs?: number;
  /** For "noise-burst": the range of the added level per sample; default 20..40 dB. */
  readonly minDb?: number;
  readonly maxDb?: number;
  /** For "offset-drift": dB per hour, either sign; default +2. */
  readonly dbPerHour?: number;
}

/** Counters since construction or `resetStats()`. */
export interface SoundMeterStats {
  /** Every conversion. */
  samples: number;
  /** Conversions with the street quieter than the module's 30 dBA floor. */
  floorSamples: number;
  /** Conversions with the level at or above the module's 130 dBA ceiling. */
  saturatedSamples: number;
  /** Conversions answered by a fault instead of the module. */
  unpluggedSamples: number;
  stuckSamples: number;
  railSamples: number;
  /** Conversions with a noise burst or a drift added. */
  burstSamples: number;
  driftedSamples: number;
}

export interface SoundLevelMeterPartOptions {
  /** Wall time for the street query. */
  readonly clock: Clock;
  /** The street the module listens to. */
  readonly activity: SoundSource;
  /** Seeds this part's calibration and noise. */
  readonly seed: Seed;
  /** ADC bits; default 12 (ESP32). */
  readonly resolution?: number;
  /** Volts at the pin that read as full scale; default 3.1 (ESP32, 11 dB attenuation). */
  readonly adcFullScaleVolts?: number;
  /** The board's divider between the module and the pin; default 2/3. */
  readonly dividerRatio?: number;
  /** Calibration error of this module, dB; drawn within ±1.5 dB when absent. */
  readonly offsetDb?: number;
  /** Offset error of this ADC, counts; drawn within ±6 counts when absent. */
  readonly adcOffsetCounts?: number;
  /** Multiplies the meter ripple and the ADC noise; default 1, 0 for noise-free conversions. */
  readonly noiseScale?: number;
}

const RIPPLE_SIGMA_DB = 0.2;
const ADC_NOISE_SIGMA_COUNTS = 2;
/** A floating input's typical reading, counts (a few mV of leakage and pickup). */
const FLOATING_COUNTS = 3;
const HOUR_MS = 3_600_000;

export class SoundLevelMeterPart implements SimAnalogDevice {
  readonly resolution: number;
  /** This part's fixed calibration errors. */
  readonly calibration: { readonly offsetDb: number; readonly adcOffsetCounts: number };

  private readonly clock: Clock;
  private readonly activity: SoundSource;
  private readonly noise: Prng;
  private readonly noiseScale: number;
  /** Counts per volt at the module's output. */
  private readonly countsPerVolt: number;
  private readonly maxCount: number;
  private readonly counters: SoundMeterStats = SoundLevelMeterPart.zeroStats();
  private lastCounts = Number.NaN;

  // Fault state
  private unplugged = false;
  private stuck = false;
  private stuckCounts = Number.NaN;
  private rail = false;
  private burstUntilMs = Number.NEGATIVE_INFINITY;
  private burstMinDb = 20;
  private burstMaxDb = 40;
  private drifting = false;
  private driftSinceMs = 0;
  private driftDbPerHour = 0;

  constructor(options: SoundLevelMeterPartOptions) {
    const resolution = options.resolution ?? 12;
    const fullScale = options.adcFullScaleVolts ?? 3.1;
    const divider = options.dividerRatio ?? 2 / 3;
    if (!Number.isInteger(resolution) || resolution < 1 || resolution > 24) throw new RangeError("SoundLevelMeterPart: resolution must be 1..24 bits");
    if (!(fullScale > 0) || !(divider > 0 && divider <= 1)) throw new RangeError("SoundLevelMeterPart: need adcFullScaleVolts > 0 and dividerRatio in (0, 1]");
    this.clock = options.clock;
    this.activity = options.activity;
    this.resolution = resolution;
    this.maxCount = 2 ** resolution - 1;
    this.countsPerVolt = (divider / fullScale) * this.maxCount;
    const prng = new Prng(options.seed).fork("sound-level-meter");
    const identity = prng.fork("identity");
    const drawnDb = identity.range(-1.5, 1.5);
    const drawnCounts = identity.range(-6, 6);
    this.calibration = {
      offsetDb: options.offsetDb ?? drawnDb,
      adcOffsetCounts: options.adcOffsetCounts ?? drawnCounts,
    };
    this.noise = prng.fork("noise");
    this.noiseScale = options.noiseScale ?? 1;
  }

  private static zeroStats(): SoundMeterStats {
    return {
      samples: 0,
      floorSamples: 0,
      saturatedSamples: 0,
      unpluggedSamples: 0,
      stuckSamples: 0,
      railSamples: 0,
      burstSamples: 0,
      driftedSamples: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<SoundMeterStats> {
    return this.counters;
  }

  resetStats(): void {
    Object.assign(this.counters, SoundLevelMeterPart.zeroStats());
  }

  /** The module's output voltage for a level (dBA), with its floor and ceiling. */
  static voltsFor(db: number): number {
    const level = db < SOUND_METER_MIN_DB ? SOUND_METER_MIN_DB : db > SOUND_METER_MAX_DB ? SOUND_METER_MAX_DB : db;
    return level * SOUND_METER_VOLTS_PER_DB;
  }

  // Fault injection

  /** Injects a fault; see `SoundMeterFaultKind`. Faults of different kinds combine. */
  injectFault(kind: SoundMeterFaultKind, options: SoundMeterFaultOptions = {}): void {
    switch (kind) {
      case "unplugged":
        this.unplugged = true;
        return;
      case "stuck":
        this.stuck = true;
        this.stuckCounts = this.lastCounts;
        return;
      case "out-of-range":
        this.rail = true;
        return;
      case "noise-burst": {
        const durationMs = options.durationMs ?? 5000;
        const minDb = options.minDb ?? 20;
        const maxDb = options.maxDb ?? 40;
        if (!(durationMs > 0) || !(maxDb >= minDb)) throw new RangeError("injectFault: noise-burst needs durationMs > 0 and minDb <= maxDb");
        this.burstUntilMs = this.clock.monotonicMs() + durationMs;
        this.burstMinDb = minDb;
        this.burstMaxDb = maxDb;
        return;
      }
      case "offset-drift": {
        const rate = options.dbPerHour ?? 2;
        if (!Number.isFinite(rate)) throw new RangeError("injectFault: offset-drift needs a finite dbPerHour");
        this.drifting = true;
        this.driftSinceMs = this.clock.monotonicMs();
        this.driftDbPerHour = rate;
        return;
      }
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault: the module is plugged in, working and back at its own calibration. */
  clearFaults(): void {
    this.unplugged = false;
    this.stuck = false;
    this.stuckCounts = Number.NaN;
    this.rail = false;
    this.burstUntilMs = Number.NEGATIVE_INFINITY;
    this.drifting = false;
    this.driftDbPerHour = 0;
  }

  // ADC, device side

  sample(): number {
    const counters = this.counters;
    counters.samples++;
    const now = this.clock.monotonicMs();
    // Draw all four always: the noise stream does not depend on faults or the noise scale.
    const ripple = this.noise.normal() * RIPPLE_SIGMA_DB * this.noiseScale;
    const adcNoise = this.noise.normal() * ADC_NOISE_SIGMA_COUNTS * this.noiseScale;
    const burstUnit = this.noise.next();
    const floating = this.noise.normal();

    let level = this.activity.noiseDb(this.clock.wallMs()) + this.calibration.offsetDb + ripple;
    if (now < this.burstUntilMs) {
      counters.burstSamples++;
      level += this.burstMinDb + (this.burstMaxDb - this.burstMinDb) * burstUnit;
    }
    if (this.drifting) {
      counters.driftedSamples++;
      level += (this.driftDbPerHour * (now - this.driftSinceMs)) / HOUR_MS;
    }
    if (level < SOUND_METER_MIN_DB) counters.floorSamples++;
    else if (level >= SOUND_METER_MAX_DB) counters.saturatedSamples++;
    let counts = SoundLevelMeterPart.voltsFor(level) * this.countsPerVolt + this.calibration.adcOffsetCounts + adcNoise;

    if (this.unplugged) {
      counters.unpluggedSamples++;
      counts = Math.abs(floating) * FLOATING_COUNTS;
    }
    if (this.rail) {
      counters.railSamples++;
      counts = this.maxCount;
    }
    // The conversion itself: a whole count within the ADC's range.
    counts = Math.round(counts);
    counts = counts < 0 ? 0 : counts > this.maxCount ? this.maxCount : counts;
    if (this.stuck) {
      counters.stuckSamples++;
      if (Number.isNaN(this.stuckCounts)) this.stuckCounts = counts;
      counts = this.stuckCounts;
    }
    this.lastCounts = counts;
    return counts;
  }
}
