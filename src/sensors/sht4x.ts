/**
 * Sensirion SHT4x temperature and humidity sensor over I2C (datasheet SHT4x, version 6.6).
 *
 * A measurement is one command byte (0xFD high, 0xF6 medium, 0xE0 low repeatability), then, after
 * the conversion time, a 6-byte read: T msb, T lsb, CRC, RH msb, RH lsb, CRC (CRC-8 0x31/0xFF).
 *   T  = -45 + 175 * S_T / 65535          (°C)
 *   RH =  -6 + 125 * S_RH / 65535         (%RH, cropped to 0..100 as the datasheet says)
 * The part NACKs a read while it is still converting.
 *
 * Sampling is pipelined so that nothing blocks: each `sample()` reads the measurement that the
 * previous one started, then starts the next. The value is therefore one sampling interval old,
 * which is far below a window's resolution.
 *
 * Example:
 *   const sht = new Sht4x({ buses, clock, sensor: { bus: "main", address: 0x44 } });
 *   sht.configure();
 *   // ... one interval later
 *   const values = sht.sample(); // Float64Array [temperature °C, humidity %RH] or undefined
 */
import type { Clock, I2C } from "../platform.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";
import { sensirionWordValid } from "./sensirion-crc.js";
import { StuckDetector } from "./stuck-detector.js";

export const SHT4X_DEFAULT_ADDRESS = 0x44;

export type Sht4xRepeatability = "high" | "medium" | "low";

/** Measure command and maximum conversion time (datasheet table 4). */
const MEASURE: Record<Sht4xRepeatability, { command: number; conversionMs: number }> = {
  high: { command: 0xfd, conversionMs: 8.3 },
  medium: { command: 0xf6, conversionMs: 4.5 },
  low: { command: 0xe0, conversionMs: 1.7 },
};

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  // The part's specified operating range; conversions can express -45..130 °C.
  { quantity: "temperature", kind: "level", unit: "Cel", min: -40, max: 125 },
  { quantity: "humidity", kind: "level", unit: "%RH", min: 0, max: 100 },
];

export interface Sht4xOptions extends DriverContext {
  readonly sensor: { readonly bus: string; readonly address?: number };
  readonly repeatability?: Sht4xRepeatability;
  /**
   * Identical raw readings in a row after which the part counts as stuck. The 16-bit raw words
   * carry noise, so 60 in a row (10 minutes at 10 s) do not happen in working parts. 0 disables.
   */
  readonly stuckAfter?: number;
}

export class Sht4x implements SensorDriver {
  readonly part = "sht4x";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly #i2c: I2C;
  readonly #clock: Clock;
  readonly #conversionMs: number;
  readonly #command: Uint8Array;
  readonly #response = new Uint8Array(6);
  readonly #values = new Float64Array(2);
  readonly #stuck: StuckDetector;
  #pending = false;
  #startedAt = 0;

  constructor(options: Sht4xOptions) {
    const mode = MEASURE[options.repeatability ?? "high"];
    this.#i2c = options.buses.openI2C({ bus: options.sensor.bus, address: options.sensor.address ?? SHT4X_DEFAULT_ADDRESS });
    this.#clock = options.clock;
    this.#stuck = new StuckDetector(options.stuckAfter ?? 60);
    this.#conversionMs = mode.conversionMs;
    this.#command = Uint8Array.of(mode.command);
    this.health = new SensorHealth(options.faultyAfter ?? 5);
  }

  configure(): void {
    this.#startMeasurement();
  }

  sample(): Float64Array | undefined {
    if (!this.#pending) {
      this.#startMeasurement();
      return undefined;
    }
    if (this.#clock.monotonicMs() - this.#startedAt < this.#conversionMs) {
      this.health.recordDrop("not-ready");
      return undefined;
    }
    this.#pending = false;
    const values = this.#readMeasurement();
    this.#startMeasurement();
    return values;
  }

  close(): void {
    this.#pending = false;
    this.#i2c.close();
  }

  #readMeasurement(): Float64Array | undefined {
    const r = this.#response;
    try {
      this.#i2c.read(r);
    } catch {
      this.health.recordDrop("bus");
      return undefined;
    }
    if (!sensirionWordValid(r, 0) || !sensirionWordValid(r, 3)) {
      this.health.recordDrop("checksum");
      return undefined;
    }
    const rawT = (r[0]! << 8) | r[1]!;
    const rawRh = (r[3]! << 8) | r[4]!;
    if (this.#stuck.isStuck(rawT * 65536 + rawRh)) {
      this.health.recordDrop("stuck");
      return undefined;
    }
    const temperature = -45 + (175 * rawT) / 65535;
    const humidity = -6 + (125 * rawRh) / 65535;
    if (temperature < OUTPUTS[0]!.min || temperature > OUTPUTS[0]!.max) {
      this.health.recordDrop("range");
      return undefined;
    }
    this.#values[0] = temperature;
    this.#values[1] = humidity < 0 ? 0 : humidity > 100 ? 100 : humidity;
    this.health.recordReading();
    return this.#values;
  }

  #startMeasurement(): void {
    try {
      this.#i2c.write(this.#command);
      this.#pending = true;
      this.#startedAt = this.#clock.monotonicMs();
    } catch {
      this.health.recordDrop("bus");
    }
  }
}
