/**
 * The city's side of a policy update (src/policy/policy-update-bundle.ts): from the signed policy a
 * node runs and a new policy.json, the update the node will take. It signs the next serial with the
 * operator's key, builds and signs the disclosure with the same portable code the node checks it
 * with (src/policy/disclosure.ts, for the node's board as the node sees it), and weighs the change with the node's own
 * comparison (src/policy/policy-change.ts): a change that weakens privacy is issued only with the
 * oversight key's countersignature, and refused before anything is signed without it, naming
 * every weakening.
 */
import { STORE_VALUE_MAX_BYTES } from "../../src/platform.js";
import { disclosureFor, encodeDisclosure } from "../../src/policy/disclosure.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy, type BoardConfig } from "../../src/policy/node-from-policy.js";
import { policyWeakenings, type PolicyWeakening } from "../../src/policy/policy-change.js";
import { encodePolicyUpdate } from "../../src/policy/policy-update-bundle.js";
import { runningBoard } from "../../src/policy/policy-update.js";
import { nodePolicyPayload, openSignedPolicy, type NodePosition, type SignedNodePolicy } from "../../src/policy/signed-policy.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import type { OperatorKey } from "./operator-key.js";
import type { OversightKey } from "./oversight-key.js";

export interface IssuedPolicyUpdate {
  readonly serial: number;
  /** The update's bytes, to send in chunks. */
  readonly update: Uint8Array;
  /** The new signed policy, for the operator's record (node-policy-record.ts). */
  readonly signedPolicy: Uint8Array;
  readonly weakenings: readonly PolicyWeakening[];
  readonly countersigned: boolean;
}

export class PolicyUpdateRefusedError extends Error {
  override name = "PolicyUpdateRefusedError";
}

/** A weakening change and no oversight key to countersign it. */
export class NeedsOversightError extends PolicyUpdateRefusedError {
  override name = "NeedsOversightError";
  constructor(readonly weakenings: readonly PolicyWeakening[]) {
    super(`the change weakens privacy, so it needs the oversight key's countersignature (--countersign):\n${weakenings.map((w) => `  ${w.pointer}: ${w.reason}`).join("\n")}`);
  }
}

export interface PolicyUpdateRequest {
  /** The signed policy the node runs (its serial is the base). */
  readonly running: SignedNodePolicy;
  /** The new policy.json, validated (hosts/node/policy-file.ts). */
  readonly policy: unknown;
  /** The node's exact position (default: where it is). */
  readonly position?: NodePosition;
  /** The node's board (the simulator's: streetBoard()). */
  readonly board: BoardConfig;
  readonly operator: OperatorKey;
  /** Countersigns when given, whatever the change; required when the change weakens privacy. */
  readonly oversight?: OversightKey;
  readonly nowSeconds: number;
}

export function issuePolicyUpdate(request: PolicyUpdateRequest): IssuedPolicyUpdate {
  const { running, operator, oversight } = request;
  const identity = { device: running.device, zone: running.zone };
  const serial = running.serial + 1;
  const payload = utf8Encode(JSON.stringify(nodePolicyPayload({ ...identity, serial, issued: Math.floor(request.nowSeconds), position: request.position ?? running.position, policy: request.policy })));
  const proposed = openSignedPolicy(operator.sign(payload), operator.publicKey, identity);
  const weakenings = policyWeakenings(running, proposed);
  if (weakenings.length > 0 && oversight === undefined) throw new NeedsOversightError(weakenings);
  if (proposed.signed.length > STORE_VALUE_MAX_BYTES) {
    throw new PolicyUpdateRefusedError(`the signed policy is ${proposed.signed.length} bytes; a node's store takes values of at most ${STORE_VALUE_MAX_BYTES} bytes: shorten the policy's texts`);
  }
  // The board as the node sees it: the sensors its running policy reads (policy-update.ts).
  const board = runningBoard(parseNodeConfig(nodeConfigFromSignedPolicy(running, request.board)));
  const config = parseNodeConfig(nodeConfigFromSignedPolicy(proposed, board));
  const update = encodePolicyUpdate({
    signedPolicy: proposed.signed,
    signedDisclosure: operator.sign(encodeDisclosure(disclosureFor(config))),
    countersignature: oversight?.countersign(payload),
  });
  return { serial, update, signedPolicy: proposed.signed, weakenings, countersigned: oversight !== undefined };
}
