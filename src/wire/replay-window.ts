/**
 * A sliding anti-replay window over message counters (in the manner of IPsec ESP, RFC 4303
 * section 3.4.3, and OSCORE's replay window): the highest counter accepted so far, and a bitmap of
 * which of the `size` counters below it were seen. A counter above the highest is new; one inside
 * the window is new only if its bit is clear; one below the window is too old to tell and refused.
 *
 * Check first, then authenticate, then `accept()`: a forged message must not move the window.
 */
export type ReplayVerdict = "new" | "replay" | "too-old";

export class ReplayWindow {
  readonly size: number;
  readonly #bits: Uint8Array;
  #highest = -1;

  constructor(size = 64) {
    if (!Number.isInteger(size) || size < 1 || size > 65536) throw new RangeError("replay window size must be 1..65536");
    this.size = size;
    this.#bits = new Uint8Array(Math.ceil(size / 8));
  }

  /** The highest counter accepted, or -1. */
  get highest(): number {
    return this.#highest;
  }

  check(counter: number): ReplayVerdict {
    if (counter > this.#highest) return "new";
    if (this.#highest - counter >= this.size) return "too-old";
    return this.#get(counter) ? "replay" : "new";
  }

  /** Records `counter` as seen. Call only after `check(counter) === "new"` and successful authentication. */
  accept(counter: number): void {
    if (counter > this.#highest) {
      const shift = this.#highest < 0 ? this.size : counter - this.#highest;
      if (shift >= this.size) this.#bits.fill(0);
      else for (let c = this.#highest + 1; c < counter; c++) this.#set(c, false);
      this.#highest = counter;
    }
    this.#set(counter, true);
  }

  /** The window as bytes (highest counter as u48be, then the bitmap), for a collector to persist. */
  export(): Uint8Array {
    const bytes = new Uint8Array(6 + this.#bits.length);
    const highest = this.#highest < 0 ? 0xffffffffffff : this.#highest;
    new DataView(bytes.buffer).setUint16(0, Math.floor(highest / 0x100000000));
    new DataView(bytes.buffer).setUint32(2, highest >>> 0);
    bytes.set(this.#bits, 6);
    return bytes;
  }

  /** A window restored from `export()`; undefined when the bytes do not fit a window of `size`. */
  static import(bytes: Uint8Array, size: number): ReplayWindow | undefined {
    const window = new ReplayWindow(size);
    if (bytes.length !== 6 + window.#bits.length) return undefined;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const highest = view.getUint16(0) * 0x100000000 + view.getUint32(2);
    window.#highest = highest === 0xffffffffffff ? -1 : highest;
    window.#bits.set(bytes.subarray(6));
    return window;
  }

  #get(counter: number): boolean {
    const bit = counter % this.size;
    return (this.#bits[bit >> 3]! & (1 << (bit & 7))) !== 0;
  }

  #set(counter: number, seen: boolean): void {
    const bit = counter % this.size;
    if (seen) this.#bits[bit >> 3]! |= 1 << (bit & 7);
    else this.#bits[bit >> 3]! &= ~(1 << (bit & 7));
  }
}
