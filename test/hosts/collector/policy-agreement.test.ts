import { describe, expect, it } from "vitest";
import type { StoredDisclosure } from "../../../hosts/collector/api/api-route.js";
import { disclosedPolicyOf, POLICY_MISMATCH_GRACE_MS, policyAgreement, type DisclosedPolicy } from "../../../hosts/collector/policy-agreement.js";

const A = "a".repeat(64);
const B = "b".repeat(64);
const C = "c".repeat(64);
/** The disclosure of serial 2 (hash B) arrived at this moment (Unix ms). */
const ARRIVED_MS = Date.UTC(2026, 9, 1, 9, 0, 0);
const DISCLOSED: DisclosedPolicy = { name: "old-town", serial: 2, sha256: B, receivedAtMs: ARRIVED_MS };
const GRACE = POLICY_MISMATCH_GRACE_MS;

/** A message produced `producedAfterMs` and received `receivedAfterMs` after the disclosure arrived. */
const produced = (serial: number, sha256: string, producedAfterMs: number, receivedAfterMs = producedAfterMs + 2000) => ({
  serial,
  sha256,
  producedFromS: (ARRIVED_MS + producedAfterMs) / 1000,
  receivedAtMs: ARRIVED_MS + receivedAfterMs,
});

describe("how a message's policy stands to its node's disclosure", () => {
  it("is the same under the hash the disclosure names, whenever it was produced", () => {
    for (const after of [-86_400_000, 0, 86_400_000]) expect(policyAgreement(produced(2, B, after), DISCLOSED)).toBe("same");
  });

  it("is another policy under the same serial at once, even from before the disclosure", () => {
    expect(policyAgreement(produced(2, A, -600_000), DISCLOSED)).toBe("other-hash");
  });

  it("is the node's past when produced before the disclosure arrived, or within the grace (a late outbox drain, a node provisioned again)", () => {
    expect(policyAgreement(produced(1, A, -600_000, 3_600_000), DISCLOSED)).toBe("before-disclosure"); // drained an hour late
    expect(policyAgreement(produced(1, A, GRACE), DISCLOSED)).toBe("before-disclosure"); // a node's clock a little ahead
    expect(policyAgreement(produced(3, C, -60_000), DISCLOSED)).toBe("before-disclosure"); // a newer policy the node left
  });

  it("is the node's past when received within the grace, however far its clock is ahead", () => {
    expect(policyAgreement(produced(1, A, 30 * 86_400_000, 60_000), DISCLOSED)).toBe("before-disclosure");
  });

  it("is an older or a newer policy when both produced and received past the grace", () => {
    expect(policyAgreement(produced(1, A, GRACE + 1000), DISCLOSED)).toBe("older");
    expect(policyAgreement(produced(3, C, GRACE + 1000), DISCLOSED)).toBe("newer");
    expect(policyAgreement(produced(1, A, 61_000), DISCLOSED, 60_000)).toBe("older"); // a shorter grace
  });

  it("takes a disclosure's policy only when its signature held and it names a hash; no serial counts as 0", () => {
    const stored: StoredDisclosure = { document: new Uint8Array(0), receivedAtMs: ARRIVED_MS, verified: true, policy: { name: "old-town", serial: 2, sha256: B } };
    expect(disclosedPolicyOf(stored)).toEqual(DISCLOSED);
    expect(disclosedPolicyOf({ ...stored, verified: false })).toBeUndefined();
    expect(disclosedPolicyOf({ ...stored, policy: { name: "old-town", serial: 2 } })).toBeUndefined();
    expect(disclosedPolicyOf(undefined)).toBeUndefined();
    expect(disclosedPolicyOf({ ...stored, policy: { name: "old-town", sha256: B } })?.serial).toBe(0);
  });
});
