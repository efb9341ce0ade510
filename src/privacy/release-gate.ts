/**
 * The release gate: what a closing window may say about people, devices and vehicles.
 *
 * It applies to the counting statistics (`sum` of events, `distinct` devices) of channels with a
 * privacy policy, in this order:
 * 1. k-anonymity, primary: a count that is not zero and below k is suppressed, not zeroed: the
 *    summary says "suppressed", so nobody mistakes it for an empty street.
 * 2. k-anonymity, secondary: where channels add up (a total and its parts, declared in the policy),
 *    one suppressed member could be recomputed from the others (total minus the released parts).
 *    Then the smallest other released member is suppressed too, until no such equation has exactly
 *    one unknown.
 * 3. Differential privacy: a released count of a channel with ε gets discrete Laplace noise of
 *    scale Δ/ε (Δ: how much one person can change the count in one window), paid for from the
 *    channel's daily budget. No budget: the count is suppressed as "budget-exhausted".
 * Suppression decisions use the true counts (k-anonymity is defined on them); that a count was
 * small is therefore visible, which is the k-anonymity trade-off. The noise covers the rest.
 * Released noisy counts are not clamped at zero, so sums over many windows stay unbiased.
 */
import type { StatName } from "../policy/node-config.js";
import type { DiscreteLaplace } from "./discrete-laplace.js";
import type { PrivacyBudget } from "./privacy-budget.js";

/** A channel's privacy policy as the gate needs it. */
export interface ChannelPrivacy {
  /** Counts in [1, k) are suppressed; 0 for no k-anonymity. */
  readonly k: number;
  /** ε per release in thousandths (0: no noise). */
  readonly epsilonMilli: number;
  /** Δ, the most one person changes the count in one window. */
  readonly sensitivity: number;
}

/** Channels that add up: total = sum of parts (channel indices). */
export interface TotalGroup {
  readonly total: number;
  readonly parts: readonly number[];
}

/** One statistic of one channel on its way out. */
export interface ReleaseCandidate {
  readonly channel: number;
  readonly stat: StatName;
  /** The true value; NaN when the channel had no data (released as "missing"). */
  value: number;
  /** Set when the value must not be released: "suppressed", "budget-exhausted". */
  status: string | undefined;
}

export type ReleaseStatus = "suppressed" | "budget-exhausted";

export interface GateCounters {
  suppressedPrimary: number;
  suppressedSecondary: number;
  noised: number;
  budgetExhausted: number;
}

const PROTECTED: ReadonlySet<StatName> = new Set<StatName>(["sum", "distinct"]);

export class ReleaseGate {
  readonly #policies: readonly (ChannelPrivacy | undefined)[];
  readonly #groups: readonly TotalGroup[];
  readonly #noise: DiscreteLaplace;
  readonly #budget: PrivacyBudget;
  readonly #budgetIndex: readonly number[];
  readonly counters: GateCounters = { suppressedPrimary: 0, suppressedSecondary: 0, noised: 0, budgetExhausted: 0 };

  /**
   * `policies[c]`: channel c's policy (undefined: released as measured). `budgetIndex[c]`: its
   * index in the budget (channels with ε), or -1.
   */
  constructor(policies: readonly (ChannelPrivacy | undefined)[], groups: readonly TotalGroup[], noise: DiscreteLaplace, budget: PrivacyBudget, budgetIndex: readonly number[]) {
    this.#policies = policies;
    this.#groups = groups;
    this.#noise = noise;
    this.#budget = budget;
    this.#budgetIndex = budgetIndex;
  }

  /** Applies k-anonymity, secondary suppression and noise to a window's candidates, in place. */
  apply(candidates: ReleaseCandidate[], windowStartMs: number): void {
    // 1. Primary suppression.
    for (const candidate of candidates) {
      const policy = this.#policies[candidate.channel];
      if (!policy || !PROTECTED.has(candidate.stat) || Number.isNaN(candidate.value) || policy.k <= 0) continue;
      if (candidate.value > 0 && candidate.value < policy.k) {
        candidate.status = "suppressed";
        this.counters.suppressedPrimary++;
      }
    }
    // 2. Secondary suppression: no equation total = parts may keep exactly one unknown.
    for (let changed = true, rounds = 0; changed && rounds < 32; rounds++) {
      changed = false;
      for (const group of this.#groups) {
        const members = [group.total, ...group.parts].map((c) => candidates.find((x) => x.channel === c && PROTECTED.has(x.stat)));
        if (members.some((m) => m === undefined || Number.isNaN(m.value))) continue; // a missing member already hides the equation
        const hidden = members.filter((m) => m!.status !== undefined);
        if (hidden.length !== 1) continue;
        // Hide the smallest released part; only when no part is left, the total.
        const released = members.filter((m) => m!.status === undefined);
        const parts = released.filter((m) => m!.channel !== group.total);
        const pool = parts.length > 0 ? parts : released;
        const victim = pool.reduce((a, b) => (b!.value < a!.value ? b : a))!;
        victim.status = "suppressed";
        this.counters.suppressedSecondary++;
        changed = true;
      }
    }
    // 3. Noise, paid from the daily budget.
    for (const candidate of candidates) {
      const policy = this.#policies[candidate.channel];
      if (!policy || policy.epsilonMilli <= 0 || !PROTECTED.has(candidate.stat) || candidate.status !== undefined || Number.isNaN(candidate.value)) continue;
      const paid = this.#budget.spend(this.#budgetIndex[candidate.channel]!, windowStartMs);
      if (paid !== "spent") {
        candidate.status = "budget-exhausted";
        this.counters.budgetExhausted++;
        continue;
      }
      candidate.value += this.#noise.noise(policy.sensitivity, policy.epsilonMilli);
      this.counters.noised++;
    }
  }
}
