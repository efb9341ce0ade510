/**
 * Notices a part that keeps answering with exactly the same raw reading, which real sensors with
 * measurement noise do not do for long: a frozen firmware, a latched register, a dead element.
 * Drivers feed it a 32-bit fingerprint of each raw reading (e.g. the raw words); after `limit`
 * identical readings in a row, readings count as "stuck" until the value changes again.
 * Fixed memory, no allocation.
 */
export class StuckDetector {
  readonly #limit: number;
  #last = -1;
  #repeats = 0;

  /** `limit`: identical readings in a row that make a reading "stuck"; 0 disables the check. */
  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Records a reading's fingerprint; returns true when the part looks stuck. */
  isStuck(fingerprint: number): boolean {
    if (this.#limit <= 0) return false;
    if (fingerprint === this.#last) this.#repeats++;
    else {
      this.#last = fingerprint;
      this.#repeats = 1;
    }
    return this.#repeats > this.#limit;
  }

  reset(): void {
    this.#last = -1;
    this.#repeats = 0;
  }
}
