/**
 * Exactly once, at the database: admits opened messages in one transaction with the replay state
 * they move.
 *
 *   1. Lock the devices of the batch, in the order of their names (PostgreSQL: `SELECT ... ORDER BY
 *      device FOR UPDATE`, so two batches never wait on each other in a circle; SQLite: the
 *      transaction holds the one write lock already). A device the database does not know yet is
 *      inserted first (ON CONFLICT DO NOTHING: a concurrent insert waits, then does nothing).
 *      Whoever holds a device's lock alone reads and writes its replay state and its windows, and
 *      a transaction that waited for the lock reads what the holder committed.
 *   2. Per message, in order: judge its counter (counter-verdict.ts); a summary for a window
 *      already stored is a window-duplicate (same digest) or a window-conflict (another one), its
 *      counter counted as used; otherwise insert the message, then its summary and statistics or
 *      its health report, and accept the counter.
 *   3. Write the replay state back (device-replay-state.ts); commit.
 *
 * The unique keys have the last word: the message's insert is ON CONFLICT DO NOTHING, and a row
 * already there (which the lock makes impossible, unless the replay state was lost) is judged by
 * its tag, duplicate or counter-reuse, never a second row and never an error. The same for the
 * summary's window.
 */
import type { DecodedSummary } from "../decoded-messages.js";
import { summaryDigest } from "../window-index.js";
import type { AdmitOutcome, OpenedMessage } from "./collector-db.js";
import { judgeCounter } from "./counter-verdict.js";
import { CollectorDbError } from "./db-errors.js";
import { DeviceReplayState } from "./device-replay-state.js";
import { statisticRows } from "./summary-rows.js";
import { bytesOf, placeholders, type SqlDialect, type SqlExecutor, type SqlValue } from "./sql-database.js";
import { isoSeconds, sameBytes } from "../verdict-text.js";

/** Statistics rows per INSERT (a summary has some tens; bounded so the statement texts are few). */
const STATISTICS_PER_INSERT = 64;

interface DeviceRow {
  readonly device: string;
  readonly key_id: string | null;
  readonly newest_epoch: number | null;
  readonly first_seen_ms: number | null;
  readonly last_seen_ms: number | null;
}

/** Who sealed a message, under which epoch and counter. */
export function sourceOf(message: OpenedMessage): { device: string; zone: string; epoch: number; counter: number } {
  const decoded = message.kind === "summary" ? message.summary : message.health;
  if (!decoded) throw new TypeError(`an opened ${message.kind} message without its decoded ${message.kind}`);
  return { device: decoded.device, zone: decoded.zone, epoch: decoded.epoch, counter: decoded.counter };
}

/** Admits `messages` in the open transaction `tx`; outcomes in order. */
export async function admitMessages(tx: SqlExecutor, dialect: SqlDialect, messages: readonly OpenedMessage[], windowSize: number): Promise<AdmitOutcome[]> {
  const states = await lockDevices(tx, dialect, messages, windowSize);
  const outcomes: AdmitOutcome[] = [];
  for (const message of messages) outcomes.push(await admitOne(tx, states.get(sourceOf(message).device)!, message));
  for (const state of states.values()) await state.flush(tx);
  return outcomes;
}

async function lockDevices(tx: SqlExecutor, dialect: SqlDialect, messages: readonly OpenedMessage[], windowSize: number): Promise<Map<string, DeviceReplayState>> {
  const first = new Map<string, OpenedMessage>();
  for (const message of messages) if (!first.has(sourceOf(message).device)) first.set(sourceOf(message).device, message);
  const devices = [...first.keys()].sort();
  const select = "SELECT device, key_id, newest_epoch, first_seen_ms, last_seen_ms FROM devices";
  const rows = new Map<string, DeviceRow>();
  if (devices.length > 0) {
    for (const row of await tx.query<DeviceRow>(`${select} WHERE device IN (${placeholders(devices.length)}) ORDER BY device${dialect.forUpdate}`, devices)) rows.set(row.device, row);
  }
  for (const device of devices) {
    if (rows.has(device)) continue;
    const message = first.get(device)!;
    await tx.run("INSERT INTO devices (device, zone, key_id, key_since_ms) VALUES (?, ?, ?, ?) ON CONFLICT (device) DO NOTHING", [
      device,
      sourceOf(message).zone,
      message.keyId,
      message.receivedAtMs,
    ]);
    rows.set(device, (await tx.query<DeviceRow>(`${select} WHERE device = ?${dialect.forUpdate}`, [device]))[0]!);
  }
  const states = new Map<string, DeviceReplayState>();
  for (const message of messages) {
    const device = sourceOf(message).device;
    const row = rows.get(device)!;
    if (row.key_id !== message.keyId) {
      throw new CollectorDbError(
        "key-mismatch",
        `${device} was opened under key ${message.keyId}, but the database holds key ${row.key_id ?? "none"} for it: the keyring and the database disagree (syncDevices after a re-key, and run every collector on the same keyring)`,
      );
    }
    if (!states.has(device)) {
      states.set(
        device,
        new DeviceReplayState(device, message.keyId, { newestEpoch: row.newest_epoch ?? undefined, firstSeenMs: row.first_seen_ms ?? undefined, lastSeenMs: row.last_seen_ms ?? undefined }, windowSize),
      );
    }
  }
  return states;
}

async function admitOne(tx: SqlExecutor, state: DeviceReplayState, message: OpenedMessage): Promise<AdmitOutcome> {
  const { device, epoch, counter } = sourceOf(message);
  const counters = await state.counters(tx, epoch);
  const verdict = judgeCounter({ epoch, counter, tag: message.tag, sealedAt: message.sealedAt }, counters, state.newestEpoch);
  if (verdict.verdict !== "new") return { outcome: verdict.verdict, detail: verdict.detail };
  const accept = () => state.accept(epoch, counter, message.tag, message.sealedAt, message.receivedAtMs);

  const summary = message.summary;
  const digest = summary ? summaryDigest(summary) : undefined;
  if (summary) {
    const placed = await placeWindow(tx, summary, digest!);
    if (placed) {
      accept();
      return placed;
    }
  }

  const inserted = await tx.query<{ id: number }>(
    "INSERT INTO messages (device, key_id, epoch, counter, kind, topic, received_ms, sealed_at, sealed, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (device, key_id, epoch, counter) DO NOTHING RETURNING id",
    [device, message.keyId, epoch, counter, message.kind, message.topic, message.receivedAtMs, message.sealedAt, message.sealed, message.tag],
  );
  if (inserted.length === 0) {
    const [stored] = await tx.query<{ tag: SqlValue }>("SELECT tag FROM messages WHERE device = ? AND key_id = ? AND epoch = ? AND counter = ?", [device, message.keyId, epoch, counter]);
    accept();
    const storedTag = bytesOf(stored?.tag);
    if (storedTag && sameBytes(storedTag, message.tag)) return { outcome: "duplicate", detail: `counter ${counter} again, byte for byte (stored)` };
    return { outcome: "counter-reuse", detail: `counter ${counter} sealed a different message than the one stored under it` };
  }
  const messageId = inserted[0]!.id;

  if (summary) {
    const summaryRows = await tx.query<{ id: number }>(
      "INSERT INTO summaries (device, zone, window_start, window_seconds, epoch, counter, received_ms, digest, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) " +
        "ON CONFLICT (device, window_start) DO NOTHING RETURNING id",
      [device, summary.zone, summary.windowStart, summary.windowSeconds, epoch, counter, message.receivedAtMs, digest!, messageId],
    );
    if (summaryRows.length === 0) {
      // Under the device's lock the window was free a moment ago; should it not be, the first stays.
      await tx.run("DELETE FROM messages WHERE id = ?", [messageId]);
      accept();
      return (await placeWindow(tx, summary, digest!))!;
    }
    await insertStatistics(tx, summaryRows[0]!.id, summary);
  } else {
    const health = message.health!;
    await tx.run(
      "INSERT INTO health_reports (device, key_id, epoch, counter, time, received_ms, report, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, key_id, epoch, counter) DO NOTHING",
      [device, message.keyId, epoch, counter, health.time, message.receivedAtMs, JSON.stringify(health), messageId],
    );
  }
  accept();
  return { outcome: "stored", messageId };
}

/** The outcome of a summary whose window is stored already, or undefined when it is free. */
async function placeWindow(tx: SqlExecutor, summary: DecodedSummary, digest: string): Promise<AdmitOutcome | undefined> {
  const [stored] = await tx.query<{ epoch: number; counter: number; digest: string }>("SELECT epoch, counter, digest FROM summaries WHERE device = ? AND window_start = ?", [
    summary.device,
    summary.windowStart,
  ]);
  if (!stored) return undefined;
  const detail = `window ${isoSeconds(summary.windowStart)} is stored from epoch ${stored.epoch} counter ${stored.counter}`;
  return { outcome: stored.digest === digest ? "window-duplicate" : "window-conflict", detail, stored: { epoch: stored.epoch, counter: stored.counter } };
}

/** A summary's statistics, in order (summary-rows.ts). */
export async function insertStatistics(tx: SqlExecutor, summaryId: number, summary: Pick<DecodedSummary, "channels">): Promise<void> {
  const rows = statisticRows(summary.channels);
  for (let start = 0; start < rows.length; start += STATISTICS_PER_INSERT) {
    const chunk = rows.slice(start, start + STATISTICS_PER_INSERT);
    const values: SqlValue[] = [];
    chunk.forEach((row, i) => values.push(summaryId, start + i, row.channel, row.stat, row.value, row.unit, row.status));
    await tx.run(
      `INSERT INTO summary_statistics (summary_id, position, channel, stat, value, unit, status) VALUES ${chunk.map(() => `(${placeholders(7)})`).join(", ")}`,
      values,
    );
  }
}

