import { describe, expect, it } from "vitest";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Platform } from "../../src/platform.js";
import { ROOT_KEY_STORE_KEY, NotProvisionedError } from "../../src/wire/uplink-sealer.js";
import { LoopbackTransport } from "../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../hosts/sim/reference-board.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../hosts/sim/street.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { SummaryOpener } from "../../hosts/collector/summary-opener.js";

const START = Date.UTC(2026, 6, 15, 6, 0, 0); // a July morning, on a window boundary
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

function simulatedNode(device = "street-01", options: { store?: MemoryStore; transport?: LoopbackTransport; clock?: SimClock } = {}) {
  const clock = options.clock ?? new SimClock({ startWallMs: START });
  const store = options.store ?? new MemoryStore();
  if (!store.get(ROOT_KEY_STORE_KEY)) store.commit([{ key: ROOT_KEY_STORE_KEY, value: ROOT }]);
  const transport = options.transport ?? new LoopbackTransport();
  const { board, parts } = simulatedReferenceBoard(device, "demo-street", clock);
  const platform: Platform = { clock, timers: clock, random: new SeededRandom(device), store, transport, buses: board, log: () => {} };
  const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(device)));
  const keyring = new Keyring();
  keyring.add(device, "demo-street", ROOT);
  return { clock, store, transport, parts, node, opener: new SummaryOpener(keyring) };
}

describe("CivicNode in a simulated street", () => {
  it("seals one summary per wall-clock window with the statistics of the part's readings", () => {
    const { clock, transport, parts, node, opener } = simulatedNode();
    node.start();
    clock.advanceBy(3 * 300_000 + 1);
    expect(transport.published.map((m) => m.topic)).toEqual(Array(3).fill("civicnode/demo-street/street-01/summary"));
    const summaries = transport.published.map((m) => {
      const result = opener.open(m.topic, m.payload);
      if (!result.ok) throw new Error(result.cause);
      return result.summary;
    });
    expect(summaries.map((s) => s.windowStart)).toEqual([0, 1, 2].map((i) => (START + i * 300_000) / 1000));
    expect(summaries.map((s) => s.counter)).toEqual([0, 1, 2]);
    // A sample every 10 s, the first 10 s after boot: 29 in the first window, 30 in each one after.
    expect(summaries.map((s) => s.channels.temperature!.count)).toEqual([29, 30, 30]);
    for (const summary of summaries) {
      const t = summary.channels.temperature!;
      const rh = summary.channels.humidity!;
      expect(summary.windowSeconds).toBe(300);
      expect(rh.count).toBe(t.count);
      expect(t.unit).toBe("Cel");
      expect(rh.unit).toBe("%RH");
      // the part's air over the window, within sensor noise and calibration
      const truth = [0, 100_000, 200_000, 299_000].map((dt) => parts.climate.at(START + dt).temperatureC);
      expect(t.mean!).toBeGreaterThan(Math.min(...truth) - 1);
      expect(t.mean!).toBeLessThan(Math.max(...truth) + 1);
      expect(t.min!).toBeLessThanOrEqual(t.mean!);
      expect(t.max!).toBeGreaterThanOrEqual(t.mean!);
      expect(rh.mean!).toBeGreaterThan(0);
      expect(rh.mean!).toBeLessThanOrEqual(100);
      // coarsened to the declared 2 decimals
      expect(Math.abs(t.mean! * 100 - Math.round(t.mean! * 100))).toBeLessThan(1e-6);
    }
    expect(node.stats.windowsClosed).toBe(3);
  });

  it("reports a channel as missing, not faked, when its part is unplugged for a whole window", () => {
    const { clock, transport, parts, node, opener } = simulatedNode();
    node.start();
    clock.advanceBy(300_000 - 1);
    parts.sht4x.injectFault("unplugged"); // just before the second window [300 s, 600 s)
    clock.advanceBy(300_000 + 2);
    parts.sht4x.clearFaults();
    clock.advanceBy(300_000);
    const [, dark, back] = transport.published.map((m) => opener.open(m.topic, m.payload));
    expect(dark!.ok && dark!.summary.channels).toEqual({ temperature: { status: "missing" }, humidity: { status: "missing" } });
    expect(back!.ok && back!.summary.channels.temperature!.count).toBeGreaterThan(25);
    expect(node.sensors[0]!.health.faultEpisodes).toBe(1);
    expect(node.sensors[0]!.health.faulty).toBe(false);
  });

  it("keeps summaries while offline and delivers them in order after reconnect", () => {
    const transport = new LoopbackTransport(false);
    const { clock, node } = simulatedNode("street-01", { transport });
    node.start();
    clock.advanceBy(4 * 300_000 + 1);
    expect(transport.published).toHaveLength(0);
    expect(node.outbox.depth).toBe(4);
    transport.setConnected(true);
    expect(transport.published).toHaveLength(4);
    expect(node.outbox.depth).toBe(0);
  });

  it("never reuses a counter across reboots", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport();
    const clock = new SimClock({ startWallMs: START });
    const first = simulatedNode("street-01", { store, transport, clock });
    first.node.start();
    clock.advanceBy(2 * 300_000 + 1);
    first.node.stop();
    const second = simulatedNode("street-01", { store, transport, clock });
    second.node.start();
    clock.advanceBy(2 * 300_000);
    const counters = transport.published.map((m) => {
      const r = second.opener.open(m.topic, m.payload);
      if (!r.ok) throw new Error(r.cause);
      return r.summary.counter;
    });
    expect(counters).toHaveLength(4);
    expect(new Set(counters).size).toBe(4);
    expect(counters[2]!).toBeGreaterThanOrEqual(32); // resumed above the reserved block
  });

  it("refuses to start without a provisioned root key", () => {
    const clock = new SimClock({ startWallMs: START });
    const { board } = simulatedReferenceBoard("street-09", "demo-street", clock);
    const platform: Platform = {
      clock,
      timers: clock,
      random: new SeededRandom(1),
      store: new MemoryStore(),
      transport: new LoopbackTransport(),
      buses: board,
      log: () => {},
    };
    const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig("street-09")));
    expect(() => node.start()).toThrow(NotProvisionedError);
  });

  it("keeps the root key out of everything it publishes", () => {
    const { clock, transport, node } = simulatedNode();
    node.start();
    clock.advanceBy(2 * 300_000 + 1);
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    for (const m of transport.published) expect(hex(m.payload)).not.toContain(hex(ROOT).slice(0, 16));
  });
});
