/**
 * A bounded byte queue between the MQTT session and the socket.
 *
 * An ECMA-419 TCP socket takes only as many bytes as its last `onWritable` count (more throws
 * "would block"), so packets wait here until the socket has room. Packets are encoded in place:
 * `reserve` hands out contiguous space at the tail, compacting the queue when the free space is
 * split, so a packet never needs a temporary array. The capacity is fixed at construction: when
 * a packet does not fit, the caller refuses the work instead of the queue growing.
 */
export class SendBuffer {
  /** The storage; valid bytes lie between the read and write positions. */
  readonly bytes: Uint8Array;
  #start = 0;
  #end = 0;
  #appended = 0;
  #consumed = 0;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity);
  }

  get capacity(): number {
    return this.bytes.length;
  }

  /** Bytes waiting to be written. */
  get queued(): number {
    return this.#end - this.#start;
  }

  /** Bytes ever appended: the value after a packet is appended marks its end in the stream. */
  get appendedTotal(): number {
    return this.#appended;
  }

  /** Bytes ever taken off the front (handed to the socket). */
  get consumedTotal(): number {
    return this.#consumed;
  }

  /**
   * Reserves `size` contiguous bytes at the tail, to be filled by the caller right away, provided
   * at least `keepFree` bytes stay free afterwards. Returns the offset of the space in `bytes`,
   * or -1 when it does not fit.
   */
  reserve(size: number, keepFree = 0): number {
    if (this.queued + size + keepFree > this.bytes.length) return -1;
    if (this.#end + size > this.bytes.length) {
      // Moves the queued bytes to the front: bounded by the capacity, and rare, because the queue
      // usually drains completely between packets (then both positions go back to 0).
      this.bytes.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const offset = this.#end;
    this.#end += size;
    this.#appended += size;
    return offset;
  }

  /** A view of the first queued bytes, at most `max` of them. Valid until the next change. */
  peek(max: number): Uint8Array {
    return this.bytes.subarray(this.#start, this.#start + Math.min(max, this.queued));
  }

  /** Drops `count` bytes from the front once the socket has taken them. */
  consume(count: number): void {
    this.#start += count;
    this.#consumed += count;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Empties the queue (a new connection starts from nothing). The totals keep counting. */
  clear(): void {
    this.#consumed += this.queued;
    this.#start = this.#end = 0;
  }
}
