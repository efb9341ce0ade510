/**
 * The collector's store stage on a real database (issue 12): what the collector keeps, and the
 * questions the API asks of it. Two engines implement it with one schema and one set of queries:
 * SQLite embedded in the state folder (better-sqlite3 12) by default, PostgreSQL (pg) for a city.
 *
 * Exactly once. A message is identified by (device, key epoch, counter), unique in `messages`; a
 * summary by (device, window start), unique in `summaries`. The replay state of each (device,
 * epoch) lives in the database too and moves in the same transaction as the rows it admits, so a
 * broker's redelivery, a node's resend, a restarted collector and several collectors at once (on
 * PostgreSQL: the transaction locks the (device, epoch) row it reads) all store a message once.
 *
 * This file is the contract between the stages: the collector (subscribe, open) admits what it
 * opened, the API reads. Implementations: sqlite-collector-db.ts, postgres-collector-db.ts over one
 * SQL layer (sql-database.ts) and numbered migrations (migrations/).
 */
import type { Alert } from "../alerts.js";
import type { DecodedHealth, DecodedSummary } from "../decoded-messages.js";
import type { RejectCause } from "../message-opener.js";

/** A message the opener authenticated and decoded, with what the store needs to judge and keep it. */
export interface OpenedMessage {
  readonly kind: "summary" | "health";
  readonly topic: string;
  /** The sealed bytes as received (kept for audit and the dashboard's inspector). */
  readonly sealed: Uint8Array;
  /** The message's 16-byte Poly1305 tag: tells a QoS 1 copy from another message under the same counter. */
  readonly tag: Uint8Array;
  /** When the node sealed it (Unix s): a summary's window end, a health report's time. */
  readonly sealedAt: number;
  /** When it arrived (Unix ms). */
  readonly receivedAtMs: number;
  readonly summary?: DecodedSummary;
  readonly health?: DecodedHealth;
}

/**
 * What became of a message offered to `admit`, decided in its transaction:
 * - stored: new, stored (message, and its summary or health rows);
 * - duplicate: a byte-identical copy of a stored message (same counter, same tag): harmless;
 * - counter-reuse: an authentic message under a counter already used with another tag, or sealed
 *   after everything its epoch accepted while its counter lies below the replay window: the
 *   device restarted its counter (its epoch key must be considered compromised);
 * - replay: below the replay window and not newer than its epoch's latest: an old message again;
 * - window-duplicate: a summary for a window already stored, with the same values, under another
 *   counter: dropped (its counter counts as used);
 * - window-conflict: a summary for a window already stored, with other values: not stored, alerted.
 */
export type AdmitOutcome =
  | { readonly outcome: "stored"; readonly messageId: number }
  | { readonly outcome: "duplicate" | "counter-reuse" | "replay"; readonly detail: string }
  | { readonly outcome: "window-duplicate" | "window-conflict"; readonly detail: string; readonly stored: { readonly epoch: number; readonly counter: number } };

export interface RejectionRow {
  readonly timeMs: number;
  readonly topic: string;
  readonly cause: RejectCause;
  /** Never the bytes of the rejected message. */
  readonly detail: string;
}

export interface CommandRow {
  readonly device: string;
  readonly name: string;
  readonly args: Readonly<Record<string, number | string>>;
  readonly counter: number;
  readonly sentAtMs: number;
}

/** A device as the keyring and the traffic know it. */
export interface DeviceRow {
  readonly device: string;
  readonly zone: string;
  /** The root key's public fingerprint, hex. */
  readonly keyId: string;
  readonly firstSeenMs: number | undefined;
  readonly lastSeenMs: number | undefined;
  /** The start of the newest window stored (Unix s), if any. */
  readonly lastWindowStart: number | undefined;
}

/** One released statistic of a stored window, or the status that stands for it. */
export interface StoredStatistic {
  readonly channel: string;
  /** "mean", "count", "sum", "distinct", "leq", ..., or "status" for a channel-level status. */
  readonly stat: string;
  /** The value released; undefined when a status stands for it. */
  readonly value: number | undefined;
  readonly unit: string | undefined;
  /** "missing", "suppressed", "budget-exhausted": never a number. */
  readonly status: string | undefined;
}

export interface StoredSummary {
  readonly device: string;
  readonly zone: string;
  readonly windowStart: number;
  readonly windowSeconds: number;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAtMs: number;
  readonly statistics: readonly StoredStatistic[];
}

export interface StoredHealth {
  readonly device: string;
  readonly time: number;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAtMs: number;
  readonly report: DecodedHealth;
}

/** A page of a list, oldest first; `cursor` asks for the next page, undefined on the last. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor: string | undefined;
}

export interface SummaryQuery {
  /** One device, or every device of a zone. */
  readonly device?: string;
  readonly zone?: string;
  /** Window starts in [from, to) (Unix s). */
  readonly from?: number;
  readonly to?: number;
  /** Only this channel's statistics. */
  readonly channel?: string;
  readonly limit: number;
  readonly cursor?: string;
}

export interface RejectionCounts {
  /** Start of each bucket (Unix s), `bucketSeconds` long, with its counts by cause. */
  readonly buckets: ReadonlyArray<{ readonly start: number; readonly counts: Readonly<Partial<Record<RejectCause, number>>> }>;
}

/** How long rows are kept: summaries by the node's policy (its disclosure), the rest by configuration. */
export interface RetentionPolicy {
  /** Per zone or device, the days the node's disclosure promises; `defaultDays` otherwise. */
  readonly summaryDays: (device: string) => number;
  readonly healthDays: number;
  readonly rejectionDays: number;
}

export interface CollectorDb {
  /** The engine, for logs and the API: "sqlite" or "postgres". */
  readonly engine: "sqlite" | "postgres";

  /** Applies the migrations not yet applied, in order, each in its transaction. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Records the keyring's devices (device, zone, key id); a device whose key id changed starts its counters over. */
  syncDevices(devices: ReadonlyArray<{ readonly device: string; readonly zone: string; readonly keyId: string }>): Promise<void>;

  /** Judges and, when new, stores one opened message, in one transaction with its replay state (see AdmitOutcome). */
  admit(message: OpenedMessage): Promise<AdmitOutcome>;
  /** `admit` for several messages in one transaction (batched for throughput); outcomes in order. */
  admitBatch(messages: readonly OpenedMessage[]): Promise<AdmitOutcome[]>;

  recordRejection(rejection: RejectionRow): Promise<void>;
  recordAlert(alert: Alert): Promise<void>;
  recordCommand(command: CommandRow): Promise<void>;

  listDevices(): Promise<DeviceRow[]>;
  summaries(query: SummaryQuery): Promise<Page<StoredSummary>>;
  health(device: string, query: { readonly from?: number; readonly to?: number; readonly limit: number; readonly cursor?: string }): Promise<Page<StoredHealth>>;
  rejections(query: { readonly from?: number; readonly to?: number; readonly bucketSeconds: number }): Promise<RejectionCounts>;
  alerts(query: { readonly limit: number; readonly cursor?: string }): Promise<Page<Alert>>;
  commands(query: { readonly device?: string; readonly limit: number; readonly cursor?: string }): Promise<Page<CommandRow & { readonly outcome: string | undefined }>>;

  /** Deletes what is past its retention at `nowMs`; returns how many rows of each kind went. */
  applyRetention(policy: RetentionPolicy, nowMs: number): Promise<{ readonly summaries: number; readonly health: number; readonly rejections: number }>;
}
