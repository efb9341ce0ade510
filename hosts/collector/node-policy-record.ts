/**
 * The signed policy a node runs, whole, from the operator's record of the policies it signed per
 * node (policy-registry.ts: `<state>/policies/<device>/<serial>.cose`, written by provisioning and
 * by update-policy): what update-policy needs to number the next one (serial + 1) and to weigh it
 * against the one the node runs (the two-key rule compares whole policies, and a node's disclosure
 * carries only some of its policy).
 *
 * An update the node refused stays in the record under its serial; which record the node runs is
 * what its disclosure says (serial, and SHA-256 of the signed payload), so update-policy asks the
 * node's retained disclosure first and falls back on the newest record only without one.
 *
 * Each file must verify under the operator's public key like the node's own copy: one that does
 * not is an error here, never a base to sign on.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { openSignedPolicy, SignedPolicyError, type SignedNodePolicy } from "../../src/policy/signed-policy.js";
import { POLICIES_FOLDER } from "./policy-registry.js";

const RECORD_NAME = /^([1-9][0-9]{0,15})\.cose$/;

export class NodePolicyRecordError extends Error {
  override name = "NodePolicyRecordError";
}

/** Every recorded signed policy of the node, verified under `operatorKey`, by serial. Throws NodePolicyRecordError on one that does not verify. */
export function nodePolicyRecords(stateDir: string, identity: { device: string; zone: string }, operatorKey: Uint8Array): SignedNodePolicy[] {
  const dir = join(stateDir, POLICIES_FOLDER, identity.device);
  if (!existsSync(dir)) return [];
  const records: SignedNodePolicy[] = [];
  for (const name of readdirSync(dir)) {
    const serial = RECORD_NAME.exec(name)?.[1];
    if (serial === undefined) continue;
    const path = join(dir, name);
    let record: SignedNodePolicy;
    try {
      record = openSignedPolicy(new Uint8Array(readFileSync(path)), operatorKey, identity);
    } catch (error) {
      if (error instanceof SignedPolicyError) throw new NodePolicyRecordError(`${path}: ${error.message}`);
      throw error;
    }
    if (record.serial !== Number(serial)) throw new NodePolicyRecordError(`${path} holds serial ${record.serial}`);
    records.push(record);
  }
  return records.sort((a, b) => a.serial - b.serial);
}

/**
 * The record the node runs: the one its disclosure names (`runs`: serial and SHA-256 hex), or the
 * newest without one. Throws NodePolicyRecordError when there is none to go by.
 */
export function runningNodePolicy(stateDir: string, identity: { device: string; zone: string }, operatorKey: Uint8Array, runs: { serial: number; sha256: string } | undefined): SignedNodePolicy {
  const records = nodePolicyRecords(stateDir, identity, operatorKey);
  const where = join(stateDir, POLICIES_FOLDER, identity.device);
  if (records.length === 0) throw new NodePolicyRecordError(`no signed policy of ${identity.device} is recorded in ${where}: provision the node first`);
  if (runs === undefined) return records.at(-1)!;
  const found = records.find((record) => record.serial === runs.serial && bytesToHex(record.hash) === runs.sha256);
  if (found === undefined) throw new NodePolicyRecordError(`${identity.device} discloses policy serial ${runs.serial} (sha256 ${runs.sha256.slice(0, 16)}...), which ${where} does not hold`);
  return found;
}
