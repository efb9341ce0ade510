import { describe, expect, it } from "vitest";
import { statisticsFor, statsAllowedFor } from "../../../src/aggregate/channel-statistics.js";
import type { SensorOutput } from "../../../src/sensors/sensor-driver.js";

const temperature: SensorOutput = { quantity: "temperature", kind: "level", unit: "Cel", min: -40, max: 125 };
const sound: SensorOutput = { quantity: "sound", kind: "level", unit: "dB", min: 30, max: 130, logarithmic: true };
const vehicles: SensorOutput = { quantity: "vehicles", kind: "count", unit: "", min: 0, max: 1000 };

describe("channel statistics by output kind", () => {
  it("offers the statistics that fit each kind", () => {
    expect(statsAllowedFor(temperature)).toEqual(["count", "mean", "min", "max"]);
    expect(statsAllowedFor(sound)).not.toContain("mean");
    expect(statsAllowedFor(sound)).toContain("leq");
    expect(statsAllowedFor(vehicles)).toEqual(["sum"]);
  });

  it("levels: count, mean, min, max", () => {
    const s = statisticsFor(temperature);
    [10, 12, 14].forEach((v) => s.add(v));
    expect([s.value("count"), s.value("mean"), s.value("min"), s.value("max")]).toEqual([3, 12, 10, 14]);
  });

  it("decibels: energy average, never the arithmetic mean", () => {
    const s = statisticsFor(sound);
    s.add(60);
    s.add(70);
    expect(s.value("leq")).toBeCloseTo(67.4, 2);
    expect(s.value("mean")).toBeNaN();
  });

  it("counts: the sum, and zero events is a value while no sample is missing data", () => {
    const s = statisticsFor(vehicles);
    expect(s.value("sum")).toBeNaN();
    s.add(0);
    s.add(0);
    expect(s.value("sum")).toBe(0);
    s.add(3);
    expect(s.value("sum")).toBe(3);
    s.reset(0);
    expect(s.count).toBe(0);
  });
});
