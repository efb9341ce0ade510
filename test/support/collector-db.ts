/**
 * A collector database for a test: SQLite in a fresh temporary folder (the default engine, the
 * real one), removed after the test file. `storedLines` reads back what it holds.
 *
 * Example:
 *   const db = await testCollectorDb();
 *   const collector = new Collector({ brokerUrl, keyring, db });
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import type { SqlCollectorDb } from "../../hosts/collector/db/sql-collector-db.js";
import { openCollectorDb } from "../../hosts/collector/db/open-collector-db.js";

export { storedLines } from "../../hosts/collector/db/stored-lines.js";

const opened: Array<{ db: SqlCollectorDb; dir: string }> = [];

// Registered when a test file imports this module (during collection), so that it runs whether the
// databases are made in a test or in a hook: a hook registered inside another hook never runs.
afterAll(async () => {
  for (const { db, dir } of opened.splice(0)) {
    await db.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fresh, migrated SQLite database, closed and removed after the test file (or by `close()` earlier). */
export async function testCollectorDb(): Promise<SqlCollectorDb> {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-test-db-"));
  const db = await openCollectorDb({ location: join(dir, "collector.db") });
  opened.push({ db, dir });
  return db;
}
