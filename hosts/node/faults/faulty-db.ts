/**
 * The collector's database in the fault campaign: a real one, except that while a fault is on,
 * every call that writes fails as the engine reports a full (ENOSPC), read-only (EROFS) or failing
 * (EIO) disk: a CollectorDbError with nothing written. Reads keep working, as on a full disk. The
 * real disk faults (a full tmpfs, a stopped PostgreSQL) are test/hosts/collector/collector-db-faults.test.ts.
 */
import type { CollectorDb } from "../../collector/db/collector-db.js";
import { CollectorDbError, type DbFailure } from "../../collector/db/db-errors.js";

const FAILURES: Record<string, DbFailure> = { ENOSPC: "disk-full", EROFS: "read-only", EIO: "io" };
const WRITES = new Set<string>(["admit", "admitBatch", "recordRejection", "recordAlert", "recordCommand", "recordCommandOutcome", "syncDevices", "applyRetention"]);

export class FaultyDb {
  #fault: string | undefined;
  /** Write calls refused so far. */
  refused = 0;
  readonly db: CollectorDb;

  constructor(inner: CollectorDb) {
    this.db = new Proxy(inner, {
      get: (target, property) => {
        // Getters run on the real object: they read its #private fields, which the proxy lacks.
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== "function") return value;
        if (typeof property !== "string" || !WRITES.has(property)) return (value as (...args: unknown[]) => unknown).bind(target);
        return (...args: unknown[]) => {
          const fault = this.#fault;
          if (fault === undefined) return (value as (...a: unknown[]) => unknown).apply(target, args);
          this.refused++;
          return Promise.reject(new CollectorDbError(FAILURES[fault] ?? "failed", `${property} refused by the simulated disk (${fault})`, fault));
        };
      },
    });
  }

  /** Turns the fault on with an error code, or off with undefined. */
  fail(code: string | undefined): void {
    this.#fault = code;
  }
}
