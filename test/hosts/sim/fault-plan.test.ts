import { describe, expect, it } from "vitest";
import { FaultPlan } from "../../../hosts/sim/fault-plan.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";

describe("fault episodes in a simulated street", () => {
  function plan(seed: string, hours: number) {
    const clock = new SimClock({ startWallMs: Date.UTC(2026, 3, 1) });
    const { parts } = simulatedReferenceBoard("street-01", "demo-street", clock, clock);
    const log: string[] = [];
    new FaultPlan(parts, clock, { seed, meanHoursBetween: hours, onEpisode: (sensor, kind, started) => log.push(`${clock.monotonicMs()} ${sensor} ${kind} ${started ? "start" : "end"}`) });
    return { clock, log };
  }

  it("starts and ends episodes at about the configured rate, for every part", () => {
    const { clock, log } = plan("a", 2);
    clock.advanceBy(48 * 3_600_000);
    const starts = log.filter((l) => l.endsWith("start"));
    // 7 parts, one episode per ~2 h plus its duration: roughly 7 * 48 / 2.3 = 146
    expect(starts.length).toBeGreaterThan(80);
    expect(starts.length).toBeLessThan(220);
    expect(new Set(starts.map((l) => l.split(" ")[1]))).toEqual(new Set(["climate", "air", "pm", "sound", "radar", "loop", "ble"]));
    expect(log.filter((l) => l.endsWith("end")).length).toBeGreaterThanOrEqual(starts.length - 7);
  });

  it("is reproducible for a seed and differs between seeds", () => {
    const a = plan("same", 5);
    const b = plan("same", 5);
    const c = plan("other", 5);
    for (const p of [a, b, c]) p.clock.advanceBy(24 * 3_600_000);
    expect(a.log).toEqual(b.log);
    expect(c.log).not.toEqual(a.log);
  });
});
