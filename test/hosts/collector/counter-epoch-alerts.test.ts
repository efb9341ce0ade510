/**
 * What a device's counter and epoch raise at the collector (its real database, messages sealed by
 * the node's own sealer): a counter that went back past the replay window is a counter-restart,
 * one inside it a counter-reuse, each once per device and epoch; an epoch that moved on by more
 * than one between two messages, in seal order, is an epoch-jump, raised once, whatever instance
 * or restart stores it, and a node's ordinary rotations, in any arrival order, raise nothing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector, type CollectorOptions, type HandleResult } from "../../../hosts/collector/collector.js";
import type { CollectorDb } from "../../../hosts/collector/db/collector-db.js";
import { openCollectorDb } from "../../../hosts/collector/db/open-collector-db.js";
import type { SqlCollectorDb } from "../../../hosts/collector/db/sql-collector-db.js";
import { Prng } from "../../../hosts/sim/prng.js";
import { keyringOf, T0, TestNode, type SealedMessage } from "./sealed-messages.js";

const DEVICE = "lamp-7";
const outcome = (result: HandleResult) => (result.ok ? "stored" : result.cause);
/** Every collector's clock: from T0, the first window's start (the nodes are never silent). */
const clock = { nowMs: T0 };
const SETTLE_MS = 15 * 60_000;

describe("counter and epoch alerts at the collector", () => {
  const dirs: string[] = [];
  const open: SqlCollectorDb[] = [];
  afterEach(async () => {
    clock.nowMs = T0;
    for (const db of open.splice(0)) await db.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function database(): Promise<SqlCollectorDb> {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-counter-alerts-"));
    dirs.push(dir);
    const db = await openCollectorDb({ location: join(dir, "collector.db") });
    open.push(db);
    return db;
  }

  /** A collector on `db` (an instance of a group, or one after a restart), what it raised, and a feed; its clock is `clock.nowMs`. */
  function collectorOn(db: CollectorDb, more: Partial<CollectorOptions> = {}) {
    const alerts: Alert[] = [];
    const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(DEVICE), db, now: () => clock.nowMs, ...more });
    collector.onAlert((alert) => alerts.push(alert));
    const feed = async (messages: readonly SealedMessage[]) => {
      const outcomes: string[] = [];
      for (const m of messages) outcomes.push(outcome(await collector.handle(m.topic, m.payload)));
      return outcomes;
    };
    /** One batch, as the broker session delivers them. */
    const batch = (messages: readonly SealedMessage[]) => collector.handleBatch(messages);
    return { collector, alerts, feed, batch };
  }

  it("raises a counter-restart, once per device and epoch, for a counter that went back below the replay window", async () => {
    const db = await database();
    const { collector, alerts, feed, batch } = collectorOn(db);
    const node = new TestNode(DEVICE);
    const sent: SealedMessage[] = [];
    for (let window = 0; window < 70; window++) sent.push(node.summary(window), node.health(window)); // counters 0..139
    expect(new Set(await feed(sent))).toEqual(new Set(["stored"]));
    expect(alerts).toEqual([]);

    // The node's counter record was lost and it started over under the same epoch key: counters 0, 1, ...
    const restarted = new TestNode(DEVICE);
    const resealed = [restarted.summary(80), restarted.health(80), restarted.summary(81), restarted.health(81)];
    expect(await batch(resealed)).toEqual(["ack", "ack", "ack", "ack"]); // one batch: one alert, not four
    expect(collector.stats.rejected["counter-reuse"]).toBe(4);
    expect(alerts.map((a) => [a.kind, a.device, a.epoch])).toEqual([["counter-restart", DEVICE, 0]]);
    expect(alerts[0]!.detail).toMatch(/^the counter of lamp-7 under epoch 0 started over: counter 0 \(counter 0 \(below the replay window\) sealed at .*, after everything epoch 0 accepted/);
    expect(alerts[0]!.detail).toMatch(/its key must be considered compromised/);
    expect(alerts[0]!.action).toContain(`npm run provision -- ${DEVICE} --new-key`);
    expect(await feed([restarted.summary(82)])).toEqual(["counter-reuse"]);
    expect(alerts).toHaveLength(1);
    expect(await recorded(db, 1)).toEqual(alerts);

    // A restarted collector tells the operator again, once.
    const again = collectorOn(db);
    expect(await again.feed([restarted.health(82), restarted.summary(83)])).toEqual(["counter-reuse", "counter-reuse"]);
    expect(again.alerts.map((a) => a.kind)).toEqual(["counter-restart"]);
  });

  it("keeps counter-reuse for a counter inside the replay window, where the tags prove it", async () => {
    const { alerts, feed } = collectorOn(await database());
    const node = new TestNode(DEVICE);
    expect(await feed([node.summary(0), node.health(0), node.summary(1)])).toEqual(["stored", "stored", "stored"]);
    const restarted = new TestNode(DEVICE);
    expect(await feed([restarted.summary(5), restarted.health(5)])).toEqual(["counter-reuse", "counter-reuse"]);
    expect(alerts.map((a) => [a.kind, a.epoch])).toEqual([["counter-reuse", 0]]);
  });

  it("raises nothing for a node's rotations, one epoch at a time, in order or shuffled across two instances", async () => {
    const node = new TestNode(DEVICE);
    const sent: SealedMessage[] = [];
    for (let window = 0; window < 24; window++) {
      if (window % 4 === 3) node.rotate(); // a rotate-epoch command, or a day's end
      sent.push(node.summary(window), node.health(window));
    }
    expect(node.epoch).toBe(6);
    const inOrder = collectorOn(await database());
    expect(new Set(await inOrder.feed(sent))).toEqual(new Set(["stored"]));
    expect(await inOrder.feed(sent.slice(-6))).toEqual(Array(6).fill("duplicate")); // QoS 1 copies
    clock.nowMs += SETTLE_MS;
    expect(await inOrder.collector.watchNow()).toEqual([]);
    expect(inOrder.alerts).toEqual([]);

    // A group of two on one database, each given half of a shuffled flush, in batches.
    const db = await database();
    const a = collectorOn(db);
    const b = collectorOn(db);
    const random = new Prng("epochs");
    const shuffled = [...sent].sort(() => random.next() - 0.5);
    for (let i = 0; i < shuffled.length; i += 4) await (i % 8 === 0 ? a : b).batch(shuffled.slice(i, i + 4));
    // Arriving out of order, an epoch may look like a jump for a moment: held, then explained.
    clock.nowMs += SETTLE_MS;
    expect([...(await a.collector.watchNow()), ...(await b.collector.watchNow())]).toEqual([]);
    expect([...a.alerts, ...b.alerts]).toEqual([]);
    expect(a.collector.stats.accepted + b.collector.stats.accepted).toBe(sent.length);
  });

  it("raises an epoch-jump, once, when epochs were skipped between two messages", async () => {
    const db = await database();
    const first = collectorOn(db);
    const node = new TestNode(DEVICE);
    expect(await first.feed([node.summary(0), node.health(0)])).toEqual(["stored", "stored"]);
    node.rotate();
    expect(await first.feed([node.summary(1)])).toEqual(["stored"]); // one step: as every day
    for (let i = 0; i < 4; i++) node.rotate(); // four rotations with no message between them
    const jumped = [node.summary(2), node.health(2), node.summary(3)];
    expect(await first.batch(jumped)).toEqual(["ack", "ack", "ack"]);
    expect(first.alerts).toEqual([]); // held: the skipped epochs' messages may be late
    clock.nowMs += SETTLE_MS - 1000; // (each batch is received a millisecond after the one before)
    expect(await first.collector.watchNow()).toEqual([]);
    clock.nowMs += 2000;
    expect(await first.collector.watchNow()).toHaveLength(1);
    expect(first.alerts.map((a) => [a.kind, a.device, a.epoch])).toEqual([["epoch-jump", DEVICE, 5]]);
    expect(first.alerts[0]!.detail).toBe(
      `${DEVICE} moved from epoch 1 (its message sealed at ${new Date(T0 + 600_000).toISOString()}) to epoch 5 (sealed at ${new Date(T0 + 900_000).toISOString()}): ` +
        "3 epoch(s) with no message stored, more than the 1 step(s) allowed between two messages (a node moves on one epoch at a time)",
    );
    expect(first.alerts[0]!.action).toMatch(/dropped above 0 means its outbox lost the skipped epochs' messages/);
    expect(await recorded(db, 1)).toEqual(first.alerts);
    // Its copies, and a restarted collector or another instance storing the epoch's next messages, raise nothing more.
    expect(await first.feed(jumped)).toEqual(["duplicate", "duplicate", "duplicate"]);
    const second = collectorOn(db);
    expect(await second.feed([...jumped, node.health(3)])).toEqual(["duplicate", "duplicate", "duplicate", "stored"]);
    clock.nowMs += SETTLE_MS; // (by then the node is also silent: not this test's concern)
    const jumps = (alerts: readonly Alert[]) => alerts.filter((a) => a.kind === "epoch-jump");
    expect(jumps([...(await first.collector.watchNow()), ...(await second.collector.watchNow())])).toEqual([]);
    expect(jumps([...first.alerts, ...second.alerts])).toHaveLength(1);
  });

  it("allows as many steps as configured (epochJumpSteps)", async () => {
    const node = new TestNode(DEVICE);
    const epoch0 = node.summary(0);
    node.rotate();
    node.rotate(); // e.g. a rotate-epoch command shortly before a day's end, no window between them
    const epoch2 = node.summary(1);
    const strict = collectorOn(await database(), { epochJumpSettleMs: 0 });
    expect(await strict.feed([epoch0, epoch2])).toEqual(["stored", "stored"]);
    clock.nowMs += 1000;
    await strict.collector.watchNow();
    expect(strict.alerts.map((a) => a.kind)).toEqual(["epoch-jump"]);
    const db = await database();
    const lenient = collectorOn(db, { epochJumpSteps: 2, epochJumpSettleMs: 0 });
    expect(await lenient.feed([epoch0, epoch2])).toEqual(["stored", "stored"]);
    clock.nowMs += 1000;
    await lenient.collector.watchNow();
    expect(lenient.alerts).toEqual([]);
    expect(() => collectorOn(db, { epochJumpSteps: 0 })).toThrow(/epochJumpSteps must be an integer from 1 to 1000/);
  });
});

/** The alerts the database holds, once it holds `count` (an alert raised outside a batch is recorded just after). */
async function recorded(db: CollectorDb, count: number): Promise<Alert[]> {
  for (let tries = 0; tries < 500; tries++) {
    const { items } = await db.alerts({ limit: 100 });
    if (items.length >= count) return [...items];
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the database holds fewer than ${count} alerts`);
}
