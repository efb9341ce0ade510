/**
 * The spread of the noise a node adds to a released count: discrete Laplace (two-sided
 * geometric) noise of scale Δ/ε (src/privacy/discrete-laplace.ts; ReleaseGate adds it to `sum`
 * and `distinct` of a channel with ε).
 *
 *   P(Z = z) = (1 - a) / (1 + a) · a^|z|,   a = e^(-ε/Δ)
 *   Var(Z) = 2a / (1 - a)^2,   σ = √(2a) / (1 - a)
 *
 * (The continuous Laplace of the same scale has σ = √2 · Δ/ε; the discrete one is a little
 * narrower: ε = 0.5, Δ = 2 gives σ = 5.64 against 5.66.) The dashboard draws the released value
 * ±σ: the band where the true count lies about three times in four (P(|Z| <= σ) for these a).
 */

/** σ of discrete Laplace noise for ε per release and sensitivity Δ; undefined when there is no noise. */
export function discreteLaplaceSigma(epsilon: number | undefined, sensitivity: number | undefined): number | undefined {
  if (epsilon === undefined || sensitivity === undefined || !(epsilon > 0) || !(sensitivity > 0)) return undefined;
  const a = Math.exp(-epsilon / sensitivity);
  return Math.sqrt(2 * a) / (1 - a);
}

/** Statistics the release gate adds noise to (src/privacy/release-gate.ts, PROTECTED). */
export const NOISY_STATS: ReadonlySet<string> = new Set(["sum", "distinct"]);
