/**
 * The built-in street: the embedded defaults `npm start` runs on. Every node has the reference
 * board (docs/board.md) and runs the reference street's policy; only its identity differs.
 */

import REFERENCE_STREET_POLICY from "../../src/policy/reference-street.policy.json" with { type: "json" };
import { parsePolicy, type DeploymentPolicy } from "../../src/policy/deployment-policy.js";
import { nodeConfigFromPolicy } from "../../src/policy/node-from-policy.js";
import { streetBoard } from "./street-board.js";

export const DEFAULT_ZONE = "demo-street";

/** Device id of the n-th node (1-based): street-01, street-02, ... */
export function streetDeviceId(n: number): string {
  return `street-${String(n).padStart(2, "0")}`;
}

export { streetBoard, streetPosition } from "./street-board.js";

/** The reference street's policy (src/policy/reference-street.policy.json), parsed. */
export function referenceStreetPolicy(): DeploymentPolicy {
  return parsePolicy(REFERENCE_STREET_POLICY);
}

/**
 * The configuration of one node of the built-in street, as JSON (validated by parseNodeConfig):
 * the reference board under `policy` (by default the reference street's).
 */
export function streetNodeConfig(device: string, zone = DEFAULT_ZONE, policy: DeploymentPolicy = referenceStreetPolicy()): Record<string, unknown> {
  return nodeConfigFromPolicy({ zone, device }, streetBoard(), policy);
}
