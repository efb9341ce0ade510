/**
 * A value larger than one store value (STORE_VALUE_MAX_BYTES, an ESP32 NVS blob), kept as numbered
 * chunks `<key>.0`, `<key>.1`, ... written in one commit, so that a reader sees all of one value or
 * all of another (the store's commit is atomic). A signed disclosure is one: about 4.5 KB.
 *
 * Chunk 0 starts with the whole value's length (4 bytes, big-endian), so that a reader can tell a
 * complete set from one that lost a chunk. At most CHUNKS_MAX chunks: a bounded value.
 */
import { STORE_VALUE_MAX_BYTES, type KeyValueStore, type StoreWrite } from "./platform.js";

export const CHUNKS_MAX = 4;
const LENGTH_BYTES = 4;
/** The largest value chunks hold. */
export const CHUNKED_VALUE_MAX_BYTES = CHUNKS_MAX * STORE_VALUE_MAX_BYTES - LENGTH_BYTES;

export class ChunkedValueError extends Error {
  override name = "ChunkedValueError";
}

/** The writes that store `value` under `key` (and delete the chunks an older, longer value left). */
export function chunkedWrites(key: string, value: Uint8Array): StoreWrite[] {
  if (value.length > CHUNKED_VALUE_MAX_BYTES) throw new ChunkedValueError(`${key}: ${value.length} bytes; chunks hold at most ${CHUNKED_VALUE_MAX_BYTES}`);
  const framed = new Uint8Array(LENGTH_BYTES + value.length);
  new DataView(framed.buffer).setUint32(0, value.length);
  framed.set(value, LENGTH_BYTES);
  const writes: StoreWrite[] = [];
  for (let i = 0; i < CHUNKS_MAX; i++) {
    const start = i * STORE_VALUE_MAX_BYTES;
    writes.push({ key: `${key}.${i}`, value: start < framed.length ? framed.slice(start, start + STORE_VALUE_MAX_BYTES) : undefined });
  }
  return writes;
}

/** The value stored under `key` in chunks, or undefined when there is none; throws when its chunks do not add up. */
export function readChunked(store: KeyValueStore, key: string): Uint8Array | undefined {
  const first = store.get(`${key}.0`);
  if (first === undefined) return undefined;
  if (first.length < LENGTH_BYTES) throw new ChunkedValueError(`${key}: its first chunk is too short`);
  const length = new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(0);
  if (length > CHUNKED_VALUE_MAX_BYTES) throw new ChunkedValueError(`${key}: a length of ${length} bytes`);
  const framed = new Uint8Array(LENGTH_BYTES + length);
  let filled = 0;
  for (let i = 0; i < CHUNKS_MAX && filled < framed.length; i++) {
    const chunk = i === 0 ? first : store.get(`${key}.${i}`);
    if (chunk === undefined || filled + chunk.length > framed.length) throw new ChunkedValueError(`${key}: chunk ${i} is missing or too long`);
    framed.set(chunk, filled);
    filled += chunk.length;
  }
  if (filled !== framed.length) throw new ChunkedValueError(`${key}: its chunks hold ${filled - LENGTH_BYTES} of ${length} bytes`);
  return framed.subarray(LENGTH_BYTES);
}
