/**
 * Why a node will not run on the policy, or publish the disclosure, in its store (signed-policy.ts,
 * signed-disclosure.ts). Its own module, so that code that only reads the disclosure does not
 * import the Ed25519 verification with it.
 */
export type SignedPolicyFailure = "missing" | "unsigned" | "signature" | "foreign" | "invalid" | "disclosure";

export class SignedPolicyError extends Error {
  override name = "SignedPolicyError";
  constructor(
    readonly failure: SignedPolicyFailure,
    message: string,
  ) {
    super(message);
  }
}

