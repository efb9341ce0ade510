/**
 * What can go wrong with the collector's database, as one error type with a cause code: the
 * collector does not acknowledge the message it was storing (the broker keeps it), logs the
 * cause once, counts it and retries (issue 12, "storage trouble is not a crash"). Every operation
 * that writes runs in one transaction, so an error leaves nothing half-stored.
 *
 * Codes, by what the operator does about them:
 *   disk-full     SQLITE_FULL, ENOSPC, PostgreSQL 53100: free space
 *   read-only     SQLITE_READONLY*, EROFS, EACCES, PostgreSQL 25006: make the folder writable
 *   unavailable   the server cannot be reached or went away (ECONNREFUSED, a terminated backend,
 *                 PostgreSQL 57P01..57P03, 08xxx): start it, or wait for it
 *   busy          another writer held the database longer than the busy timeout (SQLITE_BUSY,
 *                 PostgreSQL 40001/40P01/55P03): retried
 *   io            SQLITE_IOERR*, EIO, PostgreSQL 58xxx: check the disk
 *   corrupt       SQLITE_CORRUPT, SQLITE_NOTADB, PostgreSQL XX001/XX002: restore from a backup
 *   cannot-open   SQLITE_CANTOPEN, a missing folder: check the path
 *   schema-newer  the database was migrated by a newer collector than this one: upgrade it
 *   schema-mismatch a migration recorded under a number differs from this collector's
 *   key-mismatch  a message was opened under another key than the database holds for its device:
 *                 the keyring and the database disagree (call syncDevices after a re-key)
 *   failed        anything else, with the engine's own code in `engineCode`
 */

export type DbFailure =
  | "disk-full"
  | "read-only"
  | "unavailable"
  | "busy"
  | "io"
  | "corrupt"
  | "cannot-open"
  | "schema-newer"
  | "schema-mismatch"
  | "key-mismatch"
  | "failed";

export class CollectorDbError extends Error {
  override name = "CollectorDbError";

  constructor(
    /** What went wrong, for the operator and the collector's counters. */
    readonly failure: DbFailure,
    message: string,
    /** The engine's own code (SQLITE_FULL, 53100, ECONNREFUSED), when there is one. */
    readonly engineCode: string | undefined = undefined,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }

  /** The code a log line or a StoreWriteError shows: the failure, with the engine's code. */
  get code(): string {
    return this.engineCode !== undefined ? `${this.failure} (${this.engineCode})` : this.failure;
  }
}

/** SQLite's extended result codes (better-sqlite3 puts them in `code`) to a failure. */
export function sqliteFailure(engineCode: string): DbFailure {
  if (engineCode.startsWith("SQLITE_FULL")) return "disk-full";
  if (engineCode.startsWith("SQLITE_READONLY") || engineCode.startsWith("SQLITE_PERM") || engineCode === "SQLITE_AUTH") return "read-only";
  if (engineCode.startsWith("SQLITE_BUSY") || engineCode.startsWith("SQLITE_LOCKED")) return "busy";
  if (engineCode.startsWith("SQLITE_IOERR")) return "io";
  if (engineCode.startsWith("SQLITE_CORRUPT") || engineCode === "SQLITE_NOTADB") return "corrupt";
  if (engineCode.startsWith("SQLITE_CANTOPEN")) return "cannot-open";
  return errnoFailure(engineCode);
}

/** PostgreSQL's SQLSTATE (pg puts it in `code`), or a socket's errno, to a failure. */
export function postgresFailure(engineCode: string): DbFailure {
  if (engineCode === "53100") return "disk-full";
  if (engineCode === "25006") return "read-only";
  if (engineCode === "40001" || engineCode === "40P01" || engineCode === "55P03") return "busy";
  if (/^57P0[123]$/.test(engineCode) || engineCode.startsWith("08") || engineCode === "53300") return "unavailable";
  if (engineCode.startsWith("58")) return "io";
  if (engineCode === "XX001" || engineCode === "XX002") return "corrupt";
  return errnoFailure(engineCode);
}

function errnoFailure(code: string): DbFailure {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return "disk-full";
    case "EROFS":
    case "EACCES":
    case "EPERM":
      return "read-only";
    case "EIO":
      return "io";
    case "ENOENT":
    case "ENOTDIR":
      return "cannot-open";
    case "ECONNREFUSED":
    case "ECONNRESET":
    case "ETIMEDOUT":
    case "EPIPE":
    case "EHOSTUNREACH":
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "unavailable";
    default:
      return "failed";
  }
}

/** The `code` an engine's error carries, if any. */
export function engineCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" && code.length > 0 ? code.slice(0, 40) : undefined;
}
