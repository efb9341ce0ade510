import { describe, expect, it } from "vitest";
import { FilterChain } from "../../../src/sensors/channel-filters.js";

const range = { min: -40, max: 125 };
const run = (chain: FilterChain, values: number[], stepMs = 1000) => values.map((v, i) => chain.apply(v, i * stepMs));

describe("channel filter chains", () => {
  it("passes values through when empty", () => {
    expect(run(new FilterChain([], range), [1, 2, 3])).toEqual([1, 2, 3]);
  });

  it("calibrates linearly", () => {
    expect(run(new FilterChain([{ calibrate: { slope: 2, offset: -1 } }], range), [0, 1, 10])).toEqual([-1, 1, 19]);
  });

  it("rejects a wild reading with a sliding median of N", () => {
    const out = run(new FilterChain([{ median: 3 }], range), [20, 21, 95, 22, 21, 23]);
    // windows: [20], [20,21], [20,21,95], [21,95,22], [95,22,21], [22,21,23]
    expect(out).toEqual([20, 20.5, 21, 22, 22, 22]);
    expect(out).not.toContain(95);
  });

  it("clamps to the given bounds, or to the part's range when a bound is left out", () => {
    expect(run(new FilterChain([{ clamp: { min: 0, max: 50 } }], range), [-5, 10, 70])).toEqual([0, 10, 50]);
    expect(run(new FilterChain([{ clamp: {} }], range), [-60, 10, 200])).toEqual([-40, 10, 125]);
  });

  it("throttles to one value per interval", () => {
    const out = run(new FilterChain([{ throttle: 2.5 }], range), [1, 2, 3, 4, 5, 6], 1000);
    expect(out.map((v) => (Number.isNaN(v) ? "-" : v))).toEqual([1, "-", "-", 4, "-", "-"]);
  });

  it("applies steps in order and stops at a dropped value", () => {
    const chain = new FilterChain([{ calibrate: { slope: 1, offset: 100 } }, { clamp: {} }, { throttle: 10 }], range);
    expect(run(chain, [10, 20])).toEqual([110, NaN]);
    expect(new FilterChain([{ clamp: {} }, { calibrate: { slope: 1, offset: 100 } }], range).apply(40, 0)).toBe(140);
  });

  it("keeps fixed memory: a long stream through a median never grows it", () => {
    const chain = new FilterChain([{ median: 15 }], range);
    let last = 0;
    for (let i = 0; i < 100_000; i++) last = chain.apply(i % 100, i);
    expect(last).toBeGreaterThanOrEqual(0);
  });
});
