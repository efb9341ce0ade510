/**
 * What the API reads, on both engines: a summary's statistics and statuses as they were decoded,
 * summaries by device or zone with from / to / channel and cursors (every row once, oldest first),
 * health by device, rejection counts by cause in time buckets, alerts, commands and their outcome.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../../hosts/collector/alerts.js";
import type { Page, StoredSummary, SummaryQuery } from "../../../../hosts/collector/db/collector-db.js";
import { QueryParameterError } from "../../../../hosts/collector/db/page-cursor.js";
import { channelsOf } from "../../../../hosts/collector/db/summary-statistics.js";
import type { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { releasePostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES } from "./engines.js";
import { deviceKeys, SealingNode, streetRecords, T0, TestOpener, WINDOW_S } from "./opened-messages.js";

afterAll(releasePostgres);

const DEVICES = ["lamp-1", "lamp-2", "lamp-3"];

/** Every page of a query, following the cursors. */
async function allPages(db: SqlCollectorDb, query: SummaryQuery): Promise<Array<Page<StoredSummary>>> {
  const pages: Array<Page<StoredSummary>> = [];
  let cursor: string | undefined;
  do {
    const page = await db.summaries({ ...query, ...(cursor !== undefined ? { cursor } : {}) });
    pages.push(page);
    cursor = page.cursor;
  } while (cursor !== undefined && pages.length < 100);
  return pages;
}

describe.each(ENGINES)("queries on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("reads a summary's statistics back as decoded: numbers with their units, statuses as statuses", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1"));
    const opener = new TestOpener(["lamp-1"]);
    const node = new SealingNode("lamp-1");
    const released = opener.open(node.summary(0));
    const withheld = opener.open(node.summary(1, streetRecords(1, { footfall: "suppressed", pm25Missing: true })));
    const exhausted = opener.open(node.summary(2, streetRecords(2, { footfall: "budget-exhausted" })));
    await db.admitBatch([released, withheld, exhausted]);
    const { items } = await db.summaries({ device: "lamp-1", limit: 10 });
    expect(items.map((s) => channelsOf(s.statistics))).toEqual([released, withheld, exhausted].map((m) => m.summary!.channels));
    expect(items[1]!.statistics).toEqual([
      { channel: "noise", stat: "count", value: 300, unit: undefined, status: undefined },
      { channel: "noise", stat: "leq", value: 51, unit: "dB", status: undefined },
      { channel: "noise", stat: "l90", value: 41.5, unit: "dB", status: undefined },
      { channel: "footfall", stat: "distinct", value: undefined, unit: undefined, status: "suppressed" },
      { channel: "footfall", stat: "sum", value: undefined, unit: undefined, status: "suppressed" },
      { channel: "pm25", stat: "status", value: undefined, unit: undefined, status: "missing" },
    ]);
    expect(items[2]!.statistics.filter((s) => s.channel === "footfall").map((s) => s.status)).toEqual(["budget-exhausted", "budget-exhausted"]);
    expect(items[0]).toMatchObject({ device: "lamp-1", zone: "old-town", windowStart: T0 / 1000, windowSeconds: WINDOW_S, epoch: 0, counter: 0, receivedAtMs: released.receivedAtMs });
    // The statuses are text in the database, in the status place, never numbers; the numbers are numbers.
    const entries = (await db.sql.query<{ statistics: string }>("SELECT statistics FROM summaries")).flatMap((r) => JSON.parse(r.statistics) as unknown[][]);
    const withStatus = entries.filter((e) => e[4] !== undefined && e[4] !== null);
    expect(withStatus.every((e) => e[2] === null)).toBe(true);
    expect(withStatus.map((e) => e[4]).sort()).toEqual(["budget-exhausted", "budget-exhausted", "missing", "suppressed", "suppressed"]);
    expect(entries.filter((e) => e[4] === undefined).every((e) => typeof e[2] === "number")).toBe(true);
  });

  it.runIf(engine.available)("pages summaries by zone and by device with cursors, from / to and a channel, each row once and oldest first", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys(...DEVICES));
    const opener = new TestOpener(DEVICES);
    const nodes = DEVICES.map((d) => new SealingNode(d));
    const messages = [];
    for (let w = 0; w < 10; w++) for (const node of nodes) messages.push(opener.open(node.summary(w, streetRecords(w, { pm25Missing: w % 2 === 1 }))));
    await db.admitBatch(messages.reverse());

    const pages = await allPages(db, { zone: "old-town", limit: 7 });
    expect(pages.map((p) => p.items.length)).toEqual([7, 7, 7, 7, 2]);
    expect(pages.at(-1)!.cursor).toBeUndefined();
    const order = pages.flatMap((p) => p.items.map((s) => `${s.windowStart - T0 / 1000}/${s.device}`));
    const expected = Array.from({ length: 10 }, (_, w) => DEVICES.map((d) => `${w * WINDOW_S}/${d}`)).flat();
    expect(order).toEqual(expected);

    const one = (await allPages(db, { device: "lamp-2", from: T0 / 1000 + 2 * WINDOW_S, to: T0 / 1000 + 6 * WINDOW_S, limit: 3 })).flatMap((p) => p.items);
    expect(one.map((s) => [s.device, (s.windowStart - T0 / 1000) / WINDOW_S])).toEqual([2, 3, 4, 5].map((w) => ["lamp-2", w]));

    const pm25 = (await allPages(db, { zone: "old-town", channel: "pm25", limit: 1000 })).flatMap((p) => p.items);
    expect(pm25).toHaveLength(30);
    expect(pm25.every((s) => s.statistics.every((stat) => stat.channel === "pm25"))).toBe(true);
    expect(pm25.filter((s) => s.statistics.some((stat) => stat.status === "missing"))).toHaveLength(15);

    expect((await db.summaries({ zone: "elsewhere", limit: 10 })).items).toEqual([]);
    expect((await db.summaries({ device: "lamp-1", zone: "elsewhere", limit: 10 })).items).toEqual([]);
  });

  it.runIf(engine.available)("filters by a channel exactly, never by a name that merely begins or ends like it", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1"));
    const opener = new TestOpener(["lamp-1"]);
    const node = new SealingNode("lamp-1");
    const names = [["pm2"], ["pm25"], ["xpm2"], ["pm2", "noise"], ["Pm2"]];
    await db.admitBatch(names.map((channels, w) => opener.open(node.summary(w, [{ name: "window", unit: "s", value: WINDOW_S }, ...channels.map((c) => ({ name: `${c}/count`, value: w }))]))));
    const windowsOf = async (channel: string) => (await db.summaries({ device: "lamp-1", channel, limit: 10 })).items.map((s) => [(s.windowStart - T0 / 1000) / WINDOW_S, s.statistics.map((x) => x.channel)]);
    expect(await windowsOf("pm2")).toEqual([
      [0, ["pm2"]],
      [3, ["pm2"]],
    ]);
    expect(await windowsOf("pm25")).toEqual([[1, ["pm25"]]]);
    expect(await windowsOf("noise")).toEqual([[3, ["noise"]]]);
    expect(await windowsOf("pm")).toEqual([]);
  });

  it.runIf(engine.available)("answers a bad cursor, limit or time with a QueryParameterError naming it", async () => {
    const { db } = await engine.fresh();
    for (const [query, parameter] of [
      [{ zone: "z", limit: 10, cursor: "not-a-cursor!" }, "cursor"],
      [{ zone: "z", limit: 10, cursor: Buffer.from('["x"]').toString("base64url") }, "cursor"],
      [{ zone: "z", limit: 0 }, "limit"],
      [{ zone: "z", limit: 1001 }, "limit"],
      [{ zone: "z", limit: 10, from: 1.5 }, "from"],
    ] as const) {
      const error = await db.summaries(query as SummaryQuery).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(QueryParameterError);
      expect((error as QueryParameterError).parameter).toBe(parameter);
    }
    await expect(db.rejections({ bucketSeconds: 0 })).rejects.toMatchObject({ parameter: "bucketSeconds" });
    await expect(db.health("lamp-1", { limit: 5, cursor: Buffer.from("[1]").toString("base64url") })).rejects.toMatchObject({ parameter: "cursor" });
  });

  it.runIf(engine.available)("pages a device's health reports and gives the decoded report back", async () => {
    const { db } = await engine.fresh();
    await db.syncDevices(deviceKeys("lamp-1", "lamp-2"));
    const opener = new TestOpener(["lamp-1", "lamp-2"]);
    const a = new SealingNode("lamp-1");
    const b = new SealingNode("lamp-2");
    const reports = Array.from({ length: 5 }, (_, w) => opener.open(a.health(w)));
    await db.admitBatch([...reports, opener.open(b.health(0))]);
    const first = await db.health("lamp-1", { limit: 2 });
    const second = await db.health("lamp-1", { limit: 2, cursor: first.cursor! });
    const third = await db.health("lamp-1", { limit: 2, cursor: second.cursor! });
    expect([first, second, third].map((p) => p.items.map((h) => h.counter))).toEqual([[0, 1], [2, 3], [4]]);
    expect(third.cursor).toBeUndefined();
    expect(first.items[0]!.report).toEqual(JSON.parse(JSON.stringify(reports[0]!.health)));
    expect(first.items[0]!.report.sensors.noise).toEqual({ status: "ok", readings: 300, drops: { crc: 2 } });
    const later = await db.health("lamp-1", { from: reports[3]!.health!.time, limit: 10 });
    expect(later.items.map((h) => h.counter)).toEqual([3, 4]);
  });

  it.runIf(engine.available)("counts rejections by cause in time buckets, and keeps no bytes of them", async () => {
    const { db } = await engine.fresh();
    const base = T0;
    const rows: Array<[number, "authentication" | "replay" | "malformed"]> = [
      [0, "authentication"],
      [10_000, "authentication"],
      [59_999, "replay"],
      [60_000, "malformed"],
      [125_000, "authentication"],
    ];
    for (const [offset, cause] of rows) await db.recordRejection({ timeMs: base + offset, topic: `civicnode/old-town/lamp-1/summary${"x".repeat(300)}`, cause, detail: "tag mismatch" });
    const counts = await db.rejections({ bucketSeconds: 60 });
    expect(counts.buckets).toEqual([
      { start: base / 1000, counts: { authentication: 2, replay: 1 } },
      { start: base / 1000 + 60, counts: { malformed: 1 } },
      { start: base / 1000 + 120, counts: { authentication: 1 } },
    ]);
    expect((await db.rejections({ from: base / 1000 + 60, to: base / 1000 + 120, bucketSeconds: 3600 })).buckets).toEqual([{ start: base / 1000, counts: { malformed: 1 } }]);
    const [row] = await db.sql.query<{ topic: string }>("SELECT topic FROM rejections LIMIT 1");
    expect(row!.topic.length).toBe(200);
  });

  it.runIf(engine.available)("keeps alerts and commands with their outcome, oldest first in pages", async () => {
    const { db } = await engine.fresh();
    const alerts: Alert[] = Array.from({ length: 5 }, (_, i) => ({
      time: new Date(T0 + i * 1000).toISOString(),
      kind: i % 2 === 0 ? "counter-reuse" : "store-failed",
      ...(i % 2 === 0 ? { device: "lamp-1", epoch: i } : {}),
      detail: `detail ${i}`,
      action: `action ${i}`,
    }));
    for (const alert of alerts) await db.recordAlert(alert);
    const first = await db.alerts({ limit: 3 });
    const rest = await db.alerts({ limit: 3, cursor: first.cursor! });
    expect([...first.items, ...rest.items]).toEqual(alerts);
    expect(rest.cursor).toBeUndefined();

    await db.recordCommand({ device: "lamp-1", name: "set-window", args: { seconds: 900 }, counter: 0, sentAtMs: T0 });
    await db.recordCommand({ device: "lamp-2", name: "rotate-epoch", args: {}, counter: 0, sentAtMs: T0 + 1 });
    await db.recordCommand({ device: "lamp-1", name: "rotate-epoch", args: {}, counter: 1, sentAtMs: T0 + 2 });
    expect(await db.recordCommandOutcome("lamp-1", 0, "accepted", T0 + 60_000)).toBe(true);
    expect(await db.recordCommandOutcome("lamp-1", 7, "accepted", T0 + 60_000)).toBe(false);
    const lamp1 = await db.commands({ device: "lamp-1", limit: 1 });
    const lamp1rest = await db.commands({ device: "lamp-1", limit: 1, cursor: lamp1.cursor! });
    expect([...lamp1.items, ...lamp1rest.items]).toEqual([
      { device: "lamp-1", name: "set-window", args: { seconds: 900 }, counter: 0, sentAtMs: T0, outcome: "accepted" },
      { device: "lamp-1", name: "rotate-epoch", args: {}, counter: 1, sentAtMs: T0 + 2, outcome: undefined },
    ]);
    expect((await db.commands({ limit: 10 })).items.map((c) => c.device)).toEqual(["lamp-1", "lamp-2", "lamp-1"]);
  });
});
