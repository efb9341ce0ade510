import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Debouncer } from "../../../src/sensors/debouncer.js";
import { VehicleDetector, type VehicleDetectorOptions } from "../../../src/sensors/vehicle-detector.js";
import { SimBoard, type SimDigitalDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity, type VehiclePass } from "../../../hosts/sim/street-activity.js";
import { VehicleDetectorPart } from "../../../hosts/sim/vehicle-detector-part.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);

/** A pin the test sets by hand: the detector output, with whatever bounce the test writes. */
class ScriptedPin implements SimDigitalDevice {
  #level: 0 | 1 = 0;
  #listener: (() => void) | undefined;
  level(): 0 | 1 {
    return this.#level;
  }
  setChangeListener(listener: () => void): void {
    this.#listener = listener;
  }
  set(level: 0 | 1): void {
    this.#level = level;
    this.#listener?.();
  }
  /** Changes the level without an interrupt (a missed edge). */
  setSilently(level: 0 | 1): void {
    this.#level = level;
  }
}

type Edge = readonly [atMs: number, level: 0 | 1];
type Reading = [vehicles: number, occupancyS: number] | undefined;

function rig(options: Partial<Omit<VehicleDetectorOptions, "buses" | "clock" | "sensor">> = {}, initial: 0 | 1 = 0) {
  const clock = new SimClock({ startWallMs: START });
  const pin = new ScriptedPin();
  pin.setSilently(initial);
  const board = new SimBoard();
  board.attachDigital("loop", pin);
  const driver = new VehicleDetector({ buses: board, clock, sensor: { pin: "loop" }, ...options });
  driver.configure();
  /** Plays `edges` and samples at `sampleTimes` (monotonic ms), in time order, edges first on ties. */
  const run = (edges: readonly Edge[], sampleTimes: readonly number[]): Reading[] => {
    const readings: Reading[] = [];
    const events = [...edges.map((e) => ({ at: e[0], edge: e as Edge | undefined })), ...sampleTimes.map((at) => ({ at, edge: undefined }))];
    events.sort((a, b) => a.at - b.at || (a.edge ? 0 : 1) - (b.edge ? 0 : 1));
    for (const event of events) {
      clock.advanceTo(event.at);
      if (event.edge) pin.set(event.edge[1]);
      else {
        const values = driver.sample();
        readings.push(values ? [values[0]!, values[1]!] : undefined);
      }
    }
    return readings;
  };
  return { clock, pin, board, driver, run };
}

/** A vehicle from `rise` to `fall`, with bounce edges (offsets in ms after each transition). */
function pulse(rise: number, fall: number, riseBounces: readonly number[] = [], fallBounces: readonly number[] = []): Edge[] {
  const edges: Edge[] = [[rise, 1]];
  riseBounces.forEach((offset, i) => edges.push([rise + offset, i % 2 === 0 ? 0 : 1]));
  edges.push([fall, 0]);
  fallBounces.forEach((offset, i) => edges.push([fall + offset, i % 2 === 0 ? 1 : 0]));
  return edges;
}

describe("Debouncer", () => {
  it("accepts a level only after it has been stable, as of its last edge", () => {
    const d = new Debouncer(30);
    d.reset(0, 0);
    expect(d.edge(1, 100)).toBe(false);
    expect(d.edge(0, 101)).toBe(false);
    expect(d.edge(1, 103)).toBe(false);
    expect(d.poll(1, 132)).toBe(false); // 29 ms stable
    expect(d.poll(1, 133)).toBe(true); // 30 ms stable: accepted at 103
    expect(d.level).toBe(1);
    expect(d.changedAtMs).toBe(103);
    expect(d.edge(0, 500)).toBe(false);
    expect(d.edge(1, 510)).toBe(false); // a 10 ms glitch
    expect(d.poll(1, 1000)).toBe(false); // never became a level
    expect(d.level).toBe(1);
  });

  it("counts an interrupt that reads an unchanged level as bounce", () => {
    const d = new Debouncer(30);
    d.reset(0, 0);
    d.edge(1, 100);
    d.edge(1, 120); // the pin went down and up again before the handler read it
    expect(d.poll(1, 140)).toBe(false);
    expect(d.poll(1, 150)).toBe(true);
    expect(d.changedAtMs).toBe(120);
  });
});

describe("vehicle detector on hand-built pulse trains", () => {
  it("counts a bouncing 400 ms occupancy as one vehicle of about 0.4 s", () => {
    const { run, driver } = rig();
    // Relay closing with 3 bounces within 4 ms, opening with 2 bounces within 1.5 ms.
    const edges = pulse(100, 504, [0.5, 1.5, 2, 3, 3.5, 4], [0.8, 1.5]);
    const [reading] = run(edges, [1000]);
    expect(reading![0]).toBe(1);
    expect(reading![1]).toBeCloseTo((505.5 - 104) / 1000, 9); // from the last bounce of each transition
    expect(driver.health.readings).toBe(1);
  });

  it("ignores a 10 ms glitch, bounces and all", () => {
    const { run } = rig();
    expect(run(pulse(100, 110, [1, 2]), [1000, 2000])).toEqual([
      [0, 0],
      [0, 0],
    ]);
  });

  it("times but does not count a debounced pulse shorter than minOccupancyMs", () => {
    const { run } = rig();
    const [reading] = run(pulse(100, 160), [1000]);
    expect(reading![0]).toBe(0);
    expect(reading![1]).toBeCloseTo(0.06, 9);
  });

  it("counts two cars 50 ms apart as two, and two cars 20 ms apart (under the debounce) as one", () => {
    const apart = rig().run([...pulse(100, 500, [1, 2]), ...pulse(550, 950, [1, 3], [2, 3])], [2000]);
    expect(apart[0]![0]).toBe(2);
    expect(apart[0]![1]).toBeCloseTo((500 - 102 + 953 - 553) / 1000, 9); // from the last bounce of each transition
    const close = rig().run([...pulse(100, 500), ...pulse(520, 950)], [2000]);
    expect(close[0]![0]).toBe(1);
    expect(close[0]![1]).toBeCloseTo(0.85, 9);
  });

  it("splits an occupancy across samples at T - debounceMs and counts the vehicle once", () => {
    // debounce 30: the sample at 1000 reports up to 970, the one at 2000 up to 1970
    const spanning = rig().run(pulse(700, 1600), [1000, 2000, 3000]);
    expect(spanning[0]![0]).toBe(1);
    expect(spanning[0]![1]).toBeCloseTo(0.27, 9);
    expect(spanning[1]![0]).toBe(0);
    expect(spanning[1]![1]).toBeCloseTo(0.63, 9);
    expect(spanning[2]).toEqual([0, 0]);

    const three = rig().run(pulse(500, 2800), [1000, 2000, 3000]);
    expect(three.map((r) => r![0])).toEqual([1, 0, 0]);
    expect(three[0]![1]).toBeCloseTo(0.47, 9);
    expect(three[1]![1]).toBeCloseTo(1, 9);
    expect(three[2]![1]).toBeCloseTo(0.83, 9);
  });

  it("counts a vehicle whose occupancy has not reached minOccupancyMs at a sample in the next sample", () => {
    const readings = rig().run(pulse(950, 1350), [1000, 2000]);
    expect(readings[0]![0]).toBe(0); // 20 ms known so far
    expect(readings[0]![1]).toBeCloseTo(0.02, 9);
    expect(readings[1]![0]).toBe(1);
    expect(readings[1]![1]).toBeCloseTo(0.38, 9);
  });

  it("catches missed interrupts when sampling", () => {
    const { clock, pin, driver } = rig();
    clock.advanceTo(100);
    pin.setSilently(1);
    clock.advanceTo(1000);
    expect([...driver.sample()!]).toEqual([0, 0]); // seen now, still pending
    clock.advanceTo(1500);
    pin.setSilently(0);
    clock.advanceTo(2000);
    const second = driver.sample()!;
    expect(second[0]).toBe(1);
    expect(second[1]).toBeCloseTo(0.97, 9); // 1000 .. 1970
    clock.advanceTo(3000);
    expect(driver.sample()![1]).toBeCloseTo(0.03, 9); // 1970 .. 2000
  });

  it("honours active-low wiring", () => {
    const { run } = rig({ activeHigh: false }, 1);
    const [reading] = run([[100, 0], [600, 1]], [1000]);
    expect(reading).toEqual([1, 0.5]);
  });

  it("times but does not count a vehicle already on the loop at configure()", () => {
    const { run } = rig({}, 1);
    const readings = run([[500, 0]], [1000]);
    expect(readings[0]![0]).toBe(0);
    expect(readings[0]![1]).toBeCloseTo(0.5, 9);
  });

  it("reuses one values array (no allocation per reading)", () => {
    const { run, driver, clock } = rig();
    run(pulse(100, 500), [1000]);
    const first = driver.sample();
    clock.advanceBy(1000);
    expect(driver.sample()).toBe(first);
  });

  it("property: bouncing vehicles with debounced gaps are counted exactly and their occupancy adds up", () => {
    const car = fc.record({
      gapMs: fc.integer({ min: 45, max: 4000 }), // stable low after the previous car's last bounce
      stableMs: fc.integer({ min: 140, max: 3000 }), // stable high after this car's last rise bounce
      riseBounces: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 10 }),
      fallBounces: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 10 }),
    });
    fc.assert(
      fc.property(fc.array(car, { maxLength: 25 }), fc.integer({ min: 150, max: 3000 }), (cars, intervalMs) => {
        const edges: Edge[] = [];
        let t = 0;
        let expectedMs = 0;
        for (const c of cars) {
          t += c.gapMs;
          edges.push([t, 1]);
          c.riseBounces.forEach((d, i) => edges.push([(t += d), i % 2 === 0 ? 0 : 1]));
          if (c.riseBounces.length % 2 === 1) edges.push([(t += 1), 1]);
          const riseAt = t;
          t += c.stableMs;
          edges.push([t, 0]);
          c.fallBounces.forEach((d, i) => edges.push([(t += d), i % 2 === 0 ? 1 : 0]));
          if (c.fallBounces.length % 2 === 1) edges.push([(t += 1), 0]);
          expectedMs += t - riseAt;
        }
        const samples: number[] = [];
        for (let s = intervalMs; s < t + 2 * intervalMs + 100; s += intervalMs) samples.push(s);
        const readings = rig().run(edges, samples);
        let vehicles = 0;
        let occupancyS = 0;
        for (const r of readings) {
          expect(r).toBeDefined();
          vehicles += r![0];
          occupancyS += r![1];
        }
        expect(vehicles).toBe(cars.length);
        expect(occupancyS).toBeCloseTo(expectedMs / 1000, 6);
      }),
      { numRuns: 150, seed: 419 },
    );
  });
});

describe("vehicle detector faults on hand-built signals", () => {
  it("reports an output active beyond maxOccupancyMs as stuck, counts it once, and recovers when it drops", () => {
    const { clock, pin, driver } = rig({ faultyAfter: 3 });
    clock.advanceTo(100);
    pin.set(1);
    let vehicles = 0;
    let occupancyS = 0;
    let firstDropAt = 0;
    for (let t = 1000; t <= 125_000; t += 1000) {
      clock.advanceTo(t);
      const values = driver.sample();
      if (values) {
        vehicles += values[0]!;
        occupancyS += values[1]!;
      } else if (firstDropAt === 0) firstDropAt = t;
    }
    expect(vehicles).toBe(1);
    expect(firstDropAt).toBe(121_000); // 120,870 ms known at 120,900 > 120,000
    expect(occupancyS).toBeCloseTo(120 - 0.1 - 0.03 + 0, 6); // 100 .. 119,970
    expect(driver.health.drops.stuck).toBe(5);
    expect(driver.health.faulty).toBe(true);
    clock.advanceTo(125_500);
    pin.set(0);
    clock.advanceTo(126_000);
    expect([...driver.sample()!]).toEqual([0, 0]); // the stuck tail is no reading, no second vehicle
    expect(driver.health.faulty).toBe(false);
    clock.advanceTo(127_000);
    pin.set(1);
    clock.advanceTo(127_500);
    pin.set(0);
    clock.advanceTo(128_000);
    expect([...driver.sample()!]).toEqual([1, 0.5]);
  });

  it("drops an interval in which an over-long occupancy came and went between two samples", () => {
    const { run, driver } = rig({ minOccupancyMs: 100, maxOccupancyMs: 500 });
    expect(run([...pulse(100, 800), ...pulse(3000, 3400)], [2000, 4000])).toEqual([undefined, [1, expect.closeTo(0.4, 9)]]);
    expect(driver.health.drops.stuck).toBe(1);
  });

  it("drops a sample with chatter as a bus fault, and the next sample is good", () => {
    const { run, driver } = rig({ faultyAfter: 2 });
    const chatter: Edge[] = [];
    for (let i = 0; i < 500; i++) chatter.push([100 + i, i % 2 === 0 ? 1 : 0]);
    const readings = run([...chatter, ...pulse(1200, 1700)], [1000, 2000]);
    expect(readings[0]).toBeUndefined();
    expect(driver.health.drops.bus).toBe(1);
    expect(readings[1]![0]).toBe(1);
    expect(driver.health.faulty).toBe(false);
  });

  it("does not call a busy street chatter: 150 edges in a second pass", () => {
    const { run, driver } = rig({ chatterEdgesPerSecond: 200 });
    const edges: Edge[] = [];
    for (let i = 0; i < 150; i++) edges.push([100 + 2 * i, i % 2 === 0 ? 1 : 0]);
    expect(run(edges, [1000])).toEqual([[0, 0]]);
    expect(driver.health.totalDrops).toBe(0);
  });

  it("cannot tell an unplugged active-high detector from an empty road", () => {
    const { clock, driver } = rig({ faultyAfter: 2 });
    for (let i = 0; i < 300; i++) {
      clock.advanceBy(1000);
      expect([...driver.sample()!]).toEqual([0, 0]);
    }
    expect(driver.health.faulty).toBe(false);
  });

  it("counts a failing pin read as a bus drop and never throws", () => {
    const { clock, driver } = rig();
    driver.close();
    clock.advanceBy(1000);
    expect(() => driver.sample()).not.toThrow();
    expect(driver.health.drops.bus).toBe(1);
  });

  it("rejects impossible options", () => {
    expect(() => rig({ debounceMs: -1 })).toThrow(RangeError);
    expect(() => rig({ minOccupancyMs: 500, maxOccupancyMs: 400 })).toThrow(RangeError);
    expect(() => rig({ chatterEdgesPerSecond: 0 })).toThrow(RangeError);
  });
});

/** The street's vehicles between two wall times. */
function passesBetween(activity: StreetActivity, fromMs: number, toMs: number): VehiclePass[] {
  const passes: VehiclePass[] = [];
  activity.vehiclesBetween(fromMs, toMs, (pass) => passes.push(pass));
  return passes;
}

/** How many pulses `passes` make when passes closer than `marginMs` after the pulse's end merge into it. */
function groups(passes: readonly VehiclePass[], marginMs: number): number {
  let count = 0;
  let end = Number.NEGATIVE_INFINITY;
  for (const pass of passes) {
    if (pass.atMs >= end + marginMs) count++;
    end = Math.max(end, pass.atMs + pass.occupancyMs);
  }
  return count;
}

function simulatedStreet(options: { startWallMs: number; peakVehiclesPerHour: number; siteSeed?: string; faultyAfter?: number; activeHigh?: boolean }) {
  const clock = new SimClock({ startWallMs: options.startWallMs });
  const activity = new StreetActivity({ seed: "street-1", siteSeed: options.siteSeed ?? "site-7", peakVehiclesPerHour: options.peakVehiclesPerHour });
  const part = new VehicleDetectorPart({ clock, timers: clock, activity, seed: "loop-1", occupancyScale: 1, activeHigh: options.activeHigh ?? true });
  const board = new SimBoard();
  board.attachDigital("loop", part);
  const driver = new VehicleDetector({
    buses: board,
    clock,
    sensor: { pin: "loop" },
    faultyAfter: options.faultyAfter ?? 5,
    activeHigh: options.activeHigh ?? true,
  });
  driver.configure();
  const totals = { vehicles: 0, occupancyS: 0, dropped: 0 };
  const tick = (seconds: number): void => {
    for (let i = 0; i < seconds; i++) {
      clock.advanceBy(1000);
      const values = driver.sample();
      if (values === undefined) totals.dropped++;
      else {
        totals.vehicles += values[0]!;
        totals.occupancyS += values[1]!;
      }
    }
  };
  return { clock, activity, part, driver, totals, tick };
}

describe("vehicle detector against the simulated street", () => {
  it("counts exactly the street's vehicles over an hour when no two cars come close", () => {
    const start = Date.UTC(2026, 6, 15, 9, 0, 0); // a Wednesday, 10:00 local
    // The street model's arrivals are not lane-aware: two cars can be over the loop at once even on a
    // quiet street. This site's hour has none closer than 150 ms (the driver separates from ~70 ms).
    const street = simulatedStreet({ startWallMs: start, peakVehiclesPerHour: 200, siteSeed: "site-21" });
    street.tick(3600 + 5);
    const passes = passesBetween(street.activity, start, start + 3600_000);
    expect(passes.length).toBeGreaterThan(150);
    expect(groups(passes, 150)).toBe(passes.length); // the precondition
    expect(street.totals.vehicles).toBe(passes.length);
    expect(street.part.stats.pulses).toBe(passes.length);
    expect(street.totals.dropped).toBe(0);
    // Occupancy: the model's, within the card's response jitter (±10 ms) and bounces (<= 30 ms) per vehicle.
    const modelS = passes.reduce((sum, pass) => sum + pass.occupancyMs, 0) / 1000;
    expect(Math.abs(street.totals.occupancyS - modelS)).toBeLessThan(passes.length * 0.04);
    expect(Math.abs(street.totals.occupancyS - modelS) / modelS).toBeLessThan(0.03);
  });

  it("at rush hour counts every separate pulse: merged cars count once, as on a real loop", () => {
    const start = Date.UTC(2026, 6, 15, 7, 0, 0); // 08:00 local, the morning peak
    const street = simulatedStreet({ startWallMs: start, peakVehiclesPerHour: 900 });
    street.tick(3600 + 5);
    const passes = passesBetween(street.activity, start, start + 3600_000);
    expect(passes.length).toBeGreaterThan(700);
    // Surely separate: a gap beyond jitter, bounce and debounce (10 + 30 + 30 ms); surely merged: an overlap beyond the jitter.
    const atLeast = groups(passes, 80);
    const atMost = groups(passes, -10);
    expect(atMost).toBeLessThan(passes.length); // cars do overlap at this hour
    expect(street.totals.vehicles).toBeGreaterThanOrEqual(atLeast);
    expect(street.totals.vehicles).toBeLessThanOrEqual(atMost);
    // Pulses that the card put out separately but less than a debounce apart are one vehicle to the driver.
    expect(street.totals.vehicles).toBeLessThanOrEqual(street.part.stats.pulses);
    expect(street.totals.vehicles).toBeGreaterThan(0.95 * street.part.stats.pulses);
  });

  it("drops stuck samples from a stuck part, goes faulty, and recovers after clearFaults()", () => {
    const street = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 600, faultyAfter: 3 });
    street.tick(60);
    const before = street.totals.vehicles;
    street.part.injectFault("stuck");
    street.tick(130);
    expect(street.driver.health.drops.stuck).toBeGreaterThanOrEqual(5);
    expect(street.driver.health.faulty).toBe(true);
    expect(street.totals.vehicles - before).toBeLessThanOrEqual(1); // the stuck pulse, once at most
    expect(street.totals.dropped).toBe(street.driver.health.drops.stuck);
    street.part.clearFaults();
    street.tick(2);
    expect(street.driver.health.faulty).toBe(false);
    street.tick(60);
    expect(street.totals.vehicles - before).toBeGreaterThan(3);
  });

  it("drops chatter as a bus fault", () => {
    const street = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 600, faultyAfter: 2 });
    street.tick(10);
    street.part.injectFault("chatter", { durationMs: 3000, periodMs: 1 });
    street.tick(3);
    expect(street.driver.health.drops.bus).toBe(3);
    expect(street.driver.health.faulty).toBe(true);
    street.tick(2);
    expect(street.driver.health.drops.bus).toBeLessThanOrEqual(4); // the sample in which the burst ended, at most
    expect(street.driver.health.faulty).toBe(false);
  });

  it("an unplugged active-high card reads as an empty road; an active-low one shows as stuck", () => {
    const high = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 600 });
    high.part.injectFault("unplugged");
    high.tick(300);
    expect(high.totals.vehicles).toBe(0);
    expect(high.driver.health.totalDrops).toBe(0);
    expect(high.part.stats.passes).toBeGreaterThan(20);

    const low = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 600, activeHigh: false });
    low.tick(30);
    expect(low.totals.vehicles).toBeGreaterThan(0);
    low.part.injectFault("unplugged");
    low.tick(130);
    expect(low.driver.health.drops.stuck).toBeGreaterThan(0);
    expect(low.driver.health.faulty).toBe(true);
    low.part.clearFaults();
    low.tick(5);
    expect(low.driver.health.faulty).toBe(false);
  });

  it("counts fewer vehicles when the card misses passes", () => {
    const street = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 600 });
    street.part.injectFault("missed", { probability: 0.5 });
    street.tick(1800);
    const { passes, missed, pulses } = street.part.stats;
    expect(missed / passes).toBeGreaterThan(0.4);
    expect(missed / passes).toBeLessThan(0.6);
    expect(street.totals.vehicles).toBeLessThanOrEqual(pulses);
    expect(street.totals.vehicles).toBeLessThan(0.65 * passes);
  });

  it("does not count isolated noise pulses as vehicles", () => {
    const clean = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 300 });
    clean.tick(1800);
    const noisy = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 300 });
    noisy.part.injectFault("noise", { perMinute: 10 });
    noisy.tick(1800);
    expect(noisy.part.stats.noisePulses).toBeGreaterThan(250);
    // Noise pulses are 5..60 ms, under minOccupancyMs. Two of them less than a debounce apart can make
    // one pulse long enough to count, and one can join two vehicles; at this rate that is rare.
    expect(Math.abs(noisy.totals.vehicles - clean.totals.vehicles)).toBeLessThanOrEqual(2);
    expect(noisy.totals.occupancyS).toBeGreaterThan(clean.totals.occupancyS);
    expect(noisy.driver.health.totalDrops).toBe(0);
  });

  it("counts some noise as vehicles when spurious pulses come faster than the debounce can separate", () => {
    const clean = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 300 });
    clean.tick(1800);
    const noisy = simulatedStreet({ startWallMs: START, peakVehiclesPerHour: 300 });
    noisy.part.injectFault("noise", { perMinute: 60 });
    noisy.tick(1800);
    const extra = noisy.totals.vehicles - clean.totals.vehicles;
    expect(extra).toBeGreaterThan(0);
    expect(extra).toBeLessThan(0.03 * noisy.part.stats.noisePulses);
  });
});
