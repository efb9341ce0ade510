import { describe, expect, it } from "vitest";
import { parsePolicy } from "../../../src/policy/deployment-policy.js";
import { policyWeakenings } from "../../../src/policy/policy-change.js";
import { changeDocuments, STRENGTHENINGS, WEAKENINGS, type PolicyChangeCase } from "./policy-change-corpus.js";

function weakenings(c: PolicyChangeCase) {
  const { running, proposed, runningAt, proposedAt } = changeDocuments(c);
  return policyWeakenings({ policy: parsePolicy(running), position: runningAt }, { policy: parsePolicy(proposed), position: proposedAt });
}

describe("what a policy change weakens", () => {
  for (const c of WEAKENINGS) {
    it(`${c.name}: weakens at ${c.weakens.join(", ")}`, () => {
      const found = weakenings(c);
      expect(found.map((w) => w.pointer)).toEqual(c.weakens);
      for (const { reason } of found) expect(reason).toMatch(/^[^\n]{10,200}$/);
    });
  }

  for (const c of STRENGTHENINGS) {
    it(`${c.name}: weakens nothing`, () => {
      expect(weakenings(c)).toEqual([]);
    });
  }

  it("every strengthening, undone, is a weakening (except what is neutral)", () => {
    const neutral = ["nothing changed", "other filters", "a larger interval factor", "another accountable contact and name", "a longer window a command may set"];
    for (const c of STRENGTHENINGS) {
      const { running, proposed } = changeDocuments(c);
      const back = policyWeakenings({ policy: parsePolicy(proposed), position: { latitude: 0, longitude: 0 } }, { policy: parsePolicy(running), position: { latitude: 0, longitude: 0 } });
      if (neutral.includes(c.name)) expect(back, c.name).toEqual([]);
      else expect(back.length, c.name).toBeGreaterThan(0);
    }
  });

  it("says what weakens, from what to what", () => {
    const [k] = weakenings(WEAKENINGS.find((c) => c.name === "a smaller k")!);
    expect(k!.reason).toBe('channel "people" withholds counts below 2 instead of below 3');
    const [position] = weakenings(WEAKENINGS.find((c) => c.name === "a moved exact position")!);
    expect(position!.reason).toBe("the exact position moves from 0,0 to 0.001,0");
    const [channel] = weakenings(WEAKENINGS.find((c) => c.name === "a new channel")!);
    expect(channel!.reason).toBe('a new channel "presence" (radar/presence)');
  });

  it("matches channels by name, not by place: reordering them weakens nothing", () => {
    const c: PolicyChangeCase = { name: "reordered", edit: (p) => p.channels.reverse(), weakens: [] };
    expect(weakenings(c)).toEqual([]);
  });

  it("a channel renamed is a new channel (its old name gone is not)", () => {
    const c: PolicyChangeCase = { name: "renamed", edit: (p) => (p.channels[0].name = "air_temperature"), weakens: [] };
    expect(weakenings(c).map((w) => w.pointer)).toEqual(["/channels/0"]);
  });
});
