/**
 * Exactly once, at the database: admits opened messages in one transaction with the replay state
 * they move, in a few statements per batch rather than several per message.
 *
 *   1. Lock the devices of the batch, in the order of their names (PostgreSQL: `SELECT ... ORDER BY
 *      device FOR UPDATE`, so two batches never wait on each other in a circle; SQLite: the
 *      transaction holds the one write lock already). A device the database does not know yet is
 *      inserted first (ON CONFLICT DO NOTHING: a concurrent insert waits, then does nothing).
 *      Whoever holds a device's lock alone reads and writes its replay state and its windows, and
 *      a transaction that waited for the lock reads what the holder committed.
 *   2. Read what the batch will be judged against, one statement each for the whole batch: the
 *      replay windows of its (device, key, epoch)s and the chunks of their tags that hold its
 *      counters, the windows of its summaries already stored, and the rows already stored under its
 *      messages' unique keys (none, unless a replay state was lost: then the row, not the state,
 *      says duplicate or counter-reuse).
 *   3. Judge each message in order, in memory, against those and the messages before it
 *      (counter-verdict.ts): a summary for a window already stored, or taken by an earlier message
 *      of the batch, is a window-duplicate (same digest) or a window-conflict (another one), its
 *      counter counted as used; otherwise the message is stored with its summary (statistics as
 *      one JSON text: summary-statistics.ts) or its health report, and its counter accepted.
 *   4. Insert what was judged new, a multi-row statement per table (messages, summaries, health
 *      reports), then write the replay state back (device-replay-state.ts); commit.
 *
 * What a message's rows need of it alone (its summary's digest and statistics, its health report's
 * JSON) is worked out before the transaction begins (prepareBatch), so that the devices' locks are
 * not held for it.
 *
 * The unique keys have the last word: every insert is ON CONFLICT DO NOTHING, and reports what it
 * inserted. A row found there after all (which the locks make impossible, unless something that
 * takes no device lock wrote it meanwhile, as a legacy import may) is never a second row and never
 * an error: this batch's own inserts are deleted again, what the database holds under the keys
 * that met a row is read, and the batch is judged again from step 3.
 */
import type { DecodedSummary } from "../decoded-messages.js";
import { summaryDigest } from "../window-index.js";
import type { AdmitOutcome, OpenedMessage } from "./collector-db.js";
import { judgeCounter } from "./counter-verdict.js";
import { CollectorDbError } from "./db-errors.js";
import { DeviceReplayState, readReplayRows, writeReplayStates, type ReplayRow } from "./device-replay-state.js";
import { statisticsColumns, type StatisticsColumns } from "./summary-statistics.js";
import { bytesOf, chunked, paddedChunks, StatementTexts, valuesRows, type SqlDialect, type SqlExecutor, type SqlValue } from "./sql-database.js";
import { isoSeconds, sameBytes } from "../verdict-text.js";

interface DeviceRow {
  readonly device: string;
  readonly zone: string;
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

/** A window stored, or taken by a message of the batch. */
interface StoredWindow {
  readonly epoch: number;
  readonly counter: number;
  readonly digest: string;
}

/** What the database holds for the batch, read under its locks (steps 1 and 2). */
interface Snapshot {
  readonly devices: ReadonlyMap<string, DeviceRow>;
  readonly replay: ReadonlyMap<string, ReplayRow>;
  /** By windowKey. */
  readonly windows: Map<string, StoredWindow>;
  /** The tag of each message row under a unique key of the batch, by messageKey. */
  readonly messages: Map<string, Uint8Array | undefined>;
}

/** A message with what its rows need of it alone, worked out before its transaction. */
export interface PreparedMessage {
  readonly message: OpenedMessage;
  readonly source: ReturnType<typeof sourceOf>;
  /** messageKey of its unique key. */
  readonly key: string;
  readonly summary?: { readonly decoded: DecodedSummary; readonly digest: string } & StatisticsColumns;
  /** A health report's JSON. */
  readonly report?: string;
}

/** A message judged new: the rows to insert for it. */
interface NewRows extends PreparedMessage {
  readonly index: number;
}

// The batch's statements, by their number of rows (sql-database.ts: StatementTexts).
const LOCK_DEVICES = new StatementTexts(
  (n, forUpdate) => `SELECT device, zone, key_id, newest_epoch, first_seen_ms, last_seen_ms FROM devices WHERE device IN (${valuesRows(n, "?")}) ORDER BY device${forUpdate}`,
);
const INSERT_DEVICES = new StatementTexts((n) => `INSERT INTO devices (device, zone, key_id, key_since_ms) VALUES ${valuesRows(n, "(?, ?, ?, ?)")} ON CONFLICT (device) DO NOTHING`);
const SELECT_WINDOWS = new StatementTexts(
  (n) => `SELECT device, window_start, epoch, counter, digest FROM summaries WHERE (device, window_start) IN (VALUES ${valuesRows(n, "(?, CAST(? AS BIGINT))")})`,
);
const SELECT_MESSAGES = new StatementTexts(
  (n) => `SELECT device, key_id, epoch, counter, tag FROM messages WHERE (device, key_id, epoch, counter) IN (VALUES ${valuesRows(n, "(?, ?, CAST(? AS BIGINT), CAST(? AS BIGINT))")})`,
);
const INSERT_MESSAGES = new StatementTexts(
  (n) =>
    `INSERT INTO messages (device, key_id, epoch, counter, kind, topic, received_ms, sealed_at, sealed, tag) VALUES ${valuesRows(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")} ` +
    "ON CONFLICT (device, key_id, epoch, counter) DO NOTHING RETURNING id, device, key_id, epoch, counter",
);
const INSERT_SUMMARIES = new StatementTexts(
  (n) =>
    "INSERT INTO summaries (device, zone, window_start, window_seconds, epoch, counter, received_ms, digest, message_id, statistics, channels, policy_serial, policy_sha256) " +
    `VALUES ${valuesRows(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")} ON CONFLICT (device, window_start) DO NOTHING RETURNING device, window_start`,
);
const INSERT_HEALTH = new StatementTexts(
  (n) =>
    `INSERT INTO health_reports (device, key_id, epoch, counter, time, received_ms, report, message_id, policy_serial, policy_sha256) VALUES ${valuesRows(n, "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")} ` +
    "ON CONFLICT (device, key_id, epoch, counter) DO NOTHING",
);
const DELETE_MESSAGES = new StatementTexts((n) => `DELETE FROM messages WHERE id IN (${valuesRows(n, "?")})`);

const messageKey = (device: string, keyId: string, epoch: number, counter: number) => `${device}\u0000${keyId}\u0000${epoch}\u0000${counter}`;
const windowKey = (device: string, windowStart: number) => `${device}\u0000${windowStart}`;

/** What `messages`' rows need of each alone (no database): to be done before the transaction. */
export function prepareBatch(messages: readonly OpenedMessage[]): PreparedMessage[] {
  return messages.map((message) => {
    const source = sourceOf(message);
    const key = messageKey(source.device, message.keyId, source.epoch, source.counter);
    const decoded = message.summary;
    if (decoded) return { message, source, key, summary: { decoded, digest: summaryDigest(decoded), ...statisticsColumns(decoded.channels) } };
    return { message, source, key, report: JSON.stringify(message.health) };
  });
}

/** Admits the prepared `batch` in the open transaction `tx`; outcomes in order. */
export async function admitMessages(tx: SqlExecutor, dialect: SqlDialect, batch: readonly PreparedMessage[], windowSize: number): Promise<AdmitOutcome[]> {
  const snapshot = await readSnapshot(tx, dialect, batch);
  for (;;) {
    const { outcomes, inserts, states } = judge(batch, snapshot, windowSize);
    const met = await insertRows(tx, inserts, outcomes);
    if (met === undefined) {
      await writeReplayStates(tx, states.values());
      return outcomes as AdmitOutcome[];
    }
    await learn(tx, snapshot, met);
  }
}

async function readSnapshot(tx: SqlExecutor, dialect: SqlDialect, batch: readonly PreparedMessage[]): Promise<Snapshot> {
  const devices = await lockDevices(tx, dialect, batch);
  const windows = new Map<string, { device: string; windowStart: number }>();
  const keys = new Map<string, { device: string; keyId: string; epoch: number; counter: number }>();
  for (const { message, source, key } of batch) {
    const { device, epoch, counter } = source;
    keys.set(key, { device, keyId: message.keyId, epoch, counter });
    if (message.summary) windows.set(windowKey(device, message.summary.windowStart), { device, windowStart: message.summary.windowStart });
  }
  const snapshot: Snapshot = { devices, replay: await readReplayRows(tx, [...keys.values()]), windows: new Map(), messages: new Map() };
  await readWindows(tx, snapshot, [...windows.values()]);
  await readMessages(tx, snapshot, [...keys.values()]);
  return snapshot;
}

async function lockDevices(tx: SqlExecutor, dialect: SqlDialect, batch: readonly PreparedMessage[]): Promise<Map<string, DeviceRow>> {
  const first = new Map<string, PreparedMessage>();
  for (const prepared of batch) if (!first.has(prepared.source.device)) first.set(prepared.source.device, prepared);
  const devices = [...first.keys()].sort();
  const rows = new Map<string, DeviceRow>();
  const select = async (names: readonly string[]) => {
    for (const chunk of paddedChunks(names)) {
      const found = await tx.query<DeviceRow>(
        LOCK_DEVICES.of(chunk.length, dialect.forUpdate),
        chunk,
      );
      for (const row of found) rows.set(row.device, row);
    }
  };
  await select(devices);
  const unknown = devices.filter((device) => !rows.has(device));
  if (unknown.length > 0) {
    for (const chunk of chunked(unknown)) {
      await tx.run(
        INSERT_DEVICES.of(chunk.length),
        chunk.flatMap((device) => {
          const { source, message } = first.get(device)!;
          return [device, source.zone, message.keyId, message.receivedAtMs];
        }),
      );
    }
    await select(unknown);
  }
  for (const { message, source } of batch) {
    const row = rows.get(source.device)!;
    if (row.key_id !== message.keyId) {
      throw new CollectorDbError(
        "key-mismatch",
        `${source.device} was opened under key ${message.keyId}, but the database holds key ${row.key_id ?? "none"} for it: the keyring and the database disagree (syncDevices after a re-key, and run every collector on the same keyring)`,
      );
    }
  }
  return rows;
}

async function readWindows(tx: SqlExecutor, snapshot: Snapshot, windows: ReadonlyArray<{ readonly device: string; readonly windowStart: number }>): Promise<void> {
  for (const chunk of paddedChunks(windows)) {
    const found = await tx.query<{ device: string; window_start: number; epoch: number; counter: number; digest: string }>(
      SELECT_WINDOWS.of(chunk.length),
      chunk.flatMap(({ device, windowStart }) => [device, windowStart]),
    );
    for (const row of found) snapshot.windows.set(windowKey(row.device, row.window_start), { epoch: row.epoch, counter: row.counter, digest: row.digest });
  }
}

async function readMessages(tx: SqlExecutor, snapshot: Snapshot, keys: ReadonlyArray<{ readonly device: string; readonly keyId: string; readonly epoch: number; readonly counter: number }>): Promise<void> {
  for (const chunk of paddedChunks(keys)) {
    const found = await tx.query<{ device: string; key_id: string; epoch: number; counter: number; tag: SqlValue }>(
      SELECT_MESSAGES.of(chunk.length),
      chunk.flatMap(({ device, keyId, epoch, counter }) => [device, keyId, epoch, counter]),
    );
    for (const row of found) snapshot.messages.set(messageKey(row.device, row.key_id, row.epoch, row.counter), bytesOf(row.tag));
  }
}

/** Step 3: every message judged in order, in memory; the rows of those judged new. Changes nothing in `snapshot`. */
function judge(batch: readonly PreparedMessage[], snapshot: Snapshot, windowSize: number) {
  const states = new Map<string, DeviceReplayState>();
  const windows = new Map(snapshot.windows);
  const outcomes: Array<AdmitOutcome | undefined> = [];
  const inserts: NewRows[] = [];
  for (const [index, prepared] of batch.entries()) {
    const { message, source } = prepared;
    const { device, epoch, counter } = source;
    let state = states.get(device);
    if (!state) {
      const row = snapshot.devices.get(device)!;
      const seen = { zone: row.zone, newestEpoch: row.newest_epoch ?? undefined, firstSeenMs: row.first_seen_ms ?? undefined, lastSeenMs: row.last_seen_ms ?? undefined };
      states.set(device, (state = new DeviceReplayState(device, message.keyId, seen, windowSize, snapshot.replay)));
    }
    outcomes.push(undefined); // stored, unless judged otherwise below: its id comes with the insert
    const verdict = judgeCounter({ epoch, counter, tag: message.tag, sealedAt: message.sealedAt }, state.counters(epoch), state.newestEpoch);
    if (verdict.verdict !== "new") {
      outcomes[index] = { outcome: verdict.verdict, detail: verdict.detail };
      continue;
    }
    state.accept(epoch, counter, message.tag, message.sealedAt, message.receivedAtMs);

    const summary = prepared.summary;
    const stored = summary ? windows.get(windowKey(device, summary.decoded.windowStart)) : undefined;
    if (stored) {
      const detail = `window ${isoSeconds(summary!.decoded.windowStart)} is stored from epoch ${stored.epoch} counter ${stored.counter}`;
      outcomes[index] = { outcome: stored.digest === summary!.digest ? "window-duplicate" : "window-conflict", detail, stored: { epoch: stored.epoch, counter: stored.counter } };
      continue;
    }
    if (snapshot.messages.has(prepared.key)) {
      const storedTag = snapshot.messages.get(prepared.key);
      outcomes[index] =
        storedTag && sameBytes(storedTag, message.tag)
          ? { outcome: "duplicate", detail: `counter ${counter} again, byte for byte (stored)` }
          : { outcome: "counter-reuse", detail: `counter ${counter} sealed a different message than the one stored under it` };
      continue;
    }
    if (summary) windows.set(windowKey(device, summary.decoded.windowStart), { epoch, counter, digest: summary.digest });
    inserts.push({ ...prepared, index });
  }
  return { outcomes, inserts, states };
}

/** Keys that met a row already there. */
interface Met {
  readonly messages: ReadonlyArray<{ readonly device: string; readonly keyId: string; readonly epoch: number; readonly counter: number }>;
  readonly windows: ReadonlyArray<{ readonly device: string; readonly windowStart: number }>;
}

/**
 * Step 4's inserts; fills in the stored outcomes. Returns the keys that met a row already there,
 * after deleting what it inserted (nothing of the batch stays), or undefined when all went in.
 */
async function insertRows(tx: SqlExecutor, inserts: readonly NewRows[], outcomes: Array<AdmitOutcome | undefined>): Promise<Met | undefined> {
  const ids = new Map<string, number>();
  for (const chunk of chunked(inserts)) {
    const rows = await tx.query<{ id: number; device: string; key_id: string; epoch: number; counter: number }>(
      INSERT_MESSAGES.of(chunk.length),
      chunk.flatMap(({ message: m, source: s }) => [s.device, m.keyId, s.epoch, s.counter, m.kind, m.topic, m.receivedAtMs, m.sealedAt, m.sealed, m.tag]),
    );
    for (const row of rows) ids.set(messageKey(row.device, row.key_id, row.epoch, row.counter), row.id);
  }
  const idOf = ({ key }: NewRows) => ids.get(key);
  const metMessages = inserts.filter((row) => idOf(row) === undefined);
  if (metMessages.length > 0) {
    await undo(tx, [...ids.values()]);
    return { messages: metMessages.map(({ message, source }) => ({ device: source.device, keyId: message.keyId, epoch: source.epoch, counter: source.counter })), windows: [] };
  }

  const summaries = inserts.filter((row) => row.summary !== undefined);
  const placed = new Set<string>();
  for (const chunk of chunked(summaries)) {
    const rows = await tx.query<{ device: string; window_start: number }>(
      INSERT_SUMMARIES.of(chunk.length),
      chunk.flatMap((row) => {
        const { decoded, digest, statistics, channels } = row.summary!;
        const policy = row.message.policy;
        return [row.source.device, decoded.zone, decoded.windowStart, decoded.windowSeconds, row.source.epoch, row.source.counter, row.message.receivedAtMs, digest, idOf(row)!, statistics, channels, policy?.serial ?? null, policy?.sha256 ?? null];
      }),
    );
    for (const row of rows) placed.add(windowKey(row.device, row.window_start));
  }
  const metWindows = summaries.filter((row) => !placed.has(windowKey(row.source.device, row.summary!.decoded.windowStart)));
  if (metWindows.length > 0) {
    await undo(tx, [...ids.values()]); // their summaries go with them (ON DELETE CASCADE)
    return { messages: [], windows: metWindows.map((row) => ({ device: row.source.device, windowStart: row.summary!.decoded.windowStart })) };
  }

  const reports = inserts.filter((row) => row.summary === undefined);
  for (const chunk of chunked(reports)) {
    await tx.run(
      INSERT_HEALTH.of(chunk.length),
      chunk.flatMap((row) => [
        row.source.device,
        row.message.keyId,
        row.source.epoch,
        row.source.counter,
        row.message.health!.time,
        row.message.receivedAtMs,
        row.report!,
        idOf(row)!,
        row.message.policy?.serial ?? null,
        row.message.policy?.sha256 ?? null,
      ]),
    );
  }
  for (const row of inserts) outcomes[row.index] = { outcome: "stored", messageId: idOf(row)! };
  return undefined;
}

/** Deletes the batch's own message rows again (their summaries with them). */
async function undo(tx: SqlExecutor, ids: readonly number[]): Promise<void> {
  for (const chunk of paddedChunks(ids)) await tx.run(DELETE_MESSAGES.of(chunk.length), chunk);
}

/** Reads what the database holds under the keys that met a row, so that the batch is judged against it. */
async function learn(tx: SqlExecutor, snapshot: Snapshot, met: Met): Promise<void> {
  const before = snapshot.messages.size + snapshot.windows.size;
  await readMessages(tx, snapshot, met.messages);
  await readWindows(tx, snapshot, met.windows);
  // A key that met a row is read back; should it not be there (deleted meanwhile), judging again would loop.
  if (snapshot.messages.size + snapshot.windows.size === before) {
    throw new CollectorDbError("busy", "rows under the batch's keys changed while it was admitted, outside the devices' locks: retried");
  }
}

