import { describe, expect, it } from "vitest";
import { ConfigError, parseNodeConfig } from "../../../src/policy/node-config.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";
import { openSensor } from "../../../src/sensors/catalog.js";
import { SimBoard } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";

function withChange(change: (config: any) => void): unknown {
  const config = structuredClone(streetNodeConfig("street-01"));
  change(config);
  return config;
}

describe("node configuration", () => {
  it("accepts the built-in street and fills defaults", () => {
    const config = parseNodeConfig({ zone: "z", device: "d", sensors: [{ id: "c", part: "sht4x", bus: "main", address: 0x44, channels: [{ name: "t", output: "temperature" }] }] });
    expect(config.windowSeconds).toBe(300);
    expect(config.sensors[0]!.intervalSeconds).toBe(10);
    expect(config.sensors[0]!.channels[0]!.stats).toEqual(["count", "mean", "min", "max"]);
    expect(config.uplink).toEqual({ outboxCapacity: 96, maxInFlight: 4, counterBlock: 32 });
    expect(parseNodeConfig(streetNodeConfig("street-01")).device).toBe("street-01");
  });

  it.each([
    [(c: any) => (c.device = "Street 1"), "device:"],
    [(c: any) => (c.zone = "a/#"), "zone:"],
    [(c: any) => (c.windowSeconds = 7), "windowSeconds:"],
    [(c: any) => (c.windowSeconds = 7000), "windowSeconds: must divide a day"],
    [(c: any) => (c.sensors = []), "sensors: must have 1 to 16 entries"],
    [(c: any) => (c.sensors[0].part = "bme999"), "sensors[0].part: must be one of"],
    [(c: any) => (c.sensors[0].address = 0x100), "sensors[0].address:"],
    [(c: any) => (c.sensors[0].channels[1].decimals = 9), "sensors[0].channels[1].decimals: must be an integer from 0 to 6"],
    [(c: any) => (c.sensors[0].channels[1].stats = ["mean", "median"]), "sensors[0].channels[1].stats[1]: must be one of"],
    [(c: any) => (c.sensors[0].channels[1].name = "temperature"), 'duplicate channel "temperature"'],
    [(c: any) => (c.sensors[0].colour = "red"), "sensors[0].colour: unknown key"],
    [(c: any) => (c.uplink.outboxCapacity = 1e6), "uplink.outboxCapacity:"],
    [(c: any) => (c.sensors[0].intervalSeconds = 0), "sensors[0].intervalSeconds:"],
  ])("rejects a bad value, naming the key (%#)", (change, message) => {
    expect(() => parseNodeConfig(withChange(change))).toThrow(ConfigError);
    expect(() => parseNodeConfig(withChange(change))).toThrow(message);
  });

  it("rejects a channel that takes an output the part does not have, naming the key", () => {
    const config = parseNodeConfig(withChange((c) => (c.sensors[0].channels[0].output = "pressure")));
    const clock = new SimClock({ startWallMs: 0 });
    expect(() => openSensor(config.sensors[0]!, new SimBoard(), clock, "sensors[0]")).toThrow(
      'sensors[0].channels[0].output: sht4x has no output "pressure" (it has temperature, humidity)',
    );
  });

  it("rejects what is not an object at all", () => {
    for (const raw of [null, 42, "config", []]) expect(() => parseNodeConfig(raw)).toThrow("config: must be an object");
  });
});
