/**
 * A replay window's tags cut into chunks of 16 slots and put together again (replay-tag-chunks.ts):
 * every byte of EpochCounters' snapshot in exactly one chunk, for windows that are and are not a
 * multiple of 16; chunks not read are unknown slots; a chunk that does not fit is left out.
 */
import { describe, expect, it } from "vitest";
import { EpochCounters } from "../../../../hosts/collector/epoch-counters.js";
import { allTagChunks, assembleTags, chunkOf, CHUNK_SLOTS, tagChunk } from "../../../../hosts/collector/db/replay-tag-chunks.js";

const tag = (counter: number) => Uint8Array.from({ length: 16 }, (_, i) => (counter * 31 + i) & 0xff);

function countersWith(size: number, accepted: readonly number[]): EpochCounters {
  const counters = new EpochCounters(size);
  for (const counter of accepted) counters.accept(counter, tag(counter), 1000 + counter);
  return counters;
}

describe("replay tag chunks", () => {
  for (const size of [128, 100, 64, 65]) {
    it(`cut a window of ${size} into chunks that hold every byte once, and put them together again`, () => {
      const accepted = Array.from({ length: size + 20 }, (_, i) => i).filter((c) => c % 3 !== 1);
      const tags = countersWith(size, accepted).export().tags!;
      const chunks = allTagChunks(tags, size);
      expect(chunks).toHaveLength(Math.ceil(size / CHUNK_SLOTS));
      expect(chunks.reduce((n, c) => n + c.known.length + c.tags.length, 0)).toBe(tags.length);
      expect(assembleTags(chunks, size)).toEqual(tags);
      // Chunks read back as they were written: the counters judge as before.
      const back = EpochCounters.import({ window: countersWith(size, accepted).export().window, tags: assembleTags(chunks, size) }, size)!;
      for (const counter of accepted.slice(-size)) if (back.check(counter) === "seen") expect(back.tagOf(counter)).toEqual(tag(counter));
    });
  }

  it("name the chunk of a counter's slot", () => {
    expect([0, 15, 16, 127, 128, 143, 144].map((c) => chunkOf(c, 128))).toEqual([0, 0, 1, 7, 0, 0, 1]);
    expect([96, 99, 100].map((c) => chunkOf(c, 100))).toEqual([6, 6, 0]);
  });

  it("leave the slots of chunks not read, or that do not fit, unknown", () => {
    const size = 128;
    const counters = countersWith(size, [3, 20, 40]);
    const tags = counters.export().tags!;
    const read = [tagChunk(tags, size, chunkOf(20, size)), { chunk: 2, known: new Uint8Array(1), tags: new Uint8Array(256) }, { chunk: 99, known: new Uint8Array(2), tags: new Uint8Array(256) }];
    const back = EpochCounters.import({ window: counters.export().window, tags: assembleTags(read, size) }, size)!;
    expect(back.tagOf(20)).toEqual(tag(20));
    expect(back.tagOf(3)).toBeUndefined(); // chunk 0 not read
    expect(back.tagOf(40)).toBeUndefined(); // chunk 2 did not fit
  });
});
