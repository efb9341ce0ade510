import { describe, expect, it } from "vitest";
import { HyperLogLog } from "../../../src/privacy/hyperloglog.js";
import { Prng } from "../../../hosts/sim/prng.js";

describe("HyperLogLog (p = 12)", () => {
  const se = HyperLogLog.standardError; // 1.04 / sqrt(4096) = 1.625 %

  it.each([100, 1_000, 10_000, 100_000])("estimates %d distinct values within 3 standard errors", (n) => {
    const random = new Prng(`hll-${n}`);
    const sketch = new HyperLogLog();
    for (let i = 0; i < n; i++) sketch.add(random.nextUint32(), random.nextUint32());
    const estimate = sketch.estimate();
    expect(Math.abs(estimate - n)).toBeLessThanOrEqual(3 * se * n);
  });

  it("is unmoved by repeats", () => {
    const random = new Prng("repeats");
    const values = Array.from({ length: 1000 }, () => [random.nextUint32(), random.nextUint32()] as const);
    const sketch = new HyperLogLog();
    for (let round = 0; round < 10; round++) for (const [h, l] of values) sketch.add(h, l);
    const once = new HyperLogLog();
    for (const [h, l] of values) once.add(h, l);
    expect(sketch.estimate()).toBe(once.estimate());
  });

  it("has an error spread consistent with its standard error over many sketches", () => {
    const random = new Prng("spread");
    const errors: number[] = [];
    for (let trial = 0; trial < 40; trial++) {
      const sketch = new HyperLogLog();
      for (let i = 0; i < 20_000; i++) sketch.add(random.nextUint32(), random.nextUint32());
      errors.push(sketch.estimate() / 20_000 - 1);
    }
    const rms = Math.sqrt(errors.reduce((a, e) => a + e * e, 0) / errors.length);
    expect(rms).toBeLessThan(2 * se);
    expect(rms).toBeGreaterThan(se / 3);
  });

  it("keeps fixed memory: 4 KB whatever it counts, empty again after reset", () => {
    expect(HyperLogLog.bytes).toBe(4096);
    const sketch = new HyperLogLog();
    expect(sketch.empty).toBe(true);
    sketch.add(0xdeadbeef, 1);
    expect(sketch.empty).toBe(false);
    sketch.reset();
    expect(sketch.empty).toBe(true);
    expect(sketch.estimate()).toBe(0);
  });
});
