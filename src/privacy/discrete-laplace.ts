/**
 * Exact sampling of discrete Laplace (two-sided geometric) noise from CSPRNG bytes, with integer
 * arithmetic only.
 *
 * The distribution with scale t/s: P(Z = z) = (e^(s/t) - 1) / (e^(s/t) + 1) · e^(-|z|·s/t).
 * Adding it to a count with sensitivity Δ at scale Δ/ε gives ε-differential privacy. Floating-
 * point samplers (inverse-CDF Laplace from a random double) leak through the gaps and rounding of
 * doubles (I. Mironov, "On significance of the least significant bits for differential privacy",
 * CCS 2012). So this sampler never touches a random float. It follows Canonne, Kamath and Steinke,
 * "The Discrete Gaussian for Differential Privacy" (NeurIPS 2020), Algorithms 1 and 2:
 * Bernoulli(exp(-γ)) for rational γ from Bernoulli(n/d) trials, geometric sampling from those, and
 * uniform integers by rejection, so no modulo bias.
 *
 * Scale parameters are integers t, s (scale = t/s); callers express ε with three decimals, so
 * Δ/ε = (Δ·1000)/(ε·1000) exactly.
 */
import type { Random } from "../platform.js";

/** A uniform random integer source over the CSPRNG, buffering its bytes. */
export class UniformIntegers {
  readonly #random: Random;
  readonly #buffer = new Uint8Array(64);
  #used = 64;

  constructor(random: Random) {
    this.#random = random;
  }

  /** Uniform in [0, bound), bound in 1 .. 2^32, by rejection (no modulo bias). */
  below(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > 0x100000000) throw new RangeError("bound must be an integer in 1..2^32");
    if (bound === 1) return 0;
    // The largest multiple of `bound` not above 2^32: words at or beyond it are redrawn.
    const limit = 0x100000000 - (0x100000000 % bound);
    for (;;) {
      const word = this.#word();
      if (word < limit) return word % bound;
    }
  }

  /** Overwrites buffered randomness (nothing derived from it should outlive its use). */
  wipe(): void {
    this.#buffer.fill(0);
    this.#used = this.#buffer.length;
  }

  #word(): number {
    if (this.#used + 4 > this.#buffer.length) {
      this.#random.fill(this.#buffer);
      this.#used = 0;
    }
    const b = this.#buffer;
    const i = this.#used;
    this.#used += 4;
    return ((b[i]! << 24) | (b[i + 1]! << 16) | (b[i + 2]! << 8) | b[i + 3]!) >>> 0;
  }
}

export class DiscreteLaplace {
  readonly #uniform: UniformIntegers;

  constructor(random: Random) {
    this.#uniform = new UniformIntegers(random);
  }

  /** Bernoulli(numerator / denominator), 0 <= numerator <= denominator. */
  bernoulli(numerator: number, denominator: number): boolean {
    return this.#uniform.below(denominator) < numerator;
  }

  /** Bernoulli(exp(-numerator / denominator)) for a rational in [0, ∞) (CKS20 Algorithm 1). */
  bernoulliExp(numerator: number, denominator: number): boolean {
    let n = numerator;
    while (n > denominator) {
      // exp(-γ) = exp(-1)^floor(γ) · exp(-(γ - floor(γ)))
      if (!this.#bernoulliExpAtMostOne(1, 1)) return false;
      n -= denominator;
    }
    return this.#bernoulliExpAtMostOne(n, denominator);
  }

  /** One draw of Z with scale t/s (t, s positive integers): CKS20 Algorithm 2. */
  sample(t: number, s: number): number {
    if (!Number.isSafeInteger(t) || !Number.isSafeInteger(s) || t < 1 || s < 1 || t > 0xffffffff) throw new RangeError("scale t/s needs positive integers, t < 2^32");
    for (;;) {
      const u = this.#uniform.below(t);
      if (!this.bernoulliExp(u, t)) continue;
      let v = 0;
      while (this.bernoulliExp(1, 1)) v++;
      const x = u + t * v;
      const y = Math.floor(x / s);
      const negative = this.bernoulli(1, 2);
      if (negative && y === 0) continue;
      return negative ? -y : y;
    }
  }

  /** Noise for a count with sensitivity Δ under ε = epsilonMilli / 1000: scale Δ/ε. */
  noise(sensitivity: number, epsilonMilli: number): number {
    return this.sample(sensitivity * 1000, epsilonMilli);
  }

  wipe(): void {
    this.#uniform.wipe();
  }

  /** Bernoulli(exp(-γ)) for γ = n/d in [0, 1]: K ← 1; while Bernoulli(γ/K) K ← K + 1; return K odd. */
  #bernoulliExpAtMostOne(n: number, d: number): boolean {
    let k = 1;
    while (this.bernoulli(n, d * k)) k++;
    return k % 2 === 1;
  }
}
