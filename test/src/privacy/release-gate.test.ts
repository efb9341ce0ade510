import { describe, expect, it } from "vitest";
import { BUDGET_STORE_KEY, PrivacyBudget, decodeBudgetRecord } from "../../../src/privacy/privacy-budget.js";
import { DiscreteLaplace } from "../../../src/privacy/discrete-laplace.js";
import { ReleaseGate, type ChannelPrivacy, type ReleaseCandidate } from "../../../src/privacy/release-gate.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 4, 4, 8, 0, 0);

function gate(policies: (ChannelPrivacy | undefined)[], groups: { total: number; parts: number[] }[] = [], store = new MemoryStore(), dailyMicro = 1_000_000_000) {
  const budgetChannels = policies.flatMap((p, c) => (p && p.epsilonMilli > 0 ? [{ name: `ch${c}`, dailyMicro, costMicro: p.epsilonMilli * 1000 }] : []));
  let next = 0;
  const budgetIndex = policies.map((p) => (p && p.epsilonMilli > 0 ? next++ : -1));
  const budget = new PrivacyBudget(store, budgetChannels);
  budget.load();
  return new ReleaseGate(policies, groups, new DiscreteLaplace(new SeededRandom("gate")), budget, budgetIndex);
}

const candidate = (channel: number, value: number, stat: ReleaseCandidate["stat"] = "sum"): ReleaseCandidate => ({ channel, stat, value, status: undefined });

describe("k-anonymity", () => {
  it("suppresses every count from 1 to k - 1, and releases 0 and k and above unchanged", () => {
    const k = 5;
    const g = gate([{ k, epsilonMilli: 0, sensitivity: 1 }]);
    for (let v = 0; v <= 12; v++) {
      const c = [candidate(0, v)];
      g.apply(c, T0);
      if (v >= 1 && v < k) expect(c[0]!.status, `count ${v}`).toBe("suppressed");
      else expect(c[0], `count ${v}`).toMatchObject({ status: undefined, value: v });
    }
  });

  it("leaves measured levels and unprotected channels alone", () => {
    const g = gate([{ k: 5, epsilonMilli: 0, sensitivity: 1 }, undefined]);
    const c = [candidate(0, 3, "count"), candidate(1, 2)];
    g.apply(c, T0);
    expect(c.map((x) => x.status)).toEqual([undefined, undefined]);
  });

  it("closes the difference attack: with vehicles = cars + trucks, a suppressed truck count is not total minus cars", () => {
    // channels: 0 vehicles (total), 1 cars, 2 trucks; k = 3
    const policy = { k: 3, epsilonMilli: 0, sensitivity: 1 };
    const g = gate([policy, policy, policy], [{ total: 0, parts: [1, 2] }]);
    const c = [candidate(0, 14), candidate(1, 12), candidate(2, 2)];
    g.apply(c, T0);
    // Primary: trucks (2 < 3). Without more, trucks = 14 - 12. Secondary hides the smallest other part.
    expect(c.map((x) => x.status)).toEqual([undefined, "suppressed", "suppressed"]);
    const released = c.filter((x) => x.status === undefined);
    expect(released).toHaveLength(1); // only the total: cars and trucks are each unknowable
  });

  it("hides the total when every part is already hidden but one released part would reveal it", () => {
    const policy = { k: 3, epsilonMilli: 0, sensitivity: 1 };
    const g = gate([policy, policy, policy], [{ total: 0, parts: [1, 2] }]);
    const c = [candidate(0, 3), candidate(1, 1), candidate(2, 2)];
    g.apply(c, T0);
    expect(c.map((x) => x.status)).toEqual([undefined, "suppressed", "suppressed"]);
    const single = [candidate(0, 2), candidate(1, 0), candidate(2, 2)];
    g.apply(single, T0);
    // total 2 (< 3) and trucks 2 suppressed, cars 0 released: two unknowns, nothing to recompute
    expect(single.map((x) => x.status)).toEqual(["suppressed", undefined, "suppressed"]);
  });
});

describe("differential privacy under a daily budget", () => {
  it("adds integer noise of the declared scale to released counts", () => {
    const g = gate([{ k: 0, epsilonMilli: 500, sensitivity: 2 }]);
    let absSum = 0;
    for (let i = 0; i < 5000; i++) {
      const c = [candidate(0, 100)];
      g.apply(c, T0 + i * 300_000);
      expect(Number.isInteger(c[0]!.value)).toBe(true);
      absSum += Math.abs(c[0]!.value - 100);
    }
    const a = Math.exp(-0.25); // scale Δ/ε = 4
    expect(absSum / 5000).toBeGreaterThan(((2 * a) / (1 - a * a)) * 0.9);
  });

  it("refuses releases past the daily cap, says so, and pays again the next day", () => {
    const store = new MemoryStore();
    const g = gate([{ k: 0, epsilonMilli: 500, sensitivity: 1 }], [], store, 2_000_000); // ε 0.5 per release, 2 per day
    const statuses = Array.from({ length: 6 }, (_, i) => {
      const c = [candidate(0, 10)];
      g.apply(c, T0 + i * 300_000);
      return c[0]!.status ?? "released";
    });
    expect(statuses).toEqual(["released", "released", "released", "released", "budget-exhausted", "budget-exhausted"]);
    const tomorrow = [candidate(0, 10)];
    g.apply(tomorrow, T0 + DAY);
    expect(tomorrow[0]!.status).toBeUndefined();
  });

  it("keeps the cap across a reboot: the new boot resumes from the persisted reservation", () => {
    const store = new MemoryStore();
    const first = gate([{ k: 0, epsilonMilli: 500, sensitivity: 1 }], [], store, 2_000_000);
    for (let i = 0; i < 3; i++) first.apply([candidate(0, 10)], T0 + i * 300_000);
    const rebooted = gate([{ k: 0, epsilonMilli: 500, sensitivity: 1 }], [], store, 2_000_000);
    const after = Array.from({ length: 3 }, (_, i) => {
      const c = [candidate(0, 10)];
      rebooted.apply(c, T0 + (10 + i) * 300_000);
      return c[0]!.status ?? "released";
    });
    // 1.5 spent before the reboot, all of the 2.0 reserved: the reboot can only under-spend.
    expect(after.filter((s) => s === "released").length).toBeLessThanOrEqual(1);
    expect(after).toContain("budget-exhausted");
  });

  it("never releases when the budget cannot be written, and treats an unreadable record as spent for the day", () => {
    const store = new MemoryStore();
    const g = gate([{ k: 0, epsilonMilli: 500, sensitivity: 1 }], [], store, 2_000_000);
    store.failCommitIn(0);
    const c = [candidate(0, 10)];
    g.apply(c, T0);
    expect(c[0]!.status).toBe("budget-exhausted");
    store.commit([{ key: BUDGET_STORE_KEY, value: Uint8Array.of(1, 2, 3, 4, 5, 6) }]);
    expect(decodeBudgetRecord(store.get(BUDGET_STORE_KEY)!)).toBeUndefined();
    const corrupt = gate([{ k: 0, epsilonMilli: 500, sensitivity: 1 }], [], store, 2_000_000);
    const today = [candidate(0, 10)];
    corrupt.apply(today, T0);
    expect(today[0]!.status).toBe("budget-exhausted");
    const tomorrow = [candidate(0, 10)];
    corrupt.apply(tomorrow, T0 + DAY);
    expect(tomorrow[0]!.status).toBeUndefined();
  });

  it("writes the budget ahead in blocks, not once per release", () => {
    const store = new MemoryStore();
    const g = gate([{ k: 0, epsilonMilli: 100, sensitivity: 1 }], [], store, 100_000_000);
    for (let i = 0; i < 48; i++) g.apply([candidate(0, 10)], T0 + i * 300_000);
    expect(store.commits).toBe(4); // 12 releases per reservation
    expect(decodeBudgetRecord(store.get(BUDGET_STORE_KEY)!)!.reserved.get("ch0")).toBe(4_800_000);
  });

  it("spends nothing on suppressed or missing counts", () => {
    const store = new MemoryStore();
    const g = gate([{ k: 5, epsilonMilli: 500, sensitivity: 1 }], [], store, 500_000);
    g.apply([candidate(0, 3)], T0); // suppressed by k
    g.apply([candidate(0, NaN)], T0); // missing
    const c = [candidate(0, 20)];
    g.apply(c, T0);
    expect(c[0]!.status).toBeUndefined(); // the one release the day allows is still there
  });

});
