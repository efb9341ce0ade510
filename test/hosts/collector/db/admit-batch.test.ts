/**
 * Batches on both engines, as admission.ts runs them (a few statements per batch, each message
 * judged in memory against what the batch read and the messages before it):
 *   - a seeded street of several devices (new summaries and health reports, QoS copies, windows
 *     sealed again unchanged or with other values, restarted counters, a rotated epoch, old
 *     replays) admitted in batches ends in exactly the outcomes and rows of admitting each message
 *     alone, with replay windows of 128 and of 100 (tags in chunks of 16 slots, the last partial);
 *   - the statements a batch runs do not grow with its messages;
 *   - a replay state lost while its rows stayed: the stored rows, not the state, say duplicate or
 *     counter-reuse;
 *   - a row written under the batch's keys after it read them (as a legacy import, which takes no
 *     device lock, may): the batch's own inserts are undone and it is judged again, never a second
 *     row.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { admitMessages, prepareBatch } from "../../../../hosts/collector/db/admission.js";
import type { AdmitOutcome, OpenedMessage } from "../../../../hosts/collector/db/collector-db.js";
import type { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import type { SqlExecutor, SqlValue } from "../../../../hosts/collector/db/sql-database.js";
import { Prng } from "../../../../hosts/sim/prng.js";
import { releasePostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES } from "./engines.js";
import { deviceKeys, SealingNode, streetRecords, TestOpener, type Sealed } from "./opened-messages.js";

afterAll(releasePostgres);

const DEVICES = ["lamp-1", "lamp-2", "lamp-3", "lamp-4"];

/** A seeded street's traffic, every kind of message the store judges, in one order. */
function street(seed: string): OpenedMessage[] {
  const prng = new Prng(seed);
  const opener = new TestOpener(DEVICES);
  const nodes = new Map(DEVICES.map((d) => [d, new SealingNode(d)]));
  const windows = new Map(DEVICES.map((d) => [d, 0]));
  const sent: Sealed[] = [];
  const out: OpenedMessage[] = [];
  const send = (sealed: Sealed) => (sent.push(sealed), out.push(opener.open(sealed)));
  for (let i = 0; i < 260; i++) {
    const device = DEVICES[prng.int(0, DEVICES.length)]!;
    const node = nodes.get(device)!;
    const w = windows.get(device)!;
    const roll = prng.next();
    if (roll < 0.35) {
      windows.set(device, w + 1);
      send(node.summary(w, streetRecords(w, { pm25Missing: prng.chance(0.3), footfall: prng.chance(0.2) ? "suppressed" : "released" })));
    } else if (roll < 0.6) send(node.health(w));
    else if (roll < 0.75 && sent.length > 0) out.push(opener.open(sent[prng.int(Math.max(0, sent.length - 40), sent.length)]!)); // a QoS 1 copy
    else if (roll < 0.82 && w > 0) send(node.summary(w - 1, streetRecords(w - 1))); // sealed again: unchanged, or (noised otherwise) a conflict
    else if (roll < 0.86 && w > 0) send(node.summary(w - 1, streetRecords(w - 1, { leq: 99 })));
    else if (roll < 0.9) send(new SealingNode(device).summary(w + 50)); // a node that lost its store: its counter starts over
    else if (roll < 0.92) node.rotate();
    else send(node.health(w));
  }
  // A message again once its counter is far below the window: a replay.
  const lamp4 = nodes.get("lamp-4")!;
  const old = opener.open(lamp4.health(windows.get("lamp-4")!));
  out.push(old);
  for (let i = 0; i < 140; i++) send(lamp4.health(windows.get("lamp-4")!));
  out.push(old);
  return out;
}

/** Everything the store holds, ids left out (rows refer to their message by its key). */
async function contents(db: SqlCollectorDb): Promise<Record<string, unknown[]>> {
  const hex = (value: SqlValue) => (value instanceof Uint8Array ? Buffer.from(value).toString("hex") : value);
  const rows = async (sql: string) => (await db.sql.query<Record<string, SqlValue>>(sql)).map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, hex(v)])));
  return {
    devices: await rows("SELECT device, zone, key_id, newest_epoch, first_seen_ms, last_seen_ms FROM devices ORDER BY device"),
    replay: await rows("SELECT device, key_id, epoch, window_size, replay_window, tagged, sealed_until FROM replay_state ORDER BY device, epoch"),
    tags: await rows("SELECT device, key_id, epoch, chunk, known, tags FROM replay_tags ORDER BY device, epoch, chunk"),
    messages: await rows("SELECT device, key_id, epoch, counter, kind, topic, received_ms, sealed_at, sealed, tag FROM messages ORDER BY device, epoch, counter"),
    summaries: await rows(
      "SELECT s.device, s.zone, s.window_start, s.window_seconds, s.epoch, s.counter, s.received_ms, s.digest, s.statistics, s.channels, m.counter AS message_counter " +
        "FROM summaries s LEFT JOIN messages m ON m.id = s.message_id ORDER BY s.device, s.window_start",
    ),
    health: await rows("SELECT h.device, h.epoch, h.counter, h.time, h.report, m.counter AS message_counter FROM health_reports h LEFT JOIN messages m ON m.id = h.message_id ORDER BY h.device, h.epoch, h.counter"),
  };
}

/** An outcome without the message id (which depends on the order of inserts). */
const judged = (o: AdmitOutcome) => (o.outcome === "stored" ? { outcome: "stored" } : o);

/** `tx` counting its statements, and running `before(sql)` ahead of each. */
function watched(tx: SqlExecutor, before: (sql: string) => Promise<void> = async () => {}): SqlExecutor & { readonly statements: string[] } {
  const statements: string[] = [];
  return {
    statements,
    query: async (sql, params) => (statements.push(sql), await before(sql), tx.query(sql, params)),
    run: async (sql, params) => (statements.push(sql), await before(sql), tx.run(sql, params)),
    exec: async (sql) => (statements.push(sql), await before(sql), tx.exec(sql)),
  } as SqlExecutor & { readonly statements: string[] };
}

describe.each(ENGINES)("batches on $name", (engine) => {
  afterEach(cleanUpDatabases);

  // 100: a replay window whose last chunk of tags holds 4 slots, not 16.
  it.runIf(engine.available).each([128, 100])("judge a street in batches exactly as each message alone: same outcomes, same rows (window %i)", async (replayWindow) => {
    const messages = street(`admit-batch street ${replayWindow}`);
    const batched = (await engine.fresh({ replayWindow })).db;
    const alone = (await engine.fresh({ replayWindow })).db;
    for (const db of [batched, alone]) await db.syncDevices(deviceKeys(...DEVICES));
    const batchedOutcomes: AdmitOutcome[] = [];
    for (let i = 0; i < messages.length; i += 37) batchedOutcomes.push(...(await batched.admitBatch(messages.slice(i, i + 37))));
    const aloneOutcomes: AdmitOutcome[] = [];
    for (const message of messages) aloneOutcomes.push(await alone.admit(message));

    expect(batchedOutcomes.map(judged)).toEqual(aloneOutcomes.map(judged));
    expect(new Set(batchedOutcomes.map((o) => o.outcome))).toEqual(new Set(["stored", "duplicate", "counter-reuse", "replay", "window-duplicate", "window-conflict"]));
    expect(await contents(batched)).toEqual(await contents(alone));
  });

  it.runIf(engine.available)("judge a message of an older epoch after one that moved the newest epoch in the same batch as if that one were committed", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1", "lamp-2"));
    const opener = new TestOpener(["lamp-1", "lamp-2"]);
    // lamp-1: epochs 0 and 1 keep their tags, until epoch 2 arrives in the batch.
    const a = new SealingNode("lamp-1");
    const a0 = opener.open(a.health(0));
    a.rotate();
    expect((await db.admitBatch([a0, opener.open(a.health(1))])).map((o) => o.outcome)).toEqual(["stored", "stored"]);
    a.rotate();
    // lamp-2: epoch 0 seen, then 65 epochs later its unseen counter 1 arrives behind the newest.
    const b = new SealingNode("lamp-2");
    const b0 = opener.open(b.health(0));
    const b1 = opener.open(b.health(1));
    await db.admit(b0);
    for (let e = 0; e < 65; e++) b.rotate();
    const outcomes = await db.admitBatch([opener.open(a.health(2)), a0, opener.open(b.health(2)), b1]);
    expect(outcomes.map(judged)).toEqual([
      { outcome: "stored" },
      { outcome: "replay", detail: "replay: counter 0" }, // epoch 0 kept no tags once epoch 2 was accepted
      { outcome: "stored" },
      { outcome: "replay", detail: "epoch 0 is more than 64 epochs behind 65" },
    ]);
    const rows = await db.sql.query<{ device: string; epoch: number; tagged: number }>("SELECT device, epoch, tagged FROM replay_state ORDER BY device, epoch");
    expect(rows.map((r) => [r.device, r.epoch, r.tagged])).toEqual([
      ["lamp-1", 0, 0],
      ["lamp-1", 1, 1],
      ["lamp-1", 2, 1],
      ["lamp-2", 65, 1],
    ]);
  });

  it.runIf(engine.available)("run a few statements per batch, however many messages and devices it holds", async () => {
    const { db } = await engine.fresh();
    const devices = Array.from({ length: 200 }, (_, i) => `node-${String(i).padStart(3, "0")}`);
    await db.syncDevices(deviceKeys(...devices));
    const opener = new TestOpener(devices);
    const nodes = devices.map((d) => new SealingNode(d));
    const statementsOf = async (messages: OpenedMessage[]) => {
      let statements: string[] = [];
      await db.sql.transaction(async (tx) => {
        const counting = watched(tx);
        await admitMessages(counting, db.sql.dialect, prepareBatch(messages), 128);
        statements = counting.statements;
      });
      return statements;
    };
    // The first batch of a device moves its newest epoch (two statements more for all of them).
    const first = await statementsOf(nodes.map((n) => opener.open(n.summary(0))));
    const later = await statementsOf(nodes.map((n) => opener.open(n.summary(1))));
    const mixed = await statementsOf(nodes.slice(0, 7).flatMap((n) => [opener.open(n.summary(2)), opener.open(n.health(2))]));
    // Devices, windows and their tags, stored windows and stored messages read (200 keys: two
    // statements each); messages and summaries or health reports inserted, windows, tags and
    // devices written (a statement per power of two in the count: 200 = 128 + 64 + 8). Before,
    // each message ran five statements or more.
    expect(first.length).toBeLessThanOrEqual(32);
    expect(later.length).toBeLessThanOrEqual(28);
    expect(mixed.length).toBeLessThanOrEqual(28);
    expect(later.filter((sql) => sql.startsWith("INSERT INTO messages")).length).toBe(3);
    expect((await db.summaries({ limit: 1000 })).items).toHaveLength(407);
  });

  it.runIf(engine.available)("judge by the stored rows when the replay state was lost", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1", "lamp-2"));
    const opener = new TestOpener(["lamp-1", "lamp-2"]);
    const a = new SealingNode("lamp-1");
    const b = new SealingNode("lamp-2");
    const stored = [opener.open(a.summary(0)), opener.open(a.health(0)), opener.open(b.summary(0))];
    expect((await db.admitBatch(stored)).map((o) => o.outcome)).toEqual(["stored", "stored", "stored"]);
    await db.sql.run("DELETE FROM replay_state");
    await db.sql.run("UPDATE devices SET newest_epoch = NULL");

    const restarted = new SealingNode("lamp-1"); // counter 0 again, another window
    const outcomes = await db.admitBatch([stored[1]!, opener.open(restarted.summary(7)), opener.open(b.health(0)), stored[2]!, opener.open(a.summary(1))]);
    expect(outcomes.map(judged)).toEqual([
      { outcome: "duplicate", detail: "counter 1 again, byte for byte (stored)" },
      { outcome: "counter-reuse", detail: "counter 0 sealed a different message than the one stored under it" },
      { outcome: "stored" },
      // A summary's window is looked at first: stored, from this very counter.
      { outcome: "window-duplicate", detail: "window 2026-10-01T08:00:00.000Z is stored from epoch 0 counter 0", stored: { epoch: 0, counter: 0 } },
      { outcome: "stored" },
    ]);
    const [{ n }] = (await db.sql.query<{ n: number }>("SELECT count(*) AS n FROM messages")) as [{ n: number }];
    expect(n).toBe(5);
    // The counters judged count as used again: a copy now is judged by the replay state.
    expect((await db.admit(stored[1]!)).outcome).toBe("duplicate");
  });

  it.runIf(engine.available)("undo their inserts and judge again when a row appeared under their keys after they read them", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1", "lamp-2"));
    const opener = new TestOpener(["lamp-1", "lamp-2"]);
    const a = new SealingNode("lamp-1");
    const b = new SealingNode("lamp-2");
    const batch = [opener.open(a.summary(0)), opener.open(b.summary(0)), opener.open(a.summary(1)), opener.open(b.health(0))];
    const [a0, b0, a1] = batch;

    // Written by "someone else" the moment the batch first inserts: a window of lamp-2 (as an
    // imported summary, no message row), then a message row under lamp-1's second counter.
    const intrusions: Array<(tx: SqlExecutor) => Promise<unknown>> = [
      (tx) =>
        tx.run(
          "INSERT INTO summaries (device, zone, window_start, window_seconds, epoch, counter, received_ms, digest, message_id, statistics, channels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, '[]', '')",
          ["lamp-2", "old-town", b0!.summary!.windowStart, 300, 0, 99, 0, "imported"],
        ),
      (tx) =>
        tx.run("INSERT INTO messages (device, key_id, epoch, counter, kind, topic, received_ms, sealed_at, sealed, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [
          "lamp-1", a1!.keyId, 0, a1!.summary!.counter, "summary", a1!.topic, 0, a1!.sealedAt, a1!.sealed, a1!.tag,
        ]),
    ];
    let statements: string[] = [];
    const outcomes = await db.sql.transaction(async (tx) => {
      const intruding = watched(tx, async (sql) => {
        if (sql.startsWith("INSERT INTO messages") && intrusions.length > 0) await intrusions.shift()!(tx);
      });
      const result = await admitMessages(intruding, db.sql.dialect, prepareBatch(batch), 128);
      statements = intruding.statements;
      return result;
    });
    expect(outcomes.map(judged)).toEqual([
      { outcome: "stored" },
      { outcome: "window-conflict", detail: `window ${new Date(b0!.summary!.windowStart * 1000).toISOString()} is stored from epoch 0 counter 99`, stored: { epoch: 0, counter: 99 } },
      { outcome: "duplicate", detail: `counter ${a1!.summary!.counter} again, byte for byte (stored)` },
      { outcome: "stored" },
    ]);
    expect(intrusions).toHaveLength(0);
    expect(statements.filter((sql) => sql.startsWith("DELETE FROM messages")).length).toBeGreaterThan(0);
    const rows = await db.sql.query<{ device: string; counter: number }>("SELECT device, counter FROM messages ORDER BY device, counter");
    expect(rows).toEqual([
      { device: "lamp-1", counter: a0!.summary!.counter },
      { device: "lamp-1", counter: a1!.summary!.counter },
      { device: "lamp-2", counter: batch[3]!.health!.counter },
    ]);
    const summaries = await db.sql.query<{ device: string; counter: number }>("SELECT device, counter FROM summaries ORDER BY device, window_start");
    expect(summaries).toEqual([
      { device: "lamp-1", counter: a0!.summary!.counter },
      { device: "lamp-2", counter: 99 },
    ]);
    // lamp-1's second counter now counts as used.
    expect((await db.admit(a1!)).outcome).toBe("duplicate");
  });

  it.runIf(engine.available)("record the devices they do not know yet, several in one batch", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-2"));
    const opener = new TestOpener(["lamp-1", "lamp-2", "lamp-3", "lamp-4"]);
    const batch = ["lamp-4", "lamp-2", "lamp-1", "lamp-3"].map((d) => opener.open(new SealingNode(d).summary(0), 5_000));
    expect((await db.admitBatch(batch)).map((o) => o.outcome)).toEqual(["stored", "stored", "stored", "stored"]);
    expect((await db.listDevices()).map((d) => [d.device, d.firstSeenMs])).toEqual([
      ["lamp-1", 5_000],
      ["lamp-2", 5_000],
      ["lamp-3", 5_000],
      ["lamp-4", 5_000],
    ]);
  });
});
