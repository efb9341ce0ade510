/**
 * The node's disclosure as the operator signed it: a COSE_Sign1 (cose-sign1.ts) whose payload is
 * the disclosure document (disclosure.ts) of the node's signed policy, in its store as chunks
 * (store-chunks.ts: about 4.5 KB). The node publishes these bytes, retained; anyone with the
 * operator's public key verifies them with any COSE library.
 *
 * The node only publishes what it would say itself: at boot it builds its own disclosure from the
 * configuration it runs on, and the signed payload must be those very bytes. A disclosure signed
 * for another policy, or by a firmware that describes itself otherwise, stops the boot (the
 * operator signs again: provisioning signs the policy and its disclosure together).
 *
 * The node does not check the disclosure's signature: whatever it would find, it could publish
 * nothing truer, and an Ed25519 verification costs an ESP32's boot dearly (BENCHMARKS.md). Those
 * who read the disclosure check it: the collector raises a disclosure that does not verify, and the
 * node's public page says so.
 */
import type { KeyValueStore } from "../platform.js";
import { ChunkedValueError, readChunked } from "../store-chunks.js";
import { CoseSign1Error, unverifiedSign1Payload } from "../wire/cose-sign1-structure.js";
import { SignedPolicyError } from "./signed-policy-error.js";

/** Store key prefix of the signed disclosure's chunks (`disclosure.0`, ...). */
export const SIGNED_DISCLOSURE_STORE_KEY = "disclosure";

/** The signed disclosure in `store`, checked to sign exactly `document` (the node's own disclosure bytes). */
export function provisionedDisclosure(store: KeyValueStore, document: Uint8Array): Uint8Array {
  let signed: Uint8Array | undefined;
  try {
    signed = readChunked(store, SIGNED_DISCLOSURE_STORE_KEY);
  } catch (error) {
    if (error instanceof ChunkedValueError) throw new SignedPolicyError("disclosure", `the signed disclosure in the store is damaged (${error.message})`);
    throw error;
  }
  if (signed === undefined) throw new SignedPolicyError("missing", "no signed disclosure in the store: provision the node with its policy and disclosure");
  let payload: Uint8Array;
  try {
    payload = unverifiedSign1Payload(signed);
  } catch (error) {
    if (error instanceof CoseSign1Error) throw new SignedPolicyError("disclosure", `the signed disclosure in the store is not a COSE_Sign1 (${error.message})`);
    throw error;
  }
  if (payload.length !== document.length || payload.some((byte, i) => byte !== document[i])) {
    throw new SignedPolicyError("disclosure", "the signed disclosure is not what this node would disclose for the policy it runs on: sign the policy and its disclosure again");
  }
  return signed;
}
