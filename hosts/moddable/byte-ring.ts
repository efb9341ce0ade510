/**
 * A fixed-size ring of received bytes: the writer never blocks, and when the ring is full the
 * oldest bytes give way (counted), because a UART's newest bytes are the ones a frame parser can
 * still resynchronise on.
 */
export class ByteRing {
  readonly #bytes: Uint8Array;
  #start = 0;
  #length = 0;
  /** Bytes overwritten before anyone read them. */
  overrunBytes = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity ${capacity} must be a positive whole number`);
    this.#bytes = new Uint8Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  /** Appends count bytes of source. */
  write(source: Uint8Array, count: number): void {
    const capacity = this.#bytes.length;
    for (let i = 0; i < count; i++) {
      if (this.#length === capacity) {
        this.#start = (this.#start + 1) % capacity;
        this.#length--;
        this.overrunBytes++;
      }
      this.#bytes[(this.#start + this.#length) % capacity] = source[i]!;
      this.#length++;
    }
  }

  /** Moves up to target.length of the oldest bytes into target; returns how many. */
  read(target: Uint8Array): number {
    const capacity = this.#bytes.length;
    const count = Math.min(target.length, this.#length);
    for (let i = 0; i < count; i++) target[i] = this.#bytes[(this.#start + i) % capacity]!;
    this.#start = (this.#start + count) % capacity;
    this.#length -= count;
    return count;
  }

  /** Forgets and wipes what it holds. */
  clear(): void {
    this.#bytes.fill(0);
    this.#start = 0;
    this.#length = 0;
  }
}
