/**
 * Whether what a node's public page shows can be trusted, in one word (issue 13): "verified" only
 * when its disclosure's signature holds under the operator's key (disclosure-store.ts) AND the
 * newest stored summary was produced under the very policy that disclosure names (the hash bound
 * into the summary, src/wire/message-aad.ts). The same rule as the policy-mismatch alert
 * (policy-agreement.ts), so that the page and the alert never disagree on what is a normal update.
 *
 *   no disclosure kept             -> forged (only forgeries were published) | absent
 *   its signature not checked      -> unchecked      (the collector has no operator key)
 *   it names no policy hash        -> signature-only (a node without a signed policy)
 *   newest summary, by policy      -> same: verified
 *                                     none stored, none bound, or produced before the disclosure
 *                                       arrived (an update on its way): awaiting-summary
 *                                     other-hash, older, newer: mismatch
 *
 * A pure function of what the API reads, for the API (GET /api/nodes/{device}/verification, the
 * disclosure's Disclosure-Verification header) and the public page.
 *
 * Example:
 *   nodeVerification(await disclosures.disclosure("lamp-1"), newestSummary, { forgedAtMs })
 *   // { state: "verified", policy: { name: "old-town", serial: 2, sha256: "..." }, producedUnder: { serial: 2, sha256: "..." } }
 */
import type { ProducedUnder, StoredSummary } from "../db/collector-db.js";
import { disclosedPolicyOf, policyAgreement, POLICY_MISMATCH_GRACE_MS } from "../policy-agreement.js";
import type { StoredDisclosure } from "./api-route.js";

export const VERIFICATION_STATES = ["verified", "awaiting-summary", "mismatch", "signature-only", "unchecked", "forged", "absent"] as const;

export type VerificationState = (typeof VERIFICATION_STATES)[number];

export interface NodeVerification {
  readonly state: VerificationState;
  /** The policy the disclosure names (as published when unchecked); null without a disclosure. */
  readonly policy: { readonly name: string; readonly serial: number | null; readonly sha256: string | null } | null;
  /** The policy the newest stored summary was produced under; null when none is stored or it carries none. */
  readonly producedUnder: ProducedUnder | null;
}

/** The newest stored summary, as far as the verdict reads it. */
export type NewestSummary = Pick<StoredSummary, "windowStart" | "receivedAtMs" | "policy">;

export function nodeVerification(
  disclosure: StoredDisclosure | undefined,
  newest: NewestSummary | undefined,
  options: { readonly forgedAtMs?: number; readonly graceMs?: number } = {},
): NodeVerification {
  const producedUnder = newest?.policy ? { serial: newest.policy.serial, sha256: newest.policy.sha256 } : null;
  if (disclosure === undefined) return { state: options.forgedAtMs === undefined ? "absent" : "forged", policy: null, producedUnder };
  const named = disclosure.policy;
  const policy = named ? { name: named.name, serial: named.serial ?? null, sha256: named.sha256 ?? null } : null;
  const verdict = (state: VerificationState): NodeVerification => ({ state, policy, producedUnder });
  if (!disclosure.verified) return verdict("unchecked");
  const disclosed = disclosedPolicyOf(disclosure);
  if (disclosed === undefined) return verdict("signature-only");
  if (newest?.policy === undefined) return verdict("awaiting-summary");
  const agreement = policyAgreement({ ...newest.policy, producedFromS: newest.windowStart, receivedAtMs: newest.receivedAtMs }, disclosed, options.graceMs ?? POLICY_MISMATCH_GRACE_MS);
  return verdict(agreement === "same" ? "verified" : agreement === "before-disclosure" ? "awaiting-summary" : "mismatch");
}
