import { describe, expect, it } from "vitest";
import { STORE_VALUE_MAX_BYTES } from "../../src/platform.js";
import { CHUNKED_VALUE_MAX_BYTES, ChunkedValueError, chunkedWrites, readChunked } from "../../src/store-chunks.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";

function bytes(length: number, seed: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

describe("a value kept in store chunks", () => {
  it.each([0, 1, STORE_VALUE_MAX_BYTES - 4, STORE_VALUE_MAX_BYTES - 3, 4500, CHUNKED_VALUE_MAX_BYTES])("reads back %i bytes whole, each chunk within a store value", (length) => {
    const store = new MemoryStore();
    const writes = chunkedWrites("disclosure", bytes(length, 7));
    for (const write of writes) expect(write.value?.length ?? 0).toBeLessThanOrEqual(STORE_VALUE_MAX_BYTES);
    store.commit(writes);
    expect(readChunked(store, "disclosure")).toEqual(bytes(length, 7));
  });

  it("a shorter value replaces a longer one and leaves none of its chunks", () => {
    const store = new MemoryStore();
    store.commit(chunkedWrites("disclosure", bytes(9000, 1)));
    store.commit(chunkedWrites("disclosure", bytes(100, 2)));
    expect(store.keys("disclosure.")).toEqual(["disclosure.0"]);
    expect(readChunked(store, "disclosure")).toEqual(bytes(100, 2));
  });

  it("none stored reads as undefined; a lost or damaged chunk is an error, never a partial value", () => {
    const store = new MemoryStore();
    expect(readChunked(store, "disclosure")).toBeUndefined();
    store.commit(chunkedWrites("disclosure", bytes(9000, 3)));
    store.commit([{ key: "disclosure.1", value: undefined }]);
    expect(() => readChunked(store, "disclosure")).toThrow(ChunkedValueError);
    store.commit(chunkedWrites("disclosure", bytes(9000, 3)));
    store.commit([{ key: "disclosure.2", value: bytes(10, 0) }]);
    expect(() => readChunked(store, "disclosure")).toThrow(ChunkedValueError);
    expect(() => chunkedWrites("disclosure", bytes(CHUNKED_VALUE_MAX_BYTES + 1, 0))).toThrow(ChunkedValueError);
  });
});
