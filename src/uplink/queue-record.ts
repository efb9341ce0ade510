/**
 * One sealed message waiting in the outbox, as it is kept in the node's store (NVS on ESP32, a
 * file in the simulator) until the broker acknowledges it.
 *
 * Each message is a store key of its own, `ob.` and its sequence number in 8 hex digits (11
 * characters, within NVS's 15): writing a new key is one atomic NVS operation (nvs_set_blob writes
 * its chunks first and its index last), and so is deleting it. The outbox therefore never
 * rewrites a record in place. The sequence number orders the queue; the store's key listing finds
 * the records at boot.
 *
 * Record, big-endian (the CRC makes a foreign, rotten or half-written record detectable, so that
 * it is skipped and counted instead of sent):
 *   [0..1]  "CQ"
 *   [2]     version 1
 *   [3]     kind: 0 summary, 1 health report
 *   [4..7]  sequence number (the key's)
 *   [8..11] time the message is about, Unix s: a summary's window end, a report's time
 *   [12]    topic length t (1..255)     [13 .. 13+t) topic, UTF-8
 *   [13+t .. 15+t) payload length p (1..65535)   then p bytes: the sealed COSE_Encrypt0 message
 *   then the CRC-32 of every byte before it
 */
import { crc32 } from "../wire/crc32.js";
import { utf8Decode, utf8Encode } from "../wire/utf8.js";

/** Store keys of queued messages start with this. */
export const QUEUE_KEY_PREFIX = "ob.";
const KEY_DIGITS = 8;
const HEADER_BYTES = 13;
const CRC_BYTES = 4;
export const MAX_SEQUENCE = 0xffffffff;

export type QueuedKind = "summary" | "health";
const KIND_CODES: readonly QueuedKind[] = ["summary", "health"];

export interface QueueRecord {
  readonly sequence: number;
  readonly kind: QueuedKind;
  /** Unix seconds: a summary's window end, a health report's time. */
  readonly timeS: number;
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** "ob.0000002a" for sequence 42. */
export function queueKey(sequence: number): string {
  return QUEUE_KEY_PREFIX + sequence.toString(16).padStart(KEY_DIGITS, "0");
}

/** The sequence number a queue key names, or undefined for a key that is not one. */
export function sequenceOfKey(key: string): number | undefined {
  if (key.length !== QUEUE_KEY_PREFIX.length + KEY_DIGITS || !key.startsWith(QUEUE_KEY_PREFIX)) return undefined;
  const digits = key.slice(QUEUE_KEY_PREFIX.length);
  if (!/^[0-9a-f]{8}$/.test(digits)) return undefined;
  return parseInt(digits, 16);
}

/** The size of the record of a message (for the byte budget, before encoding it). */
export function queueRecordBytes(topicBytes: number, payloadBytes: number): number {
  return HEADER_BYTES + topicBytes + 2 + payloadBytes + CRC_BYTES;
}

export function encodeQueueRecord(record: QueueRecord): Uint8Array {
  const topic = utf8Encode(record.topic);
  if (topic.length < 1 || topic.length > 255) throw new RangeError("queued topic must be 1-255 bytes");
  if (record.payload.length < 1 || record.payload.length > 0xffff) throw new RangeError("queued payload must be 1-65535 bytes");
  if (!Number.isInteger(record.sequence) || record.sequence < 0 || record.sequence > MAX_SEQUENCE) throw new RangeError("queue sequence out of range");
  const bytes = new Uint8Array(queueRecordBytes(topic.length, record.payload.length));
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x43; // C
  bytes[1] = 0x51; // Q
  bytes[2] = 1;
  bytes[3] = KIND_CODES.indexOf(record.kind);
  view.setUint32(4, record.sequence);
  view.setUint32(8, Math.max(0, Math.min(0xffffffff, Math.floor(record.timeS))));
  bytes[12] = topic.length;
  bytes.set(topic, HEADER_BYTES);
  let at = HEADER_BYTES + topic.length;
  view.setUint16(at, record.payload.length);
  at += 2;
  bytes.set(record.payload, at);
  at += record.payload.length;
  view.setUint32(at, crc32(bytes, 0, at));
  return bytes;
}

/**
 * The message a record holds, or undefined when it is not an intact version-1 record of
 * `sequence` (corrupt, truncated, foreign, or stored under another key). The payload is a view
 * into `bytes`.
 */
export function decodeQueueRecord(bytes: Uint8Array, sequence: number): QueueRecord | undefined {
  if (bytes.length < HEADER_BYTES + 1 + 2 + 1 + CRC_BYTES) return undefined;
  if (bytes[0] !== 0x43 || bytes[1] !== 0x51 || bytes[2] !== 1) return undefined;
  const kind = KIND_CODES[bytes[3]!];
  if (kind === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - CRC_BYTES;
  if (view.getUint32(end) !== crc32(bytes, 0, end)) return undefined;
  if (view.getUint32(4) !== sequence) return undefined;
  const topicLength = bytes[12]!;
  if (topicLength === 0 || HEADER_BYTES + topicLength + 2 > end) return undefined;
  const payloadAt = HEADER_BYTES + topicLength + 2;
  const payloadLength = view.getUint16(HEADER_BYTES + topicLength);
  if (payloadLength === 0 || payloadAt + payloadLength !== end) return undefined;
  let topic: string;
  try {
    topic = utf8Decode(bytes, HEADER_BYTES, HEADER_BYTES + topicLength);
  } catch {
    return undefined;
  }
  return { sequence, kind, timeS: view.getUint32(8), topic, payload: bytes.subarray(payloadAt, end) };
}

/**
 * What the outbox has dropped since the node was provisioned, kept beside the queue and written
 * in the same commit as each drop, so that a drop is never forgotten, also across power cuts:
 * store key "outbox.drops", 16 bytes: "CD" 1 0 | full u32 | corrupt u32 | CRC-32 of bytes 0..11.
 */
export const DROP_TOTALS_KEY = "outbox.drops";

export interface DropTotals {
  /** Oldest messages dropped because the queue was full (bytes or messages). */
  readonly full: number;
  /** Records found corrupt or unreadable, skipped instead of sent. */
  readonly corrupt: number;
}

export function encodeDropTotals(totals: DropTotals): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x43; // C
  bytes[1] = 0x44; // D
  bytes[2] = 1;
  view.setUint32(4, Math.min(totals.full, 0xffffffff));
  view.setUint32(8, Math.min(totals.corrupt, 0xffffffff));
  view.setUint32(12, crc32(bytes, 0, 12));
  return bytes;
}

/** The totals a record holds, or undefined when it is not an intact record. */
export function decodeDropTotals(bytes: Uint8Array): DropTotals | undefined {
  if (bytes.length !== 16 || bytes[0] !== 0x43 || bytes[1] !== 0x44 || bytes[2] !== 1 || bytes[3] !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(12) !== crc32(bytes, 0, 12)) return undefined;
  return { full: view.getUint32(4), corrupt: view.getUint32(8) };
}
