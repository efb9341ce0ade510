/**
 * What the collector makes of a message it has seen something of before: a QoS 1 copy (harmless,
 * counted), a device that restarted its counter under a key (a nonce reuse: alerted, the key named
 * compromised), a window sealed again (one summary per device and window start: the same values are
 * dropped, other values are a conflict, alerted), across restarts: the database holds what tells
 * them apart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector, type CollectorOptions, type HandleResult } from "../../../hosts/collector/collector.js";
import type { SqlCollectorDb } from "../../../hosts/collector/db/sql-collector-db.js";
import { openCollectorDb } from "../../../hosts/collector/db/open-collector-db.js";
import { storedLines } from "../../../hosts/collector/db/stored-lines.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { keyringOf, T0, TestNode, type SealedMessage } from "./sealed-messages.js";

const DEVICE = "lamp-7";
const outcome = (result: HandleResult) => (result.ok ? "stored" : result.cause);

describe("duplicates, counter reuse and window conflicts at the collector", () => {
  const dirs: string[] = [];
  const open: SqlCollectorDb[] = [];
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function setup(extra: Partial<CollectorOptions> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-duplicates-"));
    dirs.push(dir);
    const location = join(dir, "collector.db");
    let db: SqlCollectorDb | undefined;
    /** A collector as after a restart: the database opened again from its file. */
    const make = async (more: Partial<CollectorOptions> = {}) => {
      if (db) await db.close();
      db = await openCollectorDb({ location });
      open.push(db);
      const alerts: Alert[] = [];
      const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(DEVICE), db, ...extra, ...more });
      collector.onAlert((alert) => alerts.push(alert));
      const feed = async (messages: readonly SealedMessage[]) => {
        const outcomes: string[] = [];
        for (const m of messages) outcomes.push(outcome(await collector.handle(m.topic, m.payload)));
        return outcomes;
      };
      return { collector, alerts, feed };
    };
    const summaries = async () => (await storedLines(db!)).summaries;
    const storedAlerts = async () => (await db!.alerts({ limit: 100 })).items;
    return { dir, make, summaries, storedAlerts };
  }

  it("counts a byte-identical copy as a duplicate, and a different message under a used counter as counter reuse, with one alert", async () => {
    const { make, summaries, storedAlerts } = setup();
    const { collector, alerts, feed } = await make();
    const node = new TestNode(DEVICE);
    const sent = [node.summary(0), node.health(0), node.summary(1), node.health(1)];
    expect(await feed(sent)).toEqual(["stored", "stored", "stored", "stored"]);
    expect(await feed(sent)).toEqual(["duplicate", "duplicate", "duplicate", "duplicate"]);
    expect(alerts).toEqual([]);

    // The node's store was lost and it was provisioned again with the same key: counters 0, 1, ... again.
    const restarted = new TestNode(DEVICE);
    const resealed = [restarted.summary(10), restarted.health(10), restarted.summary(11)];
    expect(await feed(resealed)).toEqual(["counter-reuse", "counter-reuse", "counter-reuse"]);
    expect(collector.stats.rejected).toMatchObject({ duplicate: 4, "counter-reuse": 3, replay: 0 });
    expect(collector.stats.accepted).toBe(4);
    expect(alerts).toHaveLength(1); // one per device and epoch; every message is counted
    expect(alerts[0]).toMatchObject({ kind: "counter-reuse", device: DEVICE, epoch: 0 });
    expect(alerts[0]!.detail).toMatch(/key of epoch 0 must be considered compromised/);
    expect(alerts[0]!.action).toContain(`npm run provision -- ${DEVICE} --new-key`);
    expect(collector.stats.alerts["counter-reuse"]).toBe(1);
    await collector.stop();
    expect((await summaries()).map((l) => l.windowStart)).toEqual([T0 / 1000, T0 / 1000 + 300]); // nothing of the reused counters
    expect(await storedAlerts()).toEqual([alerts[0]]);
  });

  it("tells the same apart after a restart, the database having committed each message with its replay state", async () => {
    const { make } = setup();
    const node = new TestNode(DEVICE);
    const sent = [node.summary(0), node.health(0), node.summary(1)];
    const first = await make();
    expect(await first.feed(sent)).toEqual(["stored", "stored", "stored"]);
    // No stop(): as after kill -9, only what the database committed is there.
    const afterCrash = await make();
    expect(await afterCrash.feed(sent)).toEqual(["duplicate", "duplicate", "duplicate"]);
    const restarted = new TestNode(DEVICE);
    expect(await afterCrash.feed([restarted.summary(5)])).toEqual(["counter-reuse"]);
    await afterCrash.collector.stop();

    const afterStop = await make();
    expect(await afterStop.feed(sent)).toEqual(["duplicate", "duplicate", "duplicate"]);
    expect(await afterStop.feed([restarted.health(5)])).toEqual(["counter-reuse"]);
    // A new process alerts once again for the device and epoch: the operator hears of it at every start.
    expect(afterStop.alerts.map((a) => a.kind)).toEqual(["counter-reuse"]);
    await afterStop.collector.stop();
  });

  it("below the replay window: an authentic message sealed later than the epoch's newest is counter reuse, an old one a replay", () => {
    const opener = new MessageOpener(keyringOf(DEVICE), { replayWindow: 64, now: () => T0 });
    const node = new TestNode(DEVICE);
    const sent: SealedMessage[] = [];
    for (let window = 0; window < 60; window++) sent.push(node.summary(window), node.health(window)); // counters 0..119
    for (const m of sent) expect(opener.open(m.topic, m.payload).ok).toBe(true);
    const cause = (m: SealedMessage) => {
      const r = opener.open(m.topic, m.payload);
      return r.ok ? "accepted" : r.cause;
    };
    expect(cause(sent[0]!)).toBe("replay"); // counter 0, 119 behind: too old to compare, and sealed long before
    const restarted = new TestNode(DEVICE);
    expect(cause(restarted.summary(70))).toBe("counter-reuse"); // counter 0 again, sealed after counter 119
    const forged = restarted.summary(71).payload.slice();
    forged[forged.length - 1]! ^= 1;
    expect(cause({ ...sent[0]!, payload: forged })).toBe("replay"); // not authentic: as any altered replay
  });

  it("keeps the tags of the newest two epochs only; older epochs fall back on the seal time", () => {
    const opener = new MessageOpener(keyringOf(DEVICE), { now: () => T0 });
    const node = new TestNode(DEVICE);
    const epoch0 = node.summary(0);
    node.rotate();
    const epoch1 = node.summary(1);
    node.rotate();
    const epoch2 = node.summary(2);
    for (const m of [epoch0, epoch1, epoch2]) expect(opener.open(m.topic, m.payload).ok).toBe(true);
    const state = opener.exportCounters();
    expect([...state.keys()].sort()).toEqual([`${DEVICE}/0`, `${DEVICE}/1`, `${DEVICE}/2`]);
    expect(state.get(`${DEVICE}/0`)!.tags).toBeUndefined();
    expect(state.get(`${DEVICE}/1`)!.tags).toHaveLength(16 + 128 * 16);
    expect(opener.open(epoch1.topic, epoch1.payload)).toMatchObject({ ok: false, cause: "duplicate" });
    expect(opener.open(epoch0.topic, epoch0.payload)).toMatchObject({ ok: false, cause: "replay" }); // no tag kept: a copy cannot be proved
  });

  it("keeps one summary per device and window start: the same values again are dropped, other values are a conflict", async () => {
    const { make, summaries, storedAlerts } = setup();
    const { collector, alerts, feed } = await make();
    const node = new TestNode(DEVICE);
    expect(await feed([node.summary(0), node.summary(1)])).toEqual(["stored", "stored"]);
    // Sealed again with new counters (a restart that resumed its clock a little back).
    expect(await feed([node.summary(1)])).toEqual(["window-duplicate"]);
    const conflicting = node.summary(0, 77);
    expect(await feed([conflicting])).toEqual(["window-conflict"]);
    // Its QoS 1 copy is a duplicate of a message already judged: no second alert.
    expect(await feed([conflicting])).toEqual(["duplicate"]);
    expect(collector.stats).toMatchObject({ summaries: 2, windowDuplicates: 1, windowConflicts: 1 });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: "window-conflict", device: DEVICE });
    expect(alerts[0]!.detail).toContain(new Date(T0).toISOString());
    expect(alerts[0]!.detail).toMatch(/counter 0; epoch 0 counter 3 carries other values/);
    await collector.stop();
    expect((await summaries()).map((l) => [l.windowStart, l.counter])).toEqual([
      [T0 / 1000, 0],
      [T0 / 1000 + 300, 1],
    ]);
    expect((await storedAlerts()).map((l) => l.kind)).toEqual(["window-conflict"]);

    // The windows are rows of the database: a restarted collector tells the same, for every window stored.
    const restarted = await make();
    expect(await restarted.feed([node.summary(1), node.summary(0, 78), node.summary(2)])).toEqual(["window-duplicate", "window-conflict", "stored"]);
    await restarted.collector.stop();
    expect(await summaries()).toHaveLength(3);
    expect((await storedAlerts()).map((l) => l.kind)).toEqual(["window-conflict", "window-conflict"]);
  });

  it("records every alert it raises in the database and logs it at error level", async () => {
    const logged: Array<{ level: string; event: string; kind: unknown }> = [];
    const { make, storedAlerts } = setup({ log: (level, event, detail) => logged.push({ level, event, kind: detail?.kind }) });
    const { collector, feed } = await make();
    const node = new TestNode(DEVICE);
    await feed([node.summary(0), node.summary(0, 60), new TestNode(DEVICE).summary(9)]);
    await collector.stop();
    expect((await storedAlerts()).map((l) => [l.kind, l.device, typeof l.time, typeof l.detail, typeof l.action])).toEqual([
      ["window-conflict", DEVICE, "string", "string", "string"],
      ["counter-reuse", DEVICE, "string", "string", "string"],
    ]);
    expect(logged.filter((e) => e.event === "collector-alert")).toEqual([
      { level: "error", event: "collector-alert", kind: "window-conflict" },
      { level: "error", event: "collector-alert", kind: "counter-reuse" },
    ]);
  });
});
