/**
 * How the policy a stored message was produced under (the hash its node bound into it,
 * src/wire/message-aad.ts) stands to the policy its node's verified disclosure names: one rule,
 * read by the policy-mismatch alert (policy-mismatches.ts) and by the public verification verdict
 * (api/node-verification.ts), so that the page and the alert cannot disagree on what is normal.
 *
 *   same hash                                   -> same
 *   same serial, another hash                   -> other-hash     (two policies under one serial)
 *   produced, or received, within the grace     -> before-disclosure
 *     after the disclosure arrived                 (an outbox drains what the node sealed before
 *                                                  it restarted on the new policy: a node publishes
 *                                                  its disclosure at boot, ahead of its queue)
 *   a lower serial, after that                  -> older          (it still seals under the old one)
 *   a higher serial, after that                 -> newer          (its new disclosure is not here)
 *
 * "Produced" is a summary's window start or a health report's time, on the node's clock; the
 * disclosure's arrival is on the collector's. A message counts as the node's past when either
 * time says so, so that a node's clock ahead of the collector's (or a simulated one) does not make
 * its outbox's drain look like a node running an old policy; the grace takes up what is left of
 * the skew. A disclosure that names no serial counts as serial 0, before every signed policy.
 *
 * Example:
 *   policyAgreement({ serial: 1, sha256: a, producedFromS, receivedAtMs }, disclosedPolicyOf(stored)!)
 *   // "before-disclosure": a summary of serial 1 drained after the disclosure of serial 2
 */
import type { StoredDisclosure } from "./api/api-route.js";

/** Default of how long after a disclosure arrives messages under another policy are the node's past (and a newer policy's disclosure is waited for). */
export const POLICY_MISMATCH_GRACE_MS = 15 * 60_000;

export type PolicyAgreement = "same" | "other-hash" | "before-disclosure" | "older" | "newer";

/** The policy a stored message was produced under, and when. */
export interface ProducedPolicy {
  readonly serial: number;
  readonly sha256: string;
  /** A summary's window start, a health report's time (Unix s, the node's clock). */
  readonly producedFromS: number;
  /** When the collector received it (Unix ms). */
  readonly receivedAtMs: number;
}

/** The policy a node's verified disclosure names, and when that disclosure arrived. */
export interface DisclosedPolicy {
  readonly name: string;
  readonly serial: number;
  readonly sha256: string;
  /** When the collector received the disclosure (Unix ms): the same document again keeps its first time. */
  readonly receivedAtMs: number;
}

export function policyAgreement(produced: ProducedPolicy, disclosed: DisclosedPolicy, graceMs = POLICY_MISMATCH_GRACE_MS): PolicyAgreement {
  if (produced.sha256 === disclosed.sha256) return "same";
  if (produced.serial === disclosed.serial) return "other-hash";
  const until = disclosed.receivedAtMs + graceMs;
  if (produced.producedFromS * 1000 <= until || produced.receivedAtMs <= until) return "before-disclosure";
  return produced.serial < disclosed.serial ? "older" : "newer";
}

/** The policy a stored disclosure names, if it verified under the operator's key and names a policy hash; undefined otherwise. */
export function disclosedPolicyOf(stored: StoredDisclosure | undefined): DisclosedPolicy | undefined {
  const sha256 = stored?.policy?.sha256;
  if (!stored?.verified || sha256 === undefined) return undefined;
  return { name: stored.policy!.name, serial: stored.policy!.serial ?? 0, sha256, receivedAtMs: stored.receivedAtMs };
}
