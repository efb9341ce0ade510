/**
 * The built-in street: the embedded defaults `npm start` runs on. Every node has the reference
 * board (docs/board.md) and runs the reference street's policy; only its identity differs.
 */

import REFERENCE_STREET_POLICY from "../../src/policy/reference-street.policy.json" with { type: "json" };
import { parsePolicy, type DeploymentPolicy } from "../../src/policy/deployment-policy.js";
import { nodeConfigFromPolicy, type BoardConfig } from "../../src/policy/node-from-policy.js";

export const DEFAULT_ZONE = "demo-street";

/** Device id of the n-th node (1-based): street-01, street-02, ... */
export function streetDeviceId(n: number): string {
  return `street-${String(n).padStart(2, "0")}`;
}

/**
 * Where the n-th node stands, exactly (provisioning data: published only coarsened to the policy's
 * precision): lampposts 25 m apart along an east-west street. The street is fictional, and so is
 * its place: it starts at 0 N 0 E, in the open sea, so that no figure describes a real street.
 */
export function streetPosition(device: string): { latitude: number; longitude: number } {
  const n = Number(/(\d+)$/.exec(device)?.[1] ?? "1");
  // 25 m of longitude at the equator: 25 / 111,320 m per degree.
  return { latitude: 0, longitude: Math.round(((n - 1) * 25 * 1e7) / 111_320) / 1e7 };
}

/**
 * The reference board's wiring (docs/board.md): which part is on which bus and how often it is
 * read. What each sensor releases, and how it is protected, is the policy's.
 */
export function streetBoard(): BoardConfig {
  return {
    sensors: [
      { id: "climate", part: "sht4x", bus: "main", address: 0x44, intervalSeconds: 10 },
      // polls data-ready; the SCD4x measures every 5 s
      { id: "air", part: "scd4x", bus: "main", address: 0x62, intervalSeconds: 1 },
      { id: "pm", part: "pms5003", port: "pm", intervalSeconds: 1 },
      // the meter's fast (125 ms) time weighting
      { id: "sound", part: "sound-level-meter", pin: "sound", intervalSeconds: 0.125 },
      { id: "radar", part: "ld2410", port: "radar", intervalSeconds: 0.2, faultyAfter: 15 },
      { id: "loop", part: "vehicle-detector", pin: "loop", intervalSeconds: 1 },
      { id: "ble", part: "ble-scan", intervalSeconds: 1 },
    ],
    // The queue's budget on flash is the ESP32's (docs/reliability.md): 160 KB, about 10 hours of
    // outage at today's summary size.
    uplink: { outboxCapacity: 256, outboxBytes: 163840, maxInFlight: 4, counterBlock: 32, healthSeconds: 900 },
  };
}

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
