/**
 * Reconnect delays: exponential backoff with "equal jitter".
 *
 * The ceiling doubles after every failed attempt up to a maximum; the delay is half the ceiling
 * plus a random share of the other half, so a street full of nodes that lost the same broker at
 * the same moment does not come back in lockstep. The randomness comes from the platform's
 * `Random`, because `Math.random` is an unseeded, identical sequence on the Moddable simulator.
 */
import type { Random } from "../../../src/platform.js";

export class ReconnectBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly #random: Random;
  /** Reused for every draw: 32 bits of jitter are plenty and allocate nothing. */
  readonly #draw = new Uint8Array(4);
  #attempt = 0;

  constructor(initialMs: number, maxMs: number, random: Random) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.#random = random;
  }

  /** The delay before the next attempt, in whole milliseconds; raises the ceiling for the one after. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** this.#attempt);
    if (ceiling < this.maxMs) this.#attempt++;
    this.#random.fill(this.#draw);
    const d = this.#draw;
    const fraction = (d[0]! * 0x1000000 + d[1]! * 0x10000 + d[2]! * 0x100 + d[3]!) / 0x100000000;
    return Math.round(ceiling / 2 + (fraction * ceiling) / 2);
  }

  /** After a successful connection: the next failure starts again from `initialMs`. */
  reset(): void {
    this.#attempt = 0;
  }
}
