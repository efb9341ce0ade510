/**
 * One device's replay state inside one admit transaction: the rows of `replay_state` the batch
 * needs, read for the whole batch at once (readReplayRows), changed in memory as counters are
 * accepted, and written back at the end for all the batch's devices together (writeReplayStates:
 * one multi-row statement per kind, whatever the number of devices). A window's tags are rows of
 * `replay_tags`, a chunk of 16 slots each (replay-tag-chunks.ts): a batch reads the chunks of its
 * messages' counters, and writes back only the chunks it changed. What it changes follows
 * MessageOpener.commit():
 *
 *   - a counter is accepted into its (key, epoch) window with its tag and seal time;
 *   - an epoch more than RETAINED_EPOCHS behind the newest is retired (its rows deleted, the epoch
 *     then refused whole), and epochs TAGGED_EPOCHS or more behind keep no tags, so a device
 *     costs at most 65 rows of windows, two of them with tags (8 chunks of 258 bytes at W = 128).
 *
 * The caller holds the device's lock (its `devices` row, FOR UPDATE on PostgreSQL; the write lock
 * on SQLite) for the whole transaction, so nobody else reads or writes these rows meanwhile.
 */
import { EpochCounters } from "../epoch-counters.js";
import { RETAINED_EPOCHS, TAGGED_EPOCHS } from "../message-opener.js";
import { CollectorDbError } from "./db-errors.js";
import { assembleTags, chunkOf, tagChunk, type TagChunk } from "./replay-tag-chunks.js";
import { bytesOf, chunked, paddedChunks, StatementTexts, valuesRows, type SqlExecutor, type SqlValue } from "./sql-database.js";

export interface ReplayRow {
  readonly device: string;
  readonly key_id: string;
  readonly epoch: number;
  readonly window_size: number;
  readonly replay_window: SqlValue;
  /** 1 when the window keeps its tags (in replay_tags), 0 when not (an old epoch). */
  readonly tagged: number;
  readonly sealed_until: number | null;
  /** The chunks of its tags the batch read. */
  readonly chunks: TagChunk[];
}

// The statements, by their number of rows (sql-database.ts: StatementTexts).
const SELECT_WINDOWS = new StatementTexts(
  (n) => `SELECT device, key_id, epoch, window_size, replay_window, tagged, sealed_until FROM replay_state WHERE (device, key_id, epoch) IN (VALUES ${valuesRows(n, "(?, ?, CAST(? AS BIGINT))")})`,
);
const SELECT_TAGS = new StatementTexts(
  (n) => `SELECT device, key_id, epoch, chunk, known, tags FROM replay_tags WHERE (device, key_id, epoch, chunk) IN (VALUES ${valuesRows(n, "(?, ?, CAST(? AS BIGINT), CAST(? AS INTEGER))")})`,
);
const ofDevices = (n: number) => `(device, key_id) IN (VALUES ${valuesRows(n, "(?, ?)")})`;
const RETIRE_WINDOWS = new StatementTexts((n) => `DELETE FROM replay_state WHERE ${ofDevices(n)} AND epoch < ?`);
const DROP_TAGS = new StatementTexts((n) => `DELETE FROM replay_tags WHERE ${ofDevices(n)} AND epoch <= ?`);
const UNTAG_WINDOWS = new StatementTexts((n) => `UPDATE replay_state SET tagged = 0 WHERE ${ofDevices(n)} AND epoch <= ? AND tagged = 1`);
const WRITE_WINDOWS = new StatementTexts(
  (n) =>
    `INSERT INTO replay_state (device, key_id, epoch, window_size, replay_window, tagged, sealed_until) VALUES ${valuesRows(n, "(?, ?, ?, ?, ?, ?, ?)")} ` +
    "ON CONFLICT (device, key_id, epoch) DO UPDATE SET window_size = excluded.window_size, replay_window = excluded.replay_window, tagged = excluded.tagged, sealed_until = excluded.sealed_until",
);
const WRITE_TAGS = new StatementTexts(
  (n) =>
    `INSERT INTO replay_tags (device, key_id, epoch, chunk, known, tags) VALUES ${valuesRows(n, "(?, ?, ?, ?, ?, ?)")} ` +
    "ON CONFLICT (device, key_id, epoch, chunk) DO UPDATE SET known = excluded.known, tags = excluded.tags",
);
// Every device of the batch has its row (locked at the start): the insert always meets it and updates it.
const WRITE_DEVICES = new StatementTexts(
  (n) =>
    `INSERT INTO devices (device, zone, newest_epoch, first_seen_ms, last_seen_ms) VALUES ${valuesRows(n, "(?, ?, ?, ?, ?)")} ` +
    "ON CONFLICT (device) DO UPDATE SET newest_epoch = excluded.newest_epoch, first_seen_ms = excluded.first_seen_ms, last_seen_ms = excluded.last_seen_ms",
);

/** A (device, key, epoch) as a map key. */
export function replayKey(device: string, keyId: string, epoch: number): string {
  return `${device}\u0000${keyId}\u0000${epoch}`;
}

/**
 * The `replay_state` rows of the (device, key, epoch)s of `wanted`, by replayKey, each with the
 * chunks of its tags that hold `wanted`'s counters: one statement per MAX_CHUNK keys for the rows,
 * and as many for the chunks.
 */
export async function readReplayRows(
  tx: SqlExecutor,
  wanted: ReadonlyArray<{ readonly device: string; readonly keyId: string; readonly epoch: number; readonly counter: number }>,
): Promise<Map<string, ReplayRow>> {
  const windows = new Map<string, { device: string; keyId: string; epoch: number }>();
  for (const { device, keyId, epoch } of wanted) windows.set(replayKey(device, keyId, epoch), { device, keyId, epoch });
  const rows = new Map<string, ReplayRow>();
  for (const chunk of paddedChunks([...windows.values()])) {
    const found = await tx.query<Omit<ReplayRow, "chunks">>(
      SELECT_WINDOWS.of(chunk.length),
      chunk.flatMap(({ device, keyId, epoch }) => [device, keyId, epoch]),
    );
    for (const row of found) rows.set(replayKey(row.device, row.key_id, row.epoch), { ...row, chunks: [] });
  }
  const chunks = new Map<string, { device: string; keyId: string; epoch: number; chunk: number }>();
  for (const { device, keyId, epoch, counter } of wanted) {
    const row = rows.get(replayKey(device, keyId, epoch));
    if (!row?.tagged || row.window_size < 1) continue;
    const chunk = chunkOf(counter, row.window_size);
    chunks.set(`${replayKey(device, keyId, epoch)}\u0000${chunk}`, { device, keyId, epoch, chunk });
  }
  for (const chunk of paddedChunks([...chunks.values()])) {
    const found = await tx.query<{ device: string; key_id: string; epoch: number; chunk: number; known: SqlValue; tags: SqlValue }>(
      SELECT_TAGS.of(chunk.length),
      chunk.flatMap(({ device, keyId, epoch, chunk: index }) => [device, keyId, epoch, index]),
    );
    for (const row of found) {
      const known = bytesOf(row.known);
      const tags = bytesOf(row.tags);
      if (known && tags) rows.get(replayKey(row.device, row.key_id, row.epoch))!.chunks.push({ chunk: row.chunk, known, tags });
    }
  }
  return rows;
}

export interface DeviceSeen {
  readonly zone: string;
  readonly newestEpoch: number | undefined;
  readonly firstSeenMs: number | undefined;
  readonly lastSeenMs: number | undefined;
}

export class DeviceReplayState {
  readonly device: string;
  readonly keyId: string;
  readonly #zone: string;
  readonly #windowSize: number;
  readonly #rows: ReadonlyMap<string, ReplayRow>;
  /** Epochs read (undefined: no row), and changed. */
  readonly #epochs = new Map<number, EpochCounters | undefined>();
  readonly #dirty = new Set<number>();
  /** Per epoch, the chunks of its tags that accepted counters changed. */
  readonly #dirtyChunks = new Map<number, Set<number>>();
  #newest: number | undefined;
  #newestChanged = false;
  #firstSeenMs: number | undefined;
  #lastSeenMs: number | undefined;
  #seenChanged = false;

  /** `rows`: what readReplayRows found for the batch (rows of other devices are not looked at). */
  constructor(device: string, keyId: string, seen: DeviceSeen, windowSize: number, rows: ReadonlyMap<string, ReplayRow>) {
    this.device = device;
    this.keyId = keyId;
    this.#zone = seen.zone;
    this.#newest = seen.newestEpoch;
    this.#firstSeenMs = seen.firstSeenMs;
    this.#lastSeenMs = seen.lastSeenMs;
    this.#windowSize = windowSize;
    this.#rows = rows;
  }

  get newestEpoch(): number | undefined {
    return this.#newest;
  }

  /** The counters of `epoch` (its row was read for the batch); undefined when the epoch has none yet. */
  counters(epoch: number): EpochCounters | undefined {
    if (this.#epochs.has(epoch)) return this.#epochs.get(epoch);
    const row = this.#rows.get(replayKey(this.device, this.keyId, epoch));
    // Read before the batch moved the device's newest epoch: as the move leaves it (retired, or
    // without tags), exactly as if the messages before had been admitted and committed alone.
    const newest = this.#newestChanged ? this.#newest! : undefined;
    const retired = newest !== undefined && epoch + RETAINED_EPOCHS < newest;
    let counters: EpochCounters | undefined;
    if (row && !retired) {
      const window = bytesOf(row.replay_window);
      // Only the chunks of the batch's counters were read: the others stay unknown here, and are neither looked at nor written.
      const tags = row.tagged && row.window_size >= 1 ? assembleTags(row.chunks, row.window_size) : undefined;
      counters = window ? EpochCounters.import({ window, ...(tags ? { tags } : {}), ...(row.sealed_until !== null ? { sealedUntil: row.sealed_until } : {}) }, row.window_size) : undefined;
      // A window that does not read is not taken for an empty one: that would accept every replay.
      if (!counters) throw new CollectorDbError("corrupt", `the replay state of ${this.device} epoch ${epoch} does not read as a window of ${row.window_size}`);
      if (!tags || (newest !== undefined && epoch + TAGGED_EPOCHS <= newest)) counters.dropTags();
    }
    this.#epochs.set(epoch, counters);
    return counters;
  }

  /** Records a counter as used (after `counters(epoch)` was read): MessageOpener.commit() on the rows. */
  accept(epoch: number, counter: number, tag: Uint8Array, sealedAt: number, receivedAtMs: number): void {
    if (!this.#epochs.has(epoch)) throw new Error(`epoch ${epoch} of ${this.device} was not read before it was accepted`);
    let counters = this.#epochs.get(epoch);
    const newest = this.#newest;
    if (!counters) {
      if (newest !== undefined && epoch + RETAINED_EPOCHS < newest) return; // retired: refused as replay anyway
      counters = new EpochCounters(this.#windowSize);
      if (newest !== undefined && epoch + TAGGED_EPOCHS <= newest) counters.dropTags();
      this.#epochs.set(epoch, counters);
    }
    counters.accept(counter, tag, sealedAt);
    this.#dirty.add(epoch);
    if (counters.keepsTags) {
      const chunks = this.#dirtyChunks.get(epoch) ?? new Set<number>();
      this.#dirtyChunks.set(epoch, chunks.add(chunkOf(counter, counters.size)));
    }
    this.#firstSeenMs = Math.min(this.#firstSeenMs ?? receivedAtMs, receivedAtMs);
    this.#lastSeenMs = Math.max(this.#lastSeenMs ?? receivedAtMs, receivedAtMs);
    this.#seenChanged = true;
    if (newest !== undefined && epoch <= newest) return;
    this.#newest = epoch;
    this.#newestChanged = true;
    for (const [other, otherCounters] of this.#epochs) {
      if (other + RETAINED_EPOCHS < epoch) {
        this.#epochs.set(other, undefined);
        this.#dirty.delete(other);
      } else if (other + TAGGED_EPOCHS <= epoch && otherCounters?.keepsTags) {
        otherCounters.dropTags();
        this.#dirty.add(other);
      }
    }
  }

  /** The device's newest epoch when it moved (the rows behind it are retired or lose their tags). */
  get movedNewest(): number | undefined {
    return this.#newestChanged ? this.#newest : undefined;
  }

  /** The changed windows, to be written, with the chunks of their tags that changed (none when the window keeps no tags). */
  changedEpochs(): Array<{ readonly epoch: number; readonly counters: EpochCounters; readonly chunks: readonly number[] }> {
    return [...this.#dirty].map((epoch) => {
      const counters = this.#epochs.get(epoch)!;
      return { epoch, counters, chunks: counters.keepsTags ? [...(this.#dirtyChunks.get(epoch) ?? [])] : [] };
    });
  }

  /** The device's row when its newest epoch or its times changed. */
  changedDevice(): { readonly zone: string; readonly newestEpoch: number | undefined; readonly firstSeenMs: number | undefined; readonly lastSeenMs: number | undefined } | undefined {
    if (!this.#newestChanged && !this.#seenChanged) return undefined;
    return { zone: this.#zone, newestEpoch: this.#newest, firstSeenMs: this.#firstSeenMs, lastSeenMs: this.#lastSeenMs };
  }
}

/**
 * Writes what the states changed, all devices together, a multi-row statement per MAX_CHUNK rows:
 * for the devices whose newest epoch moved (grouped by that epoch) retired epochs deleted and old
 * epochs' tags dropped; the changed windows and the chunks of tags they changed; the devices'
 * newest epoch and times.
 */
export async function writeReplayStates(tx: SqlExecutor, states: Iterable<DeviceReplayState>): Promise<void> {
  const moved = new Map<number, Array<[string, string]>>();
  const windows: SqlValue[][] = [];
  const chunks: SqlValue[][] = [];
  const devices: SqlValue[][] = [];
  for (const state of states) {
    const newest = state.movedNewest;
    if (newest !== undefined) moved.set(newest, [...(moved.get(newest) ?? []), [state.device, state.keyId]]);
    for (const { epoch, counters, chunks: changed } of state.changedEpochs()) {
      const snapshot = counters.export();
      windows.push([state.device, state.keyId, epoch, counters.size, snapshot.window, snapshot.tags ? 1 : 0, snapshot.sealedUntil ?? null]);
      for (const index of changed) {
        const { known, tags } = tagChunk(snapshot.tags!, counters.size, index);
        chunks.push([state.device, state.keyId, epoch, index, known, tags]);
      }
    }
    const device = state.changedDevice();
    if (device) devices.push([state.device, device.zone, device.newestEpoch ?? null, device.firstSeenMs ?? null, device.lastSeenMs ?? null]);
  }
  for (const [newest, keys] of moved) {
    for (const chunk of paddedChunks(keys)) {
      await tx.run(RETIRE_WINDOWS.of(chunk.length), [...chunk.flat(), newest - RETAINED_EPOCHS]);
      await tx.run(DROP_TAGS.of(chunk.length), [...chunk.flat(), newest - TAGGED_EPOCHS]);
      await tx.run(UNTAG_WINDOWS.of(chunk.length), [...chunk.flat(), newest - TAGGED_EPOCHS]);
    }
  }
  for (const chunk of chunked(windows)) {
    await tx.run(WRITE_WINDOWS.of(chunk.length), chunk.flat());
  }
  for (const chunk of chunked(chunks)) {
    await tx.run(WRITE_TAGS.of(chunk.length), chunk.flat());
  }
  for (const chunk of chunked(devices)) {
    await tx.run(WRITE_DEVICES.of(chunk.length), chunk.flat());
  }
}
