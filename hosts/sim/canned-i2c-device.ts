/**
 * An I2C device that answers reads from a ring of recorded responses and accepts any write: the
 * bus as the driver sees it, at the cost of a byte copy. Benchmarks put it in place of a simulated
 * part so that what they meter is the firmware, not the simulation of the silicon.
 */
import type { SimI2CDevice } from "./sim-board.js";

export class CannedI2CDevice implements SimI2CDevice {
  readonly #responses: readonly Uint8Array[];
  #next = 0;

  /** `responses`: what successive reads return, in a loop. */
  constructor(responses: readonly Uint8Array[]) {
    if (responses.length === 0) throw new RangeError("a canned device needs at least one response");
    this.#responses = responses;
  }

  write(): void {}

  read(into: Uint8Array): void {
    const response = this.#responses[this.#next]!;
    this.#next = (this.#next + 1) % this.#responses.length;
    into.set(into.length < response.length ? response.subarray(0, into.length) : response);
  }
}
