/**
 * Retention in virtual time on both engines: a summary goes when the days its device's disclosure
 * promises have passed since its window ended, to the millisecond, with its statistics and its
 * message row; health and rejections after their own periods; the replay state stays, so a deleted
 * message sent again is still refused.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { RetentionPolicy } from "../../../../hosts/collector/db/collector-db.js";
import type { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { releasePostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES } from "./engines.js";
import { deviceKeys, SealingNode, T0, TestOpener, WINDOW_S } from "./opened-messages.js";

afterAll(releasePostgres);

const DAY_MS = 86_400_000;
const POLICY: RetentionPolicy = { summaryDays: (device) => (device === "lamp-1" ? 7 : device === "lamp-2" ? 30 : Infinity), healthDays: 3, rejectionDays: 1 };

async function counts(db: SqlCollectorDb): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ["summaries", "health_reports", "messages", "rejections", "replay_state"]) {
    out[table] = (await db.sql.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]!.n;
  }
  // A summary's statistics are a column of its row (summary-statistics.ts): counted in it.
  const statistics = await db.sql.query<{ statistics: string }>("SELECT statistics FROM summaries");
  out.statistics = statistics.reduce((sum, row) => sum + (JSON.parse(row.statistics) as unknown[]).length, 0);
  return out;
}

describe.each(ENGINES)("retention on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("deletes exactly what is past its period, with what belongs to it, and keeps the replay state", async () => {
    const { db } = await engine.fresh();
    const devices = ["lamp-1", "lamp-2", "lamp-3"];
    await db.syncDevices(deviceKeys(...devices));
    const opener = new TestOpener(devices);
    const nodes = devices.map((d) => new SealingNode(d));
    const messages = [];
    for (let w = 0; w < 3; w++) for (const node of nodes) messages.push(opener.open(node.summary(w)), opener.open(node.health(w)));
    await db.admitBatch(messages);
    for (let i = 0; i < 3; i++) await db.recordRejection({ timeMs: T0 + i * 1000, topic: "civicnode/x/y/summary", cause: "authentication", detail: "" });
    const statisticsPerSummary = (await counts(db)).statistics! / 9;
    expect(statisticsPerSummary).toBeGreaterThan(0);
    const windowEnd = (w: number) => T0 + (w + 1) * WINDOW_S * 1000;

    expect(await db.applyRetention(POLICY, T0)).toEqual({ summaries: 0, health: 0, rejections: 0 });
    // One millisecond before lamp-1's first window has been kept 7 days: nothing of it goes.
    expect(await db.applyRetention(POLICY, windowEnd(0) + 7 * DAY_MS - 1)).toMatchObject({ summaries: 0 });
    expect(await db.applyRetention(POLICY, windowEnd(0) + 7 * DAY_MS)).toMatchObject({ summaries: 1 });
    const lamp1 = await db.summaries({ device: "lamp-1", limit: 10 });
    expect(lamp1.items.map((s) => s.windowStart)).toEqual([1, 2].map((w) => T0 / 1000 + w * WINDOW_S));

    // By now health (3 days) and rejections (1 day) are past their periods as well.
    const after = await counts(db);
    expect(after).toEqual({
      summaries: 8,
      statistics: 8 * statisticsPerSummary,
      health_reports: 0,
      messages: 8,
      rejections: 0,
      replay_state: 3,
    });

    expect(await db.applyRetention(POLICY, windowEnd(2) + 30 * DAY_MS)).toEqual({ summaries: 5, health: 0, rejections: 0 });
    expect((await db.summaries({ limit: 10 })).items.map((s) => s.device)).toEqual(["lamp-3", "lamp-3", "lamp-3"]); // Infinity: kept
    expect((await counts(db)).messages).toBe(3);

    // The deleted messages are still known to the replay state: sent again, none is stored.
    const again = await db.admitBatch(messages.filter((m) => m.summary?.device !== "lamp-3"));
    expect(new Set(again.map((o) => o.outcome))).toEqual(new Set(["duplicate"]));
    expect((await counts(db)).messages).toBe(3);
  });

  it.runIf(engine.available)("keeps health reports and rejections to the millisecond of their periods", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1"));
    const opener = new TestOpener(["lamp-1"]);
    const node = new SealingNode("lamp-1");
    await db.admitBatch([opener.open(node.health(0)), opener.open(node.health(1))]);
    await db.recordRejection({ timeMs: T0, topic: "t", cause: "replay", detail: "" });
    await db.recordRejection({ timeMs: T0 + 1, topic: "t", cause: "replay", detail: "" });
    const reportTime = T0 + WINDOW_S * 1000; // health(0) is sealed at its window's end
    const policy: RetentionPolicy = { summaryDays: () => Infinity, healthDays: 3, rejectionDays: 1 };
    expect(await db.applyRetention(policy, reportTime + 3 * DAY_MS - 1)).toEqual({ summaries: 0, health: 0, rejections: 2 });
    expect(await db.applyRetention(policy, reportTime + 3 * DAY_MS)).toEqual({ summaries: 0, health: 1, rejections: 0 });
    expect((await db.health("lamp-1", { limit: 10 })).items.map((h) => h.counter)).toEqual([1]);
    expect(await db.sql.query("SELECT kind FROM messages")).toEqual([{ kind: "health" }]);
    await expect(db.applyRetention({ ...policy, healthDays: -1 }, T0)).rejects.toThrow(/health days/);
  });
});
