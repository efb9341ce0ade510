/**
 * A collector database that notes when the collector stores: the first batch it was handed, the
 * time and the process's CPU when the latest batch was committed, and how many messages were
 * stored. Everything else passes straight through to the real database (SQLite or PostgreSQL).
 */
import type { AdmitOutcome, CollectorDb, OpenedMessage } from "../db/collector-db.js";

export interface StoreTimes {
  /** Messages admitted as "stored". */
  stored: number;
  /** Other outcomes (duplicate, replay, ...), by outcome: a clean run has none. */
  readonly others: Record<string, number>;
  batches: number;
  /** Wall time spent inside admitBatch, summed (ms): storing, and waiting for locks and the server. */
  busyMs: number;
  /** When the first batch was handed over, and the latest committed (ms: performance.timeOrigin + now). */
  firstBatchAtMs: number | undefined;
  lastCommitAtMs: number | undefined;
  /** process.cpuUsage() when the latest batch was committed. */
  cpuAtLastCommit: NodeJS.CpuUsage | undefined;
}

/** `db` with its admitBatch timed into `times`. */
export function timedDb(db: CollectorDb, times: StoreTimes): CollectorDb {
  const admitBatch = async (messages: readonly OpenedMessage[]): Promise<AdmitOutcome[]> => {
    const started = performance.timeOrigin + performance.now();
    times.firstBatchAtMs ??= started;
    const outcomes = await db.admitBatch(messages);
    times.lastCommitAtMs = performance.timeOrigin + performance.now();
    times.busyMs += times.lastCommitAtMs - started;
    times.cpuAtLastCommit = process.cpuUsage();
    times.batches++;
    for (const { outcome } of outcomes) {
      if (outcome === "stored") times.stored++;
      else times.others[outcome] = (times.others[outcome] ?? 0) + 1;
    }
    return outcomes;
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === "admitBatch") return admitBatch;
      // The database keeps its state in #private fields: its methods and getters run on it, not on the proxy.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

export function emptyStoreTimes(): StoreTimes {
  return { stored: 0, others: {}, batches: 0, busyMs: 0, firstBatchAtMs: undefined, lastCommitAtMs: undefined, cpuAtLastCommit: undefined };
}
