import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { blake2s } from "@noble/hashes/blake2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { KeyedBlake2s } from "../../../src/privacy/keyed-blake2s.js";

describe("KeyedBlake2s", () => {
  it('gives the RFC 7693 Appendix B digest of "abc" (unkeyed, 32 bytes)', () => {
    const prf = new KeyedBlake2s(32);
    prf.setKey(new Uint8Array(0));
    const out = new Uint8Array(32);
    prf.hash(Uint8Array.of(0x61, 0x62, 0x63), 3, out);
    expect(bytesToHex(out)).toBe("508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  });

  it("gives the BLAKE2s digest of the empty message (unkeyed)", () => {
    const prf = new KeyedBlake2s(32);
    prf.setKey(new Uint8Array(0));
    const out = new Uint8Array(32);
    prf.hash(new Uint8Array(0), 0, out);
    expect(bytesToHex(out)).toBe("69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
  });

  it("agrees with @noble/hashes for random keys, messages and digest lengths", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.integer({ min: 1, max: 32 }),
        (key, message, outLength) => {
          const prf = new KeyedBlake2s(outLength);
          prf.setKey(key);
          const out = new Uint8Array(outLength);
          prf.hash(message, message.length, out);
          expect(bytesToHex(out)).toBe(bytesToHex(blake2s(message, { key, dkLen: outLength })));
        },
      ),
      { numRuns: 500, seed: 7693 },
    );
  });

  it("reuses its key state for many messages, and wipe() makes it refuse to hash", () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const prf = new KeyedBlake2s(8);
    prf.setKey(key);
    const a = new Uint8Array(8);
    const b = new Uint8Array(8);
    prf.hash(Uint8Array.of(1, 2, 3, 4, 5, 6), 6, a);
    prf.hash(Uint8Array.of(9, 9, 9), 3, b);
    prf.hash(Uint8Array.of(1, 2, 3, 4, 5, 6), 6, b);
    expect(b).toEqual(a);
    expect(bytesToHex(a)).toBe(bytesToHex(blake2s(Uint8Array.of(1, 2, 3, 4, 5, 6), { key, dkLen: 8 })));
    prf.wipe();
    expect(() => prf.hash(Uint8Array.of(1), 1, b)).toThrow();
  });

  it("refuses what it cannot do correctly", () => {
    expect(() => new KeyedBlake2s(33)).toThrow(RangeError);
    const prf = new KeyedBlake2s(8);
    expect(() => prf.setKey(new Uint8Array(33))).toThrow(RangeError);
    prf.setKey(new Uint8Array(16).fill(1));
    expect(() => prf.hash(new Uint8Array(65), 65, new Uint8Array(8))).toThrow(RangeError);
    expect(() => prf.hash(new Uint8Array(0), 0, new Uint8Array(8))).toThrow(RangeError);
  });
});
