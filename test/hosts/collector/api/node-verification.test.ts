import { describe, expect, it } from "vitest";
import type { StoredDisclosure } from "../../../../hosts/collector/api/api-route.js";
import { nodeVerification, VERIFICATION_STATES, type NewestSummary, type VerificationState } from "../../../../hosts/collector/api/node-verification.js";
import { POLICY_MISMATCH_GRACE_MS } from "../../../../hosts/collector/policy-agreement.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
const ARRIVED_MS = Date.UTC(2026, 9, 1, 9, 0, 0);
const DISCLOSURE: StoredDisclosure = { document: new Uint8Array(0), receivedAtMs: ARRIVED_MS, verified: true, policy: { name: "old-town", serial: 2, sha256: B } };
const LATER_MS = ARRIVED_MS + POLICY_MISMATCH_GRACE_MS + 300_000;

/** The newest stored summary: its policy, its window start and arrival (Unix ms). */
const summary = (serial: number, sha256: string, startMs = LATER_MS, receivedAtMs = startMs + 302_000): NewestSummary => ({ windowStart: startMs / 1000, receivedAtMs, policy: { serial, sha256 } });

describe("a node's verification", () => {
  const cases: Array<[string, VerificationState, StoredDisclosure | undefined, NewestSummary | undefined, { forgedAtMs?: number }?]> = [
    ["the signature holds and the newest summary is under its policy", "verified", DISCLOSURE, summary(2, B)],
    ["the signature holds and no summary is stored yet", "awaiting-summary", DISCLOSURE, undefined],
    ["the newest summary carries no policy (stored before policies were recorded)", "awaiting-summary", DISCLOSURE, { windowStart: LATER_MS / 1000, receivedAtMs: LATER_MS, policy: undefined }],
    ["the newest summary is the old policy's, produced before the disclosure (an update on its way)", "awaiting-summary", DISCLOSURE, summary(1, A, ARRIVED_MS - 300_000, ARRIVED_MS + 5000)],
    ["the newest summary is another policy under the disclosure's serial", "mismatch", DISCLOSURE, summary(2, C)],
    ["the newest summary is an older policy's, produced well after the disclosure", "mismatch", DISCLOSURE, summary(1, A)],
    ["the newest summary is a newer policy's the disclosure does not name", "mismatch", DISCLOSURE, summary(3, C)],
    ["the disclosure verified but names no policy hash", "signature-only", { ...DISCLOSURE, policy: { name: "old-town" } }, summary(2, B)],
    ["the collector has no operator key to check it with", "unchecked", { ...DISCLOSURE, verified: false }, summary(2, B)],
    ["only forgeries were published", "forged", undefined, summary(2, B), { forgedAtMs: ARRIVED_MS }],
    ["nothing was published", "absent", undefined, summary(2, B)],
  ];

  it.each(cases)("%s: %s", (_, state, disclosure, newest, options) => {
    expect(nodeVerification(disclosure, newest, options).state).toBe(state);
  });

  it("covers every state it can answer", () => {
    expect(new Set(cases.map(([, state]) => state))).toEqual(new Set(VERIFICATION_STATES));
  });

  it("names the disclosure's policy and the one the newest summary was produced under", () => {
    expect(nodeVerification(DISCLOSURE, summary(1, A))).toEqual({ state: "mismatch", policy: { name: "old-town", serial: 2, sha256: B }, producedUnder: { serial: 1, sha256: A } });
    expect(nodeVerification({ ...DISCLOSURE, policy: { name: "old-town" } }, undefined)).toEqual({ state: "signature-only", policy: { name: "old-town", serial: null, sha256: null }, producedUnder: null });
    expect(nodeVerification(undefined, undefined)).toEqual({ state: "absent", policy: null, producedUnder: null });
  });

  it("judges with the collector's grace: a summary of the old policy is the node's past only within it", () => {
    const old = summary(1, A, ARRIVED_MS + 120_000, ARRIVED_MS + 422_000);
    expect(nodeVerification(DISCLOSURE, old).state).toBe("awaiting-summary");
    expect(nodeVerification(DISCLOSURE, old, { graceMs: 60_000 }).state).toBe("mismatch");
  });

  it("a verified disclosure wins over forgeries published since", () => {
    expect(nodeVerification({ ...DISCLOSURE, forgedAtMs: LATER_MS }, summary(2, B), { forgedAtMs: LATER_MS }).state).toBe("verified");
  });
});
