/**
 * The message counter that makes every COSE nonce unique under an epoch key.
 *
 * A (key, nonce) pair must never repeat, also across reboots and power cuts at any instant. As with
 * LoRaWAN frame counters and OSCORE sequence numbers, the counter is not written for every message:
 * the store holds a ceiling, and values below it may already be in use. At boot the counter resumes
 * at the stored ceiling, and a ceiling one block further is committed before any value is handed
 * out. The next block is committed when a quarter of the current one is left, so that a store
 * failing for a while (a full or read-only flash) does not stop the sealing at once: the commit is
 * tried again at every value handed out, and only a block used up to its ceiling refuses to seal.
 * A power cut therefore skips at most a block and a quarter of numbers and never reuses one. A
 * record that is lost or unreadable is never reset: the key moves to a new epoch instead
 * (uplink-sealer.ts).
 *
 * Record under store key "seal.ctr", 20 bytes, big-endian:
 *   [0..1] "CN"  [2] version 1  [3] 0  [4..7] epoch  [8..11] ceiling / 2^32  [12..15] ceiling mod 2^32
 *   [16..19] CRC-32 of bytes 0..15
 */
import type { KeyValueStore, StoreWrite } from "../platform.js";
import { crc32 } from "./crc32.js";
import { MAX_COUNTER } from "./cose-encrypt0.js";

export const SEAL_COUNTER_KEY = "seal.ctr";
const RECORD_BYTES = 20;

/** The epoch's counter space is used up: the key must change before anything else is sealed. */
export class SealCounterExhaustedError extends Error {
  override name = "SealCounterExhaustedError";
}

export interface SealCounterState {
  readonly epoch: number;
  readonly ceiling: number;
}

export class SealCounter {
  readonly #store: KeyValueStore;
  readonly #block: number;
  /** Values left in the block when the next one is reserved. */
  readonly #lowWater: number;
  #epoch = 0;
  #next = 0;
  #ceiling = 0;
  #loaded = false;

  /** `block`: how many counter values each commit reserves (wear vs. numbers skipped per reboot). */
  constructor(store: KeyValueStore, block: number) {
    if (!Number.isInteger(block) || block < 1 || block > 65536) throw new RangeError("counter block must be 1..65536");
    this.#store = store;
    this.#block = block;
    this.#lowWater = Math.max(1, Math.floor(block / 4));
  }

  /**
   * Resumes the counter of `epoch` from the store and reserves a fresh block: "resumed". Without
   * touching the store, "unusable" when the record is missing, corrupt or belongs to another epoch:
   * the caller must then move to a new epoch, since a counter may never be guessed. (A new epoch
   * starts with `firstBlockOf`, never with a missing record.)
   */
  load(epoch: number): "resumed" | "unusable" {
    const record = this.#store.get(SEAL_COUNTER_KEY);
    const state = record === undefined ? undefined : decodeCounterRecord(record);
    if (state === undefined || state.epoch !== epoch) return "unusable";
    this.#epoch = epoch;
    this.#next = state.ceiling;
    this.#ceiling = state.ceiling;
    this.#reserve(this.#next + this.#block);
    this.#loaded = true;
    return "resumed";
  }

  /**
   * The store write that starts `epoch` at counter 0 with one block reserved. The caller commits it
   * (atomically with the epoch's key) and then calls `started(epoch)`.
   */
  firstBlockOf(epoch: number): StoreWrite {
    return { key: SEAL_COUNTER_KEY, value: encodeCounterRecord({ epoch, ceiling: Math.min(this.#block, MAX_COUNTER + 1) }) };
  }

  /** The state after `firstBlockOf(epoch)` was committed. */
  started(epoch: number): void {
    this.#epoch = epoch;
    this.#next = 0;
    this.#ceiling = Math.min(this.#block, MAX_COUNTER + 1);
    this.#loaded = true;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** The value the next call to `take()` returns. */
  get peek(): number {
    return this.#next;
  }

  /**
   * Hands out the next unused counter value. A value at or above the stored ceiling is never
   * handed out: when the block is used up, the next one must be committed first, and a store that
   * cannot take it makes this throw (the caller counts a seal failure).
   */
  take(): number {
    if (!this.#loaded) throw new Error("SealCounter.load() first");
    if (this.#next > MAX_COUNTER) throw new SealCounterExhaustedError("counter space of this epoch is used up");
    if (this.#next >= this.#ceiling) this.#reserve(this.#next + this.#block);
    else if (this.#ceiling - this.#next <= this.#lowWater && this.#ceiling <= MAX_COUNTER) {
      try {
        this.#reserve(this.#ceiling + this.#block); // ahead: one more block, as many writes as before
      } catch {
        // The store fails now (its own reporting counts it); this block's values are still ours.
      }
    }
    return this.#next++;
  }

  #reserve(upTo: number): void {
    const ceiling = Math.min(upTo, MAX_COUNTER + 1);
    this.#store.commit([{ key: SEAL_COUNTER_KEY, value: encodeCounterRecord({ epoch: this.#epoch, ceiling }) }]);
    this.#ceiling = ceiling;
  }
}

export function encodeCounterRecord(state: SealCounterState): Uint8Array {
  const record = new Uint8Array(RECORD_BYTES);
  const view = new DataView(record.buffer);
  record[0] = 0x43; // "C"
  record[1] = 0x4e; // "N"
  record[2] = 1;
  view.setUint32(4, state.epoch);
  view.setUint32(8, Math.floor(state.ceiling / 0x100000000));
  view.setUint32(12, state.ceiling >>> 0);
  view.setUint32(16, crc32(record, 0, 16));
  return record;
}

/** The state a record holds, or undefined when it is not a valid record. */
export function decodeCounterRecord(record: Uint8Array): SealCounterState | undefined {
  if (record.length !== RECORD_BYTES || record[0] !== 0x43 || record[1] !== 0x4e || record[2] !== 1 || record[3] !== 0) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (view.getUint32(16) !== crc32(record, 0, 16)) return undefined;
  const ceiling = view.getUint32(8) * 0x100000000 + view.getUint32(12);
  if (ceiling > MAX_COUNTER + 1) return undefined;
  return { epoch: view.getUint32(4), ceiling };
}
