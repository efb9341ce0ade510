/**
 * What a driver learned about its part: readings taken, readings dropped by cause, and whether the
 * part is currently faulty. A bad reading is dropped and counted, never passed on and never thrown;
 * after `faultyAfter` consecutive failures the part is faulty (reported in health, its channels
 * marked missing), and the next good reading makes it healthy again.
 */

/** Why a reading was dropped. */
export type DropCause =
  | "checksum" // CRC or frame checksum mismatch
  | "bus" // NACK, timeout or other bus error
  | "frame" // truncated, garbled or unexpected frame
  | "range" // outside the part's physical range
  | "stuck" // the same raw value for implausibly long
  | "not-ready"; // the part had no new data

export const DROP_CAUSES: readonly DropCause[] = ["checksum", "bus", "frame", "range", "stuck", "not-ready"];

export class SensorHealth {
  readonly #faultyAfter: number;
  /** Drops by cause since boot. Fixed keys, so it never grows. */
  readonly drops: Record<DropCause, number> = { checksum: 0, bus: 0, frame: 0, range: 0, stuck: 0, "not-ready": 0 };
  readings = 0;
  consecutiveFailures = 0;
  faulty = false;
  /** How many times the part went faulty since boot. */
  faultEpisodes = 0;

  constructor(faultyAfter: number) {
    if (!Number.isInteger(faultyAfter) || faultyAfter < 1) throw new RangeError("faultyAfter must be a positive integer");
    this.#faultyAfter = faultyAfter;
  }

  recordReading(): void {
    this.readings++;
    this.consecutiveFailures = 0;
    this.faulty = false;
  }

  /** Counts a dropped reading. "not-ready" is counted but is not a failure: the part is just busy. */
  recordDrop(cause: DropCause): void {
    this.drops[cause]++;
    if (cause === "not-ready") return;
    this.consecutiveFailures++;
    if (!this.faulty && this.consecutiveFailures >= this.#faultyAfter) {
      this.faulty = true;
      this.faultEpisodes++;
    }
  }

  get totalDrops(): number {
    let total = 0;
    for (const cause of DROP_CAUSES) total += this.drops[cause];
    return total;
  }
}
