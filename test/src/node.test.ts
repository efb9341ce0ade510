import { describe, expect, it } from "vitest";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Platform } from "../../src/platform.js";
import { NotProvisionedError } from "../../src/wire/uplink-sealer.js";
import { provisioningWrites, storeHoldsKey } from "../../src/wire/key-ratchet.js";
import { LoopbackTransport } from "../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../hosts/sim/reference-board.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../hosts/sim/street.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { MessageOpener } from "../../hosts/collector/message-opener.js";

const START = Date.UTC(2026, 6, 15, 6, 0, 0); // a July morning, on a window boundary
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i + 1);

/** The CSPRNG stand-in of a simulated node, remembering every byte it handed out. */
class RecordingRandom extends SeededRandom {
  readonly handedOut: Uint8Array[] = [];
  override fill(target: Uint8Array): void {
    super.fill(target);
    this.handedOut.push(target.slice());
  }
}

function simulatedNode(device = "street-01", options: { store?: MemoryStore; transport?: LoopbackTransport; clock?: SimClock; canaries?: Uint8Array[] } = {}) {
  const clock = options.clock ?? new SimClock({ startWallMs: START });
  const store = options.store ?? new MemoryStore();
  if (!storeHoldsKey(store, ROOT, device)) store.commit(provisioningWrites(ROOT, device));
  const transport = options.transport ?? new LoopbackTransport();
  const { board, parts } = simulatedReferenceBoard(device, "demo-street", clock, clock, options.canaries ? { canaries: options.canaries } : {});
  const random = new RecordingRandom(device);
  const platform: Platform = { clock, timers: clock, random, store, transport, buses: board, log: () => {} };
  const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(device)));
  const keyring = new Keyring();
  keyring.add(device, "demo-street", ROOT);
  const opener = new MessageOpener(keyring);
  /** The decoded summaries published so far (health reports left out). */
  const summaries = () =>
    transport.published
      .filter((m) => m.topic.endsWith("/summary"))
      .map((m) => {
        const result = opener.open(m.topic, m.payload);
        if (!result.ok || result.kind !== "summary") throw new Error(result.ok ? result.kind : result.cause);
        return result.summary;
      });
  const healthReports = () =>
    transport.published
      .filter((m) => m.topic.endsWith("/health"))
      .map((m) => {
        const result = opener.open(m.topic, m.payload);
        if (!result.ok || result.kind !== "health") throw new Error(result.ok ? result.kind : result.cause);
        return result.health;
      });
  return { clock, store, transport, parts, node, opener, summaries, healthReports, random };
}

describe("CivicNode in a simulated street", () => {
  it("seals one summary per wall-clock window with the statistics of the part's readings", () => {
    const { clock, transport, parts, node, summaries: decode } = simulatedNode();
    node.start();
    clock.advanceBy(3 * 300_000 + 1);
    expect(transport.published.map((m) => m.topic)).toEqual([
      "civicnode/demo-street/street-01/disclosure", // published (retained) at boot
      ...Array(3).fill("civicnode/demo-street/street-01/summary"),
      "civicnode/demo-street/street-01/health", // 06:15 is a quarter hour: the health report follows the summary
    ]);
    const summaries = decode();
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
    const { clock, parts, node, summaries } = simulatedNode();
    node.start();
    clock.advanceBy(300_000 - 1);
    parts.sht4x.injectFault("unplugged"); // just before the second window [300 s, 600 s)
    clock.advanceBy(300_000 + 2);
    parts.sht4x.clearFaults();
    clock.advanceBy(300_000);
    const [, dark, back] = summaries();
    expect(dark!.channels.temperature).toEqual({ status: "missing" });
    expect(dark!.channels.humidity).toEqual({ status: "missing" });
    expect(dark!.channels.co2!.count).toBeGreaterThan(50); // the other parts kept working
    expect(dark!.channels.noise!.count).toBeGreaterThan(2000);
    expect(back!.channels.temperature!.count).toBeGreaterThan(25);
    expect(node.sensors[0]!.health.faultEpisodes).toBe(1);
    expect(node.sensors[0]!.health.faulty).toBe(false);
  });

  it("keeps summaries while offline and delivers them in order after reconnect", () => {
    const transport = new LoopbackTransport(false);
    const { clock, node } = simulatedNode("street-01", { transport });
    node.start();
    clock.advanceBy(4 * 300_000 + 1);
    expect(transport.published).toHaveLength(0);
    expect(node.outbox.depth).toBe(5); // 4 summaries and the 06:15 health report (the disclosure waits in RAM)
    transport.setConnected(true);
    expect(transport.published.map((m) => m.topic.split("/")[3])).toEqual(["disclosure", "summary", "summary", "summary", "health", "summary"]);
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
    const counters = transport.published.filter((m) => !m.topic.endsWith("/disclosure")).map((m) => {
      const r = second.opener.open(m.topic, m.payload);
      if (!r.ok) throw new Error(r.cause);
      return r.kind === "summary" ? r.summary.counter : r.health.counter;
    });
    expect(counters).toHaveLength(5); // 4 summaries and a health report share the counter
    expect(new Set(counters).size).toBe(5);
    expect(counters[2]!).toBeGreaterThanOrEqual(32); // resumed above the reserved block
  });

  it("refuses to start without a provisioned root key", () => {
    const clock = new SimClock({ startWallMs: START });
    const { board } = simulatedReferenceBoard("street-09", "demo-street", clock, clock);
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

  it("releases every channel of the reference node with values that fit the street", () => {
    const { clock, node, summaries, parts } = simulatedNode("street-05");
    node.start();
    clock.advanceBy(12 * 300_000 + 1); // 06:00 to 07:00 on a Wednesday in July
    const window = summaries()[11]!;
    const c = window.channels;
    expect(Object.keys(c).sort()).toEqual(["co2", "devices", "humidity", "noise", "occupancy", "people", "pm10", "pm1", "pm2_5", "temperature", "vehicles"].sort());
    expect(c.co2!.mean!).toBeGreaterThan(380);
    expect(c.co2!.mean!).toBeLessThan(600);
    expect(c.co2!.unit).toBe("ppm");
    expect(c.pm2_5!.mean!).toBeGreaterThan(0);
    expect(c.pm10!.mean!).toBeGreaterThanOrEqual(c.pm2_5!.mean! - 3);
    expect(c.pm2_5!.unit).toBe("ug/m3");
    expect(c.noise!.unit).toBe("dB");
    expect(c.noise!.l10!).toBeGreaterThanOrEqual(c.noise!.l90!);
    expect(c.noise!.leq!).toBeGreaterThanOrEqual(c.noise!.l90!);
    expect(c.noise!.mean).toBeUndefined(); // never an arithmetic mean of decibels
    expect(c.noise!.count).toBe(2400); // 8 readings a second
    // the counts come from the street the parts simulate
    let vehicles = 0;
    parts.activity.vehiclesBetween(START + 11 * 300_000, START + 12 * 300_000, () => vehicles++);
    // released with discrete Laplace noise of scale 2 (ε 0.5, Δ 1): within ±20 but for a 1e-4 tail
    expect(c.vehicles!.sum!).toBeGreaterThan(vehicles * 0.8 - 20);
    expect(c.vehicles!.sum!).toBeLessThanOrEqual(vehicles + 22);
    expect(Number.isInteger(c.vehicles!.sum)).toBe(true);
    expect(c.occupancy!.unit).toBe("s");
    expect(c.people!.sum === "suppressed" || Number.isInteger(c.people!.sum)).toBe(true);
    expect(c.devices!.distinct === "suppressed" || (c.devices!.distinct as number) > 0).toBe(true);
  });

  it("reports every sensor's health every quarter hour, faults and drop causes included", () => {
    const { clock, node, parts, healthReports } = simulatedNode();
    node.start();
    clock.advanceBy(2 * 300_000);
    parts.pms5003.injectFault("checksum", { count: 3 });
    parts.radar.injectFault("unplugged");
    clock.advanceBy(300_000 + 1);
    const [report] = healthReports();
    expect(report!.time).toBe(START / 1000 + 900);
    expect(report!.node.uptime).toBe(900);
    expect(Object.keys(report!.sensors)).toEqual(["climate", "air", "pm", "sound", "radar", "loop", "ble"]);
    expect(report!.sensors.radar!.status).toBe("faulty");
    expect(report!.sensors.radar!.drops.bus).toBeGreaterThan(0);
    expect(report!.sensors.pm!.drops.checksum).toBe(3);
    expect(report!.sensors.climate).toMatchObject({ status: "ok", faults: 0 });
    expect(report!.sensors.climate!.readings).toBe(89);
  });

  it("never lets a BLE address out: canary addresses appear in no published byte", () => {
    const canary = Uint8Array.of(0xca, 0x4a, 0x12, 0x34, 0x56, 0x78);
    const { clock, transport, node, summaries } = simulatedNode("street-02", { canaries: [canary] });
    node.start();
    clock.advanceBy(4 * 300_000 + 1);
    expect(node.identifiers.sightings.public).toBeGreaterThan(100); // the canary was seen, often
    const decoded = summaries();
    expect(decoded[0]!.channels.devices!.distinct).toBeDefined();
    const hex = Buffer.from(canary).toString("hex");
    for (const message of transport.published) {
      expect(Buffer.from(message.payload).toString("hex")).not.toContain(hex);
    }
    // and the decrypted summaries do not carry it either
    for (const summary of decoded) expect(JSON.stringify(summary)).not.toContain(hex);
  });

  it("keeps pseudonym keys in RAM only: no byte of any key is in the store or in anything published", () => {
    const { clock, node, store, transport, random, summaries } = simulatedNode("street-06");
    node.start();
    clock.advanceBy(6 * 300_000 + 1); // six windows: six pseudonym epochs
    const keys = random.handedOut.filter((bytes) => bytes.length === 32);
    expect(keys.length).toBeGreaterThanOrEqual(6);
    const haystacks = [
      Buffer.from(store.allBytes()),
      ...transport.published.map((m) => Buffer.from(m.payload)),
      Buffer.from(JSON.stringify(summaries())),
    ];
    for (const key of keys) {
      for (let offset = 0; offset + 8 <= key.length; offset += 8) {
        const piece = Buffer.from(key.subarray(offset, offset + 8));
        for (const haystack of haystacks) expect(haystack.includes(piece)).toBe(false);
      }
    }
  });

  it("releases people, vehicle and device counts only through the gate: small counts suppressed, the rest noisy", () => {
    const clock = new SimClock({ startWallMs: Date.UTC(2026, 6, 15, 0, 0, 0) }); // 01:00 to 04:00 local
    const { node, summaries } = simulatedNode("street-07", { clock });
    node.start();
    clock.advanceBy(36 * 300_000 + 1);
    const released = summaries();
    const people = released.map((s) => s.channels.people!.sum);
    expect(people.every((v) => v === "suppressed" || v === "budget-exhausted" || Number.isInteger(v))).toBe(true);
    expect(people.some((v) => v === "suppressed")).toBe(true); // the small hours have small counts
    expect(people.some((v) => typeof v === "number")).toBe(true); // zeros (and larger counts) are released
    const devices = released.map((s) => s.channels.devices!.distinct);
    expect(devices.some((v) => typeof v === "number")).toBe(true);
  });

  it("seals every summary to the same length, so sizes on the wire say nothing about the counts", () => {
    const clock = new SimClock({ startWallMs: Date.UTC(2026, 6, 15, 0, 0, 0) });
    const { node, transport, parts } = simulatedNode("street-08", { clock });
    node.start();
    clock.advanceBy(6 * 300_000 + 1);
    parts.pms5003.injectFault("unplugged"); // missing channels too
    clock.advanceBy(6 * 3_600_000);
    const sizes = new Set(transport.published.filter((m) => m.topic.endsWith("/summary")).map((m) => m.payload.length));
    expect(transport.published.length).toBeGreaterThan(70);
    expect(sizes.size).toBe(1);
  });

  it("keeps the root key out of everything it publishes", () => {
    const { clock, transport, node } = simulatedNode();
    node.start();
    clock.advanceBy(2 * 300_000 + 1);
    const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
    for (const m of transport.published) expect(hex(m.payload)).not.toContain(hex(ROOT).slice(0, 16));
  });
});
