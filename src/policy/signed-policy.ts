/**
 * A node's signed policy: the deployment policy (deployment-policy.ts) for one node, with the
 * node's identity and exact position, signed by the operator's Ed25519 key as a COSE_Sign1
 * (cose-sign1.ts). The node verifies it at boot and runs on nothing else: an unsigned, altered or
 * foreign policy, or one signed by another key, stops the boot with the reason.
 *
 * Payload (UTF-8 JSON, signed byte for byte):
 *   { "format": "civicnode-node-policy", "version": 1, "device": "...", "zone": "...",
 *     "serial": 1, "issued": <Unix seconds>, "position": { "latitude": ..., "longitude": ... },
 *     "policy": { ...policy.json... } }
 * `serial` grows by one with every policy a node is given, so the collector and residents can tell
 * the policies of one node apart and in order. The policy hash is SHA-256 of the payload: what
 * every sealed message is bound to, and what the disclosure names.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { KeyValueStore } from "../platform.js";
import { CoseSign1Error, verifySign1 } from "../wire/cose-sign1.js";
import { utf8Decode } from "../wire/utf8.js";
import { parsePolicy, PolicyError, type DeploymentPolicy } from "./deployment-policy.js";
import { SignedPolicyError } from "./signed-policy-error.js";

export const NODE_POLICY_FORMAT = "civicnode-node-policy";
export const NODE_POLICY_VERSION = 1;
/** Store keys (NVS names: at most 15 characters): the signed policy, and the operator's public key. */
export const SIGNED_POLICY_STORE_KEY = "policy.signed";
export const OPERATOR_KEY_STORE_KEY = "operator.pub";
export const POLICY_HASH_BYTES = 32;

export interface NodePosition {
  readonly latitude: number;
  readonly longitude: number;
}

export interface SignedNodePolicy {
  readonly device: string;
  readonly zone: string;
  readonly serial: number;
  /** Unix seconds at signing. */
  readonly issued: number;
  /** Exact: provisioning data, never published as is. */
  readonly position: NodePosition;
  readonly policy: DeploymentPolicy;
  /** SHA-256 of the signed payload. */
  readonly hash: Uint8Array;
  /** The COSE_Sign1 as provisioned. */
  readonly signed: Uint8Array;
}

export { SignedPolicyError, type SignedPolicyFailure } from "./signed-policy-error.js";

/** The payload a node's signed policy carries (the host signs its UTF-8 JSON). */
export function nodePolicyPayload(fields: { device: string; zone: string; serial: number; issued: number; position: NodePosition; policy: unknown }): Record<string, unknown> {
  return {
    format: NODE_POLICY_FORMAT,
    version: NODE_POLICY_VERSION,
    device: fields.device,
    zone: fields.zone,
    serial: fields.serial,
    issued: fields.issued,
    position: { latitude: fields.position.latitude, longitude: fields.position.longitude },
    policy: fields.policy,
  };
}

/** Verifies `signed` under the operator's key, for the node `identity`; the policy it carries. */
export function openSignedPolicy(signed: Uint8Array, operatorKey: Uint8Array, identity: { device: string; zone: string }): SignedNodePolicy {
  let payload: Uint8Array;
  try {
    payload = verifySign1(signed, operatorKey).payload;
  } catch (error) {
    if (!(error instanceof CoseSign1Error)) throw error;
    if (error.failure === "signature") throw new SignedPolicyError("signature", `the policy's signature does not verify under the operator's key: it was altered, or signed by another key`);
    throw new SignedPolicyError("unsigned", `the policy is not signed by the operator (${error.message})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(utf8Decode(payload));
  } catch {
    throw new SignedPolicyError("invalid", "the signed policy is not JSON");
  }
  const fields = record(document, "");
  if (fields.format !== NODE_POLICY_FORMAT || fields.version !== NODE_POLICY_VERSION) {
    throw new SignedPolicyError("invalid", `/format, /version: must be "${NODE_POLICY_FORMAT}" version ${NODE_POLICY_VERSION}`);
  }
  if (fields.device !== identity.device || fields.zone !== identity.zone) {
    throw new SignedPolicyError("foreign", `the policy is signed for ${String(fields.zone)}/${String(fields.device)}, not for ${identity.zone}/${identity.device}`);
  }
  const serial = fields.serial;
  if (typeof serial !== "number" || !Number.isSafeInteger(serial) || serial < 1) throw new SignedPolicyError("invalid", "/serial: must be an integer from 1");
  const issued = fields.issued;
  if (typeof issued !== "number" || !Number.isSafeInteger(issued) || issued < 0) throw new SignedPolicyError("invalid", "/issued: must be Unix seconds");
  const position = record(fields.position, "/position");
  const latitude = position.latitude;
  const longitude = position.longitude;
  if (typeof latitude !== "number" || !(latitude >= -90 && latitude <= 90)) throw new SignedPolicyError("invalid", "/position/latitude: must be a number from -90 to 90");
  if (typeof longitude !== "number" || !(longitude >= -180 && longitude <= 180)) throw new SignedPolicyError("invalid", "/position/longitude: must be a number from -180 to 180");
  let policy: DeploymentPolicy;
  try {
    policy = parsePolicy(fields.policy);
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    throw new SignedPolicyError("invalid", `/policy${error.message}`);
  }
  return { device: identity.device, zone: identity.zone, serial, issued, position: { latitude, longitude }, policy, hash: sha256(payload), signed };
}

/** The signed policy in a node's store, verified under the operator's key it was provisioned with. */
export function provisionedPolicy(store: KeyValueStore, identity: { device: string; zone: string }): SignedNodePolicy {
  const signed = store.get(SIGNED_POLICY_STORE_KEY);
  const operatorKey = store.get(OPERATOR_KEY_STORE_KEY);
  if (signed === undefined || operatorKey === undefined) {
    throw new SignedPolicyError("missing", `no signed policy in the store (${SIGNED_POLICY_STORE_KEY}, ${OPERATOR_KEY_STORE_KEY}): provision the node with its policy`);
  }
  if (operatorKey.length !== 32) throw new SignedPolicyError("invalid", `${OPERATOR_KEY_STORE_KEY}: an Ed25519 public key has 32 bytes, not ${operatorKey.length}`);
  return openSignedPolicy(signed, operatorKey, identity);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SignedPolicyError("invalid", `${path || "/"}: must be an object`);
  return value as Record<string, unknown>;
}
