/**
 * The schema's migrations on both engines: applied from scratch in order and recorded, applied once
 * when collectors start at once, and a database migrated by a newer collector (or differently) is
 * refused with a clear error before anything is written.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { CollectorDbError } from "../../../../hosts/collector/db/db-errors.js";
import { loadMigrations, migrationsFolder, schemaVersion } from "../../../../hosts/collector/db/migrations.js";
import { openCollectorDb } from "../../../../hosts/collector/db/open-collector-db.js";
import { openPostgresDatabase } from "../../../../hosts/collector/db/postgres-database.js";
import { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { openSqliteDatabase } from "../../../../hosts/collector/db/sqlite-database.js";
import { freshDatabase, releasePostgres, sharedPostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES, onCleanup } from "./engines.js";

const TABLES = ["devices", "replay_state", "messages", "summaries", "summary_statistics", "health_reports", "rejections", "alerts", "commands", "legacy_imports"];

afterAll(releasePostgres);

describe("the migration files", () => {
  it("are numbered from 1 without gaps, and a gap is refused", () => {
    const migrations = loadMigrations(migrationsFolder());
    expect(migrations.map((m) => [m.version, m.name])).toEqual([[1, "collector-store"]]);
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
});

describe.each(ENGINES)("migrations on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("builds the schema from scratch, records it, and applies nothing twice", async () => {
    const { db, open } = await engine.fresh();
    expect(await schemaVersion(db.sql)).toBe(1);
    const [row] = await db.sql.query<{ version: number; name: string; applied_ms: number }>("SELECT version, name, applied_ms FROM schema_migrations");
    expect(row).toMatchObject({ version: 1, name: "collector-store" });
    for (const table of TABLES) expect(await db.sql.query(`SELECT count(*) AS n FROM ${table}`)).toEqual([{ n: 0 }]);
    expect(await db.migrate()).toEqual([]);
    const again = await open();
    expect(await again.migrate()).toEqual([]);
    expect(await db.sql.query("SELECT count(*) AS n FROM schema_migrations")).toEqual([{ n: 1 }]);
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
      expect(await dbs[0]!.sql.query("SELECT version FROM schema_migrations")).toEqual([{ version: 1 }]);
    } finally {
      for (const db of dbs) await db.close();
    }
  });

  it.runIf(engine.available)("refuses a database whose schema is newer than it knows, or whose migration differs, and writes nothing", async () => {
    const { db, location } = await engine.fresh();
    await db.sql.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)", [2, "from-a-newer-collector", 0]);
    const error = await openCollectorDb({ location }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CollectorDbError);
    expect((error as CollectorDbError).failure).toBe("schema-newer");
    expect((error as Error).message).toMatch(/schema is at version 2, newer than this collector knows \(1\)/);

    await db.sql.run("DELETE FROM schema_migrations WHERE version = 2");
    await db.sql.run("UPDATE schema_migrations SET name = 'something-else' WHERE version = 1");
    const sql = engine.name === "sqlite" ? openSqliteDatabase(location) : openPostgresDatabase(location);
    const other = new SqlCollectorDb(sql);
    try {
      await expect(other.migrate()).rejects.toMatchObject({ failure: "schema-mismatch" });
    } finally {
      await other.close();
    }
    expect(await db.sql.query("SELECT version, name FROM schema_migrations")).toEqual([{ version: 1, name: "something-else" }]);
  });
});
