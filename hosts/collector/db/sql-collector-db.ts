/**
 * The collector's store on a SQL database: CollectorDb (collector-db.ts) over the SQL layer, the
 * same statements on SQLite and PostgreSQL. Each stage of it lives in its own module:
 *   migrations.ts        the schema's versions
 *   device-sync.ts       the keyring's devices, a re-keyed device's counters started over
 *   admission.ts         exactly once: judge, store and move the replay state in one transaction
 *   collector-queries.ts the API's questions
 *   retention.ts         what is deleted when
 *   legacy-import.ts     a file-based collector's state folder, once
 *
 * Example:
 *   const db = await openCollectorDb({ location: join(stateDir, "collector.db") });
 *   await db.syncDevices(devicesOf(keyring));
 *   const outcomes = await db.admitBatch(opened);
 */
import type { Alert } from "../alerts.js";
import type { Log } from "../../../src/platform.js";
import type { CollectorDb, AdmitOutcome, CommandRow, DeviceKey, OpenedMessage, RejectionRow, RetentionPolicy, SummaryQuery } from "./collector-db.js";
import { admitMessages, prepareBatch } from "./admission.js";
import * as queries from "./collector-queries.js";
import { syncDevices } from "./device-sync.js";
import { importLegacyState, type LegacyImportReport, type LegacyStateFiles } from "./legacy-import.js";
import { migrate } from "./migrations.js";
import { applyRetention } from "./retention.js";
import type { SqlDatabase } from "./sql-database.js";

/** Bounds on what a rejection row keeps of untrusted input (a topic is at most this long in a log line too). */
const TOPIC_CHARS = 200;
const DETAIL_CHARS = 400;
/** Messages per admitBatch (a bound on the statement's device list and on the transaction). */
export const MAX_BATCH = 1000;

export interface SqlCollectorDbOptions {
  /** Replay window width per (device, epoch), as the opener's (default 128, at least 64). */
  readonly replayWindow?: number;
  readonly log?: Log;
  /** The time now (Unix ms), for device sync and imports; default Date.now. */
  readonly now?: () => number;
}

export class SqlCollectorDb implements CollectorDb {
  readonly engine: "sqlite" | "postgres";
  readonly #db: SqlDatabase;
  readonly #windowSize: number;
  readonly #log: Log;
  readonly #now: () => number;

  constructor(db: SqlDatabase, options: SqlCollectorDbOptions = {}) {
    this.#db = db;
    this.engine = db.dialect.engine;
    this.#windowSize = Math.max(64, options.replayWindow ?? 128);
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  get location(): string {
    return this.#db.location;
  }

  /** The SQL layer underneath (for tools and tests). */
  get sql(): SqlDatabase {
    return this.#db;
  }

  migrate(): Promise<number[]> {
    return migrate(this.#db, undefined, this.#now());
  }

  close(): Promise<void> {
    return this.#db.close();
  }

  async syncDevices(devices: ReadonlyArray<DeviceKey>): Promise<{ readonly reset: readonly string[] }> {
    const reset = await this.#db.transaction((tx) => syncDevices(tx, this.#db.dialect, devices, this.#now()));
    for (const device of reset) this.#log("info", "replay-state-reset", { device, reason: "the keyring holds a new key for this device" });
    return { reset };
  }

  async admit(message: OpenedMessage): Promise<AdmitOutcome> {
    return (await this.admitBatch([message]))[0]!;
  }

  async admitBatch(messages: readonly OpenedMessage[]): Promise<AdmitOutcome[]> {
    if (messages.length === 0) return [];
    if (messages.length > MAX_BATCH) throw new RangeError(`a batch holds at most ${MAX_BATCH} messages`);
    // Before the transaction: its locks are not held while the summaries are digested and encoded.
    const batch = prepareBatch(messages);
    return this.#db.transaction((tx) => admitMessages(tx, this.#db.dialect, batch, this.#windowSize));
  }

  async recordRejection(rejection: RejectionRow): Promise<void> {
    await this.#db.run("INSERT INTO rejections (time_ms, topic, cause, detail) VALUES (?, ?, ?, ?)", [
      Math.floor(rejection.timeMs),
      rejection.topic.slice(0, TOPIC_CHARS),
      rejection.cause,
      rejection.detail.slice(0, DETAIL_CHARS),
    ]);
  }

  async recordAlert(alert: Alert): Promise<void> {
    const timeMs = Date.parse(alert.time);
    await this.#db.run("INSERT INTO alerts (time_ms, kind, device, epoch, detail, action) VALUES (?, ?, ?, ?, ?, ?)", [
      Number.isFinite(timeMs) ? timeMs : this.#now(),
      alert.kind,
      alert.device ?? null,
      alert.epoch ?? null,
      alert.detail,
      alert.action,
    ]);
  }

  async recordCommand(command: CommandRow): Promise<void> {
    await this.#db.run("INSERT INTO commands (device, name, args, counter, sent_ms) VALUES (?, ?, ?, ?, ?)", [
      command.device,
      command.name,
      JSON.stringify(command.args),
      command.counter,
      Math.floor(command.sentAtMs),
    ]);
  }

  async recordCommandOutcome(device: string, counter: number, outcome: string, atMs: number): Promise<boolean> {
    const result = await this.#db.run("UPDATE commands SET outcome = ?, outcome_ms = ? WHERE device = ? AND counter = ?", [outcome, Math.floor(atMs), device, counter]);
    return result.changes > 0;
  }

  listDevices() {
    return queries.listDevices(this.#db);
  }

  summaries(query: SummaryQuery) {
    return queries.summaries(this.#db, query);
  }

  health(device: string, query: { readonly from?: number; readonly to?: number; readonly limit: number; readonly cursor?: string }) {
    return queries.health(this.#db, device, query);
  }

  policiesProducedUnder(device: string) {
    return queries.policiesProducedUnder(this.#db, device);
  }

  auditEntries(device: string, query: { readonly events: readonly string[]; readonly limit: number }) {
    return queries.auditEntries(this.#db, device, query);
  }

  rejections(query: { readonly from?: number; readonly to?: number; readonly bucketSeconds: number }) {
    return queries.rejections(this.#db, query);
  }

  alerts(query: { readonly limit: number; readonly cursor?: string }) {
    return queries.alerts(this.#db, query);
  }

  commands(query: { readonly device?: string; readonly limit: number; readonly cursor?: string }) {
    return queries.commands(this.#db, query);
  }

  applyRetention(policy: RetentionPolicy, nowMs: number) {
    return applyRetention(this.#db, policy, nowMs);
  }

  importLegacyState(files: LegacyStateFiles, devices: ReadonlyArray<DeviceKey>): Promise<LegacyImportReport | undefined> {
    return importLegacyState(this.#db, files, devices, { windowSize: this.#windowSize, nowMs: this.#now(), log: this.#log });
  }
}
