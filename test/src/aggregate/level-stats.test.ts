import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { LevelStats } from "../../../src/aggregate/level-stats.js";

function statsOf(levels: readonly number[], options?: ConstructorParameters<typeof LevelStats>[0]): LevelStats {
  const stats = new LevelStats(options);
  for (const level of levels) stats.add(level);
  return stats;
}

/**
 * The definition, written the slow way: round every sample to the 0.1 dB grid, sort ascending, take the
 * sample of 1-based rank r = n - floor(N·n/100) (rank 1 when that is 0).
 */
function referenceExceeded(levels: readonly number[], percent: number): number {
  const sorted = levels.map((l) => Math.round(Math.min(150, Math.max(0, l)) * 10) / 10).sort((a, b) => a - b);
  const n = sorted.length;
  const rank = Math.max(1, n - Math.floor((percent * n) / 100 + 1e-9));
  return sorted[rank - 1]!;
}

describe("LevelStats: Leq is an energy average", () => {
  it("averages 60 and 70 dB to 67.40 dB, not 65", () => {
    // 10·log10((10^(60/10) + 10^(70/10)) / 2) = 10·log10((10^6 + 10^7) / 2) = 10·log10(5.5·10^6) = 67.4036
    const stats = statsOf([60, 70]);
    expect(stats.leq).toBeCloseTo(67.4036, 4);
    expect(stats.leq).not.toBeCloseTo(65, 1);
  });

  it("gives 55.41 dB for ten samples 50..59", () => {
    // Σ 10^(L/10) = 10^5 · (1 + 10^0.1 + ... + 10^0.9) = 10^5 · (10 - 1) / (10^0.1 - 1) = 10^5 · 34.759
    // Leq = 10·log10(34.759·10^5 / 10) = 10·log10(3.4759·10^5) = 55.4107
    const stats = statsOf([50, 51, 52, 53, 54, 55, 56, 57, 58, 59]);
    expect(stats.leq).toBeCloseTo(55.4107, 4);
  });

  it("is the level itself for a constant level, as are L10, L50 and L90", () => {
    const stats = statsOf(Array.from({ length: 500 }, () => 63));
    expect(stats.leq).toBeCloseTo(63, 10);
    expect(stats.exceeded(10)).toBe(63);
    expect(stats.exceeded(50)).toBe(63);
    expect(stats.exceeded(90)).toBe(63);
    expect(stats.min).toBe(63);
    expect(stats.max).toBe(63);
  });

  it("keeps Leq exact off the grid while percentiles are reported at 0.1 dB", () => {
    const stats = statsOf([63.47, 63.47, 63.47]);
    expect(stats.leq).toBeCloseTo(63.47, 10);
    expect(stats.exceeded(10)).toBe(63.5); // 634.7 rounds to bin 635
    expect(stats.min).toBe(63.47);
  });

  it("is safe at the top of the range and beyond (no overflow)", () => {
    const stats = statsOf([150, 150]);
    expect(stats.leq).toBeCloseTo(150, 10);
    expect(statsOf([400]).leq).toBeCloseTo(400, 8);
    expect(statsOf([-200, -200]).leq).toBeCloseTo(-200, 8);
  });
});

describe("LevelStats: percentile levels L_N", () => {
  // Ten samples 50, 51, ..., 59, n = 10, by the definition "the lowest sample level x with at most
  // N % of the samples above it", i.e. the sample of rank r = n - floor(N·n/100) from the bottom:
  //   L10: floor(10·10/100) = 1 may lie above -> rank 9 -> 58 (only 59 lies above)
  //   L50: floor(50·10/100) = 5 may lie above -> rank 5 -> 54 (55, 56, 57, 58, 59 lie above)
  //   L90: floor(90·10/100) = 9 may lie above -> rank 1 -> 50 (51..59 lie above)
  //   L0:  none may lie above -> the maximum 59; L100: all may -> the minimum 50
  //   L15: floor(1.5) = 1 -> 58 as well; L95: floor(9.5) = 9 -> 50
  const ten = [57, 50, 59, 53, 51, 58, 52, 56, 54, 55]; // order does not matter
  it.each([
    [10, 58],
    [50, 54],
    [90, 50],
    [0, 59],
    [100, 50],
    [15, 58],
    [95, 50],
    [20, 57],
    [80, 51],
  ])("L%d of 50..59 is %d", (percent, level) => {
    expect(statsOf(ten).exceeded(percent)).toBe(level);
  });

  it("handles ties: [60, 60, 60, 70] has L10 = 70 (nothing above), L50 = 60 (only the 70 above)", () => {
    // n = 4. L10: floor(0.4) = 0 may lie above -> rank 4 -> 70. L50: floor(2) = 2 -> rank 2 -> 60.
    // L25: floor(1) = 1 may lie above -> rank 3 -> 60 (one sample, 70, lies above 60).
    const stats = statsOf([60, 70, 60, 60]);
    expect(stats.exceeded(10)).toBe(70);
    expect(stats.exceeded(25)).toBe(60);
    expect(stats.exceeded(50)).toBe(60);
  });

  it("reports decimal levels exactly on the 0.1 dB grid", () => {
    expect(statsOf([0.3]).exceeded(50)).toBe(0.3); // 0.3 / 0.1 is 2.9999999999999996 in binary
    expect(statsOf([58.3]).exceeded(50)).toBe(58.3);
    expect(statsOf([58.34]).exceeded(50)).toBe(58.3);
    expect(statsOf([58.36]).exceeded(50)).toBe(58.4);
  });

  it("puts values beyond the histogram into its end bins, but keeps min, max and Leq exact", () => {
    const stats = statsOf([-5, 170, 60]);
    expect(stats.exceeded(0)).toBe(150);
    expect(stats.exceeded(100)).toBe(0);
    expect(stats.min).toBe(-5);
    expect(stats.max).toBe(170);
    // Leq: 10·log10((10^-0.5 + 10^17 + 10^6) / 3) = 170 - 10·log10(3) + tiny = 165.229
    expect(stats.leq).toBeCloseTo(170 - 10 * Math.log10(3), 6);
  });

  it("honours its own range and resolution", () => {
    // Bins of 0.5 dB from 30 dB: 32.4 -> round(4.8) = bin 5 = 32.5; 33.6 -> round(7.2) = bin 7 = 33.5;
    // 20 (below the range) -> bin 0 = 30. Sorted binned samples: 30, 31, 32.5, 33.5, 129 (n = 5).
    const stats = statsOf([31, 32.4, 33.6, 129, 20], { minDb: 30, maxDb: 130, resolutionDb: 0.5 });
    expect(stats.exceeded(0)).toBe(129);
    expect(stats.exceeded(20)).toBe(33.5); // floor(1) = 1 may lie above -> rank 4
    expect(stats.exceeded(50)).toBe(32.5); // floor(2.5) = 2 -> rank 3
    expect(stats.exceeded(60)).toBe(31); // floor(3) = 3 -> rank 2
    expect(stats.exceeded(80)).toBe(30); // floor(4) = 4 -> rank 1: the clamped 20 dB
    expect(stats.min).toBe(20);
  });
});

describe("LevelStats: bookkeeping", () => {
  it("is NaN everywhere when empty, and after reset", () => {
    const stats = new LevelStats();
    expect(stats.count).toBe(0);
    expect(stats.leq).toBeNaN();
    expect(stats.exceeded(10)).toBeNaN();
    expect(stats.min).toBeNaN();
    expect(stats.max).toBeNaN();
    stats.add(70);
    expect(stats.count).toBe(1);
    stats.reset();
    expect(stats.count).toBe(0);
    expect(stats.leq).toBeNaN();
    expect(stats.exceeded(90)).toBeNaN();
    stats.add(40);
    expect(stats.exceeded(0)).toBe(40); // the 70 of before the reset is gone from the bins
    expect(stats.leq).toBeCloseTo(40, 10);
  });

  it("ignores NaN and infinities", () => {
    const stats = statsOf([Number.NaN, 60, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(stats.count).toBe(1);
    expect(stats.leq).toBeCloseTo(60, 10);
    expect(stats.max).toBe(60);
  });

  it("rejects bad percents and bad options", () => {
    const stats = statsOf([60]);
    expect(() => stats.exceeded(-1)).toThrow(RangeError);
    expect(() => stats.exceeded(101)).toThrow(RangeError);
    expect(() => stats.exceeded(Number.NaN)).toThrow(RangeError);
    expect(() => new LevelStats({ minDb: 100, maxDb: 50 })).toThrow(RangeError);
    expect(() => new LevelStats({ resolutionDb: 0 })).toThrow(RangeError);
    expect(() => new LevelStats({ resolutionDb: 0.0001 })).toThrow(/bins/);
    expect(() => new LevelStats({ maxDb: Number.POSITIVE_INFINITY })).toThrow(RangeError);
  });
});

describe("LevelStats: properties", () => {
  const level = fc.double({ min: -20, max: 170, noNaN: true, noDefaultInfinity: true });
  const levels = fc.array(level, { minLength: 1, maxLength: 300 });
  const percent = fc.integer({ min: 0, max: 100 });

  it("L_N equals the sort-based nearest-rank definition", () => {
    fc.assert(
      fc.property(levels, percent, (ls, p) => {
        expect(statsOf(ls).exceeded(p)).toBeCloseTo(referenceExceeded(ls, p), 9);
      }),
    );
  });

  it("L_N never increases with N, and L0 / L100 are the binned max / min", () => {
    fc.assert(
      fc.property(levels, (ls) => {
        const stats = statsOf(ls);
        let previous = Infinity;
        for (let p = 0; p <= 100; p += 5) {
          const l = stats.exceeded(p);
          expect(l).toBeLessThanOrEqual(previous);
          previous = l;
        }
        expect(stats.exceeded(0)).toBeCloseTo(referenceExceeded([stats.max], 0), 9);
        expect(stats.exceeded(100)).toBeCloseTo(referenceExceeded([stats.min], 0), 9);
      }),
    );
  });

  it("Leq lies between min and max and is never below the arithmetic mean (Jensen)", () => {
    fc.assert(
      fc.property(levels, (ls) => {
        const stats = statsOf(ls);
        const mean = ls.reduce((a, b) => a + b, 0) / ls.length;
        expect(stats.leq).toBeGreaterThanOrEqual(stats.min - 1e-9);
        expect(stats.leq).toBeLessThanOrEqual(stats.max + 1e-9);
        expect(stats.leq).toBeGreaterThanOrEqual(mean - 1e-9);
      }),
    );
  });

  it("the order of the samples does not matter", () => {
    fc.assert(
      fc.property(levels, percent, (ls, p) => {
        const forward = statsOf(ls);
        const backward = statsOf([...ls].reverse());
        expect(backward.exceeded(p)).toBe(forward.exceeded(p));
        expect(backward.leq).toBeCloseTo(forward.leq, 9);
      }),
    );
  });
});
