import { describe, expect, it } from "vitest";
import { Prng, SeededRandom, fillSeededBytes, fnv1a32, hashUnit } from "../../../hosts/sim/prng.js";

function take(prng: Prng, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(prng.nextUint32());
  return out;
}

describe("Prng", () => {
  it("hashes text with standard FNV-1a over UTF-8", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("foobar")).toBe(0xbf9cf968);
    // "é" is two UTF-8 bytes, the same as hashing them one by one
    expect(fnv1a32("\u00e9")).not.toBe(fnv1a32("\u00e8"));
  });

  it("gives the same sequence for the same seed", () => {
    expect(take(new Prng(42), 100)).toEqual(take(new Prng(42), 100));
    expect(take(new Prng("node-7"), 100)).toEqual(take(new Prng("node-7"), 100));
  });

  it("gives different sequences for different seeds", () => {
    const seeds: (number | string)[] = [0, 1, 2, 42, -1, 2 ** 32, 2 ** 32 + 1, "0", "1", "a", "b", ""];
    const firsts = seeds.map((seed) => take(new Prng(seed), 4).join(","));
    expect(new Set(firsts).size).toBe(seeds.length);
  });

  it("produces integers in [0, 2^32) that look uniform", () => {
    const prng = new Prng(7);
    let ones = 0;
    let bad = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const v = prng.nextUint32();
      if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) bad++;
      ones += (v >>> 31) + (v & 1);
    }
    expect(bad).toBe(0);
    // each bit is 1 with p = 0.5: 2n bits, sd = sqrt(2n)/2 ≈ 71
    expect(Math.abs(ones - n)).toBeLessThan(400);
  });

  it("keeps next() in [0, 1) and range() in [lo, hi)", () => {
    const prng = new Prng("floats");
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = prng.next();
      if (!(x >= 0 && x < 1)) outside++;
      sum += x;
      const y = prng.range(-3, 5);
      if (!(y >= -3 && y < 5)) outside++;
    }
    expect(outside).toBe(0);
    expect(Math.abs(sum / 100_000 - 0.5)).toBeLessThan(0.01);
  });

  it("draws integers within bounds, every value reachable", () => {
    const prng = new Prng(3);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const v = prng.int(-2, 3);
      expect(v >= -2 && v < 3 && Number.isInteger(v)).toBe(true);
      seen.add(v);
    }
    expect(seen.size).toBe(5);
    expect(() => prng.int(3, 3)).toThrow(RangeError);
  });

  it("draws standard normals: mean ≈ 0 and sd ≈ 1 over 100k draws", () => {
    const prng = new Prng(2024);
    const n = 100_000;
    let sum = 0;
    let sumSq = 0;
    let beyond3 = 0;
    let nonFinite = 0;
    for (let i = 0; i < n; i++) {
      const z = prng.normal();
      if (!Number.isFinite(z)) nonFinite++;
      sum += z;
      sumSq += z * z;
      if (Math.abs(z) > 3) beyond3++;
    }
    const mean = sum / n;
    const sd = Math.sqrt(sumSq / n - mean * mean);
    expect(nonFinite).toBe(0);
    // standard error of the mean is 1/sqrt(n) ≈ 0.0032; of the sd ≈ 0.0022: tolerances are ~5 standard errors
    expect(Math.abs(mean)).toBeLessThan(0.016);
    expect(Math.abs(sd - 1)).toBeLessThan(0.011);
    // P(|z| > 3) = 0.27 %: 270 expected
    expect(beyond3).toBeGreaterThan(180);
    expect(beyond3).toBeLessThan(370);
  });

  it("is deterministic for normal() too", () => {
    const a = new Prng(5);
    const b = new Prng(5);
    for (let i = 0; i < 101; i++) expect(a.normal()).toBe(b.normal());
  });

  it("forks independent, reproducible children without disturbing the parent", () => {
    const parent = new Prng("world");
    const untouched = new Prng("world");
    const childA = parent.fork("node-1");
    const childB = parent.fork("node-2");
    // forking draws nothing from the parent
    expect(take(parent, 10)).toEqual(take(untouched, 10));
    // same label, same stream; regardless of the parent's position
    expect(take(parent.fork("node-1"), 10)).toEqual(take(new Prng("world").fork("node-1"), 10));
    const a = take(childA, 50);
    const b = take(childB, 50);
    expect(a).not.toEqual(b);
    // children differ from the parent and from a root seeded with the label
    expect(a).not.toEqual(take(new Prng("world"), 50));
    expect(a).not.toEqual(take(new Prng("node-1"), 50));
    // drawing from one child leaves the other's sequence unchanged
    const childB2 = new Prng("world").fork("node-2");
    const c = new Prng("world").fork("node-1");
    take(c, 1000);
    expect(take(childB2, 50)).toEqual(b);
    // grandchildren differ by path
    expect(take(parent.fork("a").fork("b"), 5)).not.toEqual(take(parent.fork("b").fork("a"), 5));
  });

  it("shows no correlation between forked streams", () => {
    const x = new Prng(9).fork("x");
    const y = new Prng(9).fork("y");
    const n = 20_000;
    let sxy = 0;
    let sx = 0;
    let sy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < n; i++) {
      const a = x.next();
      const b = y.next();
      sx += a;
      sy += b;
      sxy += a * b;
      sxx += a * a;
      syy += b * b;
    }
    const cov = sxy / n - (sx / n) * (sy / n);
    const r = cov / Math.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2));
    expect(Math.abs(r)).toBeLessThan(0.04); // sd of r ≈ 0.007
  });

  it("hashUnit is a pure function of key and counter, in [0, 1)", () => {
    expect(hashUnit(1, 2, 3)).toBe(hashUnit(1, 2, 3));
    expect(hashUnit(1, 2, 3)).not.toBe(hashUnit(1, 2, 4));
    expect(hashUnit(1, 2, -3)).not.toBe(hashUnit(1, 2, 3));
    expect(hashUnit(1, 2, 2 ** 32 + 3)).not.toBe(hashUnit(1, 2, 3));
    for (let k = -500; k < 500; k++) {
      const u = hashUnit(0xdeadbeef, 7, k);
      expect(u >= 0 && u < 1).toBe(true);
    }
  });
});

describe("fillSeededBytes and SeededRandom", () => {
  it("fills every byte deterministically, any length", () => {
    for (const length of [0, 1, 3, 4, 5, 31, 32, 33]) {
      const a = new Uint8Array(length);
      const b = new Uint8Array(length);
      fillSeededBytes(new Prng(1), a);
      fillSeededBytes(new Prng(1), b);
      expect(a).toEqual(b);
    }
    const big = new Uint8Array(4096);
    fillSeededBytes(new Prng(1), big);
    const counts = new Array<number>(256).fill(0);
    for (const byte of big) counts[byte]!++;
    expect(counts.filter((c) => c === 0).length).toBeLessThan(5); // ~16 per value expected
  });

  it("implements Random reproducibly from a seed", () => {
    const a = new SeededRandom("test-node");
    const b = new SeededRandom("test-node");
    const c = new SeededRandom("other-node");
    const bufA = new Uint8Array(32);
    const bufB = new Uint8Array(32);
    const bufC = new Uint8Array(32);
    a.fill(bufA);
    b.fill(bufB);
    c.fill(bufC);
    expect(bufA).toEqual(bufB);
    expect(bufA).not.toEqual(bufC);
    // successive fills continue the stream
    const next = new Uint8Array(32);
    a.fill(next);
    expect(next).not.toEqual(bufA);
  });

  it("can draw from a given Prng", () => {
    const random = new SeededRandom(new Prng(4));
    const out = new Uint8Array(8);
    random.fill(out);
    const expected = new Uint8Array(8);
    fillSeededBytes(new Prng(4), expected);
    expect(out).toEqual(expected);
  });
});
