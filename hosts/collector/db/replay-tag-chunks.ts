/**
 * The tags of a replay window as rows of `replay_tags`, a chunk of CHUNK_SLOTS slots each, so that
 * a batch reads and writes only the chunks of the counters it holds: 258 bytes a message instead of
 * the window's 2 KB (W = 128), which every batch used to read and write whole for each device.
 *
 * EpochCounters' snapshot of the tags (epoch-counters.ts) is the validity bitmap, a bit per slot,
 * followed by the 16-byte tag of each slot. Chunk i holds slots 16i to 16i + 15:
 *
 *   known   bytes 2i and 2i + 1 of the bitmap (fewer in a last, partial chunk)
 *   tags    the tags of those slots, 16 bytes each
 *
 * A chunk that was never written reads as all slots unknown, as EpochCounters starts them.
 */
import { TAG_BYTES } from "../epoch-counters.js";

export const CHUNK_SLOTS = 16;

export interface TagChunk {
  readonly chunk: number;
  readonly known: Uint8Array;
  readonly tags: Uint8Array;
}

/** The chunk that holds `counter`'s slot in a window of `size`. */
export function chunkOf(counter: number, size: number): number {
  return Math.floor((counter % size) / CHUNK_SLOTS);
}

function layout(size: number) {
  return { knownBytes: Math.ceil(size / 8), tagBytes: size * TAG_BYTES };
}

/** Chunk `chunk` of a snapshot's tags (`tags`: bitmap then slots, for a window of `size`). */
export function tagChunk(tags: Uint8Array, size: number, chunk: number): TagChunk {
  const { knownBytes } = layout(size);
  const knownAt = chunk * (CHUNK_SLOTS / 8);
  const tagsAt = knownBytes + chunk * CHUNK_SLOTS * TAG_BYTES;
  return {
    chunk,
    known: tags.slice(knownAt, Math.min(knownAt + CHUNK_SLOTS / 8, knownBytes)),
    tags: tags.slice(tagsAt, Math.min(tagsAt + CHUNK_SLOTS * TAG_BYTES, knownBytes + size * TAG_BYTES)),
  };
}

/** Every chunk of a snapshot's tags. */
export function allTagChunks(tags: Uint8Array, size: number): TagChunk[] {
  return Array.from({ length: Math.ceil(size / CHUNK_SLOTS) }, (_, chunk) => tagChunk(tags, size, chunk));
}

/**
 * A snapshot's tags from the chunks read; slots of chunks not read are unknown. A chunk whose
 * lengths do not fit the window is left out (its slots unknown): tags that do not read are dropped,
 * not trusted, as EpochCounters.import does.
 */
export function assembleTags(chunks: Iterable<TagChunk>, size: number): Uint8Array {
  const { knownBytes, tagBytes } = layout(size);
  const tags = new Uint8Array(knownBytes + tagBytes);
  for (const chunk of chunks) {
    const expected = tagChunk(tags, size, chunk.chunk);
    if (chunk.chunk < 0 || expected.known.length !== chunk.known.length || expected.tags.length !== chunk.tags.length || chunk.known.length === 0) continue;
    tags.set(chunk.known, chunk.chunk * (CHUNK_SLOTS / 8));
    tags.set(chunk.tags, knownBytes + chunk.chunk * CHUNK_SLOTS * TAG_BYTES);
  }
  return tags;
}
