import { describe, expect, it } from "vitest";
import { ConfigError, parseNodeConfig } from "../../../src/policy/node-config.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";
import { openSensor } from "../../../src/sensors/catalog.js";
import { SimBoard } from "../../../hosts/sim/sim-board.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { IdentifierIntake } from "../../../src/privacy/identifier-intake.js";

function withChange(change: (config: any) => void): unknown {
  const config = structuredClone(streetNodeConfig("street-01"));
  change(config);
  return config;
}

describe("node configuration", () => {
  it("accepts the built-in street and fills defaults", () => {
    const { disclosure } = streetNodeConfig("street-01");
    const config = parseNodeConfig({ zone: "z", device: "d", sensors: [{ id: "c", part: "sht4x", bus: "main", address: 0x44, channels: [{ name: "t", output: "temperature" }] }], disclosure });
    expect(config.windowSeconds).toBe(300);
    expect(config.sensors[0]!.intervalSeconds).toBe(10);
    expect(config.sensors[0]!.channels[0]!.stats).toEqual(["count", "mean", "min", "max"]);
    expect(config.uplink).toEqual({ outboxCapacity: 96, outboxBytes: 65536, outboxRamBytes: 16384, maxInFlight: 4, counterBlock: 32, healthSeconds: 900, epochSeconds: 86400, maxMessagesPerEpoch: 1 << 20 });
    expect(config.privacy).toEqual({ pseudonymEpochSeconds: 300, totals: [] });
    const street = parseNodeConfig(streetNodeConfig("street-01"));
    expect(street.sensors[4]!.channels[0]!.privacy).toEqual({ k: 3, epsilon: 0.5, sensitivity: 2, dailyEpsilon: 144 });
    expect(config.sensors[0]!.channels[0]!.filters).toEqual([]);
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
    [(c: any) => (c.sensors[0].port = "pm"), 'sensors[0].port: sht4x is not connected by "port"'],
    [(c: any) => (c.sensors[2].port = undefined), "sensors[2].port:"],
    [(c: any) => (c.sensors[0].channels[0].filters = [{ median: 4 }]), "sensors[0].channels[0].filters[0].median: must be odd"],
    [(c: any) => (c.sensors[0].channels[0].filters = [{ smooth: 3 }]), "sensors[0].channels[0].filters[0].smooth: unknown filter"],
    [(c: any) => (c.sensors[0].channels[0].filters = [{ clamp: { min: 5, max: 1 } }]), "sensors[0].channels[0].filters[0].clamp: min is above max"],
    [(c: any) => (c.sensors[0].channels[0].filters = [{ median: 3, throttle: 5 }]), "sensors[0].channels[0].filters[0]: must have exactly one"],
    [(c: any) => (c.uplink.healthSeconds = 1000), "uplink.healthSeconds: must be a multiple of windowSeconds"],
    [(c: any) => (c.sensors[2].channels[1].name = "PM 2.5"), "sensors[2].channels[1].name:"],
    [(c: any) => (c.sensors[4].channels[0].privacy = { k: 1 }), "sensors[4].channels[0].privacy.k: 1 suppresses nothing"],
    [(c: any) => (c.sensors[4].channels[0].privacy = { epsilon: 0.1234 }), "sensors[4].channels[0].privacy.epsilon: at most three decimals"],
    [(c: any) => (c.sensors[4].channels[0].privacy = {}), "sensors[4].channels[0].privacy: set k, epsilon or both"],
    [(c: any) => (c.sensors[4].channels[0].privacy = { epsilon: 0.5, dailyEpsilon: 0.1 }), "sensors[4].channels[0].privacy.dailyEpsilon: must allow at least one release"],
    [(c: any) => (c.privacy = { totals: [{ total: "vehicles", parts: ["cars", "trucks"] }] }), 'privacy.totals[0]: no channel named "cars"'],
    [(c: any) => (c.privacy = { pseudonymEpochSeconds: 450 }), "privacy.pseudonymEpochSeconds: must be a multiple of windowSeconds"],
  ])("rejects a bad value, naming the key (%#)", (change, message) => {
    expect(() => parseNodeConfig(withChange(change))).toThrow(ConfigError);
    expect(() => parseNodeConfig(withChange(change))).toThrow(message);
  });

  it("rejects a channel that takes an output the part does not have, naming the key", () => {
    const config = parseNodeConfig(withChange((c) => (c.sensors[0].channels[0].output = "pressure")));
    const clock = new SimClock({ startWallMs: 0 });
    expect(() => openSensor(config.sensors[0]!, { buses: new SimBoard(), clock, identifiers: new IdentifierIntake() }, "sensors[0]")).toThrow(
      'sensors[0].channels[0].output: sht4x has no output "pressure" (it has temperature, humidity)',
    );
  });

  it.each([
    ["a mean of decibels", (c: any) => (c.sensors[3].channels[0].stats = ["mean"]), 'sensors[3].channels[0].stats[0]: "mean" does not fit sound (decibels are averaged by energy: use leq)'],
    ["a sum of temperatures", (c: any) => (c.sensors[0].channels[0].stats = ["sum"]), 'sensors[0].channels[0].stats[0]: "sum" does not fit temperature'],
    ["a mean of counts", (c: any) => (c.sensors[5].channels[0].stats = ["mean"]), 'sensors[5].channels[0].stats[0]: "mean" does not fit vehicles; use sum'],
    ["a filter on counts", (c: any) => (c.sensors[5].channels[0].filters = [{ median: 3 }]), "sensors[5].channels[0].filters: filters apply to measured levels, not to counts"],
    ["an unknown setting", (c: any) => (c.sensors[1].settings = { colour: 1 }), "sensors[1].settings.colour: scd4x has no such setting"],
    ["privacy on a measured level", (c: any) => (c.sensors[1].channels[0].privacy = { k: 3 }), "sensors[1].channels[0].privacy: applies to counts of people, devices and vehicles"],
    ["a bad calibration curve", (c: any) => (c.sensors[3].settings = { calibration: [{ volts: 2, db: 30 }, { volts: 1, db: 130 }] }), "sensors[3].settings:"],
  ])("refuses %s when the driver opens, naming the key", (_what, change, message) => {
    const clock = new SimClock({ startWallMs: 0 });
    const config = parseNodeConfig(withChange(change));
    const { board } = simulatedReferenceBoard("street-01", "demo-street", clock, clock);
    const index = Number(/sensors\[(\d)\]/.exec(message)![1]);
    expect(() => openSensor(config.sensors[index]!, { buses: board, clock, identifiers: new IdentifierIntake() }, `sensors[${index}]`)).toThrow(message);
  });

  it("rejects what is not an object at all", () => {
    for (const raw of [null, 42, "config", []]) expect(() => parseNodeConfig(raw)).toThrow("config: must be an object");
  });
});
