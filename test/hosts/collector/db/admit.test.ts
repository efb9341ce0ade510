/**
 * Every outcome of admit() on both engines, with messages sealed by the node's code and opened by
 * the real opener: stored, duplicate, counter-reuse (inside and below the window), replay (below the
 * window, and a retired epoch), window-duplicate, window-conflict, a re-keyed device, a key the
 * database does not hold; and batches, which judge each message against the ones before it.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { AdmitOutcome } from "../../../../hosts/collector/db/collector-db.js";
import { CollectorDbError } from "../../../../hosts/collector/db/db-errors.js";
import { releasePostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES } from "./engines.js";
import { deviceKeys, keyIdOf, SealingNode, streetRecords, T0, TestOpener } from "./opened-messages.js";

const outcomes = (list: readonly AdmitOutcome[]) => list.map((o) => o.outcome);
const count = async (db: { sql: { query: <T extends object>(sql: string) => Promise<T[]> } }, table: string) =>
  (await db.sql.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n;

afterAll(releasePostgres);

describe.each(ENGINES)("admit on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("stores a new message with its summary or health report, and a copy of it is a duplicate", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const node = new SealingNode("lamp-7");
    const opener = new TestOpener(["lamp-7"]);
    const summary = opener.open(node.summary(0));
    const health = opener.open(node.health(0));
    const stored = await db.admit(summary);
    expect(stored).toEqual({ outcome: "stored", messageId: expect.any(Number) });
    expect((await db.admit(health)).outcome).toBe("stored");
    expect(await db.admit(summary)).toEqual({ outcome: "duplicate", detail: "counter 0 again, byte for byte" });
    expect(await count(db, "messages")).toBe(2);
    expect(await count(db, "summaries")).toBe(1);
    expect(await count(db, "health_reports")).toBe(1);
    const [row] = await db.sql.query<{ sealed: Uint8Array; tag: Uint8Array; kind: string; topic: string }>("SELECT sealed, tag, kind, topic FROM messages WHERE id = ?", [
      (stored as { messageId: number }).messageId,
    ]);
    expect(new Uint8Array(row!.sealed)).toEqual(summary.sealed);
    expect(new Uint8Array(row!.tag)).toEqual(summary.tag);
    expect(row).toMatchObject({ kind: "summary", topic: summary.topic });
  });

  it.runIf(engine.available)("calls another message under a used counter a counter-reuse, inside the window by its tag and below it by its time", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const opener = new TestOpener(["lamp-7"]);
    const node = new SealingNode("lamp-7");
    for (let w = 0; w < 3; w++) expect((await db.admit(opener.open(node.summary(w)))).outcome).toBe("stored");
    // A node whose store was lost, provisioned again with the same key: its counter starts over.
    const restarted = new SealingNode("lamp-7");
    const reuse = await db.admit(opener.open(restarted.summary(50)));
    expect(reuse).toEqual({ outcome: "counter-reuse", detail: "counter 0 sealed a different message than the one accepted under it" });

    // 200 more, so that counter 0 falls below the window of 128.
    for (let w = 3; w < 200; w++) await db.admit(opener.open(node.health(w)));
    const late = new SealingNode("lamp-7");
    const below = await db.admit(opener.open(late.summary(400)));
    expect(below.outcome).toBe("counter-reuse");
    expect((below as { detail: string }).detail).toContain("below the replay window");
    expect(await count(db, "summaries")).toBe(3);
  });

  it.runIf(engine.available)("calls an old message below the window a replay, and a message of a retired epoch too", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const opener = new TestOpener(["lamp-7"]);
    const node = new SealingNode("lamp-7");
    const first = opener.open(node.summary(0));
    await db.admit(first);
    for (let w = 1; w < 140; w++) await db.admit(opener.open(node.health(w)));
    expect(await db.admit(first)).toEqual({ outcome: "replay", detail: "too-old: counter 0" });

    // Sealed in epoch 0, delivered after epoch 66 was accepted: its epoch was retired.
    const old = opener.open(node.health(140));
    for (let e = 0; e < 66; e++) node.rotate();
    expect((await db.admit(opener.open(node.health(141)))).outcome).toBe("stored");
    expect(await db.admit(old)).toEqual({ outcome: "replay", detail: "epoch 0 is more than 64 epochs behind 66" });
    const [{ n }] = (await db.sql.query<{ n: number }>("SELECT count(*) AS n FROM replay_state WHERE epoch = 0")) as [{ n: number }];
    expect(n).toBe(0);
  });

  it.runIf(engine.available)("keeps tags for a device's two newest epochs only, as the opener does", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const opener = new TestOpener(["lamp-7"]);
    const node = new SealingNode("lamp-7");
    const epoch0 = opener.open(node.health(0));
    await db.admit(epoch0);
    node.rotate();
    const epoch1 = opener.open(node.health(1));
    await db.admit(epoch1);
    expect((await db.admit(epoch0)).outcome).toBe("duplicate"); // two newest: tags kept
    node.rotate();
    await db.admit(opener.open(node.health(2)));
    expect((await db.admit(epoch1)).outcome).toBe("duplicate");
    // Epoch 0 is three epochs back now: judged by its time, not its tag.
    expect(await db.admit(epoch0)).toEqual({ outcome: "replay", detail: "replay: counter 0" });
    const rows = await db.sql.query<{ epoch: number; tagged: number; chunks: number }>(
      "SELECT r.epoch, r.tagged, (SELECT count(*) FROM replay_tags t WHERE t.device = r.device AND t.key_id = r.key_id AND t.epoch = r.epoch) AS chunks FROM replay_state r ORDER BY r.epoch",
    );
    expect(rows.map((r) => [r.epoch, r.tagged, r.chunks])).toEqual([
      [0, 0, 0],
      [1, 1, 1],
      [2, 1, 1],
    ]);
  });

  it.runIf(engine.available)("drops a window sealed again unchanged (window-duplicate) and refuses one with other values (window-conflict)", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const opener = new TestOpener(["lamp-7"]);
    const node = new SealingNode("lamp-7");
    await db.admit(opener.open(node.summary(0)));
    const again = opener.open(node.summary(0)); // counter 1, same values
    expect(await db.admit(again)).toEqual({ outcome: "window-duplicate", detail: "window 2026-10-01T08:00:00.000Z is stored from epoch 0 counter 0", stored: { epoch: 0, counter: 0 } });
    const other = opener.open(node.summary(0, streetRecords(0, { leq: 70 })));
    expect(await db.admit(other)).toMatchObject({ outcome: "window-conflict", stored: { epoch: 0, counter: 0 } });
    // Their counters count as used: a copy of either is a duplicate, not judged again.
    expect((await db.admit(again)).outcome).toBe("duplicate");
    expect((await db.admit(other)).outcome).toBe("duplicate");
    expect(await count(db, "messages")).toBe(1);
    expect(await count(db, "summaries")).toBe(1);
  });

  it.runIf(engine.available)("starts a re-keyed device's counters over, and refuses a message under a key it does not hold", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7", "lamp-8"));
    const opener = new TestOpener(["lamp-7"]);
    const node = new SealingNode("lamp-7");
    for (let w = 0; w < 3; w++) await db.admit(opener.open(node.summary(w)));

    const newKey = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
    expect(await db.syncDevices([{ device: "lamp-7", zone: "old-town", keyId: keyIdOf("lamp-7", newKey) }, ...deviceKeys("lamp-8")])).toEqual({ reset: ["lamp-7"] });
    expect(await db.syncDevices([{ device: "lamp-7", zone: "old-town", keyId: keyIdOf("lamp-7", newKey) }])).toEqual({ reset: [] });
    expect(await count(db, "replay_state")).toBe(0);
    // A message of the old key, opened by a collector whose keyring is behind the database's.
    await expect(db.admit(opener.open(node.summary(3)))).rejects.toMatchObject({ name: "CollectorDbError", failure: "key-mismatch" });
    // The new key's counters start at 0 again, and are new.
    const rekeyed = new SealingNode("lamp-7", newKey);
    const rekeyedOpener = TestOpener.withKey("lamp-7", newKey);
    const windows = [10, 11, 12];
    expect(outcomes(await db.admitBatch(windows.map((w) => rekeyedOpener.open(rekeyed.summary(w)))))).toEqual(["stored", "stored", "stored"]);
    const rows = await db.sql.query<{ key_id: string; counter: number }>("SELECT key_id, counter FROM messages ORDER BY id");
    expect(rows.map((r) => [r.key_id === keyIdOf("lamp-7"), r.counter])).toEqual([
      [true, 0],
      [true, 1],
      [true, 2],
      [false, 0],
      [false, 1],
      [false, 2],
    ]); // the old key's rows stay
  });

  it.runIf(engine.available)("admits a batch in one transaction, each message judged against those before it", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7", "lamp-8"));
    const opener = new TestOpener(["lamp-7", "lamp-8"]);
    const a = new SealingNode("lamp-7");
    const b = new SealingNode("lamp-8");
    const a0 = opener.open(a.summary(0));
    const b0 = opener.open(b.summary(0));
    const a0again = opener.open(a.summary(0));
    const bh = opener.open(b.health(0));
    const result = await db.admitBatch([b0, a0, a0, a0again, bh, b0]);
    expect(outcomes(result)).toEqual(["stored", "stored", "duplicate", "window-duplicate", "stored", "duplicate"]);
    expect(outcomes(await db.admitBatch([a0, b0, bh]))).toEqual(["duplicate", "duplicate", "duplicate"]);
    expect(await count(db, "messages")).toBe(3);
    const devices = await db.listDevices();
    expect(devices.map((d) => [d.device, d.lastWindowStart, d.firstSeenMs !== undefined])).toEqual([
      ["lamp-7", a0.summary!.windowStart, true],
      ["lamp-8", b0.summary!.windowStart, true],
    ]);
  });

  it.runIf(engine.available)("records a device it does not know yet from its first message", async () => {
    const { db } = await engine.fresh();
    const opener = new TestOpener(["lamp-9"]);
    const node = new SealingNode("lamp-9");
    expect((await db.admit(opener.open(node.summary(0), 1_000))).outcome).toBe("stored");
    expect(await db.listDevices()).toEqual([{ device: "lamp-9", zone: "old-town", keyId: keyIdOf("lamp-9"), firstSeenMs: 1_000, lastSeenMs: 1_000, lastWindowStart: T0 / 1000 }]);
  });

  it.runIf(engine.available)("throws CollectorDbError for a key mismatch with the failure named", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-7"));
    const opener = new TestOpener(["lamp-7"]);
    const error = await db.admit(opener.open(new SealingNode("lamp-7").summary(0), undefined, "00".repeat(8))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectorDbError);
    expect((error as CollectorDbError).code).toBe("key-mismatch");
    expect(await count(db, "messages")).toBe(0);
  });
});
