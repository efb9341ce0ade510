/**
 * Moves a state folder of the file-based collector into the database, once, so that a city's
 * collector keeps its replay protection across the change: the replay state (collector.json and
 * the journal lines after it, replayed exactly as the file-based collector did at start, by
 * CollectorStore.recover() into a MessageOpener, re-keyed devices left out), the summaries of
 * summaries.jsonl with their statistics, the health reports of health.jsonl and the alerts of
 * alerts.jsonl.
 *
 * The collector calls it at start, after migrate() and before it consumes anything (so nothing is
 * admitted against a replay state not yet imported). It is a no-op when the folder has no
 * collector.json and no journal, or when the database records the folder's import
 * (`legacy_imports`, keyed by the absolute path of collector.json). Order, so that a crash halfway
 * costs only doing it again:
 *   1. devices and replay state, in one transaction (rows already there are kept);
 *   2. summaries and health reports in transactions of IMPORT_BATCH lines (ON CONFLICT DO NOTHING:
 *      a second pass adds nothing twice);
 *   3. alerts and the record of the import, in one transaction;
 *   4. collector.json renamed to collector.json.imported, to say it is no longer read. The journals
 *      stay where they are.
 *
 * Lines do not keep the sealed bytes, so imported summaries and health reports have no message row.
 * Health lines do not say under which key they were sealed: imported ones carry the key id
 * "legacy". A window the checkpoint's index names without a line in summaries.jsonl is not
 * imported (the line is the record; the index was derived from the lines).
 */
import { closeSync, existsSync, openSync, readSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Log } from "../../../src/platform.js";
import { CollectorStore } from "../collector-store.js";
import type { DecodedSummary } from "../decoded-messages.js";
import { JsonLinesLog } from "../json-lines-log.js";
import { Keyring } from "../keyring.js";
import { MessageOpener } from "../message-opener.js";
import { summaryDigest } from "../window-index.js";
import type { DeviceKey } from "./collector-db.js";
import { syncDevices } from "./device-sync.js";
import { allTagChunks } from "./replay-tag-chunks.js";
import { statisticsColumns } from "./summary-statistics.js";
import type { SqlDatabase, SqlExecutor } from "./sql-database.js";

/** Lines per transaction. */
const IMPORT_BATCH = 500;
/** The key id of imported health reports (lines do not name their key). */
export const LEGACY_KEY_ID = "legacy";

export interface LegacyStateFiles {
  /** collector.json. */
  readonly checkpoint: string;
  readonly summaries?: string;
  readonly health?: string;
  readonly alerts?: string;
}

export interface LegacyImportReport {
  /** The absolute path of collector.json, which names the import. */
  readonly source: string;
  /** (device, epoch) replay states imported. */
  readonly counters: number;
  /** Rows added. */
  readonly summaries: number;
  readonly health: number;
  readonly alerts: number;
  /** Lines that are not a message (skipped), and torn last lines (cut, as the file-based collector did). */
  readonly damagedLines: number;
  /** Devices whose saved counters belonged to another key than the keyring's: left out. */
  readonly reset: readonly string[];
  /** Where collector.json went, when it could be renamed. */
  readonly renamedTo: string | undefined;
}

/** The file-based collector's files in a state folder, as `npm start` and `npm run collector` named them. */
export function legacyStateFiles(stateDir: string): LegacyStateFiles {
  return { checkpoint: join(stateDir, "collector.json"), summaries: join(stateDir, "summaries.jsonl"), health: join(stateDir, "health.jsonl"), alerts: join(stateDir, "alerts.jsonl") };
}

export interface LegacyImportOptions {
  readonly windowSize: number;
  readonly nowMs: number;
  readonly log: Log;
}

export async function importLegacyState(db: SqlDatabase, files: LegacyStateFiles, devices: ReadonlyArray<DeviceKey>, options: LegacyImportOptions): Promise<LegacyImportReport | undefined> {
  const source = resolve(files.checkpoint);
  const journals = [files.summaries, files.health].filter((file): file is string => file !== undefined);
  if (![files.checkpoint, ...journals].some((file) => existsSync(file))) return undefined;
  if ((await db.query("SELECT source FROM legacy_imports WHERE source = ?", [source])).length > 0) return undefined;
  for (const file of [files.checkpoint, ...journals, files.alerts]) if (file !== undefined && existsSync(file)) assertReadable(file);

  // 1. The replay state, as the file-based collector would have restored it at start.
  const keys = new Map(devices.map((d) => [d.device, d.keyId]));
  const opener = new MessageOpener(new Keyring(), { replayWindow: options.windowSize });
  const store = new CollectorStore({ checkpoint: files.checkpoint, summaries: files.summaries, health: files.health }, opener, { log: options.log, keys: () => keys });
  const recovery = store.recover();
  const counters = opener.exportCounters();
  await db.transaction(async (tx) => {
    await syncDevices(tx, db.dialect, devices, options.nowMs);
    const newest = new Map<string, number>();
    for (const [key, snapshot] of counters) {
      const slash = key.lastIndexOf("/");
      const device = key.slice(0, slash);
      const epoch = Number(key.slice(slash + 1));
      const keyId = keys.get(device);
      if (keyId === undefined) continue; // no longer in the keyring: its messages are refused anyway
      const inserted = await tx.run(
        "INSERT INTO replay_state (device, key_id, epoch, window_size, replay_window, tagged, sealed_until) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, key_id, epoch) DO NOTHING",
        [device, keyId, epoch, options.windowSize, snapshot.window, snapshot.tags ? 1 : 0, snapshot.sealedUntil ?? null],
      );
      if (inserted.changes > 0 && snapshot.tags) {
        for (const { chunk, known, tags } of allTagChunks(snapshot.tags, options.windowSize)) {
          await tx.run("INSERT INTO replay_tags (device, key_id, epoch, chunk, known, tags) VALUES (?, ?, ?, ?, ?, ?)", [device, keyId, epoch, chunk, known, tags]);
        }
      }
      newest.set(device, Math.max(newest.get(device) ?? epoch, epoch));
    }
    for (const [device, epoch] of newest) {
      await tx.run("UPDATE devices SET newest_epoch = ? WHERE device = ? AND (newest_epoch IS NULL OR newest_epoch < ?)", [epoch, device, epoch]);
    }
  });

  // 2. The journals' rows.
  let damagedLines = recovery.damaged.filter((damage) => damage.atEnd).length;
  const count = { summaries: 0, health: 0, alerts: 0 };
  if (files.summaries) damagedLines += await importLines(db, files.summaries, (tx, line) => importSummary(tx, line, options.nowMs), () => count.summaries++);
  if (files.health) damagedLines += await importLines(db, files.health, (tx, line) => importHealth(tx, line, options.nowMs), () => count.health++);

  // 3. Alerts, with the record of the import: both or neither.
  const alertLines: Record<string, unknown>[] = [];
  if (files.alerts) readLines(files.alerts, 0, Infinity, (line) => alertLines.push(line));
  const report: Omit<LegacyImportReport, "renamedTo"> = { source, counters: counters.size, summaries: count.summaries, health: count.health, alerts: 0, damagedLines, reset: recovery.reset };
  await db.transaction(async (tx) => {
    for (const line of alertLines) if (await importAlert(tx, line, options.nowMs)) count.alerts++;
    await tx.run("INSERT INTO legacy_imports (source, imported_ms, report) VALUES (?, ?, ?)", [source, options.nowMs, JSON.stringify({ ...report, alerts: count.alerts })]);
  });

  // 4. Say that collector.json is no longer read.
  let renamedTo: string | undefined;
  if (existsSync(files.checkpoint)) {
    try {
      renameSync(files.checkpoint, `${files.checkpoint}.imported`);
      renamedTo = `${files.checkpoint}.imported`;
    } catch (error) {
      options.log("warn", "collector-legacy-rename-failed", { file: files.checkpoint, message: String((error as Error).message).slice(0, 200) });
    }
  }
  const done = { ...report, alerts: count.alerts, renamedTo };
  options.log("info", "collector-legacy-imported", { source, counters: done.counters, summaries: done.summaries, health: done.health, alerts: done.alerts, damagedLines, folder: dirname(source) });
  return done;
}

/** What became of a line: a row added, a row already there, or not a message. */
type LineOutcome = "added" | "present" | "invalid";

/** Imports a journal in transactions of IMPORT_BATCH lines; returns the lines that were not messages. */
async function importLines(db: SqlDatabase, file: string, importLine: (tx: SqlExecutor, line: Record<string, unknown>) => Promise<LineOutcome>, onAdded: () => void): Promise<number> {
  let damaged = 0;
  let from = 0;
  for (;;) {
    const lines: Record<string, unknown>[] = [];
    const next = readLines(file, from, IMPORT_BATCH, (line) => lines.push(line), () => damaged++);
    if (lines.length > 0) {
      const outcomes = await db.transaction(async (tx) => {
        const outcomes: LineOutcome[] = [];
        for (const line of lines) outcomes.push(await importLine(tx, line));
        return outcomes;
      });
      for (const outcome of outcomes) {
        if (outcome === "added") onAdded();
        else if (outcome === "invalid") damaged++;
      }
    }
    if (next === undefined) return damaged;
    from = next;
  }
}

/**
 * Reads up to `max` JSON object lines from byte `from`; returns where to go on, or undefined at the
 * end. JsonLinesLog reads a whole file through a callback: a batch ends by throwing past it.
 */
function readLines(file: string, from: number, max: number, onLine: (line: Record<string, unknown>) => void, onDamaged: () => void = () => {}): number | undefined {
  const log = new JsonLinesLog(file);
  const stop = Symbol("batch full");
  let taken = 0;
  let resumeAt: number | undefined;
  try {
    log.readLines(from, (value, offset) => {
      if (taken >= max) {
        resumeAt = offset;
        throw stop;
      }
      taken++;
      if (typeof value === "object" && value !== null && !Array.isArray(value)) onLine(value as Record<string, unknown>);
      else onDamaged();
    });
  } catch (error) {
    if (error !== stop) throw error;
  }
  return resumeAt;
}

async function ensureDevice(tx: SqlExecutor, device: string, zone: string): Promise<void> {
  await tx.run("INSERT INTO devices (device, zone) VALUES (?, ?) ON CONFLICT (device) DO NOTHING", [device, zone]);
}

/** One summaries.jsonl line. */
async function importSummary(tx: SqlExecutor, line: Record<string, unknown>, nowMs: number): Promise<LineOutcome> {
  const { device, zone, epoch, counter, windowStart, windowSeconds, channels } = line;
  if (typeof device !== "string" || typeof zone !== "string" || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(counter)) return "invalid";
  if (!Number.isSafeInteger(windowStart) || typeof windowSeconds !== "number" || !isChannels(channels)) return "invalid";
  const summary = { windowSeconds, channels };
  const { statistics, channels: channelNames } = statisticsColumns(channels);
  await ensureDevice(tx, device, zone);
  const result = await tx.run(
    "INSERT INTO summaries (device, zone, window_start, window_seconds, epoch, counter, received_ms, digest, message_id, statistics, channels) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?) " +
      "ON CONFLICT (device, window_start) DO NOTHING",
    [device, zone, windowStart as number, windowSeconds, epoch as number, counter as number, timeMs(line.receivedAt, nowMs), summaryDigest(summary), statistics, channelNames],
  );
  return result.changes > 0 ? "added" : "present";
}

/** Channels as the file-based collector wrote them: per channel a unit, and statistics that are numbers, statuses, or null (a NaN through JSON). */
function isChannels(value: unknown): value is DecodedSummary["channels"] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every(
    (stats: unknown) =>
      typeof stats === "object" &&
      stats !== null &&
      !Array.isArray(stats) &&
      Object.entries(stats).every(([stat, v]) => (stat === "unit" ? typeof v === "string" : v === null || typeof v === "number" || typeof v === "string")),
  );
}

/** One health.jsonl line. */
async function importHealth(tx: SqlExecutor, line: Record<string, unknown>, nowMs: number): Promise<LineOutcome> {
  const { device, zone, epoch, counter, time } = line;
  if (typeof device !== "string" || typeof zone !== "string" || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(counter) || typeof time !== "number") return "invalid";
  const { receivedAt, timeIso, tag, ...report } = line;
  void timeIso;
  void tag;
  await ensureDevice(tx, device, zone);
  const result = await tx.run(
    "INSERT INTO health_reports (device, key_id, epoch, counter, time, received_ms, report, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT (device, key_id, epoch, counter) DO NOTHING",
    [device, LEGACY_KEY_ID, epoch as number, counter as number, time, timeMs(receivedAt, nowMs), JSON.stringify(report)],
  );
  return result.changes > 0 ? "added" : "present";
}

/** One alerts.jsonl line; false when it is not an alert. */
async function importAlert(tx: SqlExecutor, line: Record<string, unknown>, nowMs: number): Promise<boolean> {
  const { time, kind, device, epoch, detail, action } = line;
  if (typeof kind !== "string" || typeof detail !== "string" || typeof action !== "string") return false;
  await tx.run("INSERT INTO alerts (time_ms, kind, device, epoch, detail, action) VALUES (?, ?, ?, ?, ?, ?)", [
    timeMs(time, nowMs),
    kind,
    typeof device === "string" ? device : null,
    Number.isSafeInteger(epoch) ? (epoch as number) : null,
    detail,
    action,
  ]);
  return true;
}

function timeMs(iso: unknown, fallback: number): number {
  const ms = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : fallback;
}

/** A file that cannot be read stops the import before anything is written (CollectorStore would only report it). */
function assertReadable(file: string): void {
  const fd = openSync(file, "r");
  try {
    readSync(fd, new Uint8Array(1), 0, 1, 0);
  } finally {
    closeSync(fd);
  }
}
