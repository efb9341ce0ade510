/**
 * The fuzzing harness itself (test/support/fuzz.ts): a hang is a failing case with a replay line, not
 * a stuck test; mutations do what they say; CRC-detectable changes are never the identity.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../src/wire/crc32.js";
import { applyMutations, CASE_LIMIT_MS, crcDetectable, fuzzProperty, fuzzSeed, type Mutation } from "../support/fuzz.js";

describe("fuzzing harness", () => {
  it("reports an endless loop as a failing case, with its seed and the command that replays it", () => {
    const started = performance.now();
    let message = "";
    try {
      fuzzProperty("harness.hang", 50, fc.integer({ min: 0, max: 5 }), (n) => {
        while (n === 3) {
          // a parser that never returns on this input
        }
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/case did not finish within \d+ ms \(a hang\)/);
    expect(message).toMatch(/replay: CIVICNODE_FUZZ_REPLAY='harness\.hang:-?\d+:[\d:]+'/);
    expect(message).toContain("Counterexample: [3]");
    // One full case limit, then shrinking under the shorter one: not minutes.
    expect(performance.now() - started).toBeLessThan(CASE_LIMIT_MS * 10);
  });

  it("applies each kind of mutation as documented", () => {
    const input = Uint8Array.of(10, 11, 12, 13);
    const other = Uint8Array.of(20, 21, 22);
    const apply = (m: Mutation, lengthFields?: number[]) => [...applyMutations(input, [m], other, lengthFields ? { lengthFields: () => lengthFields } : {})];
    expect(apply({ kind: "flip", at: 5, bit: 0 })).toEqual([10, 10, 12, 13]);
    expect(apply({ kind: "set", at: 2, byte: 0xff })).toEqual([10, 11, 0xff, 13]);
    expect(apply({ kind: "truncate", at: 3 })).toEqual([10, 11, 12]);
    expect(apply({ kind: "extend", bytes: Uint8Array.of(1, 2) })).toEqual([10, 11, 12, 13, 1, 2]);
    expect(apply({ kind: "insert", at: 1, bytes: Uint8Array.of(7) })).toEqual([10, 7, 11, 12, 13]);
    expect(apply({ kind: "delete", at: 1, count: 2 })).toEqual([10, 13]);
    expect(apply({ kind: "length", at: 0, edit: 0 }, [3])).toEqual([10, 11, 12, 0]);
    expect(apply({ kind: "length", at: 1, edit: 12 })).toEqual([10, 12, 12, 13]); // nudged by +1
    expect(apply({ kind: "length", at: 1, edit: 13 })).toEqual([10, 10, 12, 13]); // nudged by -1
    expect(apply({ kind: "splice", at: 2, from: 1 })).toEqual([10, 11, 21, 22]);
    expect([...input]).toEqual([10, 11, 12, 13]); // the valid input itself is left alone
  });

  it("CRC-detectable changes always change the record and its CRC-32 check", () => {
    fuzzProperty("harness.crc-detectable", 500, fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }), crcDetectable), ([body, change]) => {
      const record = new Uint8Array(body.length + 4);
      record.set(body);
      new DataView(record.buffer).setUint32(body.length, crc32(body));
      const changed = change(record);
      expect(changed.length).toBe(record.length);
      expect(changed.some((b, i) => b !== record[i])).toBe(true);
      const view = new DataView(changed.buffer);
      expect(view.getUint32(changed.length - 4)).not.toBe(crc32(changed.subarray(0, changed.length - 4)));
    });
  });

  it("gives every property its own fixed seed", () => {
    expect(fuzzSeed("cbor.random")).toBe(fuzzSeed("cbor.random"));
    expect(fuzzSeed("cbor.random")).not.toBe(fuzzSeed("cbor.mutated"));
  });
});
