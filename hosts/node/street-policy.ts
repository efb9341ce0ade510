/**
 * The street's nodes given their signed policy (src/policy/signed-policy.ts) in their flash, as a
 * city's provisioning would: for each node, the deployment policy with its identity and exact
 * position, signed with the operator's key; the disclosure the node will publish for it, built
 * from the same configuration the node will run on and signed too (signed-disclosure.ts); and the
 * operator's public key the node verifies both with; and the oversight key's public key, which
 * must countersign any later change that weakens privacy (src/policy/policy-update.ts). A node
 * whose flash holds the same policy, position and key already keeps it; any change gets the next
 * serial, so that a node's policies are numbered in order.
 *
 * Provisioning is the flash written by whoever holds the device, not a change over the downlink:
 * the two-key rule is the node's, for what arrives over the air.
 *
 * The node then boots from what its flash holds, and only from that (fleet.ts): a policy altered
 * in the flash, or signed by another key, stops it. Such a flash is left as it is, for whoever
 * looks into it: writing a fresh policy over it would hide the tampering.
 */
import { isDeepStrictEqual } from "node:util";
import { STORE_VALUE_MAX_BYTES, type KeyValueStore, type StoreWrite } from "../../src/platform.js";
import { disclosureFor, encodeDisclosure } from "../../src/policy/disclosure.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy, type BoardConfig } from "../../src/policy/node-from-policy.js";
import { provisionedDisclosure, SIGNED_DISCLOSURE_STORE_KEY } from "../../src/policy/signed-disclosure.js";
import { OVERSIGHT_KEY_STORE_KEY } from "../../src/policy/policy-update.js";
import { nodePolicyPayload, OPERATOR_KEY_STORE_KEY, openSignedPolicy, SIGNED_POLICY_STORE_KEY, SignedPolicyError, type NodePosition } from "../../src/policy/signed-policy.js";
import { chunkedWrites } from "../../src/store-chunks.js";
import { verifySign1 } from "../../src/wire/cose-sign1.js";
import { utf8Decode, utf8Encode } from "../../src/wire/utf8.js";
import type { OperatorKey } from "../collector/operator-key.js";

export class PolicyTooLargeError extends Error {
  override name = "PolicyTooLargeError";
}

export type InstalledPolicy =
  | { readonly device: string; readonly outcome: "written" | "kept"; readonly serial: number; readonly disclosure: "written" | "kept" }
  /** The flash holds a policy that does not verify under the operator's key: left alone. */
  | { readonly device: string; readonly outcome: "unverifiable"; readonly why: string };

/**
 * Writes `policy` (a validated policy.json document) for `device` into its `store`, signed by
 * `operator`, unless the store holds it already under the same key and position; and the oversight
 * key's public half, when given (without one the node takes no change that weakens privacy). A new
 * policy's serial follows the store's, and `serialAfter` (the operator's newest record of the node,
 * for a store written from blank).
 */
export function installSignedPolicy(
  store: KeyValueStore,
  identity: { device: string; zone: string },
  position: NodePosition,
  policy: unknown,
  board: BoardConfig,
  operator: OperatorKey,
  nowSeconds: number,
  oversightKey?: Uint8Array,
  serialAfter = 0,
): InstalledPolicy {
  const found = heldPayload(store, operator.publicKey);
  if (typeof found === "string") return { device: identity.device, outcome: "unverifiable", why: found };
  const held = found;
  const unchanged =
    held !== undefined &&
    held.device === identity.device &&
    held.zone === identity.zone &&
    isDeepStrictEqual(held.position, { latitude: position.latitude, longitude: position.longitude }) &&
    isDeepStrictEqual(held.policy, policy);
  const writes: StoreWrite[] = [{ key: OPERATOR_KEY_STORE_KEY, value: operator.publicKey.slice() }];
  if (oversightKey !== undefined) writes.push({ key: OVERSIGHT_KEY_STORE_KEY, value: oversightKey.slice() });
  let signedPolicy = store.get(SIGNED_POLICY_STORE_KEY)!;
  let serial = held?.serial as number;
  if (!unchanged) {
    serial = Math.max(typeof held?.serial === "number" ? held.serial : 0, serialAfter) + 1;
    const payload = utf8Encode(JSON.stringify(nodePolicyPayload({ ...identity, serial, issued: Math.floor(nowSeconds), position, policy })));
    signedPolicy = operator.sign(payload);
    if (signedPolicy.length > STORE_VALUE_MAX_BYTES) {
      throw new PolicyTooLargeError(
        `the signed policy for ${identity.device} is ${signedPolicy.length} bytes; a node's store takes values of at most ${STORE_VALUE_MAX_BYTES} bytes (ESP32 NVS): shorten the policy's texts`,
      );
    }
    writes.push({ key: SIGNED_POLICY_STORE_KEY, value: signedPolicy });
  }

  // The disclosure the node will build for this policy, as it will build it; signed again when the
  // one in the store says anything else (another policy, another firmware's wording).
  const config = parseNodeConfig(nodeConfigFromSignedPolicy(openSignedPolicy(signedPolicy, operator.publicKey, identity), board));
  const disclosure = encodeDisclosure(disclosureFor(config));
  let disclosureKept = unchanged;
  if (disclosureKept) {
    try {
      provisionedDisclosure(store, disclosure);
    } catch (error) {
      if (!(error instanceof SignedPolicyError)) throw error;
      disclosureKept = false;
    }
  }
  if (!disclosureKept) writes.push(...chunkedWrites(SIGNED_DISCLOSURE_STORE_KEY, operator.sign(disclosure)));
  store.commit(writes);
  return { device: identity.device, outcome: unchanged ? "kept" : "written", serial, disclosure: disclosureKept ? "kept" : "written" };
}

/**
 * The payload of the signed policy in `store` when it verifies under `operatorKey`; undefined when
 * there is none; why not, when there is one that does not verify.
 */
function heldPayload(store: KeyValueStore, operatorKey: Uint8Array): Record<string, unknown> | undefined | string {
  const signed = store.get(SIGNED_POLICY_STORE_KEY);
  if (signed === undefined) return undefined;
  try {
    const payload = JSON.parse(utf8Decode(verifySign1(signed, operatorKey).payload)) as unknown;
    if (typeof payload === "object" && payload !== null && !Array.isArray(payload)) return payload as Record<string, unknown>;
    return "its signed policy is not a JSON object";
  } catch (error) {
    return (error as Error).message;
  }
}
