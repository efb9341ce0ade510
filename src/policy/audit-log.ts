/**
 * The node's audit log: what changed how the node works, and what it refused. Commands accepted
 * and refused (with the reason), key epoch rotations (with the reason), boots. The newest 32 entries
 * are kept in the store, so a node that was tampered with keeps the trace. Every health report
 * carries the entries made since the previous report, so the city sees them too.
 *
 * Record under store key "audit.log": CBOR [1, [[time s, event, detail], ...]] then its CRC-32.
 */
import type { KeyValueStore } from "../platform.js";
import { CborWriter } from "../wire/cbor-writer.js";
import { decodeCbor } from "../wire/cbor-reader.js";
import { crc32 } from "../wire/crc32.js";

export const AUDIT_STORE_KEY = "audit.log";
/** Entries kept: bounded, so the record stays far below the store's 4,000-byte values. */
export const AUDIT_CAPACITY = 32;

export interface AuditEntry {
  /** Unix seconds (0 when the wall clock was not set yet). */
  readonly time: number;
  /** e.g. "command-accepted", "command-refused", "epoch-rotated", "boot". */
  readonly event: string;
  /** A short detail: the command, the reason (at most 40 characters). */
  readonly detail: string;
}

export class AuditLog {
  readonly #store: KeyValueStore;
  /** A ring of AUDIT_CAPACITY entries allocated once, so that a long-running node's heap stays flat. */
  readonly #ring: Array<{ time: number; event: string; detail: string }>;
  #oldest = 0;
  #count = 0;
  /** Entries appended since the last `takeUnreported()`. */
  #unreported = 0;
  /** Entries that could not be written to the store (still reported in health). */
  writeFailures = 0;

  constructor(store: KeyValueStore) {
    this.#store = store;
    this.#ring = Array.from({ length: AUDIT_CAPACITY }, () => ({ time: 0, event: "", detail: "" }));
  }

  /** Reads the persisted entries (an unreadable record is replaced by the next append). */
  load(): void {
    const record = this.#store.get(AUDIT_STORE_KEY);
    if (!record || record.length < 5) return;
    const body = record.subarray(0, record.length - 4);
    if (new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(record.length - 4) !== crc32(body)) return;
    try {
      const value = decodeCbor(body, { maxDepth: 3 });
      if (!Array.isArray(value) || value[0] !== 1 || !Array.isArray(value[1])) return;
      for (const entry of value[1]) {
        if (Array.isArray(entry) && typeof entry[0] === "number" && typeof entry[1] === "string" && typeof entry[2] === "string") {
          this.#put(entry[0], entry[1], entry[2]);
        }
      }
    } catch {
      // unreadable: start over
    }
  }

  /** The entries kept, oldest first (a copy). */
  get entries(): readonly AuditEntry[] {
    return this.#slice(this.#count);
  }

  append(time: number, event: string, detail: string): void {
    this.#put(Math.floor(time), event, detail.slice(0, 40));
    this.#unreported = Math.min(this.#unreported + 1, AUDIT_CAPACITY);
    try {
      this.#store.commit([{ key: AUDIT_STORE_KEY, value: this.#encode() }]);
    } catch {
      this.writeFailures++;
    }
  }

  /** The entries appended since the previous call (for the health report). */
  takeUnreported(): AuditEntry[] {
    const entries = this.#slice(this.#unreported);
    this.#unreported = 0;
    return entries;
  }

  #put(time: number, event: string, detail: string): void {
    const slot = this.#ring[(this.#oldest + this.#count) % AUDIT_CAPACITY]!;
    slot.time = time;
    slot.event = event;
    slot.detail = detail;
    if (this.#count < AUDIT_CAPACITY) this.#count++;
    else this.#oldest = (this.#oldest + 1) % AUDIT_CAPACITY;
  }

  /** The newest `n` entries, oldest first, as copies. */
  #slice(n: number): AuditEntry[] {
    const entries: AuditEntry[] = [];
    for (let i = this.#count - n; i < this.#count; i++) {
      const { time, event, detail } = this.#ring[(this.#oldest + i) % AUDIT_CAPACITY]!;
      entries.push({ time, event, detail });
    }
    return entries;
  }

  #encode(): Uint8Array {
    const writer = new CborWriter(64 + AUDIT_CAPACITY * 96);
    writer.array(2).int(1).array(this.#count);
    for (let i = 0; i < this.#count; i++) {
      const { time, event, detail } = this.#ring[(this.#oldest + i) % AUDIT_CAPACITY]!;
      writer.array(3).int(time).text(event).text(detail);
    }
    const body = writer.written();
    const record = new Uint8Array(body.length + 4);
    record.set(body);
    new DataView(record.buffer).setUint32(body.length, crc32(body));
    return record;
  }
}
