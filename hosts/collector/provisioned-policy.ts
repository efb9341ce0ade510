/**
 * The signed policy a device's provisioning files carry (ESP32 NVS image, the Moddable simulator's
 * preference file): the store records that make the node run `policy` at its exact position, as
 * the simulated street's nodes get them in their flash (hosts/node/street-policy.ts), written on a
 * blank store since the files replace the node's whole store. The records are:
 *
 *   - `policy.signed`: the node's policy, its identity, exact position and serial, signed by the
 *     operator (COSE_Sign1, Ed25519), which the node verifies at every boot;
 *   - `disclosure.0`, `disclosure.1`, ...: the disclosure the node will publish for it, as the node
 *     will build it, signed too (src/policy/signed-disclosure.ts);
 *   - `operator.pub`, and `oversight.pub` when the city has an oversight key: the keys the node
 *     verifies its policy, and later changes to it, with (docs/governance.md).
 *
 * The serial follows the operator's newest record of the node, so a node provisioned again never
 * runs a policy numbered like one it ran before, and the record (`<state>/policies/<device>/`,
 * which the collector opens the node's messages against) gains the new policy before any file is
 * written.
 */
import { parseNodeConfig } from "../../src/policy/node-config.js";
import { nodeConfigFromPolicy, type BoardConfig } from "../../src/policy/node-from-policy.js";
import type { DeploymentPolicy } from "../../src/policy/deployment-policy.js";
import { SIGNED_POLICY_STORE_KEY, type NodePosition } from "../../src/policy/signed-policy.js";
import { MemoryStore } from "../sim/memory-store.js";
import { installSignedPolicy } from "../node/street-policy.js";
import { nodePolicyRecords } from "./node-policy-record.js";
import type { OperatorKey } from "./operator-key.js";
import { recordSignedPolicy } from "./policy-registry.js";
import type { ProvisioningRecord } from "./provisioning-bundle.js";

export interface ProvisionedPolicy {
  /** The store records, in the order a node's store takes them. */
  readonly records: ProvisioningRecord[];
  readonly serial: number;
}

/**
 * Checks that `policy` can run on `board` for a node, before any key is issued for it: throws the
 * parser's PolicyError or the configuration's ConfigError, naming what is wrong.
 */
export function checkPolicyOnBoard(policy: DeploymentPolicy, board: BoardConfig, identity: { device: string; zone: string }): void {
  parseNodeConfig(nodeConfigFromPolicy(identity, board, policy));
}

/** Signs `document` for the node and records it; the records its provisioning files carry. */
export function provisionedPolicyRecords(options: {
  readonly stateDir: string;
  readonly identity: { readonly device: string; readonly zone: string };
  readonly position: NodePosition;
  /** The policy.json document as written (validated): what the operator signs. */
  readonly document: unknown;
  readonly board: BoardConfig;
  readonly operator: OperatorKey;
  readonly oversightKey: Uint8Array | undefined;
  readonly nowSeconds: number;
}): ProvisionedPolicy {
  const { stateDir, identity, operator } = options;
  const newest = nodePolicyRecords(stateDir, identity, operator.publicKey).at(-1)?.serial ?? 0;
  const store = new MemoryStore();
  const installed = installSignedPolicy(store, identity, options.position, options.document, options.board, operator, options.nowSeconds, options.oversightKey, newest);
  // A blank store has nothing to keep or distrust.
  if (installed.outcome !== "written") throw new Error(`a blank store came out ${installed.outcome}`);
  recordSignedPolicy(stateDir, identity.device, installed.serial, store.get(SIGNED_POLICY_STORE_KEY)!);
  return { records: store.keys().map((key) => ({ key, value: store.get(key)! })), serial: installed.serial };
}
