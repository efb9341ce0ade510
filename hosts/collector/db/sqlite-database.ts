/**
 * The SQL layer on SQLite (better-sqlite3 12), the collector's default: one file in the state
 * folder. Settings, and why:
 *   - journal_mode=WAL: readers (the API) never wait for the writer, and a commit appends to the
 *     log instead of rewriting pages;
 *   - synchronous=FULL: a message is acknowledged to the broker once it is stored, so a commit must
 *     survive a power cut (the WAL is fsynced at every commit; batching shares that sync);
 *   - foreign_keys=ON: deleting a message deletes its summary or health report (ON DELETE CASCADE);
 *   - transactions that write begin with BEGIN IMMEDIATE, which takes the database's one write lock
 *     at once: writers in other connections or processes run one after the other, and a
 *     transaction never finds its read out of date when it comes to write.
 *
 * The busy timeout is kept here, not in SQLite: better-sqlite3 is synchronous, so SQLite's own
 * busy wait would stop this process's event loop, and with it any transaction of this process that
 * holds the lock (two connections of one process would then wait for each other until the
 * timeout). So SQLite returns SQLITE_BUSY at once and the layer retries after a short, growing
 * sleep, until `busyTimeoutMs`.
 *
 * One connection runs one thing at a time: statements and transactions queue behind the open
 * transaction (its callback awaits between statements, and another caller's statement must not
 * slip into it).
 */
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { CollectorDbError, engineCodeOf, sqliteFailure } from "./db-errors.js";
import { StatementCache, type SqlDatabase, type SqlDialect, type SqlExecutor, type SqlRunResult, type SqlValue } from "./sql-database.js";

export const SQLITE_DIALECT: SqlDialect = {
  engine: "sqlite",
  bytes: "BLOB",
  autoId: "INTEGER PRIMARY KEY",
  forUpdate: "",
  migrationLock: undefined,
  textPosition: "instr",
};

export interface SqliteOptions {
  /** How long a writer waits for another connection's write lock (ms); default 5000. */
  readonly busyTimeoutMs?: number;
}

/** Prepared statements kept per connection. */
const STATEMENTS = 256;
/** First sleep when the write lock is taken (ms), doubling up to MAX_RETRY_MS. */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 50;

/** Opens (creating if absent) the database file at `path`. Throws CollectorDbError. */
export function openSqliteDatabase(path: string, options: SqliteOptions = {}): SqlDatabase {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw openError(path, error);
  }
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  // Switching a new file to WAL takes its lock: processes opening it together (four `npm run cmd`
  // at once) meet SQLITE_BUSY here, before any transaction could retry. Retried the same way, with
  // a blocking sleep (this runs once, at open).
  const deadline = Date.now() + busyTimeoutMs;
  let wait = FIRST_RETRY_MS;
  for (;;) {
    try {
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = FULL");
      db.pragma("foreign_keys = ON");
      break;
    } catch (error) {
      const refused = failure(path, error);
      if (!(refused instanceof CollectorDbError) || refused.failure !== "busy" || Date.now() + wait > deadline) {
        db.close();
        throw refused;
      }
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
    wait = Math.min(MAX_RETRY_MS, wait * 2);
  }
  return new SqliteDatabase(path, db, busyTimeoutMs);
}

class SqliteDatabase implements SqlDatabase {
  readonly dialect = SQLITE_DIALECT;
  readonly #path: string;
  readonly #db: Database.Database;
  readonly #busyTimeoutMs: number;
  readonly #statements = new StatementCache<Database.Statement>(STATEMENTS);
  /** The end of the queue of work on this connection. */
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  get location(): string {
    return this.#path;
  }

  constructor(path: string, db: Database.Database, busyTimeoutMs: number) {
    this.#path = path;
    this.#db = db;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  query<Row extends object>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.#queued(() => this.#withBusyRetry(() => this.#query<Row>(sql, params)));
  }

  run(sql: string, params: readonly SqlValue[] = []): Promise<SqlRunResult> {
    return this.#queued(() => this.#withBusyRetry(() => this.#run(sql, params)));
  }

  exec(sql: string): Promise<void> {
    return this.#queued(() => this.#withBusyRetry(() => this.#exec(sql)));
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#queued(async () => {
      await this.#withBusyRetry(() => this.#exec("BEGIN IMMEDIATE"));
      let open = true;
      const guard = () => {
        if (!open) throw new Error("a transaction's executor was used after the transaction ended");
      };
      const tx: SqlExecutor = {
        query: async <Row extends object>(sql: string, params: readonly SqlValue[] = []) => (guard(), this.#query<Row>(sql, params)),
        run: async (sql, params = []) => (guard(), this.#run(sql, params)),
        exec: async (sql) => (guard(), this.#exec(sql)),
      };
      try {
        const result = await work(tx);
        open = false;
        this.#exec("COMMIT");
        return result;
      } catch (error) {
        open = false;
        this.#rollback();
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#tail.catch(() => undefined);
    this.#statements.clear();
    this.#db.close();
  }

  #queued<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new CollectorDbError("failed", `${this.#path} is closed`));
    const result = this.#tail.then(work, work);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  async #withBusyRetry<T>(attempt: () => T): Promise<T> {
    const deadline = Date.now() + this.#busyTimeoutMs;
    let wait = FIRST_RETRY_MS;
    for (;;) {
      try {
        return attempt();
      } catch (error) {
        if (!(error instanceof CollectorDbError) || error.failure !== "busy" || Date.now() + wait > deadline) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      wait = Math.min(MAX_RETRY_MS, wait * 2);
    }
  }

  #query<Row>(sql: string, params: readonly SqlValue[]): Row[] {
    try {
      return this.#statement(sql).all(...params.map(bindable)) as Row[];
    } catch (error) {
      throw failure(this.#path, error);
    }
  }

  #run(sql: string, params: readonly SqlValue[]): SqlRunResult {
    try {
      return { changes: this.#statement(sql).run(...params.map(bindable)).changes };
    } catch (error) {
      throw failure(this.#path, error);
    }
  }

  #exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (error) {
      throw failure(this.#path, error);
    }
  }

  #rollback(): void {
    // SQLite may have rolled back by itself (SQLITE_FULL, SQLITE_IOERR): then there is nothing to end.
    if (!this.#db.inTransaction) return;
    try {
      this.#db.exec("ROLLBACK");
    } catch {
      // A rollback that fails leaves the journal for SQLite to roll back at the next open.
    }
  }

  #statement(sql: string): Database.Statement {
    return this.#statements.get(sql, (text) => this.#db.prepare(text));
  }
}

/** better-sqlite3 binds Buffers, not plain Uint8Arrays: a view over the same bytes. */
function bindable(value: SqlValue): number | string | Buffer | null {
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value as number | string | Buffer | null;
}

function failure(path: string, error: unknown): CollectorDbError | Error {
  if (error instanceof CollectorDbError) return error;
  const code = engineCodeOf(error);
  // A statement the engine rejects as such (a defect, not storage trouble) stays the engine's error.
  if (code === undefined) return error instanceof Error ? error : new Error(String(error));
  return new CollectorDbError(sqliteFailure(code), `${path}: ${(error as Error).message} (${code})`, code, error);
}

/**
 * SQLite says only "unable to open database file"; the folder's own error (ENOENT, EROFS, EACCES)
 * says why.
 */
function openError(path: string, error: unknown): CollectorDbError {
  const folder = dirname(path);
  try {
    if (!statSync(folder).isDirectory()) return new CollectorDbError("cannot-open", `${path}: ${folder} is not a folder`, "ENOTDIR", error);
    accessSync(folder, constants.W_OK | constants.X_OK);
    if (existsSync(path)) accessSync(path, constants.R_OK | constants.W_OK);
  } catch (cause) {
    const code = engineCodeOf(cause) ?? "failed";
    return new CollectorDbError(sqliteFailure(code), `cannot open ${path}: ${(cause as Error).message}`, code, error);
  }
  const code = engineCodeOf(error);
  return new CollectorDbError(code ? sqliteFailure(code) : "cannot-open", `cannot open ${path}: ${(error as Error).message}`, code, error);
}
