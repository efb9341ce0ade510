/**
 * The collector checks each node's audit chain across its health reports (issue 13): a real node
 * (the firmware core on the simulated board, its flash in memory) reports to a collector on a real
 * database, and someone with the node's flash in hand alters its audit log while it is off. Every
 * alteration is raised, with what happened and what to do: an entry rewritten (before or after it
 * was reported), an entry or a whole queued report dropped, the log reset. A clean run, also with
 * reboots, command floods, redeliveries and reports arriving out of order, raises nothing.
 */
import { describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector } from "../../../hosts/collector/collector.js";
import { CollectorDbError } from "../../../hosts/collector/db/db-errors.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { Prng, SeededRandom } from "../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";
import { CivicNode } from "../../../src/node.js";
import type { Platform } from "../../../src/platform.js";
import { AuditHasher } from "../../../src/policy/audit-chain.js";
import { AUDIT_CAPACITY, AUDIT_STORE_KEY } from "../../../src/policy/audit-log.js";
import { auditRecordMaxBytes, decodeAuditChain, encodeAuditChain, type StoredAuditChain, type StoredAuditEntry } from "../../../src/policy/audit-record.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { sealCommand } from "../../../src/uplink/downlink-command.js";
import { decodeQueueRecord, QUEUE_KEY_PREFIX, sequenceOfKey } from "../../../src/uplink/queue-record.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { testCollectorDb } from "../../support/collector-db.js";

const DEVICE = "street-05";
const ZONE = "demo-street";
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
const START = Date.UTC(2026, 6, 15, 6, 0, 0);
const REPORT_MS = 900_000;
const MINUTE = 60_000;

interface Sent {
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** A street node whose flash outlives it: stop() is a power cut, boot() builds it again from the flash. */
class Node {
  readonly store = new MemoryStore();
  readonly clock = new SimClock({ startWallMs: START });
  #transport = new LoopbackTransport();
  #node: CivicNode | undefined;
  #taken = 0;
  readonly #sent: Sent[] = [];
  #commands = 0;

  constructor() {
    this.store.commit(provisioningWrites(ROOT, DEVICE));
    this.boot();
  }

  get node(): CivicNode {
    return this.#node!;
  }

  boot(connected = true): void {
    this.#collect();
    this.#transport = new LoopbackTransport(connected);
    this.#taken = 0;
    const { board } = simulatedReferenceBoard(DEVICE, ZONE, this.clock, this.clock);
    const platform: Platform = { clock: this.clock, timers: this.clock, random: new SeededRandom(`audit/${this.clock.wallMs()}`), store: this.store, transport: this.#transport, buses: board, log: () => {} };
    this.#node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(DEVICE, ZONE)));
    this.#node.start();
  }

  stop(): void {
    this.#node!.stop();
    this.#collect();
  }

  advance(ms: number): void {
    this.clock.advanceBy(ms);
  }

  setConnected(connected: boolean): void {
    this.#transport.setConnected(connected);
  }

  command(name: "rotate-epoch" | "republish-disclosure"): void {
    const topic = `civicnode/${ZONE}/${DEVICE}/cmd`;
    this.#transport.deliver(topic, sealCommand({ name, issued: Math.floor(this.clock.wallMs() / 1000), args: {} }, DEVICE, topic, downlinkKeysFromRoot(ROOT, DEVICE), this.#commands++));
  }

  junk(count: number): void {
    for (let i = 0; i < count; i++) this.#transport.deliver(`civicnode/${ZONE}/${DEVICE}/cmd`, Uint8Array.of(0xa0, i & 0xff));
  }

  /** The summaries and health reports published since the last call. */
  take(): Sent[] {
    this.#collect();
    return this.#sent.splice(0);
  }

  /** Edits the audit log in the flash (the node must be off): re-encoded with a valid CRC, as someone who knows the format would. */
  editAudit(edit: (chain: StoredAuditChain) => { entries: StoredAuditEntry[]; base?: Uint8Array }): void {
    const chain = decodeAuditChain(this.store.get(AUDIT_STORE_KEY)!, AUDIT_CAPACITY);
    if (typeof chain === "string") throw new Error(chain);
    const { entries, base = chain.base } = edit(chain);
    const record = encodeAuditChain(new CborWriter(auditRecordMaxBytes(AUDIT_CAPACITY)), chain.chain, chain.lost, base, entries.length, (i) => entries[i]!);
    this.store.commit([{ key: AUDIT_STORE_KEY, value: record }]);
  }

  #collect(): void {
    const published = this.#transport.published;
    for (const m of published.slice(this.#taken)) if (!m.topic.endsWith("/disclosure")) this.#sent.push({ topic: m.topic, payload: m.payload });
    this.#taken = published.length;
  }
}

/** A collector on a fresh database, with a clock the test moves. */
async function collector(settleMs?: number) {
  const db = await testCollectorDb();
  const keyring = new Keyring();
  keyring.add(DEVICE, ZONE, ROOT);
  let nowMs = START;
  const made = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring, db, now: () => nowMs, auditGapSettleMs: settleMs });
  const alerts: Alert[] = [];
  made.onAlert((alert) => alerts.push(alert));
  return {
    db,
    alerts,
    collector: made,
    /** Delivers messages as the broker would, the collector's clock at `atMs` (default: as before). */
    async deliver(messages: readonly Sent[], atMs = nowMs): Promise<void> {
      nowMs = atMs;
      for (const m of messages) {
        const result = await made.handle(m.topic, m.payload);
        if (!result.ok && result.cause !== "duplicate") throw new Error(`${m.topic}: ${result.cause} ${result.detail}`);
      }
    },
    advance(ms: number) {
      nowMs += ms;
    },
    get nowMs() {
      return nowMs;
    },
  };
}

const healthOnly = (messages: readonly Sent[]) => messages.filter((m) => m.topic.endsWith("/health"));

/** Recomputes the chain from `from` on, as someone covering their tracks would. */
function rehash(chain: StoredAuditChain, entries: readonly StoredAuditEntry[]): StoredAuditEntry[] {
  const hasher = new AuditHasher();
  let previous = chain.base;
  return entries.map((entry) => {
    const hash = hasher.hash(entry.seq, previous, entry.time, entry.event, entry.detail);
    previous = hash;
    return { ...entry, hash };
  });
}

describe("the collector's check of a node's audit chain", () => {
  it("raises nothing for a clean run: reboots, a command flood, redeliveries and reports in any order", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1);
    node.command("rotate-epoch");
    node.junk(300);
    node.advance(2 * REPORT_MS);
    node.stop();
    node.advance(5 * MINUTE);
    node.boot();
    node.advance(3 * REPORT_MS);
    const sent = node.take();
    expect(healthOnly(sent).length).toBeGreaterThanOrEqual(5);

    const inOrder = await collector();
    await inOrder.deliver(sent);
    await inOrder.deliver(sent.slice(0, 6)); // QoS 1 copies
    expect(inOrder.alerts).toEqual([]);
    expect(inOrder.collector.stats.auditCheckFailures).toBe(0);
    const stored = (await inOrder.db.health(DEVICE, { limit: 100 })).items;
    expect(stored.every((h) => h.report.auditChain !== undefined)).toBe(true);
    expect(stored.flatMap((h) => h.report.auditChain!.entries.map((e) => e.event))).toEqual(expect.arrayContaining(["audit-reset", "boot", "command-accepted", "epoch-rotated", "refusals"]));

    // An outbox flush split across a group's instances: the reports arrive in any order.
    const random = new Prng("shuffle");
    const shuffled = [...sent].sort(() => random.next() - 0.5);
    const reordered = await collector();
    await reordered.deliver(shuffled);
    reordered.advance(60 * MINUTE);
    node.advance(REPORT_MS);
    await reordered.deliver(node.take());
    expect(reordered.alerts).toEqual([]);
  });

  it("raises a rewrite when an entry was altered in the flash before a report carried it", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1);
    node.command("rotate-epoch");
    node.stop();
    node.editAudit(({ entries }) => ({ entries: entries.map((e) => (e.event === "command-accepted" ? { ...e, detail: "republish-disclosure" } : e)) }));
    node.boot();
    node.advance(REPORT_MS);
    const city = await collector();
    await city.deliver(node.take());
    expect(city.alerts).toHaveLength(1);
    expect(city.alerts[0]).toMatchObject({ kind: "audit-rewrite", device: DEVICE });
    expect(city.alerts[0]!.detail).toMatch(/do not hash to the head it carries/);
    expect(city.alerts[0]!.action).toMatch(/treat street-05 as tampered with/);
    expect((await city.db.alerts({ limit: 10 })).items).toEqual(city.alerts);
  });

  it("raises a rewrite when history already reported was rewritten, the chain recomputed to cover it", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1); // entries 0 (reset) and 1 (boot) reported
    node.command("republish-disclosure");
    node.stop();
    node.editAudit((chain) => ({ entries: rehash(chain, chain.entries.map((e) => (e.seq === 1 ? { ...e, detail: "epoch 7" } : e))) }));
    node.boot();
    node.advance(REPORT_MS);
    const city = await collector();
    await city.deliver(node.take());
    expect(city.alerts.map((a) => a.kind)).toEqual(["audit-rewrite"]);
    expect(city.alerts[0]!.detail).toMatch(/audit entry 1 of street-05 \(chain [0-9a-f]{16}\) has one hash in the health report of .* and another in/);
  });

  it("raises a gap when an entry was deleted from the flash", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1);
    node.command("rotate-epoch"); // entries 2 and 3: epoch-rotated, command-accepted
    node.command("republish-disclosure");
    node.stop();
    node.editAudit(({ entries }) => ({ entries: entries.filter((e) => e.event !== "epoch-rotated") }));
    node.boot();
    node.advance(REPORT_MS);
    const city = await collector();
    await city.deliver(node.take());
    expect(city.alerts.map((a) => a.kind)).toEqual(["audit-gap"]);
    expect(city.alerts[0]!.detail).toMatch(/^audit entry 2 of street-05 .* missing from the middle of the health report/);
  });

  it("raises a gap, once settled, when a queued health report was deleted from the flash; not when it is only late", async () => {
    const run = (deleteIt: boolean) => {
      const node = new Node();
      node.advance(REPORT_MS + 1);
      const first = node.take();
      node.setConnected(false);
      node.command("rotate-epoch");
      node.advance(REPORT_MS); // report 2, queued
      node.stop();
      const queued = node.store.keys(QUEUE_KEY_PREFIX).map((key) => ({ key, record: decodeQueueRecord(node.store.get(key)!, sequenceOfKey(key)!)! }));
      const health = queued.filter(({ record }) => record.kind === "health");
      expect(health).toHaveLength(1);
      if (deleteIt) node.store.commit([{ key: health[0]!.key, value: undefined }]);
      node.boot(); // connected: the outbox flushes
      node.advance(REPORT_MS); // report 3
      return { node, first, flushed: node.take() };
    };

    const tampered = run(true);
    const city = await collector(15 * MINUTE);
    await city.deliver(tampered.first);
    await city.deliver(tampered.flushed, city.nowMs + REPORT_MS);
    expect(city.alerts).toEqual([]); // a report may be late: not yet
    tampered.node.advance(REPORT_MS);
    await city.deliver(tampered.node.take(), city.nowMs + REPORT_MS + MINUTE); // 16 minutes on
    expect(city.alerts.map((a) => a.kind)).toEqual(["audit-gap"]);
    expect(city.alerts[0]!.detail).toMatch(/were carried by no health report received within 15 minutes/);
    tampered.node.advance(REPORT_MS);
    await city.deliver(tampered.node.take(), city.nowMs + REPORT_MS);
    expect(city.alerts).toHaveLength(1); // raised once

    const late = run(false);
    const reportTwo = healthOnly(late.flushed)[0]!;
    const patient = await collector(15 * MINUTE);
    await patient.deliver(late.first);
    await patient.deliver(late.flushed.filter((m) => m !== reportTwo), patient.nowMs + REPORT_MS);
    await patient.deliver([reportTwo], patient.nowMs + 5 * MINUTE); // it arrives late, within the settling time
    late.node.advance(2 * REPORT_MS);
    await patient.deliver(late.node.take(), patient.nowMs + REPORT_MS);
    expect(patient.alerts).toEqual([]);
  });

  it("raises a gap that says why when the node evicted entries no report had carried", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1);
    for (let i = 0; i < AUDIT_CAPACITY + 6; i++) node.command("republish-disclosure"); // authentic commands, each an entry
    node.advance(4 * REPORT_MS);
    const city = await collector();
    await city.deliver(node.take());
    expect(city.alerts.map((a) => a.kind)).toEqual(["audit-gap"]);
    expect(city.alerts[0]!.detail).toMatch(/the node evicted 6 entries from its full audit log before a health report carried them/);
  });

  it("raises a reset when the log was deleted or damaged in the flash, naming the reason", async () => {
    for (const [damage, reason] of [
      [(store: MemoryStore) => store.commit([{ key: AUDIT_STORE_KEY, value: undefined }]), "no record"],
      [(store: MemoryStore) => {
        const record = store.get(AUDIT_STORE_KEY)!;
        record[record.length - 1]! ^= 0x01;
        store.commit([{ key: AUDIT_STORE_KEY, value: record }]);
      }, "corrupt record"],
    ] as const) {
      const node = new Node();
      node.advance(REPORT_MS + 1);
      node.stop();
      damage(node.store);
      node.boot();
      node.advance(REPORT_MS);
      const city = await collector();
      await city.deliver(node.take());
      expect(city.alerts.map((a) => a.kind), reason).toEqual(["audit-reset"]);
      expect(city.alerts[0]!.detail, reason).toContain(`which begins "audit-reset ${reason}"`);
      expect(city.alerts[0]!.action, reason).toMatch(/if street-05 was re-provisioned or its flash erased on purpose, none/);
    }
  });

  it("counts and logs a check the database cannot read for, and still stores and acknowledges the report", async () => {
    const node = new Node();
    node.advance(REPORT_MS + 1);
    const db = await testCollectorDb();
    const failing = new Proxy(db, {
      get: (target, property) => {
        const value = Reflect.get(target, property, target) as unknown;
        if (property === "health") return () => Promise.reject(new CollectorDbError("io", "health refused by the simulated disk", "EIO"));
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const keyring = new Keyring();
    keyring.add(DEVICE, ZONE, ROOT);
    const lines: Array<{ event: string; detail: unknown }> = [];
    const city = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring, db: failing, log: (_level, event, detail) => lines.push({ event, detail }) });
    const health = healthOnly(node.take());
    expect(await city.handleBatch(health.map((m) => ({ topic: m.topic, payload: m.payload })))).toEqual(["ack"]);
    expect(city.stats.healthReports).toBe(1);
    expect(city.stats.auditCheckFailures).toBe(1);
    expect(lines).toContainEqual({ event: "collector-audit-check-failed", detail: expect.objectContaining({ device: DEVICE, detail: "this report's place in the audit chain was not checked" }) });
  });
});
