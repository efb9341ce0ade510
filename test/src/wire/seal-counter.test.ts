import { describe, expect, it } from "vitest";
import { decodeCounterRecord, encodeCounterRecord, SEAL_COUNTER_KEY, SealCounter } from "../../../src/wire/seal-counter.js";
import { MemoryStore, StoreCommitError } from "../../../hosts/sim/memory-store.js";

/** Starts epoch 0 as the sealer does: commit its first block, then hand out values. */
function started(store: MemoryStore, block: number): SealCounter {
  const counter = new SealCounter(store, block);
  store.commit([counter.firstBlockOf(0)]);
  counter.started(0);
  return counter;
}

describe("SealCounter", () => {
  it("starts an epoch at 0 and persists a ceiling one block ahead before handing out values", () => {
    const store = new MemoryStore();
    const counter = started(store, 8);
    expect(decodeCounterRecord(store.get(SEAL_COUNTER_KEY)!)).toEqual({ epoch: 0, ceiling: 8 });
    expect(Array.from({ length: 6 }, () => counter.take())).toEqual([0, 1, 2, 3, 4, 5]);
    expect(store.commits).toBe(1);
    // A quarter of the block left: the next block is committed ahead, one block further.
    expect(counter.take()).toBe(6);
    expect(store.commits).toBe(2);
    expect(decodeCounterRecord(store.get(SEAL_COUNTER_KEY)!)).toEqual({ epoch: 0, ceiling: 16 });
    // One write per block, as before: the next one comes with a quarter of that block left.
    for (let i = 7; i < 14; i++) expect(counter.take()).toBe(i);
    expect(store.commits).toBe(2);
    expect(counter.take()).toBe(14);
    expect(decodeCounterRecord(store.get(SEAL_COUNTER_KEY)!)).toEqual({ epoch: 0, ceiling: 24 });
  });

  it("goes on sealing while the store refuses the next block, up to the ceiling it holds, and never beyond", () => {
    const inner = new MemoryStore();
    let failing = false;
    const store = {
      get: (key: string) => inner.get(key),
      keys: (prefix: string) => inner.keys(prefix),
      commit: (writes: Parameters<MemoryStore["commit"]>[0]) => {
        if (failing) throw new StoreCommitError("ENOSPC");
        inner.commit(writes);
      },
    };
    const counter = new SealCounter(store, 8);
    inner.commit([counter.firstBlockOf(0)]);
    counter.started(0);
    for (let i = 0; i < 5; i++) counter.take();
    failing = true; // the flash is full from now on
    expect([counter.take(), counter.take(), counter.take()]).toEqual([5, 6, 7]); // the block's last quarter and more: all below 8
    expect(() => counter.take()).toThrow(StoreCommitError); // 8 is not reserved: refused
    expect(() => counter.take()).toThrow(StoreCommitError);
    failing = false;
    expect(counter.take()).toBe(8);
    expect(decodeCounterRecord(inner.get(SEAL_COUNTER_KEY)!)!.ceiling).toBe(16);
  });

  it("resumes after a reboot above every value that may have been used", () => {
    const store = new MemoryStore();
    const first = started(store, 8);
    const used = [first.take(), first.take(), first.take()];
    const second = new SealCounter(store, 8);
    second.load(0);
    expect(second.take()).toBeGreaterThan(Math.max(...used));
  });

  it("never repeats a value when the store fails at any commit (power cut), across reboots", () => {
    for (let failAt = 0; failAt < 12; failAt++) {
      const store = new MemoryStore();
      const seen = new Set<number>();
      let counter = started(store, 3);
      store.failCommitIn(failAt);
      for (let i = 0; i < 40; i++) {
        try {
          const value = counter.take();
          expect(seen.has(value)).toBe(false);
          seen.add(value);
        } catch (error) {
          expect(error).toBeInstanceOf(StoreCommitError);
          // Power cut: reboot from whatever the store holds.
          counter = new SealCounter(store, 3);
          counter.load(0);
        }
      }
      expect(seen.size).toBeGreaterThan(30);
    }
  });

  it("refuses to resume from a missing record, a corrupt one, or another epoch's, instead of guessing (and writes nothing)", () => {
    const store = new MemoryStore();
    expect(new SealCounter(store, 8).load(0)).toBe("unusable");
    const record = encodeCounterRecord({ epoch: 2, ceiling: 1000 });
    record[10]! ^= 0x40;
    store.commit([{ key: SEAL_COUNTER_KEY, value: record }]);
    expect(new SealCounter(store, 8).load(2)).toBe("unusable");
    store.commit([{ key: SEAL_COUNTER_KEY, value: encodeCounterRecord({ epoch: 2, ceiling: 1000 }) }]);
    const commits = store.commits;
    expect(new SealCounter(store, 8).load(3)).toBe("unusable");
    expect(store.commits).toBe(commits);
    expect(new SealCounter(store, 8).load(2)).toBe("resumed");
  });

  it("round-trips records with counters beyond 32 bits", () => {
    const state = { epoch: 3, ceiling: 2 ** 39 + 12345 };
    expect(decodeCounterRecord(encodeCounterRecord(state))).toEqual(state);
    expect(decodeCounterRecord(new Uint8Array(20))).toBeUndefined();
  });
});
