/**
 * What the outbox keeps in RAM of its queue: per waiting message its id (the store sequence number
 * of a stored message), the time it is about, the bytes it takes and three flags, oldest first, in
 * parallel typed arrays allocated once (17 bytes a message). The messages themselves stay in the
 * store, so the queue's flash budget can be far larger than the heap and the heap never grows
 * with the queue.
 */
import type { QueuedKind } from "./queue-record.js";

const HEALTH = 1;
const IN_FLIGHT = 2;
const RAM = 4;

export class QueueIndex {
  readonly capacity: number;
  #length = 0;
  readonly #id: Float64Array;
  readonly #timeS: Uint32Array;
  readonly #bytes: Uint32Array;
  readonly #flags: Uint8Array;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#id = new Float64Array(capacity);
    this.#timeS = new Uint32Array(capacity);
    this.#bytes = new Uint32Array(capacity);
    this.#flags = new Uint8Array(capacity);
  }

  get length(): number {
    return this.#length;
  }

  id(i: number): number {
    return this.#id[i]!;
  }

  timeS(i: number): number {
    return this.#timeS[i]!;
  }

  bytes(i: number): number {
    return this.#bytes[i]!;
  }

  kind(i: number): QueuedKind {
    return (this.#flags[i]! & HEALTH) !== 0 ? "health" : "summary";
  }

  /** Held in RAM only: the store could not take it. */
  isRam(i: number): boolean {
    return (this.#flags[i]! & RAM) !== 0;
  }

  isInFlight(i: number): boolean {
    return (this.#flags[i]! & IN_FLIGHT) !== 0;
  }

  setInFlight(i: number, inFlight: boolean): void {
    if (inFlight) this.#flags[i]! |= IN_FLIGHT;
    else this.#flags[i]! &= ~IN_FLIGHT;
  }

  /** The index of the entry with `id`, or -1. */
  indexOf(id: number): number {
    for (let i = 0; i < this.#length; i++) if (this.#id[i] === id) return i;
    return -1;
  }

  /** The first entry at or after `from` not in flight, or -1. */
  firstIdle(from = 0): number {
    for (let i = from; i < this.#length; i++) if ((this.#flags[i]! & IN_FLIGHT) === 0) return i;
    return -1;
  }

  append(id: number, kind: QueuedKind, timeS: number, bytes: number, ram: boolean): void {
    this.set(this.#length++, id, kind, timeS, bytes, ram);
  }

  /** Replaces entry `i` (not in flight). */
  set(i: number, id: number, kind: QueuedKind, timeS: number, bytes: number, ram: boolean): void {
    this.#id[i] = id;
    this.#timeS[i] = timeS;
    this.#bytes[i] = bytes;
    this.#flags[i] = (kind === "health" ? HEALTH : 0) | (ram ? RAM : 0);
  }

  /** Opens `n` places at the front (older than everything queued), to be filled with `set`. */
  insertFront(n: number): void {
    if (n === 0) return;
    this.#id.copyWithin(n, 0, this.#length);
    this.#timeS.copyWithin(n, 0, this.#length);
    this.#bytes.copyWithin(n, 0, this.#length);
    this.#flags.copyWithin(n, 0, this.#length);
    this.#length += n;
  }

  removeAt(i: number): void {
    this.#id.copyWithin(i, i + 1, this.#length);
    this.#timeS.copyWithin(i, i + 1, this.#length);
    this.#bytes.copyWithin(i, i + 1, this.#length);
    this.#flags.copyWithin(i, i + 1, this.#length);
    this.#length--;
  }
}
