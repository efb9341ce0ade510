/**
 * The reference street's hardware: the board every node carries (docs/board.md) and where each
 * node stands. Apart from street.ts, which adds the reference policy, so that the firmware takes
 * the board without the simulator's built-in policy (it gets its policy from its own build).
 */
import type { BoardConfig } from "../../src/policy/node-from-policy.js";

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

