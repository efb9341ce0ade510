/**
 * An exclusive lock on something in a state folder, held by the kernel for as long as the holding
 * process lives: two processes that seal under one counter must never both run, and a holder that
 * dies (a crash, kill -9, a power cut) must never leave a stale lock behind.
 *
 * The lock is an SQLite database held in an open EXCLUSIVE transaction (locking_mode EXCLUSIVE,
 * busy timeout 0). SQLite takes POSIX advisory locks on the file, which the kernel drops when the
 * process ends, and it also refuses a second connection of the same process (its own table of
 * locked files: the kernel's locks are per process). The file stays empty: the journal lives in
 * memory, so a killed holder leaves nothing to roll back.
 *
 * Beside it, `<lock>.holder` (JSON, written atomically once the lock is held) names the holder,
 * so that whoever finds the lock taken can say who has it:
 *   {"pid": 4242, "command": "npm start", "since": "2026-12-01T16:10:00Z", "host": "kiosk-3"}
 * It is only a label: the lock is the SQLite file, and the holder file may be missing or stale.
 *
 * Two rules keep the kernel's lock meaningful:
 *   - never delete a lock file (a process waiting on the old file and one creating a new file
 *     would both win): release() leaves it in place;
 *   - never open a lock file by other means in a process that holds it: closing any descriptor of
 *     a file drops every POSIX lock the process holds on it.
 * POSIX locks on network file systems (NFS, SMB) are only as good as the server's: keep state
 * folders on local disks.
 *
 * Example:
 *   const lock = ExclusiveLock.acquire(join(stateDir, "simulator.lock"), { command: "npm start", subject: stateDir });
 *   try { ... } finally { lock.release(); }
 */
import { accessSync, constants, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { writeFileAtomic } from "./atomic-file.js";

/**
 * The locks of a state folder, each beside what it guards (docs/decisions.md, "Exclusive state").
 * Whoever takes more than one takes them in this order, so no two tools wait on each other.
 */
/** The nodes' flash (`nodes/`) and the simulated clock: `npm start`, `npm run provision -- --target sim`. */
export const SIMULATOR_LOCK_FILE = "simulator.lock";
/** The collector's replay windows and output (`collector.json`, `*.jsonl`): `npm start`, `npm run collector`. */
export const COLLECTOR_LOCK_FILE = "collector.lock";
/** `keyring.sealed` read-modify-write, briefly: `npm start`, `npm run provision` (docs/keys-at-rest.md). */
export const KEYRING_LOCK_FILE = "keyring.lock";
/** The downlink counters, `downlink.json`, while a command is sealed: `npm run cmd`. */
export const DOWNLINK_LOCK_FILE = "downlink.lock";

/** Who holds a lock, as its holder file says. */
export interface LockHolder {
  readonly pid: number;
  /** What the holder runs, e.g. "npm start". */
  readonly command: string;
  /** When it took the lock (ISO 8601, UTC, seconds). */
  readonly since: string;
  readonly host: string;
}

export interface LockOptions {
  /** What the holder runs, named to whoever finds the lock taken ("npm start"). */
  readonly command: string;
  /** What the lock protects, named in errors (default: the lock file's folder). */
  readonly subject?: string;
  /** What to do about a lock held by another process (default: "stop it, or use another --state"). */
  readonly advice?: string;
  /** Keep trying for up to this many milliseconds, for short critical sections (default 0: try once). */
  readonly waitMs?: number;
}

/** The lock could not be taken: the message names the path and the cause. */
export class LockError extends Error {
  override name = "LockError";
}

/** Another process (or another lock of this one) holds the lock. */
export class LockBusyError extends LockError {
  override name = "LockBusyError";
  /** The holder, when its holder file names a live process; undefined: "another process". */
  readonly holder: LockHolder | undefined;

  constructor(message: string, holder: LockHolder | undefined) {
    super(message);
    this.holder = holder;
  }
}

/** How long a waiting acquire() sleeps between tries. */
const RETRY_MS = 25;

export class ExclusiveLock {
  readonly path: string;
  readonly #holderPath: string;
  #db: Database.Database | undefined;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.#holderPath = holderPath(path);
    this.#db = db;
  }

  /**
   * Takes the lock at `path` (created if absent), then writes its holder file. Throws
   * LockBusyError if another process or connection holds it after `waitMs`, LockError for any
   * other failure (a read-only or missing folder, a file that is not a lock).
   */
  static acquire(path: string, options: LockOptions): ExclusiveLock {
    const subject = options.subject ?? dirname(path);
    const deadline = Date.now() + (options.waitMs ?? 0);
    for (;;) {
      const db = tryLock(path, subject);
      if (db !== undefined) {
        const lock = new ExclusiveLock(path, db);
        try {
          writeFileAtomic(lock.#holderPath, JSON.stringify(currentHolder(options.command)) + "\n", 0o600);
        } catch (error) {
          lock.release();
          throw new LockError(`cannot record the holder of ${path}: ${describe(error)}`);
        }
        return lock;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const holder = readHolder(path);
        const who = holder ? `PID ${holder.pid} (${holder.command}, since ${holder.since}${holder.host !== hostname() ? ` on ${holder.host}` : ""})` : "another process";
        throw new LockBusyError(`${subject} is in use by ${who}: ${options.advice ?? "stop it, or use another --state"}`, holder);
      }
      sleepSync(Math.min(RETRY_MS, left));
    }
  }

  get held(): boolean {
    return this.#db !== undefined;
  }

  /** Removes the holder file (while still holding the lock, so it is never another's), then lets go. */
  release(): void {
    if (this.#db === undefined) return;
    try {
      rmSync(this.#holderPath, { force: true });
    } catch {
      // A stale label costs nothing: the next holder overwrites it, and a reader checks the PID.
    }
    this.#db.close();
    this.#db = undefined;
  }
}

/** The holder file of the lock at `path`. */
export function holderPath(path: string): string {
  return `${path}.holder`;
}

/** An open connection holding the lock, or undefined if it is busy. */
function tryLock(path: string, subject: string): Database.Database | undefined {
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw new LockError(`cannot lock ${subject}: cannot open ${path}: ${openFailure(path, error)}`);
  }
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE");
    return db;
  } catch (error) {
    db.close();
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))) return undefined;
    throw new LockError(`cannot lock ${subject}: ${path}: ${describe(error)}`);
  }
}

/**
 * SQLite says only "unable to open database file"; the folder's own error (ENOENT, ENOTDIR, EROFS,
 * EACCES) says why. stat() and access() open no descriptor, so they cannot drop a lock this
 * process holds.
 */
function openFailure(path: string, error: unknown): string {
  const folder = dirname(path);
  try {
    if (!statSync(folder).isDirectory()) return `${folder} is not a folder (ENOTDIR)`;
    accessSync(folder, constants.W_OK | constants.X_OK);
    if (existsSync(path)) accessSync(path, constants.R_OK | constants.W_OK);
  } catch (cause) {
    return describe(cause);
  }
  return describe(error);
}

function currentHolder(command: string): LockHolder {
  return { pid: process.pid, command, since: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), host: hostname() };
}

/**
 * The holder named by the lock's holder file, if it is well-formed and, on this host, its process
 * is alive (a dead holder's file is stale: the lock was taken by someone who has not written
 * theirs yet).
 */
function readHolder(path: string): LockHolder | undefined {
  let holder: Partial<Record<keyof LockHolder, unknown>>;
  try {
    holder = JSON.parse(readFileSync(holderPath(path), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof holder !== "object" || holder === null) return undefined;
  const { pid, command, since, host } = holder;
  if (typeof pid !== "number" || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  if (typeof command !== "string" || typeof since !== "string" || typeof host !== "string") return undefined;
  if (host === hostname() && !isAlive(pid)) return undefined;
  return { pid, command: printable(command), since: printable(since), host: printable(host) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A label from a file is shown on a terminal: no control characters, bounded length. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?").slice(0, 80);
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(error);
  return typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
