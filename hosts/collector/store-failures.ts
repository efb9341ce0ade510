/**
 * Write failures of the collector's files, counted as episodes per file: the first failure opens an
 * episode (logged once with its cause, alerted), later ones are only counted, and the first write
 * that succeeds again closes it (logged, alerted). A full disk that stays full therefore yields two
 * alerts, not one per message.
 */
import type { Log } from "../../src/platform.js";
import { storeFailedAlert, storeRecoveredAlert, type Alert } from "./alerts.js";

/** A write the store could not make; the file is left as it was (whole lines, the old checkpoint). */
export class StoreWriteError extends Error {
  override name = "StoreWriteError";
  /** The file system's error code (ENOSPC, EROFS, EIO, ...). */
  readonly code: string;
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    const code = errorCode(cause);
    super(`cannot write ${file}: ${code}`, { cause });
    this.code = code;
  }
}

export interface StoreStats {
  /** True while a file of the store fails its writes. */
  failing: boolean;
  /** Writes that failed since start. */
  failures: number;
  /** The error code of the latest failure (ENOSPC, EROFS, EIO, ...). */
  lastCause: string | undefined;
  /** The file of the latest failure. */
  lastFile: string | undefined;
  /** Failure episodes that ended. */
  recoveries: number;
  /** Damaged lines found in the logs at start (torn lines cut off, lines that are not JSON skipped). */
  tornLines: number;
}

export class StoreFailures {
  readonly stats: StoreStats = { failing: false, failures: 0, lastCause: undefined, lastFile: undefined, recoveries: 0, tornLines: 0 };
  readonly #episodes = new Map<string, { code: string; sinceMs: number; failures: number }>();
  readonly #log: Log;
  readonly #raise: (alert: Alert) => void;

  /** `raise` publishes an alert; it must not throw. */
  constructor(log: Log, raise: (alert: Alert) => void) {
    this.#log = log;
    this.#raise = raise;
  }

  get failing(): boolean {
    return this.#episodes.size > 0;
  }

  /** Counts a failed write; opens an episode (log, alert saying the retry in `retryMs`) when the file was fine until now. */
  failed(error: StoreWriteError, retryMs: number, now = Date.now()): void {
    this.stats.failures++;
    this.stats.lastCause = error.code;
    this.stats.lastFile = error.file;
    const episode = this.#episodes.get(error.file);
    if (episode) {
      episode.failures++;
      episode.code = error.code;
      return;
    }
    this.#episodes.set(error.file, { code: error.code, sinceMs: now, failures: 1 });
    this.stats.failing = true;
    this.#log("error", "collector-store-failed", { file: error.file, code: error.code, message: String((error.cause as Error | undefined)?.message ?? error.message).slice(0, 200) });
    this.#raise(storeFailedAlert(error.file, error.code, retryMs, new Date(now)));
  }

  /** A write of `file` succeeded: closes its episode, if one is open. */
  succeeded(file: string, now = Date.now()): void {
    const episode = this.#episodes.get(file);
    if (!episode) return;
    this.#episodes.delete(file);
    this.stats.failing = this.#episodes.size > 0;
    this.stats.recoveries++;
    this.#log("info", "collector-store-recovered", { file, code: episode.code, failures: episode.failures, downSeconds: Math.round((now - episode.sinceMs) / 1000) });
    this.#raise(storeRecoveredAlert(file, episode.code, episode.failures, episode.sinceMs, new Date(now)));
  }
}

/** The code of a file system error ("ENOSPC"), or a name for an error without one. */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code.length > 0) return code.slice(0, 32);
  return error instanceof Error ? error.name.slice(0, 32) : "unknown";
}
