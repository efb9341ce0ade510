/**
 * What the store holds of the outbox after a reboot: every queue record, read back and checked,
 * oldest first, and the keys of those that are not intact (corrupt, truncated, foreign, or under a
 * key that names another sequence number). A record the store cannot read now is neither: it is
 * left for the next boot. The outbox decides what to keep, drop and delete (outbox.ts).
 */
import type { KeyValueStore } from "../platform.js";
import { decodeQueueRecord, QUEUE_KEY_PREFIX, sequenceOfKey, type QueuedKind } from "./queue-record.js";

export interface ScannedRecord {
  readonly sequence: number;
  readonly kind: QueuedKind;
  readonly timeS: number;
  /** Bytes the record takes in the store. */
  readonly bytes: number;
}

export interface QueueScan {
  /** Intact records, oldest (lowest sequence) first. */
  readonly records: readonly ScannedRecord[];
  readonly corruptKeys: readonly string[];
  /** The highest sequence number any key names (intact or not), or -1: new ones go above it. */
  readonly highestSequence: number;
}

/**
 * Reads the queue's records. Throws when the store cannot list its keys; `onReadError` hears of a
 * record it cannot read (the scan goes on without it).
 */
export function scanQueue(store: KeyValueStore, onReadError: (error: unknown) => void): QueueScan {
  const keys = store.keys(QUEUE_KEY_PREFIX);
  const records: ScannedRecord[] = [];
  const corruptKeys: string[] = [];
  let highestSequence = -1;
  for (const key of keys) {
    const sequence = sequenceOfKey(key);
    if (sequence !== undefined && sequence > highestSequence) highestSequence = sequence;
    let bytes: Uint8Array | undefined;
    try {
      bytes = store.get(key);
    } catch (error) {
      onReadError(error);
      continue;
    }
    if (bytes === undefined) continue; // gone since it was listed
    const record = sequence === undefined ? undefined : decodeQueueRecord(bytes, sequence);
    if (record === undefined) corruptKeys.push(key);
    else records.push({ sequence: record.sequence, kind: record.kind, timeS: record.timeS, bytes: bytes.length });
  }
  records.sort((a, b) => a.sequence - b.sequence);
  return { records, corruptKeys, highestSequence };
}
