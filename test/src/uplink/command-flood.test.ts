/**
 * A flood on a node's command topic (issue 13): anyone who can publish to the broker can send a
 * node a thousand junk messages between two health reports. Before refusals were tallied, they
 * pushed a real, accepted `rotate-epoch` out of the 32-entry audit log before the next report could
 * carry it. Now the next report carries the accepted command, the rotation and the count of every
 * refusal by cause, chained on from the report before.
 */
import { describe, expect, it } from "vitest";
import { CivicNode } from "../../../src/node.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { parseRefusalDetail } from "../../../src/policy/audit-refusals.js";
import type { Platform } from "../../../src/platform.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { sealCommand } from "../../../src/uplink/downlink-command.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { Prng, SeededRandom } from "../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener, type DecodedHealth } from "../../../hosts/collector/message-opener.js";
import { findingsOf, type ChainReport } from "../../../hosts/collector/audit-continuity.js";

const DEVICE = "street-03";
const ZONE = "demo-street";
const ROOT = new Uint8Array(32).fill(0x6b);
const START = Date.UTC(2026, 6, 15, 6, 0, 0);
const CMD_TOPIC = `civicnode/${ZONE}/${DEVICE}/cmd`;
const HEALTH_MS = 900_000;

describe("a flood of refused commands between two health reports", () => {
  it("does not push the accepted rotate-epoch out: the next report carries it and the refusals by cause", () => {
    const store = new MemoryStore();
    store.commit(provisioningWrites(ROOT, DEVICE));
    const clock = new SimClock({ startWallMs: START });
    const transport = new LoopbackTransport();
    const { board } = simulatedReferenceBoard(DEVICE, ZONE, clock, clock);
    const platform: Platform = { clock, timers: clock, random: new SeededRandom("flood"), store, transport, buses: board, log: () => {} };
    const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(DEVICE, ZONE)));
    node.start();
    clock.advanceBy(HEALTH_MS + 1); // the first health report

    const keys = downlinkKeysFromRoot(ROOT, DEVICE);
    const genuine = (name: "rotate-epoch" | "republish-disclosure", counter: number) => sealCommand({ name, issued: Math.floor(clock.wallMs() / 1000), args: {} }, DEVICE, CMD_TOPIC, keys, counter);
    const captured = genuine("republish-disclosure", 0);
    transport.deliver(CMD_TOPIC, captured);
    const random = new Prng("junk");
    const junk: Array<() => Uint8Array> = [
      () => Uint8Array.from({ length: 1 + Math.floor(random.next() * 200) }, () => Math.floor(random.next() * 256)), // garbage
      () => {
        const forged = genuine("rotate-epoch", 1000 + Math.floor(random.next() * 1e6));
        forged[forged.length - 1]! ^= 0x80; // a broken tag
        return forged;
      },
      () => captured, // a replay of what the node already took
      () => new Uint8Array(600), // over the size limit
    ];
    for (let i = 0; i < 1000; i++) {
      if (i === 500) transport.deliver(CMD_TOPIC, genuine("rotate-epoch", 1));
      transport.deliver(CMD_TOPIC, junk[i % junk.length]!());
      if (i % 100 === 99) clock.advanceBy(60_000); // over a quarter of an hour
    }
    expect(node.commands.counts.accepted).toBe(2);
    expect(node.epoch).toBe(1);
    clock.advanceBy(HEALTH_MS); // the next report

    const keyring = new Keyring();
    keyring.add(DEVICE, ZONE, ROOT);
    const opener = new MessageOpener(keyring);
    const health: Array<{ health: DecodedHealth; report: ChainReport }> = [];
    for (const m of transport.published.filter((p) => p.topic.endsWith("/health"))) {
      const result = opener.open(m.topic, m.payload);
      if (!result.ok || result.kind !== "health") throw new Error(`health report refused: ${result.ok ? result.kind : result.cause}`);
      const { auditChain, time, epoch, counter } = result.health;
      health.push({ health: result.health, report: { chain: auditChain!, time, epoch, counter, receivedAtMs: 0, dropped: 0 } });
    }
    expect(health.length).toBeGreaterThanOrEqual(2);
    const next = health[1]!.health.auditChain!;
    const texts = next.entries.map((e) => `${e.event} ${e.detail}`);
    expect(texts).toContain("command-accepted republish-disclosure");
    expect(texts).toContain("command-accepted rotate-epoch");
    expect(texts).toContain("epoch-rotated command to 1");
    const refusals = Object.fromEntries(next.entries.filter((e) => e.event === "refusals").map((e) => [parseRefusalDetail(e.detail)!.cause, parseRefusalDetail(e.detail)!]));
    const { malformed, authentication, replay, oversized } = node.commands.counts;
    expect(malformed + authentication + replay + oversized).toBe(1000);
    expect(Object.fromEntries(Object.entries(refusals).map(([cause, r]) => [cause, r.count]))).toEqual({ malformed, authentication, replay, oversized });
    const nowS = START / 1000 + HEALTH_MS / 1000;
    expect(refusals.malformed!.first).toBeGreaterThanOrEqual(nowS);
    expect(refusals.malformed!.last).toBeGreaterThan(refusals.malformed!.first);
    expect(next.pending).toBe(0);
    expect(next.lost).toBe(0);
    // ... chained on from the first report: the collector's check finds nothing wrong.
    const reports = health.map((h) => h.report);
    for (const report of reports) expect(findingsOf(report, reports, 0)).toEqual([]);
    expect(next.entries[0]!.seq).toBe(health[0]!.health.auditChain!.seq + 1);
  });
});
