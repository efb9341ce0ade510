import { describe, expect, it } from "vitest";
import { SimBoard } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";
import { VehicleDetectorPart, type VehicleDetectorPartOptions, type VehicleSource } from "../../../hosts/sim/vehicle-detector-part.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);

/** A street with exactly these passes (`atMs` relative to START). */
function scripted(passes: readonly { atMs: number; occupancyMs: number }[]): VehicleSource {
  return {
    vehiclesBetween(fromMs, toMs, onPass) {
      for (const p of passes) {
        const atMs = START + p.atMs;
        if (atMs >= fromMs && atMs < toMs) onPass({ atMs, occupancyMs: p.occupancyMs, passByDb: 70, heavy: false });
      }
    },
  };
}

type Edge = [atMs: number, level: 0 | 1];

function rig(activity: VehicleSource, options: Partial<Omit<VehicleDetectorPartOptions, "clock" | "timers" | "activity">> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new VehicleDetectorPart({ clock, timers: clock, activity, seed: "loop-1", occupancyScale: 1, ...options });
  const edges: Edge[] = [];
  part.setChangeListener(() => edges.push([clock.monotonicMs(), part.level()]));
  return { clock, part, edges };
}

/** Pulses of a clean edge list: [rise, fall] pairs, treating runs shorter than `minMs` as bounce. */
function pulses(edges: readonly Edge[], idle: 0 | 1 = 0, minMs = 5): [number, number][] {
  const result: [number, number][] = [];
  let level = idle;
  let since = 0;
  let rise = -1;
  for (const [t, l] of [...edges, [Number.POSITIVE_INFINITY, idle === 0 ? 1 : 0] as Edge]) {
    if (l === level) continue;
    if (t - since >= minMs) {
      // `level` held from `since` to `t`: a real state
      if (level !== idle && rise < 0) rise = since;
      if (level === idle && rise >= 0) {
        result.push([rise, since]);
        rise = -1;
      }
    }
    level = l;
    since = t;
  }
  return result;
}

describe("VehicleDetectorPart", () => {
  it("raises the output for each vehicle's occupancy, within the card's response time", () => {
    const { clock, edges, part } = rig(scripted([{ atMs: 2000, occupancyMs: 400 }, { atMs: 5000, occupancyMs: 1200.4 }]), { maxBounces: 0 });
    expect(part.level()).toBe(0);
    clock.advanceBy(10_000);
    expect(edges).toHaveLength(4);
    const [[r1, l1], [f1, l2], [r2], [f2]] = edges;
    expect([l1, l2]).toEqual([1, 0]);
    expect(r1).toBeGreaterThanOrEqual(2000);
    expect(r1).toBeLessThanOrEqual(2010);
    expect(f1).toBeGreaterThanOrEqual(2400);
    expect(f1).toBeLessThanOrEqual(2410);
    expect(r2).toBeGreaterThanOrEqual(5000);
    expect(f2).toBeGreaterThanOrEqual(6200);
    expect(f2).toBeLessThanOrEqual(6211);
    expect(part.stats).toMatchObject({ passes: 2, pulses: 2, merged: 0, bounces: 0, edges: 4 });
  });

  it("bounces 0-5 times per transition, 1-3 ms at a time, and settles on the right level", () => {
    const passes = Array.from({ length: 200 }, (_, i) => ({ atMs: 1000 + i * 1500, occupancyMs: 300 + (i % 7) * 100 }));
    const { clock, edges, part } = rig(scripted(passes), { maxBounces: 5 });
    clock.advanceBy(320_000);
    // Group edges into transitions: edges within 40 ms of the transition's first edge.
    const transitions: Edge[][] = [];
    for (const edge of edges) {
      const current = transitions.at(-1);
      if (current && edge[0] - current[0]![0] < 40) current.push(edge);
      else transitions.push([edge]);
    }
    expect(transitions).toHaveLength(400);
    let bounces = 0;
    transitions.forEach((transition, i) => {
      const level = i % 2 === 0 ? 1 : 0;
      expect(transition[0]![1]).toBe(level);
      expect(transition.at(-1)![1]).toBe(level);
      expect(transition.length % 2).toBe(1);
      expect(transition.length).toBeLessThanOrEqual(11);
      for (let k = 1; k < transition.length; k++) {
        const dt = transition[k]![0] - transition[k - 1]![0];
        expect(dt).toBeGreaterThanOrEqual(1);
        expect(dt).toBeLessThanOrEqual(3);
        expect(Number.isInteger(transition[k]![0])).toBe(true);
      }
      bounces += (transition.length - 1) / 2;
    });
    expect(bounces).toBe(part.stats.bounces);
    expect(bounces / 400).toBeGreaterThan(1.8); // uniform 0..5: mean 2.5
    expect(bounces / 400).toBeLessThan(3.2);
    expect(pulses(edges)).toHaveLength(200);
  });

  it("makes one pulse of two vehicles over the loop at once", () => {
    const { clock, edges, part } = rig(scripted([{ atMs: 1000, occupancyMs: 600 }, { atMs: 1300, occupancyMs: 700 }, { atMs: 4000, occupancyMs: 500 }]));
    clock.advanceBy(10_000);
    const found = pulses(edges);
    expect(found).toHaveLength(2);
    expect(found[0]![0]).toBeGreaterThanOrEqual(1000);
    expect(found[0]![1]).toBeGreaterThanOrEqual(2000); // the second car's end
    expect(part.stats).toMatchObject({ passes: 3, pulses: 2, merged: 1 });
  });

  it("keeps a vehicle that spans a planning boundary whole", () => {
    const { clock, edges, part } = rig(scripted([{ atMs: 19_900, occupancyMs: 2000 }, { atMs: 21_000, occupancyMs: 500 }, { atMs: 39_999, occupancyMs: 300 }]), { maxBounces: 0 });
    clock.advanceBy(60_000);
    expect(pulses(edges, 0, 1)).toHaveLength(2);
    expect(part.stats.merged).toBe(1);
    expect(edges[1]![0]).toBeGreaterThanOrEqual(21_900);
  });

  it("is deterministic for a seed and differs between seeds", () => {
    const activity = new StreetActivity({ seed: "street-1", siteSeed: "site-7", peakVehiclesPerHour: 600 });
    const run = (seed: string) => {
      const r = rig(activity, { seed, occupancyScale: undefined });
      r.clock.advanceBy(120_000);
      return { edges: r.edges, scale: r.part.occupancyScale };
    };
    const a = run("loop-1");
    expect(run("loop-1")).toEqual(a);
    const b = run("loop-2");
    expect(b.edges).not.toEqual(a.edges);
    expect(a.scale).toBeGreaterThanOrEqual(0.95);
    expect(a.scale).toBeLessThanOrEqual(1.05);
    expect(b.scale).not.toBe(a.scale);
  });

  it("follows the street model and keeps memory bounded over a busy hour", () => {
    const activity = new StreetActivity({ seed: "street-1", siteSeed: "site-7", peakVehiclesPerHour: 900 });
    const start = Date.UTC(2026, 6, 15, 7, 0, 0);
    const clock = new SimClock({ startWallMs: start });
    const part = new VehicleDetectorPart({ clock, timers: clock, activity, seed: "loop-1" });
    let maxPlanned = 0;
    let maxTimers = 0;
    for (let t = 0; t < 3600; t++) {
      clock.advanceBy(1000);
      maxPlanned = Math.max(maxPlanned, part.plannedEdges);
      maxTimers = Math.max(maxTimers, clock.pendingTimers);
    }
    let expected = 0;
    activity.vehiclesBetween(start, start + 3600_000 + 20_000, () => expected++);
    expect(part.stats.passes).toBeGreaterThan(700);
    expect(Math.abs(part.stats.passes - expected)).toBeLessThanOrEqual(10); // planned up to 20 s ahead
    expect(part.stats.pulses + part.stats.merged).toBe(part.stats.passes);
    expect(maxPlanned).toBeLessThan(600);
    expect(maxTimers).toBeLessThanOrEqual(2); // the planning timer and the one edge timer
  });

  it("has an idle-high output when active-low, and reads low when unplugged whatever the polarity", () => {
    const { clock, part, edges } = rig(scripted([{ atMs: 1000, occupancyMs: 500 }]), { activeHigh: false, maxBounces: 0 });
    expect(part.level()).toBe(1);
    clock.advanceBy(1200);
    expect(part.level()).toBe(0);
    clock.advanceBy(1000);
    expect(part.level()).toBe(1);
    part.injectFault("unplugged");
    expect(part.level()).toBe(0);
    expect(edges.at(-1)).toEqual([2200, 0]);
  });
});

describe("VehicleDetectorPart faults", () => {
  const busy = () => new StreetActivity({ seed: "street-1", siteSeed: "site-7", peakVehiclesPerHour: 900 });

  it("stuck: holds the output active until cleared", () => {
    const { clock, part, edges } = rig(busy());
    clock.advanceBy(5000);
    part.injectFault("stuck");
    expect(part.level()).toBe(1);
    const count = edges.length;
    clock.advanceBy(60_000);
    expect(part.level()).toBe(1);
    expect(edges.length).toBe(count);
    part.clearFaults();
    clock.advanceBy(60_000);
    expect(edges.length).toBeGreaterThan(count + 10);
  });

  it("unplugged: the pin stays low and no vehicle shows, until cleared", () => {
    const { clock, part, edges } = rig(busy());
    part.injectFault("unplugged");
    clock.advanceBy(120_000);
    expect(edges.filter((e) => e[1] === 1)).toHaveLength(0);
    expect(part.stats.passes).toBeGreaterThan(10);
    part.clearFaults();
    clock.advanceBy(60_000);
    expect(edges.filter((e) => e[1] === 1).length).toBeGreaterThan(5);
  });

  it("chatter: a burst of rapid edges, then the true output again", () => {
    const { clock, part, edges } = rig(scripted([]));
    part.injectFault("chatter", { durationMs: 500, periodMs: 1 });
    clock.advanceBy(1000);
    expect(part.stats.chatterEdges).toBe(500);
    expect(edges.length).toBe(500);
    expect(edges.at(-1)![0]).toBeLessThanOrEqual(501);
    expect(part.level()).toBe(0);
    expect(() => part.injectFault("chatter", { periodMs: 0 })).toThrow(RangeError);
  });

  it("missed: passes planned after the injection produce no pulse with the given probability", () => {
    const { clock, part, edges } = rig(busy());
    part.injectFault("missed", { probability: 1 });
    clock.advanceBy(20_000); // what was planned before the injection plays out
    const count = edges.length;
    clock.advanceBy(120_000);
    expect(edges.length).toBe(count);
    expect(part.stats.missed).toBeGreaterThan(10);
    part.clearFaults();
    clock.advanceBy(60_000);
    expect(edges.length).toBeGreaterThan(count);
  });

  it("noise: short spurious pulses at the given rate and lengths", () => {
    const { clock, part, edges } = rig(scripted([]), { maxBounces: 0 });
    part.injectFault("noise", { perMinute: 30, minMs: 5, maxMs: 60 });
    clock.advanceBy(620_000);
    const found = pulses(edges, 0, 1);
    expect(part.stats.noisePulses).toBeGreaterThan(250);
    expect(part.stats.noisePulses).toBeLessThan(380);
    expect(found.length).toBeGreaterThan(240);
    for (const [rise, fall] of found) expect(fall - rise).toBeLessThanOrEqual(200); // close ones can merge
    expect(found.filter(([rise, fall]) => fall - rise <= 60).length).toBeGreaterThan(0.9 * found.length);
    expect(part.stats.pulses).toBe(0);
  });

  it("rejects unknown fault kinds and bad options", () => {
    const { part } = rig(scripted([]));
    expect(() => part.injectFault("melted" as never)).toThrow(RangeError);
    expect(() => part.injectFault("missed", { probability: 2 })).toThrow(RangeError);
    expect(() => part.injectFault("noise", { perMinute: 0 })).toThrow(RangeError);
  });

  it("routes its edges through the SimBoard to a digital pin handle", () => {
    const clock = new SimClock({ startWallMs: START });
    const part = new VehicleDetectorPart({ clock, timers: clock, activity: scripted([{ atMs: 1000, occupancyMs: 500 }]), seed: 1, maxBounces: 0 });
    const board = new SimBoard();
    board.attachDigital("loop", part);
    const seen: (0 | 1)[] = [];
    const pin = board.openDigital({ pin: "loop", mode: "inputPullDown", edge: 3, onReadable: () => seen.push(pin.read()) });
    clock.advanceBy(3000);
    expect(seen).toEqual([1, 0]);
  });
});
