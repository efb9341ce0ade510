/** The fault campaign's and the soak's own parts: a store that loses power or refuses writes, per-node timers, bus faults. */
import { describe, expect, it } from "vitest";
import type { BleAdvertisement } from "../../../src/platform.js";
import { FaultyBuses } from "../../../hosts/sim/faulty-buses.js";
import { FaultyStore, PowerCutError, StoreFaultError } from "../../../hosts/sim/faulty-store.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { ScopedTimers } from "../../../hosts/sim/scoped-timers.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";

const write = (key: string, byte: number) => [{ key, value: Uint8Array.of(byte) }];

describe("FaultyStore", () => {
  it("cuts the power at a chosen commit, which reaches the store or not, and refuses everything after", () => {
    for (const applies of [true, false]) {
      const inner = new MemoryStore();
      let cuts = 0;
      const store = new FaultyStore(inner, () => cuts++);
      store.commit(write("a", 1));
      store.cutPowerAtCommit(1, applies);
      store.commit(write("b", 2));
      expect(() => store.commit(write("c", 3))).toThrow(PowerCutError);
      expect(cuts).toBe(1);
      expect(inner.get("c") !== undefined).toBe(applies);
      expect(() => store.get("a")).toThrow(PowerCutError);
      expect(() => store.commit(write("d", 4))).toThrow(PowerCutError);
      expect(store.powered).toBe(false);
    }
  });

  it("refuses writes with a disk's error code while the fault lasts, and keeps reads working", () => {
    const store = new FaultyStore(new MemoryStore());
    store.commit(write("a", 1));
    store.failWrites("ENOSPC");
    expect(() => store.commit(write("b", 2))).toThrow(expect.objectContaining({ name: "StoreFaultError", code: "ENOSPC" }) as StoreFaultError);
    expect(store.get("a")).toEqual(Uint8Array.of(1));
    store.failWrites(undefined);
    store.commit(write("b", 2));
    expect(store.keys("")).toEqual(["a", "b"]);
  });
});

describe("ScopedTimers", () => {
  it("stops every timer of one node at a power cut, while the shared clock and the others go on", () => {
    const clock = new SimClock({ startWallMs: 0 });
    const node = new ScopedTimers(clock);
    const other = new ScopedTimers(clock);
    const fired: string[] = [];
    node.repeat(() => fired.push("node"), 10);
    node.once(() => fired.push("node-once"), 25);
    other.repeat(() => fired.push("other"), 10);
    clock.advanceBy(20);
    node.clearAll();
    clock.advanceBy(20);
    expect(fired.filter((f) => f.startsWith("node"))).toEqual(["node", "node"]);
    expect(fired.filter((f) => f === "other")).toHaveLength(4);
    expect(node.live).toBe(0);
    node.repeat(() => fired.push("after"), 1); // a dead node arms nothing
    clock.advanceBy(5);
    expect(fired).not.toContain("after");
  });

  it("forgets one-shot timers once they fired, so a long-running node's set stays small", () => {
    const clock = new SimClock({ startWallMs: 0 });
    const timers = new ScopedTimers(clock);
    for (let i = 0; i < 1000; i++) timers.once(() => {}, 1 + (i % 7));
    clock.advanceBy(10);
    expect(timers.live).toBe(0);
  });
});

describe("FaultyBuses", () => {
  it("breaks the buses in seeded episodes that the drivers see, and keeps one fault state per bus across re-opens", () => {
    const clock = new SimClock({ startWallMs: Date.UTC(2026, 5, 1) });
    const { board } = simulatedReferenceBoard("street-01", "demo-street", clock, clock);
    const buses = new FaultyBuses(board, clock, { seed: "harness", meanHoursBetween: 1, buses: ["i2c", "ble"] });
    const i2c = buses.openI2C({ bus: "main", address: 0x44 });
    let heard = 0;
    let impossible = 0;
    const onAdvertisement = (advertisement: BleAdvertisement) => {
      heard++;
      if (advertisement.rssi === 127) impossible++;
    };
    const first = buses.openBleScanner({ onAdvertisement });
    first.close();
    const second = buses.openBleScanner({ onAdvertisement });
    let nacks = 0;
    const buffer = new Uint8Array(6);
    for (let minute = 0; minute < 48 * 60; minute++) {
      clock.advanceBy(60_000);
      try {
        i2c.write(Uint8Array.of(0xfd));
        i2c.read(buffer);
      } catch {
        nacks++;
      }
    }
    second.close();
    // An episode about every 1 h + 17.5 min (wait, then a 5-30 min episode) on each of the two
    // buses: about 74 in 48 h. A re-open that made a new fault state would add a third stream.
    expect(buses.episodes).toBeGreaterThan(50);
    expect(buses.episodes).toBeLessThan(100);
    expect(nacks).toBeGreaterThan(0);
    expect(impossible).toBeGreaterThan(0);
    expect(heard).toBeGreaterThan(impossible);
    buses.stop();
  });
});
