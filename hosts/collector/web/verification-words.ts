/**
 * The verification verdict (../api/node-verification.ts) in a resident's words: whether what the
 * page shows can be trusted, and if not, why not. "verified" only when the operator's signature
 * holds AND the node's newest data was produced under the policy the disclosure names; every other
 * state says plainly what is missing or wrong.
 */
import type { NodeVerification, VerificationState } from "../api/node-verification.js";

export type VerdictTone = "good" | "wait" | "bad";

export interface VerdictWords {
  readonly tone: VerdictTone;
  readonly title: string;
  readonly sentences: readonly string[];
}

/** `policy "reference-street", serial 2 (fingerprint 5b1f09c2a4e1)`; without a name, `policy serial 2 (...)`. */
export function policyLabel(policy: { readonly name?: string | null; readonly serial?: number | null; readonly sha256?: string | null }): string {
  const name = policy.name ? `policy "${policy.name}"` : "policy";
  const serial = typeof policy.serial === "number" ? `${policy.name ? "," : ""} serial ${policy.serial}` : "";
  return `${name}${serial}${policy.sha256 ? ` (fingerprint ${policy.sha256.slice(0, 12)})` : ""}`;
}

export function verdictWords(verification: NodeVerification): VerdictWords {
  const named = verification.policy ? policyLabel(verification.policy) : "no policy";
  const produced = verification.producedUnder ? policyLabel(verification.producedUnder) : "a policy it does not name";
  const words: Record<VerificationState, VerdictWords> = {
    verified: {
      tone: "good",
      title: "Verified",
      sentences: [`The operator's signature on this disclosure holds, and the newest data this sensor sent was produced under the policy the disclosure names: ${named}.`],
    },
    "awaiting-summary": {
      tone: "wait",
      title: "Signed, not yet confirmed by the sensor's data",
      sentences: [
        `The operator's signature on this disclosure holds, but no data produced under the policy it names (${named}) has reached the city yet.`,
        "That is normal for a new sensor, or for a few minutes after its policy changed.",
      ],
    },
    mismatch: {
      tone: "bad",
      title: "Warning: the sensor's data does not match this disclosure",
      sentences: [
        `This disclosure is signed by the operator and names ${named}, but the newest data the sensor sent was produced under ${produced}.`,
        "The city's staff are alerted to look into it. Until it is resolved, do not rely on this page for what the sensor does.",
      ],
    },
    "signature-only": {
      tone: "wait",
      title: "Signed, but not tied to the sensor's data",
      sentences: ["The operator's signature on this disclosure holds, but the disclosure names no signed policy that the sensor's data could be checked against."],
    },
    unchecked: {
      tone: "bad",
      title: "Not checked",
      sentences: ["The city's collector has no key to check the operator's signature with, so what follows is shown as the sensor published it, unverified."],
    },
    forged: {
      tone: "bad",
      title: "Warning: forged disclosures",
      sentences: [
        "Only disclosures that the operator did not sign were published for this sensor. They are not shown here.",
        "Do not trust any other page or message that claims to say what this sensor does.",
      ],
    },
    absent: {
      tone: "wait",
      title: "No disclosure yet",
      sentences: ["This sensor has not published its disclosure yet, or it has not reached the city's collector. Until it does, this page cannot say what the sensor collects."],
    },
  };
  return words[verification.state];
}
