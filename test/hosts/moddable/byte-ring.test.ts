import { describe, expect, it } from "vitest";
import { ByteRing } from "../../../hosts/moddable/byte-ring.js";

const bytes = (...values: number[]) => Uint8Array.from(values);

describe("ByteRing", () => {
  it("returns bytes in arrival order across the wrap", () => {
    const ring = new ByteRing(4);
    ring.write(bytes(1, 2, 3), 3);
    const out = new Uint8Array(2);
    expect(ring.read(out)).toBe(2);
    expect([...out]).toEqual([1, 2]);
    ring.write(bytes(4, 5, 6), 3); // wraps past the end of the buffer
    const rest = new Uint8Array(8);
    expect(ring.read(rest)).toBe(4);
    expect([...rest.subarray(0, 4)]).toEqual([3, 4, 5, 6]);
    expect(ring.length).toBe(0);
    expect(ring.overrunBytes).toBe(0);
  });

  it("writes only the count it is given", () => {
    const ring = new ByteRing(8);
    ring.write(bytes(9, 8, 7, 6), 2);
    expect(ring.length).toBe(2);
    const out = new Uint8Array(4);
    expect(ring.read(out)).toBe(2);
    expect([...out.subarray(0, 2)]).toEqual([9, 8]);
  });

  it("keeps the newest bytes when full and counts what it overwrote", () => {
    const ring = new ByteRing(3);
    ring.write(bytes(1, 2, 3, 4, 5), 5);
    expect(ring.overrunBytes).toBe(2);
    const out = new Uint8Array(3);
    expect(ring.read(out)).toBe(3);
    expect([...out]).toEqual([3, 4, 5]);
  });

  it("reads nothing when empty", () => {
    expect(new ByteRing(2).read(new Uint8Array(4))).toBe(0);
  });

  it("clear forgets what it held", () => {
    const ring = new ByteRing(4);
    ring.write(bytes(7, 7), 2);
    ring.clear();
    expect(ring.length).toBe(0);
    expect(ring.read(new Uint8Array(4))).toBe(0);
    ring.write(bytes(1), 1);
    const out = new Uint8Array(1);
    ring.read(out);
    expect(out[0]).toBe(1);
  });

  it("refuses a capacity that is not a positive whole number", () => {
    expect(() => new ByteRing(0)).toThrow(RangeError);
    expect(() => new ByteRing(2.5)).toThrow(RangeError);
  });
});
