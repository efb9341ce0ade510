/**
 * Sensirion SCD4x (SCD40, SCD41) photoacoustic CO2 sensor with temperature and humidity, over I2C
 * (datasheet SCD4x, version 1.3, September 2022, chapter 3).
 *
 * The part sits at 7-bit address 0x62 and speaks 16-bit commands (most significant byte first); every
 * 16-bit word it sends back is followed by a Sensirion CRC-8 (0x31, init 0xFF). The commands used here:
 *   0x3F86 stop_periodic_measurement   allowed in any mode; the part takes 500 ms before the next command
 *   0x21B1 start_periodic_measurement  idle only (NACKed while measuring); a new measurement every 5 s
 *   0xE4B8 get_data_ready_status       after 1 ms, one word: data ready when its 11 low bits are not 0
 *   0xEC05 read_measurement            after 1 ms, 3 words (9 bytes with CRCs): CO2 ppm, T, RH;
 *                                      reading empties the buffer; with no data the read is NACKed
 *     T  = -45 + 175 * S_T / 65535     (°C)          RH = 100 * S_RH / 65535     (%RH)
 * A read that comes before the command's execution time is NACKed.
 *
 * Why a state machine: the part measures on its own every 5 s, and the firmware must never block
 * (no busy-wait for the 500 ms after stop, nor the 1 ms before a read). So each `sample()` (every
 * second is a good rate) does at most one step, one read of the previous command's answer and/or one
 * command:
 *   configure(): stop                     (the part may still be measuring from before a reboot)
 *   >= 500 ms later: start
 *   then, per sample: send get_data_ready -> read it; if ready send read_measurement -> read the
 *   9 bytes, convert, return them.
 * A reading is thus up to a few sampling intervals old, far below a window's resolution.
 *
 * Watchdog: a part that browned out comes back idle and forgets periodic mode; it still answers
 * get_data_ready ("not ready") for ever. When no measurement arrives for 3 measurement periods plus
 * 3 sampling intervals, every further sample counts a "bus" drop (a timeout, so the part goes faulty),
 * and the driver sends stop and start again, once per timeout.
 *
 * A CO2 of 0 ppm is the part's way of flagging an invalid measurement (outdoor air never holds less
 * than ~400 ppm), so it is dropped as "range" like any value outside 0..40000 ppm.
 *
 * Example:
 *   const scd = new Scd4x({ buses, clock, sensor: { bus: "main", address: 0x62 } });
 *   scd.configure();
 *   // ... then every second
 *   const values = scd.sample(); // Float64Array [CO2 ppm, temperature °C, humidity %RH] or undefined
 */
import type { Clock, I2C } from "../platform.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";
import { sensirionWordValid } from "./sensirion-crc.js";
import { StuckDetector } from "./stuck-detector.js";

export const SCD4X_DEFAULT_ADDRESS = 0x62;

const CMD_START_PERIODIC = 0x21b1;
const CMD_STOP_PERIODIC = 0x3f86;
const CMD_GET_DATA_READY = 0xe4b8;
const CMD_READ_MEASUREMENT = 0xec05;

/** Datasheet table 9: execution times. */
const STOP_MS = 500;
const READ_EXECUTION_MS = 1;
/** The signal update interval in periodic mode. */
const PERIOD_MS = 5000;
/** The low 11 bits of the data-ready word; any of them set means "ready" (datasheet chapter 3.8). */
const DATA_READY_MASK = 0x07ff;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  // SCD41 output range 0..40000 ppm (specified accuracy 400..5000 ppm).
  { quantity: "co2", kind: "level", unit: "ppm", min: 0, max: 40000 },
  // The part's recommended operating range; the conversion could express -45..130 °C.
  { quantity: "temperature", kind: "level", unit: "Cel", min: -10, max: 60 },
  { quantity: "humidity", kind: "level", unit: "%RH", min: 0, max: 100 },
];

// Phases of the state machine.
/** configure() not called yet, or stop must be (re)sent. */
const PHASE_SEND_STOP = 0;
/** Stop sent; start once 500 ms have passed. */
const PHASE_STOPPING = 1;
/** Periodic measurement started; polling and reading. */
const PHASE_MEASURING = 2;
/** close() was called. */
const PHASE_CLOSED = 3;

// What the last command sent in PHASE_MEASURING expects to be read.
const PENDING_NONE = 0;
const PENDING_DATA_READY = 1;
const PENDING_MEASUREMENT = 2;

export interface Scd4xOptions extends DriverContext {
  readonly sensor: { readonly bus: string; readonly address?: number };
  /**
   * Identical raw readings (all three words) in a row after which the part counts as stuck. CO2 and
   * the 16-bit T and RH words all carry noise, so 60 in a row (5 minutes of 5 s measurements) do not
   * happen in a working part. 0 disables.
   */
  readonly stuckAfter?: number;
  /**
   * Time without a measurement, on top of 3 sampling intervals, after which every sample counts a
   * timeout and the driver restarts the part; default 15000 ms (3 measurement periods).
   */
  readonly timeoutMs?: number;
}

export class Scd4x implements SensorDriver {
  readonly part = "scd4x";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly #i2c: I2C;
  readonly #clock: Clock;
  readonly #stuck: StuckDetector;
  readonly #timeoutMs: number;
  readonly #cmdStart = command(CMD_START_PERIODIC);
  readonly #cmdStop = command(CMD_STOP_PERIODIC);
  readonly #cmdDataReady = command(CMD_GET_DATA_READY);
  readonly #cmdReadMeasurement = command(CMD_READ_MEASUREMENT);
  readonly #word = new Uint8Array(3);
  readonly #measurement = new Uint8Array(9);
  readonly #values = new Float64Array(3);
  #phase = PHASE_SEND_STOP;
  #pending = PENDING_NONE;
  /** When the last command was sent (its execution time counts from there). */
  #commandAtMs = 0;
  /** Last measurement frame with good CRCs, or configure(): the timeout counts from here. */
  #lastDataMs = 0;
  /** Last measurement, configure() or watchdog restart: the watchdog restarts the part once this is too old. */
  #progressMs = 0;
  /** The previous sample() call, to scale the timeout to the caller's sampling interval. */
  #lastSampleMs = -1;
  #sampleSpacingMs = 0;
  #restarts = 0;
  #configured = false;

  constructor(options: Scd4xOptions) {
    this.#i2c = options.buses.openI2C({ bus: options.sensor.bus, address: options.sensor.address ?? SCD4X_DEFAULT_ADDRESS });
    this.#clock = options.clock;
    this.#stuck = new StuckDetector(options.stuckAfter ?? 60);
    this.#timeoutMs = options.timeoutMs ?? 3 * PERIOD_MS;
    this.health = new SensorHealth(options.faultyAfter ?? 5);
  }

  /** How often the watchdog restarted the part since construction. */
  get restarts(): number {
    return this.#restarts;
  }

  configure(): void {
    if (this.#phase === PHASE_CLOSED) return;
    if (!this.#begin(this.#clock.monotonicMs())) this.health.recordDrop("bus");
  }

  sample(): Float64Array | undefined {
    if (this.#phase === PHASE_CLOSED) return undefined;
    const now = this.#clock.monotonicMs();
    if (!this.#configured) {
      // Sampled without configure(): start the sequence now, the timeout counting from here.
      if (this.#begin(now)) this.#notReady(now);
      else this.health.recordDrop("bus");
      return undefined;
    }
    if (this.#lastSampleMs >= 0) this.#sampleSpacingMs = now - this.#lastSampleMs;
    this.#lastSampleMs = now;
    switch (this.#phase) {
      case PHASE_SEND_STOP:
        if (this.#sendStop(now)) this.#notReady(now);
        else this.health.recordDrop("bus");
        return undefined;
      case PHASE_STOPPING:
        if (now - this.#commandAtMs < STOP_MS) {
          this.#notReady(now);
          return undefined;
        }
        if (this.#send(this.#cmdStart, now)) {
          this.#phase = PHASE_MEASURING;
          this.#pending = PENDING_NONE;
          this.#notReady(now);
        } else {
          // Not idle after all, or a bus error: begin again with stop.
          this.#phase = PHASE_SEND_STOP;
          this.health.recordDrop("bus");
        }
        return undefined;
      default:
        return this.#measure(now);
    }
  }

  close(): void {
    if (this.#phase === PHASE_CLOSED) return;
    this.#phase = PHASE_CLOSED;
    this.#send(this.#cmdStop, this.#clock.monotonicMs()); // saves the part's power; a failure changes nothing
    this.#i2c.close();
  }

  /** Starts from the top: stop (then start), the timeout counting from `now`. False when stop failed. */
  #begin(now: number): boolean {
    this.#configured = true;
    this.#lastDataMs = now;
    this.#progressMs = now;
    this.#lastSampleMs = -1;
    this.#sampleSpacingMs = 0;
    this.#stuck.reset();
    return this.#sendStop(now);
  }

  /** One step of PHASE_MEASURING. */
  #measure(now: number): Float64Array | undefined {
    if (now - this.#progressMs > this.#timeoutLimit()) {
      // Nothing for too long: the part may have lost power and forgotten periodic mode.
      this.#restarts++;
      this.#progressMs = now;
      if (this.#sendStop(now)) this.#notReady(now);
      else this.health.recordDrop("bus");
      return undefined;
    }
    switch (this.#pending) {
      case PENDING_NONE:
        this.#poll(now);
        return undefined;
      case PENDING_DATA_READY: {
        if (now - this.#commandAtMs < READ_EXECUTION_MS) {
          this.#notReady(now);
          return undefined;
        }
        this.#pending = PENDING_NONE;
        const w = this.#word;
        if (!this.#read(w)) return undefined;
        if (!sensirionWordValid(w, 0)) {
          this.health.recordDrop("checksum");
          return undefined;
        }
        if ((((w[0]! << 8) | w[1]!) & DATA_READY_MASK) === 0) {
          this.#poll(now);
          return undefined;
        }
        if (this.#send(this.#cmdReadMeasurement, now)) {
          this.#pending = PENDING_MEASUREMENT;
          this.#notReady(now);
        } else {
          this.health.recordDrop("bus");
        }
        return undefined;
      }
      default:
        if (now - this.#commandAtMs < READ_EXECUTION_MS) {
          this.#notReady(now);
          return undefined;
        }
        this.#pending = PENDING_NONE;
        return this.#readMeasurement(now);
    }
  }

  #readMeasurement(now: number): Float64Array | undefined {
    const m = this.#measurement;
    if (!this.#read(m)) return undefined;
    if (!sensirionWordValid(m, 0) || !sensirionWordValid(m, 3) || !sensirionWordValid(m, 6)) {
      this.health.recordDrop("checksum");
      return undefined;
    }
    // A well-formed frame: the part is alive and measuring, whatever the values say.
    this.#lastDataMs = now;
    this.#progressMs = now;
    const co2 = (m[0]! << 8) | m[1]!;
    const rawT = (m[3]! << 8) | m[4]!;
    const rawRh = (m[6]! << 8) | m[7]!;
    if (this.#stuck.isStuck((Math.imul(co2, 0x9e3779b1) ^ Math.imul(rawT, 0x85ebca6b) ^ rawRh) >>> 0)) {
      this.health.recordDrop("stuck");
      return undefined;
    }
    const temperature = -45 + (175 * rawT) / 65535;
    if (co2 === 0 || co2 > OUTPUTS[0]!.max || temperature < OUTPUTS[1]!.min || temperature > OUTPUTS[1]!.max) {
      this.health.recordDrop("range");
      return undefined;
    }
    const values = this.#values;
    values[0] = co2;
    values[1] = temperature;
    values[2] = (100 * rawRh) / 65535; // 0..100 by construction
    this.health.recordReading();
    return values;
  }

  /** Sends get_data_ready_status. */
  #poll(now: number): void {
    if (this.#send(this.#cmdDataReady, now)) {
      this.#pending = PENDING_DATA_READY;
      this.#notReady(now);
    } else {
      this.health.recordDrop("bus");
    }
  }

  /** Sends stop and enters PHASE_STOPPING; on failure stays in (or enters) PHASE_SEND_STOP. */
  #sendStop(now: number): boolean {
    this.#pending = PENDING_NONE;
    if (this.#send(this.#cmdStop, now)) {
      this.#phase = PHASE_STOPPING;
      return true;
    }
    this.#phase = PHASE_SEND_STOP;
    return false;
  }

  #send(bytes: Uint8Array, now: number): boolean {
    try {
      this.#i2c.write(bytes);
    } catch {
      return false;
    }
    this.#commandAtMs = now;
    return true;
  }

  /** Reads the answer of the last command; counts a NACK as "bus". */
  #read(into: Uint8Array): boolean {
    try {
      this.#i2c.read(into);
      return true;
    } catch {
      this.health.recordDrop("bus");
      return false;
    }
  }

  /** Nothing new this sample: "not-ready", unless the last measurement is overdue (then a timeout). */
  #notReady(now: number): void {
    this.health.recordDrop(now - this.#lastDataMs > this.#timeoutLimit() ? "bus" : "not-ready");
  }

  /** The measurement timeout: a measurement takes up to 3 samples to fetch once ready. */
  #timeoutLimit(): number {
    return this.#timeoutMs + 3 * this.#sampleSpacingMs;
  }
}

function command(code: number): Uint8Array {
  return Uint8Array.of(code >>> 8, code & 0xff);
}
