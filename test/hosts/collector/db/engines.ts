/**
 * The two engines the storage suite runs against, each test on a database of its own: a fresh
 * SQLite file in a temporary folder, or a fresh PostgreSQL database (created, then dropped). In CI
 * (CIVICNODE_REQUIRE_POSTGRES=1) PostgreSQL is never skipped.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openCollectorDb, type OpenCollectorDbOptions } from "../../../../hosts/collector/db/open-collector-db.js";
import type { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { freshDatabase, POSTGRES_AVAILABLE, POSTGRES_REQUIRED, sharedPostgres } from "../../../support/postgres.js";

export interface TestDb {
  readonly db: SqlCollectorDb;
  /** The path or URL. */
  readonly location: string;
  /** Another connection (SQLite) or pool (PostgreSQL) to the same database; closed after the test. */
  open(options?: Partial<OpenCollectorDbOptions>): Promise<SqlCollectorDb>;
}

export interface Engine {
  readonly name: "sqlite" | "postgres";
  readonly available: boolean;
  fresh(options?: Partial<OpenCollectorDbOptions>): Promise<TestDb>;
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs `cleanup` after the test, before the databases' own cleanups (last in, first out). */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

/** Closes and removes what the test's databases left (afterEach). */
export async function cleanUpDatabases(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!();
}

async function opened(location: string, options: Partial<OpenCollectorDbOptions>): Promise<SqlCollectorDb> {
  const db = await openCollectorDb({ location, ...options });
  cleanups.push(() => db.close());
  return db;
}

export const SQLITE: Engine = {
  name: "sqlite",
  available: true,
  async fresh(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-db-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const location = join(dir, "collector.db");
    return { db: await opened(location, options), location, open: (more = {}) => opened(location, { ...options, ...more }) };
  },
};

export const POSTGRES: Engine = {
  name: "postgres",
  available: POSTGRES_REQUIRED || POSTGRES_AVAILABLE,
  async fresh(options = {}) {
    const server = await sharedPostgres();
    const database = await freshDatabase(server.url);
    cleanups.push(() => database.drop());
    return { db: await opened(database.url, options), location: database.url, open: (more = {}) => opened(database.url, { ...options, ...more }) };
  },
};

if (!POSTGRES.available) console.warn("PostgreSQL is not installed and CIVICNODE_POSTGRES_URL is not set: skipping the PostgreSQL half of the storage tests (CI runs it)");

export const ENGINES: readonly Engine[] = [SQLITE, POSTGRES];
