/**
 * The node's check of a policy update (policy-update-bundle.ts), whole and authentic as a downlink
 * command, before it takes it: the two-key rule (docs/governance.md). In order:
 *   1. the new policy verifies under the operator's key in the store, and names this node;
 *   2. its serial is exactly one more than the policy in the store (so an old update, replayed, is
 *      refused even when the command's replay window was lost);
 *   3. the node can run it: a valid policy for the board it runs (its sensors and uplink);
 *   4. the disclosure is the operator's signature of exactly what the node will disclose for it;
 *   5. when the change weakens privacy in any way (policy-change.ts), the oversight key in the
 *      store ("oversight.pub", given at provisioning) countersigned the same policy payload; a
 *      countersignature that is there is checked whatever the change, and must hold.
 * Then the policy and its disclosure are written in ONE store commit: a power cut leaves the old
 * pair or the new one, whole. The node runs the new policy from its next boot (it asks its host to
 * restart it: policy-update-receiver.ts).
 *
 * Compared against the policy in the store, not the one running: after an update taken and not yet
 * booted, the next update is one more than that one, and weighed against it.
 *
 * Its own module, imported by the hosts that give it to the node (node.ts takes it as an option),
 * because it carries the Ed25519 arithmetic: a node built without it takes no policy updates.
 *
 * The board is the node's running configuration without its channels: a policy update can name
 * only the sensors the node reads now (a sensor the running policy leaves out is not configured on
 * the node at all: adding one is a provisioning).
 */
import type { KeyValueStore } from "../platform.js";
import { storeFailureCause } from "../store-contract.js";
import { chunkedWrites } from "../store-chunks.js";
import { CoseSign1Error, unverifiedSign1Payload, verifySign1 } from "../wire/cose-sign1.js";
import { attachSign1Payload } from "../wire/cose-sign1-detached.js";
import { disclosureFor, encodeDisclosure } from "./disclosure.js";
import { PolicyError } from "./deployment-policy.js";
import { ConfigError, parseNodeConfig, type NodeConfig } from "./node-config.js";
import { nodeConfigFromSignedPolicy, type BoardConfig } from "./node-from-policy.js";
import { policyWeakenings, type PolicyWeakening } from "./policy-change.js";
import { decodePolicyUpdate, PolicyUpdateFormatError } from "./policy-update-bundle.js";
import { SIGNED_DISCLOSURE_STORE_KEY } from "./signed-disclosure.js";
import { OPERATOR_KEY_STORE_KEY, openSignedPolicy, provisionedPolicy, SIGNED_POLICY_STORE_KEY, SignedPolicyError, type SignedNodePolicy } from "./signed-policy.js";

/** Store key of the oversight key's Ed25519 public key (32 bytes), written at provisioning. */
export const OVERSIGHT_KEY_STORE_KEY = "oversight.pub";

export type PolicyUpdateVerdict =
  | { readonly accepted: true; readonly serial: number; readonly twoKeys: boolean }
  | {
      readonly accepted: false;
      /** The proposed serial, once the operator's signature vouches for it. */
      readonly serial: number | undefined;
      /** Short: it goes into the audit entry (48 characters with the serial). */
      readonly reason: string;
      /** Every weakening, when that is why. */
      readonly weakenings?: readonly PolicyWeakening[];
      /** The store's failure cause, when the commit failed. */
      readonly storeFailure?: string;
    };

/** What a node calls with an update, whole: checks it and, if it holds, stores it. */
export type PolicyUpdateApplier = (update: Uint8Array, store: KeyValueStore, running: NodeConfig) => PolicyUpdateVerdict;

export const applyPolicyUpdate: PolicyUpdateApplier = (update, store, running) => {
  const checked = checkPolicyUpdate(update, store, running);
  if (!checked.accepted) return checked;
  try {
    store.commit([{ key: SIGNED_POLICY_STORE_KEY, value: checked.signedPolicy }, ...chunkedWrites(SIGNED_DISCLOSURE_STORE_KEY, checked.signedDisclosure)]);
  } catch (error) {
    const cause = storeFailureCause(error);
    return { accepted: false, serial: checked.serial, reason: `store ${cause}`, storeFailure: cause };
  }
  return { accepted: true, serial: checked.serial, twoKeys: checked.twoKeys };
};

/** The checks of applyPolicyUpdate, without the commit. */
export function checkPolicyUpdate(
  update: Uint8Array,
  store: KeyValueStore,
  running: NodeConfig,
): (PolicyUpdateVerdict & { readonly accepted: false }) | { readonly accepted: true; readonly serial: number; readonly twoKeys: boolean; readonly signedPolicy: Uint8Array; readonly signedDisclosure: Uint8Array } {
  const refuse = (reason: string, serial?: number, weakenings?: readonly PolicyWeakening[]) => ({ accepted: false as const, serial, reason, ...(weakenings ? { weakenings } : {}) });
  let bundle;
  try {
    bundle = decodePolicyUpdate(update);
  } catch (error) {
    if (error instanceof PolicyUpdateFormatError) return refuse("not a policy update");
    throw error;
  }
  const identity = { device: running.device, zone: running.zone };
  let current: SignedNodePolicy;
  try {
    current = provisionedPolicy(store, identity);
  } catch (error) {
    if (error instanceof SignedPolicyError) return refuse(`the stored policy: ${error.failure}`);
    throw error;
  }
  const operatorKey = store.get(OPERATOR_KEY_STORE_KEY)!;
  let proposed: SignedNodePolicy;
  try {
    proposed = openSignedPolicy(bundle.signedPolicy, operatorKey, identity);
  } catch (error) {
    if (!(error instanceof SignedPolicyError)) throw error;
    return refuse(error.failure === "foreign" ? "for another node" : error.failure === "invalid" ? "not a valid policy" : "not the operator's signature");
  }
  const serial = proposed.serial;
  if (serial !== current.serial + 1) return refuse(`the store holds serial ${current.serial}`, serial);

  let config: NodeConfig;
  try {
    config = parseNodeConfig(nodeConfigFromSignedPolicy(proposed, runningBoard(running)));
  } catch (error) {
    if (error instanceof PolicyError || error instanceof ConfigError) return refuse(`not for this board: ${error.message}`, serial);
    throw error;
  }
  const disclosure = encodeDisclosure(disclosureFor(config));
  try {
    const payload = unverifiedSign1Payload(bundle.signedDisclosure);
    if (payload.length !== disclosure.length || payload.some((byte, i) => byte !== disclosure[i])) return refuse("disclosure is not this policy's", serial);
    verifySign1(bundle.signedDisclosure, operatorKey);
  } catch (error) {
    if (error instanceof CoseSign1Error) return refuse("disclosure not the operator's", serial);
    throw error;
  }

  const weakenings = policyWeakenings(current, proposed);
  const oversightKey = store.get(OVERSIGHT_KEY_STORE_KEY);
  let twoKeys = false;
  if (bundle.countersignature !== undefined && oversightKey !== undefined && oversightKey.length === 32) {
    try {
      verifySign1(attachSign1Payload(bundle.countersignature, unverifiedSign1Payload(bundle.signedPolicy)), oversightKey);
      twoKeys = true;
    } catch (error) {
      if (error instanceof CoseSign1Error) return refuse("countersignature does not verify", serial);
      throw error;
    }
  }
  if (weakenings.length > 0 && !twoKeys) {
    const first = weakenings[0]!.pointer;
    return refuse(oversightKey === undefined ? `weakens ${first}, no oversight key` : `weakens ${first}`, serial, weakenings);
  }
  return { accepted: true, serial, twoKeys, signedPolicy: bundle.signedPolicy, signedDisclosure: bundle.signedDisclosure };
}

/** The board a node runs: its configuration's sensors without their channels, and its uplink. */
export function runningBoard(config: NodeConfig): BoardConfig {
  return {
    sensors: config.sensors.map(({ channels: _channels, ...sensor }) => sensor),
    uplink: { ...config.uplink },
  };
}
