/**
 * The audit log's records in the store: the chain, and how far health reports have carried it.
 *
 * "audit.log", version 2: CBOR [2, chain id, lost, base, [[seq, time, event, detail, hash], ...]]
 * then its CRC-32 (big-endian). chain id: 8 bytes; lost: entries of this chain evicted before a
 * health report carried them; base: the hash before the oldest entry kept (16 bytes); entries
 * oldest first, seq strictly increasing, hash: the entry's 16-byte chain hash (audit-chain.ts). The
 * hashes are stored, not recomputed at boot: an entry altered in the store then no longer hashes to
 * what follows it, and the collector sees it. At most 3,628 bytes (32 entries), within what a single-key commit
 * may overwrite on the ESP32 (one value: 4,000 bytes, hosts/moddable/preference-store.ts).
 *
 * "audit.sent": CBOR [chain id, seq] then its CRC-32: the newest entry a sealed health report has
 * carried (-1: none yet). It is written in the same commit as that report's outbox record, so a
 * power cut leaves either both or neither.
 *
 * Version 1 (before the chain: [1, [[time, event, detail], ...]]) is read as "record version 1": the
 * log starts a chain.
 */
import { decodeCbor } from "../wire/cbor-reader.js";
import { CborWriter } from "../wire/cbor-writer.js";
import { crc32 } from "../wire/crc32.js";
import { AUDIT_CHAIN_ID_BYTES, AUDIT_DETAIL_MAX_CHARS, AUDIT_EVENT_PATTERN, AUDIT_HASH_BYTES } from "./audit-chain.js";

export const AUDIT_STORE_KEY = "audit.log";
export const AUDIT_SENT_KEY = "audit.sent";
const VERSION = 2;
/** Head, version, chain id, lost and base; then per entry its head, seq, time, event, detail and hash. */
const HEADER_MAX_BYTES = 1 + 1 + 1 + AUDIT_CHAIN_ID_BYTES + 9 + 1 + AUDIT_HASH_BYTES + 3;
const ENTRY_MAX_BYTES = 1 + 9 + 9 + 2 + 24 + 2 + AUDIT_DETAIL_MAX_CHARS + 1 + AUDIT_HASH_BYTES;

/** The largest chain record of `capacity` entries, CRC included. */
export function auditRecordMaxBytes(capacity: number): number {
  return HEADER_MAX_BYTES + capacity * ENTRY_MAX_BYTES + 4;
}

export interface StoredAuditEntry {
  readonly seq: number;
  readonly time: number;
  readonly event: string;
  readonly detail: string;
  readonly hash: Uint8Array;
}

export interface StoredAuditChain {
  readonly chain: Uint8Array;
  readonly lost: number;
  readonly base: Uint8Array;
  readonly entries: readonly StoredAuditEntry[];
}

/** Why a chain record could not be used: it is what the new chain's first entry says. */
export type AuditRecordFault = "corrupt record" | "unreadable record" | `record version ${number}`;

/** Writes the chain record with `writer` (reset first): `count` entries, oldest first; returns a new array, the body and its CRC. */
export function encodeAuditChain(writer: CborWriter, chain: Uint8Array, lost: number, base: Uint8Array, count: number, entryAt: (i: number) => StoredAuditEntry): Uint8Array {
  writer.reset();
  writer.array(5).int(VERSION).bytes(chain).int(lost).bytes(base).array(count);
  for (let i = 0; i < count; i++) {
    const { seq, time, event, detail, hash } = entryAt(i);
    writer.array(5).int(seq).int(time).text(event).text(detail).bytes(hash);
  }
  return withCrc(writer.written());
}

/** Reads a chain record; `capacity`: the most entries a record may hold. */
export function decodeAuditChain(record: Uint8Array, capacity: number): StoredAuditChain | AuditRecordFault {
  const body = checkedBody(record);
  if (!body) return "corrupt record";
  let value;
  try {
    value = decodeCbor(body, { maxDepth: 3 });
  } catch {
    return "unreadable record";
  }
  if (!Array.isArray(value) || value.length < 2) return "unreadable record";
  if (value[0] !== VERSION) return typeof value[0] === "number" && Number.isSafeInteger(value[0]) ? `record version ${value[0]}` : "unreadable record";
  const [, chain, lost, base, list] = value;
  if (value.length !== 5 || !isBytes(chain, AUDIT_CHAIN_ID_BYTES) || !isCount(lost) || !isBytes(base, AUDIT_HASH_BYTES) || !Array.isArray(list)) return "unreadable record";
  if (list.length === 0 || list.length > capacity) return "unreadable record";
  const entries: StoredAuditEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || item.length !== 5) return "unreadable record";
    const [seq, time, event, detail, hash] = item;
    if (!isCount(seq) || !isCount(time) || typeof event !== "string" || !AUDIT_EVENT_PATTERN.test(event)) return "unreadable record";
    if (typeof detail !== "string" || detail.length > AUDIT_DETAIL_MAX_CHARS || !isBytes(hash, AUDIT_HASH_BYTES)) return "unreadable record";
    if (entries.length > 0 && seq <= entries[entries.length - 1]!.seq) return "unreadable record";
    entries.push({ seq, time, event, detail, hash });
  }
  return { chain, lost, base, entries };
}

export function encodeAuditSent(chain: Uint8Array, seq: number): Uint8Array {
  const writer = new CborWriter(1 + 1 + AUDIT_CHAIN_ID_BYTES + 9);
  writer.array(2).bytes(chain).int(seq);
  return withCrc(writer.written());
}

/** The seq a sent mark records for `chain`; undefined when the mark is damaged or belongs to another chain. */
export function decodeAuditSent(record: Uint8Array, chain: Uint8Array): number | undefined {
  const body = checkedBody(record);
  if (!body) return undefined;
  try {
    const value = decodeCbor(body, { maxDepth: 1 });
    if (!Array.isArray(value) || value.length !== 2 || !isBytes(value[0], AUDIT_CHAIN_ID_BYTES)) return undefined;
    const seq = value[1];
    if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < -1) return undefined;
    return value[0].every((byte, i) => byte === chain[i]) ? seq : undefined;
  } catch {
    return undefined;
  }
}

function withCrc(body: Uint8Array): Uint8Array {
  const record = new Uint8Array(body.length + 4);
  record.set(body);
  new DataView(record.buffer).setUint32(body.length, crc32(body));
  return record;
}

function checkedBody(record: Uint8Array): Uint8Array | undefined {
  if (record.length < 5) return undefined;
  const body = record.subarray(0, record.length - 4);
  return new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(record.length - 4) === crc32(body) ? body : undefined;
}

function isBytes(value: unknown, length: number): value is Uint8Array {
  return value instanceof Uint8Array && value.length === length;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
