import { describe, expect, it } from "vitest";
import { decodeCounterRecord, encodeCounterRecord, SEAL_COUNTER_KEY, SealCounter, SealCounterCorruptError } from "../../../src/wire/seal-counter.js";
import { MemoryStore, StoreCommitError } from "../../../hosts/sim/memory-store.js";

describe("SealCounter", () => {
  it("starts a new device at 0 and persists a ceiling one block ahead before handing out values", () => {
    const store = new MemoryStore();
    const counter = new SealCounter(store, 4);
    counter.load();
    expect(decodeCounterRecord(store.get(SEAL_COUNTER_KEY)!)).toEqual({ epoch: 0, ceiling: 4 });
    expect([counter.take(), counter.take(), counter.take(), counter.take()]).toEqual([0, 1, 2, 3]);
    expect(store.commits).toBe(1);
    expect(counter.take()).toBe(4);
    expect(decodeCounterRecord(store.get(SEAL_COUNTER_KEY)!)).toEqual({ epoch: 0, ceiling: 8 });
  });

  it("resumes after a reboot above every value that may have been used", () => {
    const store = new MemoryStore();
    const first = new SealCounter(store, 8);
    first.load();
    const used = [first.take(), first.take(), first.take()];
    const second = new SealCounter(store, 8);
    second.load();
    expect(second.take()).toBeGreaterThan(Math.max(...used));
  });

  it("never repeats a value when the store fails at any commit (power cut), across reboots", () => {
    for (let failAt = 0; failAt < 12; failAt++) {
      const store = new MemoryStore();
      const seen = new Set<number>();
      let counter = new SealCounter(store, 3);
      counter.load();
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
          counter.load();
        }
      }
      expect(seen.size).toBeGreaterThan(30);
    }
  });

  it("refuses to resume from a corrupt record instead of guessing", () => {
    const store = new MemoryStore();
    const record = encodeCounterRecord({ epoch: 2, ceiling: 1000 });
    record[10]! ^= 0x40;
    store.commit([{ key: SEAL_COUNTER_KEY, value: record }]);
    expect(() => new SealCounter(store, 8).load()).toThrow(SealCounterCorruptError);
  });

  it("round-trips records with counters beyond 32 bits", () => {
    const state = { epoch: 3, ceiling: 2 ** 39 + 12345 };
    expect(decodeCounterRecord(encodeCounterRecord(state))).toEqual(state);
    expect(decodeCounterRecord(new Uint8Array(20))).toBeUndefined();
  });
});
