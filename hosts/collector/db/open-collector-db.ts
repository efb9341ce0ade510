/**
 * Opens the collector's database from what the command line says (`--db`): a postgres:// or
 * postgresql:// URL for PostgreSQL, anything else a path to an SQLite file (default
 * `collector.db` in the state folder), then applies the migrations it lacks. A database that cannot
 * be opened or migrated is closed again and the CollectorDbError passed on.
 *
 * Example:
 *   const db = await openCollectorDb({ location: process.argv.includes("--db") ? url : join(stateDir, COLLECTOR_DB_FILE) });
 */
import { openPostgresDatabase, type PostgresOptions } from "./postgres-database.js";
import { SqlCollectorDb, type SqlCollectorDbOptions } from "./sql-collector-db.js";
import { openSqliteDatabase, type SqliteOptions } from "./sqlite-database.js";

/** The SQLite file in a state folder. */
export const COLLECTOR_DB_FILE = "collector.db";

export interface OpenCollectorDbOptions extends SqlCollectorDbOptions, SqliteOptions, PostgresOptions {
  /** A postgres:// URL, or the path of an SQLite file. */
  readonly location: string;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export async function openCollectorDb(options: OpenCollectorDbOptions): Promise<SqlCollectorDb> {
  const sql = isPostgresUrl(options.location) ? openPostgresDatabase(options.location, options) : openSqliteDatabase(options.location, options);
  const db = new SqlCollectorDb(sql, options);
  try {
    await db.migrate();
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return db;
}
