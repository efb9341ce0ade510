/**
 * What the collector remembers of the counters one device used under one epoch key:
 *
 * - the replay window (src/wire/replay-window.ts): which counters were accepted;
 * - the 16-byte Poly1305 tag of each accepted counter still inside the window, in slot
 *   `counter mod size`. A QoS 1 resend is a byte-identical copy, so it carries the same tag; a
 *   different message sealed under a counter already used (a device that restarted its counter:
 *   a ChaCha20-Poly1305 nonce reuse) carries another tag. A slot is valid while the window bit of
 *   its counter is set: the window clears the bit when it slides past, and `accept` rewrites the
 *   slot whenever it sets it again. Tags are optional (`dropTags`), so old epochs cost 22 bytes;
 * - the latest time any accepted message of the epoch was sealed at (Unix s: a summary's window
 *   end, a health report's time). A genuine node seals counters in time order, so an authentic
 *   message under a counter at or below the highest, sealed later than that, was sealed after its
 *   counter had gone backwards.
 *
 * Check, authenticate, then `accept`: a forgery never moves any of it.
 */
import { ReplayWindow } from "../../src/wire/replay-window.js";

export const TAG_BYTES = 16;

/** How a counter stands: never seen, accepted before, or below the window (too old to tell). */
export type CounterVerdict = "new" | "seen" | "too-old";

export interface EpochCountersSnapshot {
  /** ReplayWindow.export(). */
  readonly window: Uint8Array;
  /** The validity bitmap (one bit per slot) followed by the tag slots; absent when tags are not kept. */
  readonly tags?: Uint8Array;
  /** Latest seal time accepted (Unix s); absent when unknown (state saved before it was kept). */
  readonly sealedUntil?: number;
}

export class EpochCounters {
  readonly #window: ReplayWindow;
  #tags: Uint8Array | undefined;
  /** Bit per slot: the slot holds the tag of the counter whose window bit is set. */
  #tagKnown: Uint8Array | undefined;
  #sealedUntil: number | undefined;

  constructor(size: number, window = new ReplayWindow(size)) {
    this.#window = window;
    this.#tags = new Uint8Array(size * TAG_BYTES);
    this.#tagKnown = new Uint8Array(Math.ceil(size / 8));
  }

  get size(): number {
    return this.#window.size;
  }

  get highest(): number {
    return this.#window.highest;
  }

  /** The latest seal time accepted (Unix s), or undefined when not known. */
  get sealedUntil(): number | undefined {
    return this.#sealedUntil;
  }

  check(counter: number): CounterVerdict {
    const verdict = this.#window.check(counter);
    return verdict === "replay" ? "seen" : verdict;
  }

  /** The tag accepted under a counter that `check` calls "seen"; undefined when it is not kept. */
  tagOf(counter: number): Uint8Array | undefined {
    if (!this.#tags || !this.#tagKnown || this.#window.check(counter) !== "replay") return undefined;
    const slot = counter % this.size;
    if ((this.#tagKnown[slot >> 3]! & (1 << (slot & 7))) === 0) return undefined;
    return this.#tags.subarray(slot * TAG_BYTES, (slot + 1) * TAG_BYTES);
  }

  /** Records `counter` as accepted, with its message's tag (when known) and seal time (Unix s). */
  accept(counter: number, tag: Uint8Array | undefined, sealedAt: number | undefined): void {
    this.#window.accept(counter);
    if (sealedAt !== undefined && Number.isFinite(sealedAt)) this.#sealedUntil = Math.max(this.#sealedUntil ?? sealedAt, sealedAt);
    if (!this.#tags || !this.#tagKnown) return;
    const slot = counter % this.size;
    if (tag && tag.length === TAG_BYTES) {
      this.#tags.set(tag, slot * TAG_BYTES);
      this.#tagKnown[slot >> 3]! |= 1 << (slot & 7);
    } else this.#tagKnown[slot >> 3]! &= ~(1 << (slot & 7));
  }

  /** Forgets the tags (an epoch no longer current): the window and the seal time stay. */
  dropTags(): void {
    this.#tags = undefined;
    this.#tagKnown = undefined;
  }

  get keepsTags(): boolean {
    return this.#tags !== undefined;
  }

  export(): EpochCountersSnapshot {
    const tags = this.#tags && this.#tagKnown ? concat(this.#tagKnown, this.#tags) : undefined;
    return { window: this.#window.export(), ...(tags ? { tags } : {}), ...(this.#sealedUntil !== undefined ? { sealedUntil: this.#sealedUntil } : {}) };
  }

  /** Counters restored from `export()`; undefined when the window does not fit `size`. Bad tags are dropped, not trusted. */
  static import(snapshot: EpochCountersSnapshot, size: number): EpochCounters | undefined {
    const window = ReplayWindow.import(snapshot.window, size);
    if (!window) return undefined;
    const counters = new EpochCounters(size, window);
    const knownBytes = Math.ceil(size / 8);
    if (snapshot.tags && snapshot.tags.length === knownBytes + size * TAG_BYTES) {
      counters.#tagKnown!.set(snapshot.tags.subarray(0, knownBytes));
      counters.#tags!.set(snapshot.tags.subarray(knownBytes));
    }
    if (snapshot.sealedUntil !== undefined && Number.isFinite(snapshot.sealedUntil)) counters.#sealedUntil = snapshot.sealedUntil;
    return counters;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
