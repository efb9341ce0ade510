/**
 * The shape every civicnode sensor driver has, after ECMA-419 sensor classes: the constructor takes
 * the bus options (and opens its bus), then `configure()`, `sample()`, `close()`.
 *
 * Unlike ECMA-419's `sample()`, which returns a new object per call, a civicnode driver writes into
 * its own fixed `Float64Array`, one slot per output (NaN where an output has no value this time),
 * and returns that same array, so sampling allocates nothing on the device.
 */
import type { Buses, Clock } from "../platform.js";
import type { SensorHealth } from "./sensor-health.js";

/**
 * What an output's numbers mean, which decides how a window aggregates them:
 * - "level": an instantaneous measurement (temperature, CO2, a sound level); windows keep
 *   count/mean/min/max, or for decibels Leq and percentile levels;
 * - "count": events since the previous sample (people entering, vehicles); windows add them up;
 * - "duration": seconds since the previous sample during which a condition held (occupancy);
 *   windows add them up;
 * - "identifiers": person-linked identifiers (BLE addresses), which never pass as values: the
 *   driver hands them to the privacy intake, and windows count distinct pseudonyms.
 */
export type OutputKind = "level" | "count" | "duration" | "identifiers";

/** One quantity a part measures. */
export interface SensorOutput {
  /** e.g. "temperature" */
  readonly quantity: string;
  readonly kind: OutputKind;
  /** SenML-style unit, e.g. "Cel", "%RH", "ppm", "ug/m3", "dB", "s"; "" for plain counts. */
  readonly unit: string;
  /** The part's physical measuring range: a value outside it is a fault, not a reading. */
  readonly min: number;
  readonly max: number;
  /** True for decibels: averages must be energy averages (Leq), never arithmetic means. */
  readonly logarithmic?: boolean;
  /**
   * What it counts when that is people or what people carry or drive: a channel on it must say so
   * (its policy's dataType) and so get a privacy treatment (deployment-policy.ts, node-from-policy.ts).
   */
  readonly counts?: "people" | "vehicles" | "devices";
}

/** What every driver gets from the node besides its own bus options. */
export interface DriverContext {
  readonly buses: Buses;
  readonly clock: Clock;
  /** Consecutive failed readings after which the part is reported faulty (default 5). */
  readonly faultyAfter?: number;
}

export interface SensorDriver {
  /** The part's name, e.g. "sht4x". */
  readonly part: string;
  readonly outputs: readonly SensorOutput[];
  readonly health: SensorHealth;
  /** Prepares the part (reset, start measuring). Bus errors are counted, not thrown. */
  configure(): void;
  /**
   * The newest reading in output order (the driver's reused array), or undefined when there is
   * none. Never throws: bus errors and bad frames are counted in `health`.
   */
  sample(): Float64Array | undefined;
  /** Stops the part where it has a command for it, and closes the bus. */
  close(): void;
}
