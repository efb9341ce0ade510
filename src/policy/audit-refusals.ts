/**
 * Refusals, tallied instead of chained one by one: anyone who can publish to the broker can make a
 * node refuse a message, so a refusal must never take a place in the audit log that an accepted
 * change or a boot needs. Per cause the tally keeps a count and the times of the first and the
 * last refusal; at each health report the audit log closes the period with one chained entry per
 * cause, `refusals <cause> <count> <first> <last>`, and starts the tally over.
 *
 * The tally survives a reboot, without costing a flash write per refusal (a flood of a thousand
 * would mean a thousand): it is written when a cause first appears in a period and when its count
 * reaches a power of two, so a power cut loses less than half of a count, never a cause, and a
 * thousand refusals cost ten writes. `last` is as of the latest write.
 *
 * Record under store key "audit.refused": CBOR [1, [[cause, count, first, last], ...]] then its
 * CRC-32 (big-endian). Times are Unix seconds, 0 while the node's clock was not set.
 */
import { decodeCbor } from "../wire/cbor-reader.js";
import { CborWriter } from "../wire/cbor-writer.js";
import { crc32 } from "../wire/crc32.js";

export const REFUSALS_STORE_KEY = "audit.refused";
/** The chained entry that closes a period. */
export const REFUSALS_EVENT = "refusals";
/** Causes tallied apart; further causes are tallied together as "other", so memory stays bounded. */
export const REFUSAL_CAUSES_MAX = 12;
export const OTHER_CAUSE = "other";
/** At most 14 characters ("authentication"): with a count and two times the detail stays within 48. */
const CAUSE_PATTERN = /^[a-z][a-z0-9-]{0,13}$/;
/** Widest record: head, version, array head, and per cause its array head, cause and three integers. */
const RECORD_MAX_BYTES = 4 + REFUSAL_CAUSES_MAX * (1 + 17 + 3 * 9) + 4;

export interface RefusalCount {
  readonly cause: string;
  readonly count: number;
  /** Unix seconds of the first and the last refusal of the period (0: the clock was not set). */
  readonly first: number;
  readonly last: number;
}

export class RefusalTally {
  /** Slots allocated once; the first `#used` hold the period's causes in the order they appeared. */
  readonly #slots: Array<{ cause: string; count: number; first: number; last: number }>;
  #used = 0;
  readonly #writer = new CborWriter(RECORD_MAX_BYTES);

  constructor() {
    this.#slots = Array.from({ length: REFUSAL_CAUSES_MAX }, () => ({ cause: "", count: 0, first: 0, last: 0 }));
  }

  /** Causes with refusals in the open period. */
  get size(): number {
    return this.#used;
  }

  /** Counts one refusal; true when the tally should be written now (see the header). */
  add(time: number, cause: string): boolean {
    const at = Math.max(0, Math.floor(time));
    let name = CAUSE_PATTERN.test(cause) ? cause : OTHER_CAUSE;
    let slot = this.#find(name);
    // The last slot is kept for "other": a new cause arriving then is tallied there.
    if (!slot && name !== OTHER_CAUSE && this.#used >= REFUSAL_CAUSES_MAX - 1) {
      name = OTHER_CAUSE;
      slot = this.#find(name);
    }
    if (!slot) {
      slot = this.#slots[this.#used++]!;
      slot.cause = name;
      slot.count = 0;
      slot.first = at;
    }
    slot.count++;
    slot.last = at;
    return (slot.count & (slot.count - 1)) === 0;
  }

  /** The open period's counts, oldest cause first (copies). */
  counts(): RefusalCount[] {
    const counts: RefusalCount[] = [];
    for (let i = 0; i < this.#used; i++) {
      const { cause, count, first, last } = this.#slots[i]!;
      counts.push({ cause, count, first, last });
    }
    return counts;
  }

  clear(): void {
    this.#used = 0;
  }

  /** The record of the open period. */
  encode(): Uint8Array {
    const writer = this.#writer;
    writer.reset();
    writer.array(2).int(1).array(this.#used);
    for (let i = 0; i < this.#used; i++) {
      const { cause, count, first, last } = this.#slots[i]!;
      writer.array(4).text(cause).int(count).int(first).int(last);
    }
    const body = writer.written();
    const record = new Uint8Array(body.length + 4);
    record.set(body);
    new DataView(record.buffer).setUint32(body.length, crc32(body));
    return record;
  }

  /** Restores a period from its record; false (and an empty tally) when the record is damaged. */
  load(record: Uint8Array): boolean {
    this.#used = 0;
    if (record.length < 5) return false;
    const body = record.subarray(0, record.length - 4);
    if (new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(record.length - 4) !== crc32(body)) return false;
    let value;
    try {
      value = decodeCbor(body, { maxDepth: 3 });
    } catch {
      return false;
    }
    if (!Array.isArray(value) || value.length !== 2 || value[0] !== 1 || !Array.isArray(value[1]) || value[1].length > REFUSAL_CAUSES_MAX) return false;
    for (const item of value[1]) {
      if (!Array.isArray(item) || item.length !== 4) return this.#damaged();
      const [cause, count, first, last] = item;
      if (typeof cause !== "string" || (!CAUSE_PATTERN.test(cause) && cause !== OTHER_CAUSE) || this.#find(cause)) return this.#damaged();
      if (!isCount(count) || count < 1 || !isCount(first) || !isCount(last)) return this.#damaged();
      const slot = this.#slots[this.#used++]!;
      slot.cause = cause;
      slot.count = count;
      slot.first = first;
      slot.last = last;
    }
    return true;
  }

  #find(cause: string): { cause: string; count: number; first: number; last: number } | undefined {
    for (let i = 0; i < this.#used; i++) if (this.#slots[i]!.cause === cause) return this.#slots[i];
    return undefined;
  }

  #damaged(): false {
    this.#used = 0;
    return false;
  }
}

/** The detail of the chained entry that closes a period for one cause. */
export function refusalDetail(count: RefusalCount): string {
  return `${count.cause} ${count.count} ${count.first} ${count.last}`;
}

/** Reads the detail of a `refusals` entry; undefined when it is not one. */
export function parseRefusalDetail(detail: string): RefusalCount | undefined {
  const parts = detail.split(" ");
  if (parts.length !== 4 || (!CAUSE_PATTERN.test(parts[0]!) && parts[0] !== OTHER_CAUSE)) return undefined;
  const [count, first, last] = parts.slice(1).map((part) => (/^(0|[1-9][0-9]{0,15})$/.test(part) ? Number(part) : NaN));
  if (!isCount(count) || count < 1 || !isCount(first) || !isCount(last)) return undefined;
  return { cause: parts[0]!, count, first, last };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
