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
 * A migration is one file for both engines (`NNN-name.sql`), or, when it needs functions the
 * engines name differently (moving rows into JSON), one file per engine with the same number and
 * name (`NNN-name.sqlite.sql` and `NNN-name.postgres.sql`), which must leave the same schema and rows.
 *
 * Migrations are never edited once released: a change to the schema is a new file.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CollectorDbError } from "./db-errors.js";
import { renderSchema, type SqlDatabase, type SqlDialect } from "./sql-database.js";

type Engine = SqlDialect["engine"];
const ENGINES: readonly Engine[] = ["sqlite", "postgres"];

export interface Migration {
  readonly version: number;
  /** The file name without its number, engine and extension ("collector-store"). */
  readonly name: string;
  /** The script each engine runs (the same text when one file serves both). */
  readonly sql: Readonly<Record<Engine, string>>;
}

const FILE_NAME = /^(\d{3})-([a-z0-9][a-z0-9-]*?)(?:\.(sqlite|postgres))?\.sql$/;

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

/**
 * Reads the migrations of `folder`, checked to be numbered 1, 2, 3, ... without gaps, each either
 * one file or one per engine.
 */
export function loadMigrations(folder = migrationsFolder()): Migration[] {
  const files = new Map<number, { name: string; common?: string; sqlite?: string; postgres?: string }>();
  for (const file of readdirSync(folder).filter((f) => f.endsWith(".sql"))) {
    const match = FILE_NAME.exec(file);
    if (!match) throw new Error(`${join(folder, file)}: a migration is named NNN-name.sql, or NNN-name.sqlite.sql and NNN-name.postgres.sql`);
    const version = Number(match[1]);
    const entry = files.get(version) ?? { name: match[2]! };
    if (entry.name !== match[2]) throw new Error(`${folder}: migration ${version} has files of two names (${entry.name}, ${match[2]})`);
    entry[(match[3] as Engine | undefined) ?? "common"] = readFileSync(join(folder, file), "utf8");
    files.set(version, entry);
  }
  const migrations = [...files].sort(([a], [b]) => a - b);
  return migrations.map(([version, entry], i) => {
    if (version !== i + 1) throw new Error(`${folder}: migration ${i + 1} is missing (found ${version}-${entry.name})`);
    const sql = (engine: Engine): string => {
      const text = entry.common ?? entry[engine];
      if (text === undefined || (entry.common !== undefined && entry[engine] !== undefined)) {
        throw new Error(`${folder}: migration ${version}-${entry.name} needs either ${version.toString().padStart(3, "0")}-${entry.name}.sql or one file per engine (${ENGINES.join(", ")})`);
      }
      return text;
    };
    return { version, name: entry.name, sql: { sqlite: sql("sqlite"), postgres: sql("postgres") } };
  });
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
      await tx.exec(renderSchema(migration.sql[db.dialect.engine], db.dialect));
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
