/**
 * Policy updates for tests, made as the city makes them (hosts/collector/policy-update-issuer.ts)
 * for a node provisioned as the simulator provisions it (hosts/node/street-policy.ts): the
 * operator's key, the board's oversight key and another oversight key no node trusts, in a
 * temporary state folder sealed under its local passphrase.
 *
 * `updateFor` can also make what the city's tool refuses to: an update whose change weakens
 * privacy without a countersignature, or countersigned by a key no node trusts, for the node to
 * refuse.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KeyValueStore } from "../../src/platform.js";
import { parseNodeConfig, type NodeConfig } from "../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy } from "../../src/policy/node-from-policy.js";
import { decodePolicyUpdate, encodePolicyUpdate } from "../../src/policy/policy-update-bundle.js";
import { provisionedPolicy, type NodePosition, type SignedNodePolicy } from "../../src/policy/signed-policy.js";
import { OperatorKey } from "../../hosts/collector/operator-key.js";
import { OversightKey } from "../../hosts/collector/oversight-key.js";
import { issuePolicyUpdate } from "../../hosts/collector/policy-update-issuer.js";
import { installSignedPolicy } from "../../hosts/node/street-policy.js";
import { streetBoard } from "../../hosts/sim/street.js";
import { localPassphrase } from "./local-passphrase.js";

export const UPDATE_IDENTITY = { device: "street-01", zone: "demo-street" };
export const UPDATE_POSITION: NodePosition = { latitude: 0, longitude: 0 };

export interface PolicyUpdateKeys {
  readonly operator: OperatorKey;
  readonly oversight: OversightKey;
  /** An oversight key no node was given. */
  readonly stranger: OversightKey;
  /** Removes the keys' folder. */
  readonly remove: () => void;
}

export function policyUpdateKeys(): PolicyUpdateKeys {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-policy-update-"));
  const operator = OperatorKey.loadOrCreate(dir, localPassphrase(dir)).key;
  const oversight = OversightKey.loadOrCreate(join(dir, "board"), localPassphrase(join(dir, "board"))).key;
  const stranger = OversightKey.loadOrCreate(join(dir, "stranger"), localPassphrase(join(dir, "stranger"))).key;
  return { operator, oversight, stranger, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes `policy` into `store` as provisioning does (serial 1 in an empty store), with the oversight key unless told not to. */
export function provision(store: KeyValueStore, keys: PolicyUpdateKeys, policy: unknown, options: { oversight?: boolean; nowS?: number } = {}): void {
  const installed = installSignedPolicy(store, UPDATE_IDENTITY, UPDATE_POSITION, policy, streetBoard(), keys.operator, options.nowS ?? 1_790_000_000, options.oversight === false ? undefined : keys.oversight.publicKey);
  if (installed.outcome === "unverifiable") throw new Error(installed.why);
}

/** The configuration a node boots on from `store` (fleet.ts does the same). */
export function bootConfig(store: KeyValueStore): NodeConfig {
  return parseNodeConfig(nodeConfigFromSignedPolicy(provisionedPolicy(store, UPDATE_IDENTITY), streetBoard()));
}

export interface UpdateOptions {
  /** Who countersigns: the board's oversight key, one no node trusts, or no one. */
  readonly countersign: "oversight" | "stranger" | "none";
  readonly position?: NodePosition;
  /** Signs for serial current + 1 + this (default 0). */
  readonly serialSkew?: number;
  /** Signs for this device instead. */
  readonly device?: string;
  readonly nowS?: number;
}

/** An update of the node in `store` to `policy`. */
export function updateFor(store: KeyValueStore, keys: PolicyUpdateKeys, policy: unknown, options: UpdateOptions): Uint8Array {
  const current = provisionedPolicy(store, UPDATE_IDENTITY);
  const running: SignedNodePolicy = { ...current, serial: current.serial + (options.serialSkew ?? 0), device: options.device ?? current.device };
  const { update } = issuePolicyUpdate({
    running,
    policy,
    position: options.position,
    board: streetBoard(),
    operator: keys.operator,
    // The tool refuses a weakening without a countersignature: sign with one, then take it off.
    oversight: options.countersign === "stranger" ? keys.stranger : keys.oversight,
    nowSeconds: options.nowS ?? 1_790_000_600,
  });
  if (options.countersign !== "none") return update;
  return encodePolicyUpdate({ ...decodePolicyUpdate(update), countersignature: undefined });
}
