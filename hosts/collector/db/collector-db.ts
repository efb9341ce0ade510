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
 * opened, the API reads. One implementation, sql-collector-db.ts, runs the same queries on both
 * engines over one SQL layer (sql-database.ts: sqlite-database.ts, postgres-database.ts) and
 * numbered migrations (migrations/); open-collector-db.ts opens either from a path or a URL.
 *
 * Every method that fails for the database's sake (a full disk, a read-only folder, a server that
 * went away) throws a CollectorDbError (db-errors.ts) with a cause code, and leaves nothing
 * half-stored: the collector does not acknowledge the message and retries.
 *
 * A message is opened by the opener without its in-memory counters (the store judges them now):
 *   const result = opener.verify(topic, payload);            // authentic and decoded, or rejected
 *   if (result.ok) outcome = await db.admit(openedMessageOf(result, topic, payload, keyId, Date.now()));
 */
import type { Alert } from "../alerts.js";
import type { DecodedHealth, DecodedSummary } from "../decoded-messages.js";
import type { OpenResult, RejectCause } from "../message-opener.js";
import type { LegacyImportReport, LegacyStateFiles } from "./legacy-import.js";

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
  /**
   * The public fingerprint (keyIdFromRoot, hex) of the root key it was opened with. A device's
   * counters belong to one key: a message opened under another key than the database holds for
   * its device (a keyring newer or older than the database's) is refused with `key-mismatch`.
   */
  readonly keyId: string;
  readonly summary?: DecodedSummary;
  readonly health?: DecodedHealth;
  /** The signed policy it was bound to (serial, SHA-256 hex), when its node runs on one. */
  readonly policy?: ProducedUnder;
}

/** The signed policy a message was produced under. */
export interface ProducedUnder {
  readonly serial: number;
  readonly sha256: string;
}

/** The OpenedMessage of an authentic message, from what the opener returned. */
export function openedMessageOf(result: Extract<OpenResult, { ok: true }>, topic: string, payload: Uint8Array, keyId: string, receivedAtMs: number): OpenedMessage {
  const policy = result.policy ? { policy: { serial: result.policy.serial, sha256: result.policy.hashHex } } : {};
  const base = { topic, sealed: payload, tag: result.use.tag ?? new Uint8Array(0), sealedAt: result.use.sealedAt ?? 0, receivedAtMs, keyId, ...policy };
  return result.kind === "summary" ? { kind: "summary", ...base, summary: result.summary } : { kind: "health", ...base, health: result.health };
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
 * - window-conflict: a summary for a window already stored, with other values: not stored, alerted;
 * - stale-key: never from the database (which throws `key-mismatch`): the collector's name for a
 *   message it refused because the database holds another key for its device.
 */
export type AdmitOutcome =
  | { readonly outcome: "stored"; readonly messageId: number }
  | { readonly outcome: "duplicate" | "counter-reuse" | "replay" | "stale-key"; readonly detail: string }
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
  /** The signed policy it was produced under; undefined for a node without one. */
  readonly policy?: ProducedUnder;
}

export interface StoredHealth {
  readonly device: string;
  readonly time: number;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAtMs: number;
  readonly report: DecodedHealth;
}

/** A signed policy a device's stored summaries were produced under, and the stored windows it covers. */
export interface PolicyRun {
  readonly serial: number;
  readonly sha256: string;
  /** The first and the last stored window produced under it (window starts, Unix s). */
  readonly firstWindowStart: number;
  readonly lastWindowStart: number;
  /** How many stored windows were produced under it. */
  readonly windows: number;
}

/** One entry of a node's audit log, as a stored health report carried it. */
export interface ReportedAuditEntry {
  /** When the node made it (Unix s; 0: before the node's clock was set). */
  readonly time: number;
  readonly event: string;
  readonly detail: string;
  /** Its place in the node's audit chain; undefined from firmware before the chain. */
  readonly chain?: string;
  readonly seq?: number;
  /** When the health report that carried it was made (Unix s). */
  readonly reportTime: number;
}

/** A page of a list, oldest first; `cursor` asks for the next page, undefined on the last. */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor: string | undefined;
}

export interface SummaryQuery {
  /** One device, or every device of a zone (both: the device, if it is in the zone; neither: all). */
  readonly device?: string;
  readonly zone?: string;
  /** Window starts in [from, to) (Unix s). */
  readonly from?: number;
  readonly to?: number;
  /** Only summaries with this channel, and only its statistics. */
  readonly channel?: string;
  /** 1 to MAX_PAGE. */
  readonly limit: number;
  readonly cursor?: string;
}

/** The largest page any list returns. */
export const MAX_PAGE = 1000;

export interface RejectionCounts {
  /** Start of each bucket (Unix s), `bucketSeconds` long, with its counts by cause. */
  readonly buckets: ReadonlyArray<{ readonly start: number; readonly counts: Readonly<Partial<Record<RejectCause, number>>> }>;
}

/**
 * How long rows are kept: summaries by the node's policy (its disclosure), the rest by
 * configuration. A row goes once its period is over: a summary `days` after its window ended, a
 * health report after its time, a rejection after its time. Infinity keeps rows for good.
 */
export interface RetentionPolicy {
  /** Per device, the days the node's disclosure promises. */
  readonly summaryDays: (device: string) => number;
  /** One period for every device, or per device (what each node's policy says). */
  readonly healthDays: number | ((device: string) => number);
  readonly rejectionDays: number;
}

export interface CollectorDb {
  /** The engine, for logs and the API: "sqlite" or "postgres". */
  readonly engine: "sqlite" | "postgres";
  /** Where it is, for logs and the session name: a file path, or a PostgreSQL URL without its password. */
  readonly location: string;

  /**
   * Applies the migrations not yet applied, in order, each in its transaction; returns their
   * versions. Refuses a database whose schema is newer than this code knows (`schema-newer`).
   */
  migrate(): Promise<number[]>;
  close(): Promise<void>;

  /**
   * Records the keyring's devices (device, zone, key id); a device whose key id changed starts its
   * counters over (its replay state goes; its stored rows stay). Returns the devices reset.
   * Devices not listed are left as they are.
   */
  syncDevices(devices: ReadonlyArray<DeviceKey>): Promise<{ readonly reset: readonly string[] }>;

  /** Judges and, when new, stores one opened message, in one transaction with its replay state (see AdmitOutcome). */
  admit(message: OpenedMessage): Promise<AdmitOutcome>;
  /** `admit` for several messages in one transaction (batched for throughput); outcomes in order. */
  admitBatch(messages: readonly OpenedMessage[]): Promise<AdmitOutcome[]>;

  recordRejection(rejection: RejectionRow): Promise<void>;
  recordAlert(alert: Alert): Promise<void>;
  recordCommand(command: CommandRow): Promise<void>;
  /** The outcome of a command sent (by device and downlink counter), once known; false when no such command was recorded. */
  recordCommandOutcome(device: string, counter: number, outcome: string, atMs: number): Promise<boolean>;

  listDevices(): Promise<DeviceRow[]>;
  summaries(query: SummaryQuery): Promise<Page<StoredSummary>>;
  health(device: string, query: { readonly from?: number; readonly to?: number; readonly limit: number; readonly cursor?: string }): Promise<Page<StoredHealth>>;
  /** The signed policies a device's stored summaries were produced under, by their first window. */
  policiesProducedUnder(device: string): Promise<PolicyRun[]>;
  /**
   * The entries of a device's audit log whose event is one of `events` (audit-chain.ts's pattern),
   * as its stored health reports carried them: each once (a node that lost its report mark carries
   * entries again), oldest first, at most those of the newest `limit` reports (1 to MAX_PAGE).
   */
  auditEntries(device: string, query: { readonly events: readonly string[]; readonly limit: number }): Promise<ReportedAuditEntry[]>;
  rejections(query: { readonly from?: number; readonly to?: number; readonly bucketSeconds: number }): Promise<RejectionCounts>;
  alerts(query: { readonly limit: number; readonly cursor?: string }): Promise<Page<Alert>>;
  commands(query: { readonly device?: string; readonly limit: number; readonly cursor?: string }): Promise<Page<CommandRow & { readonly outcome: string | undefined }>>;

  /**
   * Deletes what is past its retention at `nowMs`; returns how many rows of each kind went. A
   * summary or health report goes with its message row (and a summary with its statistics); the
   * replay state is never deleted here, since it is what refuses old replays.
   */
  applyRetention(policy: RetentionPolicy, nowMs: number): Promise<{ readonly summaries: number; readonly health: number; readonly rejections: number }>;

  /**
   * Moves a state folder of the file-based collector (collector.json and its journals) into the
   * database, once: replay state, stored summaries, health reports and alerts. Undefined when there
   * is nothing to import or it was imported before (legacy-import.ts).
   */
  importLegacyState(files: LegacyStateFiles, devices: ReadonlyArray<DeviceKey>): Promise<LegacyImportReport | undefined>;
}

/** A keyring device as the database records it. */
export interface DeviceKey {
  readonly device: string;
  readonly zone: string;
  /** keyIdFromRoot of its root key, hex. */
  readonly keyId: string;
}
