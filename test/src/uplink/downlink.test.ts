import { describe, expect, it } from "vitest";
import { CivicNode } from "../../../src/node.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import type { Platform } from "../../../src/platform.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { sealCommand, type DownlinkCommand } from "../../../src/uplink/downlink-command.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";

const DEVICE = "street-01";
const ZONE = "demo-street";
const ROOT = new Uint8Array(32).fill(0x5c);
const START = Date.UTC(2026, 6, 15, 6, 0, 0);
const CMD_TOPIC = `civicnode/${ZONE}/${DEVICE}/cmd`;

function node(store = new MemoryStore(), clock = new SimClock({ startWallMs: START })) {
  if (!store.get("key.chain") && !store.get("key.root")) store.commit(provisioningWrites(ROOT, DEVICE));
  const transport = new LoopbackTransport();
  const { board } = simulatedReferenceBoard(DEVICE, ZONE, clock, clock);
  const platform: Platform = { clock, timers: clock, random: new SeededRandom("dl"), store, transport, buses: board, log: () => {} };
  const raw = streetNodeConfig(DEVICE, ZONE) as Record<string, unknown>;
  raw.downlink = { allowedWindowSeconds: [300, 900], maxIntervalFactor: 10 };
  const n = new CivicNode(platform, parseNodeConfig(raw));
  n.start();
  return { node: n, transport, clock, store };
}

const keys = () => downlinkKeysFromRoot(ROOT, DEVICE);
let counter = 0;
function command(name: DownlinkCommand["name"], args: DownlinkCommand["args"] = {}, options: { issued?: number; counter?: number; topic?: string; key?: Uint8Array } = {}): Uint8Array {
  const k = keys();
  if (options.key) k.key.set(options.key);
  return sealCommand({ name, issued: options.issued ?? START / 1000, args }, DEVICE, options.topic ?? CMD_TOPIC, k, options.counter ?? counter++);
}

describe("downlink commands", () => {
  it("rotates the uplink epoch on command, and the collector follows", () => {
    const { node: n, transport, clock } = node();
    clock.advanceBy(300_001);
    transport.deliver(CMD_TOPIC, command("rotate-epoch"));
    clock.advanceBy(300_000);
    const keyring = new Keyring();
    keyring.add(DEVICE, ZONE, ROOT);
    const opener = new MessageOpener(keyring);
    const epochs = transport.published.filter((m) => m.topic.endsWith("/summary")).map((m) => {
      const r = opener.open(m.topic, m.payload);
      if (!r.ok) throw new Error(r.cause);
      return r.kind === "summary" ? r.summary.epoch : -1;
    });
    expect(epochs).toEqual([0, 1]);
    expect(n.commands.counts.accepted).toBe(1);
    expect(n.audit.entries.map((e) => e.event)).toContain("epoch-rotated");
  });

  it("refuses and audits forged, replayed, misdirected, stale, malformed and out-of-bounds commands", () => {
    const { node: n, transport } = node();
    const genuine = command("republish-disclosure");
    transport.deliver(CMD_TOPIC, genuine);
    transport.deliver(CMD_TOPIC, genuine); // replay
    const forged = command("rotate-epoch");
    forged[forged.length - 3]! ^= 0x20;
    transport.deliver(CMD_TOPIC, forged);
    transport.deliver(CMD_TOPIC, command("rotate-epoch", {}, { key: new Uint8Array(32).fill(1) })); // another key
    transport.deliver(CMD_TOPIC, command("rotate-epoch", {}, { topic: `civicnode/${ZONE}/street-02/cmd` })); // sealed for another topic
    transport.deliver(CMD_TOPIC, command("rotate-epoch", {}, { issued: START / 1000 - 3 * 86400 })); // stale
    transport.deliver(CMD_TOPIC, command("set-window", { seconds: 60 })); // not allowed by the policy
    transport.deliver(CMD_TOPIC, command("set-interval", { sensor: "sound", seconds: 0.01 })); // faster than configured
    transport.deliver(CMD_TOPIC, command("set-interval", { sensor: "ghost", seconds: 10 }));
    transport.deliver(CMD_TOPIC, Uint8Array.of(1, 2, 3));
    transport.deliver(CMD_TOPIC, new Uint8Array(600));
    expect(n.commands.counts).toMatchObject({ accepted: 1, replay: 1, authentication: 3, stale: 1, bounds: 3, malformed: 1, oversized: 1 });
    // The authentic commands the policy refused have entries of their own; what anyone can send is tallied.
    expect(n.audit.entries.filter((e) => e.event === "command-refused").map((e) => e.detail)).toEqual(["bounds set-window", "bounds set-interval", "bounds set-interval"]);
    const now = START / 1000;
    expect(n.audit.refusals).toEqual([
      { cause: "replay", count: 1, first: now, last: now },
      { cause: "authentication", count: 3, first: now, last: now },
      { cause: "stale", count: 1, first: now, last: now },
      { cause: "malformed", count: 1, first: now, last: now },
      { cause: "oversized", count: 1, first: now, last: now },
    ]);
  });

  it("applies bounded changes: a longer window from the next window on, a slower sensor at once", () => {
    const { node: n, transport, clock } = node();
    transport.deliver(CMD_TOPIC, command("set-window", { seconds: 900 }));
    transport.deliver(CMD_TOPIC, command("set-interval", { sensor: "climate", seconds: 60 }));
    clock.advanceBy(300_000 + 1); // the 5-minute window closes as configured
    clock.advanceBy(1_500_000); // 06:05-06:15 (to the next quarter hour), then 06:15-06:30
    const keyring = new Keyring();
    keyring.add(DEVICE, ZONE, ROOT);
    const opener = new MessageOpener(keyring);
    const summaries = transport.published.filter((m) => m.topic.endsWith("/summary")).map((m) => opener.open(m.topic, m.payload)).flatMap((r) => (r.ok && r.kind === "summary" ? [r.summary] : []));
    expect(summaries.map((s) => s.windowSeconds)).toEqual([300, 600, 900]);
    expect(summaries.map((s) => (s.windowStart * 1000 - START) / 60_000)).toEqual([0, 5, 15]); // no overlap, then aligned
    expect(summaries[2]!.channels.temperature!.count).toBe(15); // one reading a minute
    expect(n.commands.counts.accepted).toBe(2);
  });

  it("remembers spent command counters across a reboot", () => {
    const store = new MemoryStore();
    const first = node(store);
    const genuine = command("republish-disclosure");
    first.transport.deliver(CMD_TOPIC, genuine);
    first.node.stop();
    const second = node(store, first.clock);
    second.transport.deliver(CMD_TOPIC, genuine);
    expect(second.node.commands.counts.replay).toBe(1);
    expect(second.node.commands.counts.accepted).toBe(0);
    second.transport.deliver(CMD_TOPIC, command("republish-disclosure"));
    expect(second.node.commands.counts.accepted).toBe(1);
    // the audit log survived the reboot too
    expect(second.node.audit.entries.filter((e) => e.event === "command-accepted")).toHaveLength(2);
  });

  it("publishes its disclosure retained at boot and on command, with every privacy parameter", () => {
    const { transport } = node();
    transport.deliver(CMD_TOPIC, command("republish-disclosure"));
    const disclosures = transport.published.filter((m) => m.topic.endsWith("/disclosure"));
    expect(disclosures).toHaveLength(2);
    expect(disclosures.every((m) => m.retain)).toBe(true);
    const document = JSON.parse(Buffer.from(disclosures[0]!.payload).toString("utf8"));
    expect(document.format).toBe("civicnode-disclosure");
    const people = document.dataTypes.find((d: { channel: string }) => d.channel === "people");
    expect(people.privacy).toEqual({ kAnonymity: 3, epsilonPerRelease: 0.5, sensitivity: 2, dailyEpsilon: 144 });
    expect(document.dataTypes.find((d: { channel: string }) => d.channel === "devices").meaning).toMatch(/not people/);
  });

  it("reports command outcomes and audit entries in its health report", () => {
    const { transport, clock } = node();
    transport.deliver(CMD_TOPIC, command("rotate-epoch"));
    transport.deliver(CMD_TOPIC, Uint8Array.of(0xa0));
    clock.advanceBy(900_000 + 1);
    const keyring = new Keyring();
    keyring.add(DEVICE, ZONE, ROOT);
    const opener = new MessageOpener(keyring);
    const health = transport.published.filter((m) => m.topic.endsWith("/health")).map((m) => opener.open(m.topic, m.payload)).flatMap((r) => (r.ok && r.kind === "health" ? [r.health] : []));
    expect(health).toHaveLength(1);
    expect(health[0]!.commands).toEqual({ accepted: 1, malformed: 1 });
    const now = START / 1000;
    expect(health[0]!.audit.map((a) => a.entry)).toEqual(["audit-reset no record", "boot epoch 0", "epoch-rotated command to 1", "command-accepted rotate-epoch", `refusals malformed 1 ${now} ${now}`]);
    expect(health[0]!.audit.map((a) => a.time)).toEqual([now, now, now, now, now + 900]); // the tally is chained when the report is made
    expect(health[0]!.auditChain).toMatchObject({ seq: 4, lost: 0, pending: 0 });
    expect(health[0]!.auditChain!.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(health[0]!.node.epoch).toBe(1);
  });
});
