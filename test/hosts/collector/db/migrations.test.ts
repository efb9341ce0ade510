/**
 * The schema's migrations on both engines: applied from scratch in order and recorded, applied once
 * when collectors start at once, and a database migrated by a newer collector (or differently) is
 * refused with a clear error before anything is written. Migration 2 on a database of version 1
 * with rows: every summary's statistics read back as version 1 showed them, and stored as the
 * collector now writes them; the replay windows' tags cut into chunks, and judged by as before.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CollectorDbError } from "../../../../hosts/collector/db/db-errors.js";
import type { ChannelSummary } from "../../../../hosts/collector/decoded-messages.js";
import { loadMigrations, migrate, migrationsFolder, schemaVersion } from "../../../../hosts/collector/db/migrations.js";
import { openCollectorDb } from "../../../../hosts/collector/db/open-collector-db.js";
import { openPostgresDatabase } from "../../../../hosts/collector/db/postgres-database.js";
import { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { openSqliteDatabase } from "../../../../hosts/collector/db/sqlite-database.js";
import { allTagChunks } from "../../../../hosts/collector/db/replay-tag-chunks.js";
import { statisticsColumns } from "../../../../hosts/collector/db/summary-statistics.js";
import { EpochCounters } from "../../../../hosts/collector/epoch-counters.js";
import { summaryDigest } from "../../../../hosts/collector/window-index.js";
import { freshDatabase, releasePostgres, sharedPostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES, onCleanup } from "./engines.js";
import { SealingNode, TestOpener, WINDOW_S } from "./opened-messages.js";

const TABLES = ["devices", "replay_state", "messages", "summaries", "health_reports", "rejections", "alerts", "commands", "legacy_imports"];
const MIGRATIONS = [
  [1, "collector-store"],
  [2, "statistics-json-tag-chunks"],
  [3, "produced-under-policy"],
];

afterAll(releasePostgres);

describe("the migration files", () => {
  it("are numbered from 1 without gaps, and a gap is refused", () => {
    const migrations = loadMigrations(migrationsFolder());
    expect(migrations.map((m) => [m.version, m.name])).toEqual(MIGRATIONS);
    expect(migrations[0]!.sql.sqlite).toBe(migrations[0]!.sql.postgres);
    expect(migrations[1]!.sql.sqlite).toContain("json_array(");
    expect(migrations[1]!.sql.postgres).toContain("json_build_array(");
    const dir = mkdtempSync(join(tmpdir(), "civicnode-migrations-"));
    try {
      writeFileSync(join(dir, "001-one.sql"), "CREATE TABLE one (x INTEGER);");
      writeFileSync(join(dir, "003-three.sql"), "CREATE TABLE three (x INTEGER);");
      expect(() => loadMigrations(dir)).toThrow(/migration 2 is missing/);
      mkdirSync(join(dir, "sub"));
      writeFileSync(join(dir, "2-two.sql"), "");
      expect(() => loadMigrations(dir)).toThrow(/named NNN-name.sql/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("take one file per engine where a migration needs one, never both kinds nor half of a pair", () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-migrations-"));
    try {
      writeFileSync(join(dir, "001-one.sql"), "CREATE TABLE one (x INTEGER);");
      writeFileSync(join(dir, "002-two.sqlite.sql"), "-- sqlite");
      expect(() => loadMigrations(dir)).toThrow(/migration 2-two needs either 002-two.sql or one file per engine \(sqlite, postgres\)/);
      writeFileSync(join(dir, "002-two.postgres.sql"), "-- postgres");
      expect(loadMigrations(dir).map((m) => [m.version, m.name, m.sql])).toEqual([
        [1, "one", { sqlite: "CREATE TABLE one (x INTEGER);", postgres: "CREATE TABLE one (x INTEGER);" }],
        [2, "two", { sqlite: "-- sqlite", postgres: "-- postgres" }],
      ]);
      writeFileSync(join(dir, "002-two.sql"), "-- both");
      expect(() => loadMigrations(dir)).toThrow(/needs either/);
      rmSync(join(dir, "002-two.sql"));
      writeFileSync(join(dir, "002-other.postgres.sql"), "");
      expect(() => loadMigrations(dir)).toThrow(/migration 2 has files of two names/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.each(ENGINES)("migrations on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("builds the schema from scratch, records it, and applies nothing twice", async () => {
    const { db, open } = await engine.fresh();
    expect(await schemaVersion(db.sql)).toBe(3);
    const rows = await db.sql.query<{ version: number; name: string; applied_ms: number }>("SELECT version, name, applied_ms FROM schema_migrations ORDER BY version");
    expect(rows.map((r) => [r.version, r.name])).toEqual(MIGRATIONS);
    for (const table of TABLES) expect(await db.sql.query(`SELECT count(*) AS n FROM ${table}`)).toEqual([{ n: 0 }]);
    await expect(db.sql.query("SELECT count(*) AS n FROM summary_statistics")).rejects.toThrow(/summary_statistics/);
    expect(await db.migrate()).toEqual([]);
    const again = await open();
    expect(await again.migrate()).toEqual([]);
    expect(await db.sql.query("SELECT count(*) AS n FROM schema_migrations")).toEqual([{ n: 3 }]);
  });

  it.runIf(engine.available)("applies each migration once when several collectors start on an empty database at once", async () => {
    let location: string;
    if (engine.name === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "civicnode-db-"));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      location = join(dir, "collector.db");
    } else {
      const database = await freshDatabase((await sharedPostgres()).url);
      onCleanup(database.drop);
      location = database.url;
    }
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openCollectorDb({ location })));
    try {
      expect(await dbs[0]!.sql.query("SELECT version FROM schema_migrations ORDER BY version")).toEqual([{ version: 1 }, { version: 2 }, { version: 3 }]);
    } finally {
      for (const db of dbs) await db.close();
    }
  });

  it.runIf(engine.available)("refuses a database whose schema is newer than it knows, or whose migration differs, and writes nothing", async () => {
    const { db, location } = await engine.fresh();
    await db.sql.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)", [4, "from-a-newer-collector", 0]);
    const error = await openCollectorDb({ location }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectorDbError);
    expect((error as CollectorDbError).failure).toBe("schema-newer");
    expect((error as Error).message).toMatch(/schema is at version 4, newer than this collector knows \(3\)/);

    await db.sql.run("DELETE FROM schema_migrations WHERE version = 4");
    await db.sql.run("UPDATE schema_migrations SET name = 'something-else' WHERE version = 1");
    const sql = engine.name === "sqlite" ? openSqliteDatabase(location) : openPostgresDatabase(location);
    const other = new SqlCollectorDb(sql);
    try {
      await expect(other.migrate()).rejects.toMatchObject({ failure: "schema-mismatch" });
    } finally {
      await other.close();
    }
    expect(await db.sql.query("SELECT version, name FROM schema_migrations ORDER BY version")).toEqual([
      { version: 1, name: "something-else" },
      { version: 2, name: "statistics-json-tag-chunks" },
      { version: 3, name: "produced-under-policy" },
    ]);
  });
});

/** A summary's statistics as version 1 stored them: a row each (summary-rows.ts of version 1). */
function version1Rows(channels: Record<string, ChannelSummary>): Array<[string, string, number | null, string | null, string | null]> {
  const rows: Array<[string, string, number | null, string | null, string | null]> = [];
  for (const [channel, stats] of Object.entries(channels)) {
    for (const [stat, value] of Object.entries(stats)) {
      if (stat === "unit" || value === undefined) continue;
      if (typeof value === "string") rows.push([channel, stat, null, null, value]);
      else rows.push([channel, stat, Number.isNaN(value) ? null : value, stat === "count" ? null : (stats.unit ?? null), null]);
    }
  }
  return rows;
}

function channelsFrom(entries: Record<string, Record<string, number | string>>): Record<string, ChannelSummary> {
  const out: Record<string, ChannelSummary> = Object.create(null);
  for (const [name, stats] of Object.entries(entries)) out[name] = Object.assign(Object.create(null) as ChannelSummary, stats);
  return out;
}

describe.each(ENGINES)("migration 2 on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("moves a version-1 database's statistics into their summaries' rows: read back as before, stored as the collector writes them", async () => {
    let location: string;
    if (engine.name === "sqlite") {
      const dir = mkdtempSync(join(tmpdir(), "civicnode-db-"));
      onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      location = join(dir, "collector.db");
    } else {
      const database = await freshDatabase((await sharedPostgres()).url);
      onCleanup(database.drop);
      location = database.url;
    }
    const opener = new TestOpener(["lamp-1"]);
    const node = new SealingNode("lamp-1");
    const sealed = opener.open(node.summary(0));
    const many: Record<string, number | string> = {};
    for (let i = 0; i < 70; i++) many[`s${i}`] = i % 7 === 0 ? "suppressed" : i / 7;
    const summaries = [
      sealed.summary!.channels,
      channelsFrom({
        noise: { count: 300, unit: "dB", leq: 0.1 + 0.2, l90: 1 / 3 },
        footfall: { distinct: "suppressed", sum: "budget-exhausted" },
        pm25: { status: "missing" },
        odd: { unit: "x", mean: NaN, max: Infinity, min: -Infinity, tiny: 5e-324, huge: Number.MAX_VALUE, zero: -0 },
      }),
      channelsFrom({ "a/b": { count: 1 }, "50%": { count: 2 }, 'quote " back \\ nl \n é': { 'u"nit': "status \\ \"q\"" } }),
      channelsFrom({ many }),
      channelsFrom({}),
    ];

    // The replay state as version 1 stored it: the tags after the window's bitmap, in one value.
    const accepted = new EpochCounters(128);
    accepted.accept(0, sealed.tag, sealed.sealedAt);
    const odd = new EpochCounters(100);
    for (let c = 0; c < 130; c++) odd.accept(c, Uint8Array.from({ length: 16 }, (_, i) => c + i), 5);

    // Version 1, with rows.
    const v1 = engine.name === "sqlite" ? openSqliteDatabase(location) : openPostgresDatabase(location);
    try {
      expect(await migrate(v1, loadMigrations().slice(0, 1))).toEqual([1]);
      await v1.transaction(async (tx) => {
        await tx.run("INSERT INTO devices (device, zone, key_id, newest_epoch) VALUES (?, ?, ?, 0)", ["lamp-1", "old-town", sealed.keyId]);
        await tx.run("INSERT INTO devices (device, zone, key_id, newest_epoch) VALUES (?, ?, ?, 3)", ["lamp-2", "old-town", "22".repeat(8)]);
        const replayRow = "INSERT INTO replay_state (device, key_id, epoch, window_size, replay_window, tags, sealed_until) VALUES (?, ?, ?, ?, ?, ?, ?)";
        await tx.run(replayRow, ["lamp-1", sealed.keyId, 0, 128, accepted.export().window, accepted.export().tags!, sealed.sealedAt]);
        await tx.run(replayRow, ["lamp-2", "22".repeat(8), 1, 100, odd.export().window, null, 5]); // an old epoch: no tags
        await tx.run(replayRow, ["lamp-2", "22".repeat(8), 2, 100, odd.export().window, new Uint8Array(7), 5]); // tags that do not read
        await tx.run(replayRow, ["lamp-2", "22".repeat(8), 3, 100, odd.export().window, odd.export().tags!, 5]);
        const [{ id: messageId }] = (await tx.query<{ id: number }>(
          "INSERT INTO messages (device, key_id, epoch, counter, kind, topic, received_ms, sealed_at, sealed, tag) VALUES (?, ?, 0, 0, 'summary', ?, 1, ?, ?, ?) RETURNING id",
          ["lamp-1", sealed.keyId, sealed.topic, sealed.sealedAt, sealed.sealed, sealed.tag],
        )) as [{ id: number }];
        for (const [i, channels] of summaries.entries()) {
          const windowStart = sealed.summary!.windowStart + i * WINDOW_S;
          const [{ id }] = (await tx.query<{ id: number }>(
            "INSERT INTO summaries (device, zone, window_start, window_seconds, epoch, counter, received_ms, digest, message_id) VALUES ('lamp-1', 'old-town', ?, 300, 0, ?, 1, ?, ?) RETURNING id",
            [windowStart, i, summaryDigest({ windowSeconds: 300, channels }), i === 0 ? messageId : null],
          )) as [{ id: number }];
          // Last position first: the order is the position's, not the insert's.
          for (const [position, row] of [...version1Rows(channels).entries()].reverse()) {
            await tx.run("INSERT INTO summary_statistics (summary_id, position, channel, stat, value, unit, status) VALUES (?, ?, ?, ?, ?, ?, ?)", [id, position, ...row]);
          }
        }
      });
    } finally {
      await v1.close();
    }

    // Version 2, on PostgreSQL from a server that writes doubles with fewer digits (the migration sets its own).
    if (engine.name === "postgres") {
      const admin = openPostgresDatabase(location);
      await admin.exec(`ALTER DATABASE ${new URL(location).pathname.slice(1)} SET extra_float_digits = 0`);
      await admin.close();
    }
    const db = await openCollectorDb({ location });
    onCleanup(() => db.close());
    expect(await schemaVersion(db.sql)).toBe(3);
    await expect(db.sql.query("SELECT count(*) AS n FROM summary_statistics")).rejects.toThrow(/summary_statistics/);
    const { items } = await db.summaries({ device: "lamp-1", limit: 10 });
    // As version 1 showed them; a -0 reads as 0 (JSON has no -0, and the digest never told them apart).
    const asVersion1 = (value: number | null) => (value === null ? undefined : value === 0 ? 0 : value);
    expect(items.map((s) => s.statistics)).toEqual(
      summaries.map((channels) => version1Rows(channels).map(([channel, stat, value, unit, status]) => ({ channel, stat, value: asVersion1(value), unit: unit ?? undefined, status: status ?? undefined }))),
    );
    const rows = await db.sql.query<{ statistics: string; channels: string }>("SELECT statistics, channels FROM summaries ORDER BY window_start");
    expect(rows.map((r) => [JSON.parse(r.statistics), r.channels])).toEqual(summaries.map((channels) => [JSON.parse(statisticsColumns(channels).statistics), statisticsColumns(channels).channels]));

    // The tags moved into chunks, as the collector now writes them; untagged and unreadable ones as version 1 read them.
    const replay = await db.sql.query<{ device: string; epoch: number; tagged: number }>("SELECT device, epoch, tagged FROM replay_state ORDER BY device, epoch");
    expect(replay.map((r) => [r.device, r.epoch, r.tagged])).toEqual([
      ["lamp-1", 0, 1],
      ["lamp-2", 1, 0],
      ["lamp-2", 2, 1],
      ["lamp-2", 3, 1],
    ]);
    const chunks = await db.sql.query<{ device: string; epoch: number; chunk: number; known: Uint8Array; tags: Uint8Array }>("SELECT device, epoch, chunk, known, tags FROM replay_tags ORDER BY device, epoch, chunk");
    const asRows = (device: string, epoch: number, tags: Uint8Array, size: number) => allTagChunks(tags, size).map((c) => ({ device, epoch, chunk: c.chunk, known: Buffer.from(c.known), tags: Buffer.from(c.tags) }));
    expect(chunks.map((c) => ({ ...c, known: Buffer.from(c.known), tags: Buffer.from(c.tags) }))).toEqual([...asRows("lamp-1", 0, accepted.export().tags!, 128), ...asRows("lamp-2", 3, odd.export().tags!, 100)]);
    expect(await db.admit(sealed)).toEqual({ outcome: "duplicate", detail: "counter 0 again, byte for byte" }); // the tag, from its chunk
    expect(await db.admit(opener.open(new SealingNode("lamp-1").summary(5)))).toEqual({ outcome: "counter-reuse", detail: "counter 0 sealed a different message than the one accepted under it" });

    // The filter finds migrated summaries; a window sealed again unchanged meets the migrated digest.
    expect((await db.summaries({ zone: "old-town", channel: "a/b", limit: 10 })).items.map((s) => s.statistics)).toEqual([[{ channel: "a/b", stat: "count", value: 1, unit: undefined, status: undefined }]]);
    expect((await db.summaries({ zone: "old-town", channel: "pm25", limit: 10 })).items.map((s) => s.windowStart - sealed.summary!.windowStart)).toEqual([0, WINDOW_S]);
    expect((await db.admit(opener.open(node.summary(0)))).outcome).toBe("window-duplicate");
    expect((await db.admit(opener.open(node.summary(9)))).outcome).toBe("stored");
    expect((await db.summaries({ zone: "old-town", channel: "noise", limit: 10 })).items).toHaveLength(3);
  });
});
