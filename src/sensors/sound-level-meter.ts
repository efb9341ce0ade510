/**
 * An analog sound-level meter module on an ADC input: the DFRobot Gravity SEN0232 class (DFRobot wiki
 * "Gravity: Analog Sound Level Meter", SKU SEN0232: 30..130 dBA, A-weighting, fast time weighting
 * 125 ms, accuracy ±1.5 dB, output 0.6..2.6 V, i.e. dBA = 50 × V, supply 3.3..5 V).
 *
 * The meter does all the acoustics in its own analog front end (microphone, A-weighting filter, RMS
 * detector with a 125 ms exponential time constant, log converter) and presents the result as a slowly
 * varying DC voltage. The node only samples that level:
 *   counts -> volts at the pin    = counts × adcFullScaleVolts / (2^resolution - 1)
 *          -> volts at the meter  = volts at the pin / dividerRatio
 *          -> dBA                 = the piecewise-linear `calibration` curve (extrapolated beyond its ends)
 *
 * Privacy, and why this cannot record speech: the signal that reaches the ADC is a sound LEVEL, the
 * output of an RMS detector with a 125 ms time constant, i.e. a low-pass filtered power envelope
 * (bandwidth about 1 / (2π × 0.125 s) ≈ 1.3 Hz); the waveform and its phase are gone before the node
 * sees anything. And the node samples that level at 8 Hz (at most 10 Hz): by Nyquist, a signal sampled
 * at f_s carries nothing above f_s / 2 = 4..5 Hz, whereas speech needs roughly 300..3400 Hz (telephone
 * band) to be intelligible, and audio sampling for it runs at 8 kHz or more: three orders of magnitude
 * faster than anything this driver is ever asked to do. No audio is sampled, stored or sent.
 *
 * Sampling interval: the node configures it; 0.125 s (8 Hz) matches the meter's fast time weighting, so
 * consecutive samples are nearly independent and a window's Leq and percentile levels (see
 * `src/aggregate/level-stats.ts`) are those of a fast-weighted level, as a class-2 meter would log them.
 * Sampling faster than the time constant only repeats itself; sampling much slower undersamples pass-bys.
 *
 * Reference board defaults (each configurable): the module's output goes through a 2:3 resistor divider
 * (ratio 2/3) into a 12-bit ESP32 ADC with 11 dB attenuation, treated as 0..3.1 V full scale. The
 * divider maps the meter's 0.6..2.6 V to 0.4..1.73 V, inside the ESP32 ADC's accurate band at 11 dB
 * (about 0.15..2.45 V), and protects the pin from a module powered at 5 V.
 *
 * Faults, all dropped and counted, never thrown:
 * - "range": the ADC at a rail (0 or full scale: a short, an open divider, a pin pulled to a supply), or
 *   a level outside the meter's 30..130 dBA by more than `rangeToleranceDb` (an output near 0 V is an
 *   unplugged or unpowered module). Levels within the tolerance are clipped to 30 or 130: the meter's
 *   floor and ceiling, reached with calibration and ADC error.
 * - "stuck": the same raw count for `stuckAfter` samples in a row. A 12-bit conversion of a live
 *   fast-weighted street level always moves by a few counts (the sound itself, ADC noise of a few
 *   counts), so a long run of identical counts is a frozen ADC or a dead input, not a quiet street.
 * - "bus": the ADC read threw.
 *
 * Example:
 *   const meter = new SoundLevelMeter({ buses, clock, sensor: { pin: "sound" } });
 *   meter.configure();
 *   // every 0.125 s
 *   const values = meter.sample(); // Float64Array [sound dBA] or undefined
 */
import type { Analog } from "../platform.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";
import { StuckDetector } from "./stuck-detector.js";

/** One point of a calibration curve: the meter's output voltage and the level it stands for. */
export interface SoundCalibrationPoint {
  /** Volts at the meter's output (before the divider). */
  readonly volts: number;
  /** dBA. */
  readonly db: number;
}

/** The datasheet transfer function: 0.6 V at 30 dBA, 2.6 V at 130 dBA, linear (50 dBA per volt). */
export const SOUND_METER_DEFAULT_CALIBRATION: readonly SoundCalibrationPoint[] = [
  { volts: 0.6, db: 30 },
  { volts: 2.6, db: 130 },
];

/** Reference board: ESP32 ADC at 11 dB attenuation, treated as 0..3.1 V. */
export const SOUND_METER_DEFAULT_ADC_FULL_SCALE_VOLTS = 3.1;
/** Reference board: a 2:3 divider between the meter's output and the ADC pin. */
export const SOUND_METER_DEFAULT_DIVIDER_RATIO = 2 / 3;
/** The sampling interval that matches the meter's fast (125 ms) time weighting. */
export const SOUND_METER_RECOMMENDED_INTERVAL_S = 0.125;

/** The meter's specified measuring range, dBA. */
const MIN_DB = 30;
const MAX_DB = 130;
/** Most points a calibration curve may have (fixed memory). */
const MAX_CALIBRATION_POINTS = 32;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  { quantity: "sound", kind: "level", unit: "dB", min: MIN_DB, max: MAX_DB, logarithmic: true },
];

export interface SoundLevelMeterOptions extends DriverContext {
  readonly sensor: { readonly pin: string };
  /** Volts at the ADC pin that read as the highest count; default 3.1 (ESP32, 11 dB attenuation). */
  readonly adcFullScaleVolts?: number;
  /** Volts at the pin per volt at the meter's output, in (0, 1]; default 2/3. */
  readonly dividerRatio?: number;
  /**
   * The meter's transfer curve at its own output: 2..32 points, volts and dB both strictly increasing;
   * piecewise linear between the points, extended along the end segments. Default: the datasheet line.
   */
  readonly calibration?: readonly SoundCalibrationPoint[];
  /**
   * How far outside 30..130 dBA a level may fall and still count as the meter's floor or ceiling
   * (clipped to it) rather than a fault: the meter's ±1.5 dB plus ESP32 ADC offset and gain error.
   * Default 5 dB: an unplugged module (≈0 V, i.e. ≈0 dBA) is far beyond it.
   */
  readonly rangeToleranceDb?: number;
  /**
   * Identical raw counts in a row after which the input counts as stuck; 0 disables. Default 480:
   * one minute at 8 Hz. A live street level plus a few counts of ADC noise repeats a count a few
   * times at most; a minute of identical counts does not happen with a working meter.
   */
  readonly stuckAfter?: number;
}

export class SoundLevelMeter implements SensorDriver {
  readonly part = "sound-level-meter";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly #analog: Analog;
  readonly #maxCount: number;
  /** Volts at the meter per ADC count: full scale / max count / divider ratio. */
  readonly #voltsPerCount: number;
  readonly #curveVolts: Float64Array;
  readonly #curveDb: Float64Array;
  readonly #lowLimitDb: number;
  readonly #highLimitDb: number;
  readonly #values = new Float64Array(1);
  readonly #stuck: StuckDetector;

  constructor(options: SoundLevelMeterOptions) {
    const fullScale = options.adcFullScaleVolts ?? SOUND_METER_DEFAULT_ADC_FULL_SCALE_VOLTS;
    const divider = options.dividerRatio ?? SOUND_METER_DEFAULT_DIVIDER_RATIO;
    const tolerance = options.rangeToleranceDb ?? 5;
    const stuckAfter = options.stuckAfter ?? 480;
    if (!(fullScale > 0) || !Number.isFinite(fullScale)) {
      throw new RangeError(`SoundLevelMeter: adcFullScaleVolts must be a positive finite number, got ${fullScale}`);
    }
    if (!(divider > 0 && divider <= 1)) {
      throw new RangeError(`SoundLevelMeter: dividerRatio must be in (0, 1], got ${divider}`);
    }
    if (!(tolerance >= 0) || !Number.isFinite(tolerance)) {
      throw new RangeError(`SoundLevelMeter: rangeToleranceDb must be a finite number >= 0, got ${tolerance}`);
    }
    if (!Number.isInteger(stuckAfter) || stuckAfter < 0) {
      throw new RangeError(`SoundLevelMeter: stuckAfter must be an integer >= 0, got ${stuckAfter}`);
    }
    const curve = options.calibration ?? SOUND_METER_DEFAULT_CALIBRATION;
    checkCalibration(curve);
    this.#curveVolts = new Float64Array(curve.length);
    this.#curveDb = new Float64Array(curve.length);
    for (let i = 0; i < curve.length; i++) {
      this.#curveVolts[i] = curve[i]!.volts;
      this.#curveDb[i] = curve[i]!.db;
    }
    this.#lowLimitDb = MIN_DB - tolerance;
    this.#highLimitDb = MAX_DB + tolerance;
    this.health = new SensorHealth(options.faultyAfter ?? 5);
    this.#stuck = new StuckDetector(stuckAfter);
    this.#analog = options.buses.openAnalog({ pin: options.sensor.pin });
    const resolution = this.#analog.resolution;
    this.#maxCount = 2 ** resolution - 1;
    this.#voltsPerCount = fullScale / this.#maxCount / divider;
  }

  /** The module has no commands: it measures as soon as it is powered. Starts stuck detection afresh. */
  configure(): void {
    this.#stuck.reset();
  }

  sample(): Float64Array | undefined {
    let counts: number;
    try {
      counts = this.#analog.read();
    } catch {
      this.health.recordDrop("bus");
      return undefined;
    }
    // A rail reading says nothing about the level: shorted, open or unpowered input.
    if (!(counts > 0 && counts < this.#maxCount)) {
      this.health.recordDrop("range");
      return undefined;
    }
    // Every conversion feeds the stuck detector; a level outside the range is reported as such first,
    // since "range" says more (an unplugged module floats at a few counts, which may also repeat).
    const stuck = this.#stuck.isStuck(counts);
    let db = this.#levelFor(counts * this.#voltsPerCount);
    if (!(db >= this.#lowLimitDb && db <= this.#highLimitDb)) {
      this.health.recordDrop("range");
      return undefined;
    }
    if (stuck) {
      this.health.recordDrop("stuck");
      return undefined;
    }
    if (db < MIN_DB) db = MIN_DB;
    else if (db > MAX_DB) db = MAX_DB;
    this.#values[0] = db;
    this.health.recordReading();
    return this.#values;
  }

  close(): void {
    this.#analog.close();
  }

  /** dBA for `volts` at the meter's output, by the piecewise-linear curve. */
  #levelFor(volts: number): number {
    const xs = this.#curveVolts;
    const ys = this.#curveDb;
    const last = xs.length - 2; // index of the last segment's first point
    let i = 0;
    while (i < last && volts >= xs[i + 1]!) i++;
    const x0 = xs[i]!;
    const y0 = ys[i]!;
    return y0 + ((volts - x0) * (ys[i + 1]! - y0)) / (xs[i + 1]! - x0);
  }
}

/** Throws a RangeError that says what is wrong with a calibration curve. */
function checkCalibration(curve: readonly SoundCalibrationPoint[]): void {
  if (!Array.isArray(curve) || curve.length < 2 || curve.length > MAX_CALIBRATION_POINTS) {
    throw new RangeError(`SoundLevelMeter: calibration needs 2..${MAX_CALIBRATION_POINTS} points { volts, db }`);
  }
  for (let i = 0; i < curve.length; i++) {
    const point = curve[i];
    if (typeof point !== "object" || point === null || !Number.isFinite(point.volts) || !Number.isFinite(point.db) || point.volts < 0) {
      throw new RangeError(`SoundLevelMeter: calibration point ${i} must have finite volts >= 0 and finite db`);
    }
    if (i > 0 && !(point.volts > curve[i - 1]!.volts && point.db > curve[i - 1]!.db)) {
      throw new RangeError(
        `SoundLevelMeter: calibration must be sorted with volts and db strictly increasing (point ${i} does not rise above point ${i - 1})`,
      );
    }
  }
}
