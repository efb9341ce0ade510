/**
 * The schema's versions: numbered SQL files in `migrations/` (`001-collector-store.sql`, ...),
 * applied at start in order, each in its own transaction together with its row in
 * `schema_migrations` (version, name, when), so a migration is applied whole or not at all. A
 * database whose newest migration is beyond what this code knows was written by a newer collector
 * and is refused (`schema-newer`): an older collector must not write into a schema it does not
 * know. A migration recorded under a number with another name than this code's is refused too
 * (`schema-mismatch`). On PostgreSQL each migration's transaction first takes an advisory lock, so
 * collectors starting at once apply each migration once; on SQLite BEGIN IMMEDIATE does the same.
 *
 * Migrations are never edited once released: a change to the schema is a new file.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CollectorDbError } from "./db-errors.js";
import { renderSchema, type SqlDatabase } from "./sql-database.js";

export interface Migration {
  readonly version: number;
  /** The file name without its number and extension ("collector-store"). */
  readonly name: string;
  readonly sql: string;
}

const FILE_NAME = /^(\d{3})-([a-z0-9][a-z0-9-]*)\.sql$/;

/**
 * The folder of the SQL files: beside this module in the source tree; from the build (dist/), the
 * source tree's, since the compiler copies no SQL.
 */
export function migrationsFolder(): string {
  for (const relative of ["./migrations/", "../../../../hosts/collector/db/migrations/"]) {
    const folder = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(folder, "001-collector-store.sql"))) return folder;
  }
  throw new Error("the collector's migrations (hosts/collector/db/migrations/*.sql) are missing");
}

/** Reads the migrations of `folder`, checked to be numbered 1, 2, 3, ... without gaps. */
export function loadMigrations(folder = migrationsFolder()): Migration[] {
  const migrations = readdirSync(folder)
    .filter((file) => file.endsWith(".sql"))
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new Error(`${join(folder, file)}: a migration is named NNN-name.sql`);
      return { version: Number(match[1]), name: match[2]!, sql: readFileSync(join(folder, file), "utf8") };
    })
    .sort((a, b) => a.version - b.version);
  migrations.forEach((migration, i) => {
    if (migration.version !== i + 1) throw new Error(`${folder}: migration ${i + 1} is missing (found ${migration.version}-${migration.name}.sql)`);
  });
  return migrations;
}

/** Applies the migrations not yet applied; returns the versions it applied. Throws CollectorDbError. */
export async function migrate(db: SqlDatabase, migrations: readonly Migration[] = loadMigrations(), nowMs = Date.now()): Promise<number[]> {
  const lock = db.dialect.migrationLock;
  await db.transaction(async (tx) => {
    if (lock) await tx.query(lock);
    await tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)");
  });
  const known = migrations.length;
  const applied: number[] = [];
  // One pass even with nothing to apply: a newer schema is refused before anything is read or written.
  for (let next = 0; next <= known; next++) {
    const done = await db.transaction(async (tx) => {
      if (lock) await tx.query(lock);
      const rows = await tx.query<{ version: number; name: string }>("SELECT version, name FROM schema_migrations ORDER BY version");
      const newest = rows.length > 0 ? rows[rows.length - 1]!.version : 0;
      if (newest > known) {
        throw new CollectorDbError("schema-newer", `the database's schema is at version ${newest}, newer than this collector knows (${known}): run a collector as new as the one that migrated it`);
      }
      for (const row of rows) {
        const mine = migrations[row.version - 1];
        if (!mine || mine.name !== row.name) {
          throw new CollectorDbError("schema-mismatch", `the database's migration ${row.version} is "${row.name}", this collector's is "${mine?.name ?? "none"}"`);
        }
      }
      const migration = migrations[newest];
      if (!migration) return true;
      await tx.exec(renderSchema(migration.sql, db.dialect));
      await tx.run("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)", [migration.version, migration.name, nowMs]);
      applied.push(migration.version);
      return false;
    });
    if (done) break;
  }
  return applied;
}

/** The schema version of a database (0: none applied). */
export async function schemaVersion(db: SqlDatabase): Promise<number> {
  const rows = await db.query<{ version: number | null }>("SELECT max(version) AS version FROM schema_migrations");
  return rows[0]?.version ?? 0;
}
