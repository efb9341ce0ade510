/**
 * The built-in street: the embedded defaults `npm start` runs on. Every node has the reference
 * board (docs/board.md) and the same configuration except its identity.
 */

export const DEFAULT_ZONE = "demo-street";

/** Device id of the n-th node (1-based): street-01, street-02, ... */
export function streetDeviceId(n: number): string {
  return `street-${String(n).padStart(2, "0")}`;
}

/** The configuration of one node of the built-in street, as JSON (validated by parseNodeConfig). */
export function streetNodeConfig(device: string, zone = DEFAULT_ZONE): Record<string, unknown> {
  return {
    zone,
    device,
    windowSeconds: 300,
    sensors: [
      {
        id: "climate",
        part: "sht4x",
        bus: "main",
        address: 0x44,
        intervalSeconds: 10,
        channels: [
          { name: "temperature", output: "temperature", decimals: 2, stats: ["count", "mean", "min", "max"] },
          { name: "humidity", output: "humidity", decimals: 1, stats: ["count", "mean", "min", "max"] },
        ],
      },
      {
        id: "air",
        part: "scd4x",
        bus: "main",
        address: 0x62,
        intervalSeconds: 1, // polls data-ready; the SCD4x measures every 5 s
        channels: [{ name: "co2", output: "co2", decimals: 0, stats: ["count", "mean", "min", "max"], filters: [{ median: 3 }] }],
      },
      {
        id: "pm",
        part: "pms5003",
        port: "pm",
        intervalSeconds: 1,
        channels: [
          { name: "pm1", output: "pm1", decimals: 1, stats: ["count", "mean", "max"] },
          { name: "pm2_5", output: "pm2_5", decimals: 1, stats: ["count", "mean", "max"], filters: [{ median: 5 }] },
          { name: "pm10", output: "pm10", decimals: 1, stats: ["count", "mean", "max"], filters: [{ median: 5 }] },
        ],
      },
      {
        id: "sound",
        part: "sound-level-meter",
        pin: "sound",
        intervalSeconds: 0.125, // the meter's fast (125 ms) time weighting
        channels: [{ name: "noise", output: "sound", decimals: 1, stats: ["count", "leq", "l10", "l90", "max"] }],
      },
      {
        id: "radar",
        part: "ld2410",
        port: "radar",
        intervalSeconds: 0.2,
        faultyAfter: 15,
        channels: [{ name: "people", output: "entries", decimals: 0, stats: ["sum"], privacy: { k: 3, epsilon: 0.5, sensitivity: 2 } }],
      },
      {
        id: "loop",
        part: "vehicle-detector",
        pin: "loop",
        intervalSeconds: 1,
        channels: [
          { name: "vehicles", output: "vehicles", decimals: 0, stats: ["sum"], privacy: { k: 3, epsilon: 0.5, sensitivity: 1 } },
          { name: "occupancy", output: "occupancy", decimals: 0, stats: ["sum"] },
        ],
      },
      {
        id: "ble",
        part: "ble-scan",
        intervalSeconds: 1,
        channels: [{ name: "devices", output: "devices", decimals: 0, stats: ["distinct"], privacy: { k: 5, epsilon: 0.5, sensitivity: 6 } }],
      },
    ],
    // The queue's budget on flash is the ESP32's (docs/reliability.md): 160 KB, about 10 hours of
    // outage at today's summary size.
    uplink: { outboxCapacity: 256, outboxBytes: 163840, maxInFlight: 4, counterBlock: 32, healthSeconds: 900 },
    // A fresh pseudonym key every window: nothing links a device's pseudonyms across windows.
    privacy: { pseudonymEpochSeconds: 300 },
  };
}
