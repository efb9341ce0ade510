/**
 * The built-in street: the embedded defaults `npm start` runs on. Every node has the reference
 * board (docs/board.md) and the same configuration except its identity.
 */
import { SHT4X_DEFAULT_ADDRESS } from "../../src/sensors/sht4x.js";

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
        address: SHT4X_DEFAULT_ADDRESS,
        intervalSeconds: 10,
        faultyAfter: 5,
        channels: [
          { name: "temperature", output: "temperature", decimals: 2, stats: ["count", "mean", "min", "max"] },
          { name: "humidity", output: "humidity", decimals: 1, stats: ["count", "mean", "min", "max"] },
        ],
      },
    ],
    uplink: { outboxCapacity: 96, maxInFlight: 4, counterBlock: 32 },
  };
}
