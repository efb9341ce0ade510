import { describe, expect, it } from "vitest";
import { DiscreteLaplace, UniformIntegers } from "../../../src/privacy/discrete-laplace.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";

/** P(Z = z) for discrete Laplace with P ∝ exp(-|z| / b), b = t/s. */
function pmf(z: number, b: number): number {
  const a = Math.exp(-1 / b);
  return ((1 - a) / (1 + a)) * Math.pow(a, Math.abs(z));
}

/** Upper-tail chi-square critical values at significance 0.001 by degrees of freedom. */
const CHI2_999: Record<number, number> = { 10: 29.59, 15: 37.7, 20: 45.31, 25: 52.62, 30: 59.7 };

describe("uniform integers from CSPRNG bytes", () => {
  it("are uniform (no modulo bias) for an awkward bound", () => {
    const u = new UniformIntegers(new SeededRandom("uniform"));
    const bound = 3; // 2^32 is not a multiple of 3: plain modulo would favour 0
    const counts = [0, 0, 0];
    const n = 300_000;
    for (let i = 0; i < n; i++) counts[u.below(bound)]!++;
    const chi2 = counts.reduce((sum, c) => sum + (c - n / 3) ** 2 / (n / 3), 0);
    expect(chi2).toBeLessThan(13.82); // 2 degrees of freedom, significance 0.001
  });
});

describe("discrete Laplace sampling (Canonne, Kamath, Steinke 2020)", () => {
  it.each([
    [1, 1, "scale 1"],
    [2000, 1000, "scale 2 (Δ 1, ε 0.5)"],
    [6000, 500, "scale 12 (Δ 6, ε 0.5)"],
  ])("matches the pmf by a chi-square test at significance 0.001 (t = %d, s = %d, %s)", (t, s) => {
    const sampler = new DiscreteLaplace(new SeededRandom(`dlap-${t}-${s}`));
    const b = t / s;
    const n = 60_000;
    const counts = new Map<number, number>();
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const z = sampler.sample(t, s);
      expect(Number.isInteger(z)).toBe(true);
      counts.set(z, (counts.get(z) ?? 0) + 1);
      sum += z;
    }
    // Bins: each z with expected count >= 5, the two tails pooled.
    let limit = 0;
    while (n * pmf(limit + 1, b) >= 5) limit++;
    let chi2 = 0;
    let bins = 0;
    for (let z = -limit; z <= limit; z++) {
      const expected = n * pmf(z, b);
      chi2 += ((counts.get(z) ?? 0) - expected) ** 2 / expected;
      bins++;
    }
    let tailObserved = 0;
    for (const [z, c] of counts) if (Math.abs(z) > limit) tailObserved += c;
    let tailExpected = n;
    for (let z = -limit; z <= limit; z++) tailExpected -= n * pmf(z, b);
    chi2 += (tailObserved - tailExpected) ** 2 / tailExpected;
    bins++;
    const df = bins - 1;
    const critical = CHI2_999[[10, 15, 20, 25, 30].find((d) => d >= df) ?? 30]! + Math.max(0, df - 30) * 1.5;
    expect(chi2).toBeLessThan(critical);
    // Unbiased: the mean is 0 within 4 standard errors (variance 2a/(1-a)^2).
    const a = Math.exp(-1 / b);
    const sd = Math.sqrt((2 * a) / (1 - a) ** 2);
    expect(Math.abs(sum / n)).toBeLessThan((4 * sd) / Math.sqrt(n));
  });

  it("draws Bernoulli(exp(-γ)) with the right probability for γ > 1", () => {
    const sampler = new DiscreteLaplace(new SeededRandom("bexp"));
    let ones = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) if (sampler.bernoulliExp(5, 2)) ones++; // exp(-2.5) = 0.0821
    const p = Math.exp(-2.5);
    expect(Math.abs(ones / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });

  it("gives noise for a count with Δ and ε of scale Δ/ε", () => {
    const sampler = new DiscreteLaplace(new SeededRandom("noise-scale"));
    const n = 40_000;
    let absSum = 0;
    for (let i = 0; i < n; i++) absSum += Math.abs(sampler.noise(2, 500)); // scale 4
    const a = Math.exp(-1 / 4);
    const expectedAbs = (2 * a) / (1 - a * a); // E|Z| for the discrete Laplace
    expect(absSum / n).toBeGreaterThan(expectedAbs * 0.95);
    expect(absSum / n).toBeLessThan(expectedAbs * 1.05);
  });
});
