/**
 * The shape every civicnode sensor driver has, after ECMA-419 sensor classes: built from bus
 * options, then `configure()`, `sample()`, `close()`.
 *
 * Unlike ECMA-419's `sample()`, which returns a new object per call, a civicnode driver writes into
 * its own fixed `Float64Array`, one slot per output (NaN where an output has no value this time),
 * and returns that same array, so sampling allocates nothing on the device.
 */
import type { SensorHealth } from "./sensor-health.js";

/** One quantity a part measures. */
export interface SensorOutput {
  /** e.g. "temperature" */
  readonly quantity: string;
  /** SenML unit (RFC 8428 section 12.1), e.g. "Cel", "%RH". */
  readonly unit: string;
  /** The part's physical measuring range: a value outside it is a fault, not a reading. */
  readonly min: number;
  readonly max: number;
}

export interface SensorDriver {
  /** The part's name, e.g. "sht4x". */
  readonly part: string;
  readonly outputs: readonly SensorOutput[];
  readonly health: SensorHealth;
  /** Prepares the part (reset, start measuring). Bus errors are counted, not thrown. */
  configure(): void;
  /** The newest reading in output order (the driver's reused array), or undefined when there is none. */
  sample(): Float64Array | undefined;
  close(): void;
}
