/**
 * One device's replay state inside one admit transaction: the rows of `replay_state` it reads,
 * changed in memory as counters are accepted, written back once at the end (a batch of many
 * messages of a device writes its rows once). What it changes follows MessageOpener.commit():
 *
 *   - a counter is accepted into its (key, epoch) window with its tag and seal time;
 *   - an epoch more than RETAINED_EPOCHS behind the newest is retired (its row deleted, the epoch
 *     then refused whole), and epochs TAGGED_EPOCHS or more behind keep no tags, so a device
 *     costs at most 65 rows, two of them with tags (2 KB each at W = 128).
 *
 * The caller holds the device's lock (its `devices` row, FOR UPDATE on PostgreSQL; the write lock
 * on SQLite) for the whole transaction, so nobody else reads or writes these rows meanwhile.
 */
import { EpochCounters } from "../epoch-counters.js";
import { RETAINED_EPOCHS, TAGGED_EPOCHS } from "../message-opener.js";
import { CollectorDbError } from "./db-errors.js";
import { bytesOf, type SqlExecutor, type SqlValue } from "./sql-database.js";

interface ReplayRow {
  readonly window_size: number;
  readonly replay_window: SqlValue;
  readonly tags: SqlValue;
  readonly sealed_until: number | null;
}

export class DeviceReplayState {
  readonly device: string;
  readonly keyId: string;
  readonly #windowSize: number;
  /** Epochs read (undefined: no row), and changed. */
  readonly #epochs = new Map<number, EpochCounters | undefined>();
  readonly #dirty = new Set<number>();
  #newest: number | undefined;
  #newestChanged = false;
  #firstSeenMs: number | undefined;
  #lastSeenMs: number | undefined;
  #seenChanged = false;

  constructor(device: string, keyId: string, row: { newestEpoch: number | undefined; firstSeenMs: number | undefined; lastSeenMs: number | undefined }, windowSize: number) {
    this.device = device;
    this.keyId = keyId;
    this.#newest = row.newestEpoch;
    this.#firstSeenMs = row.firstSeenMs;
    this.#lastSeenMs = row.lastSeenMs;
    this.#windowSize = windowSize;
  }

  get newestEpoch(): number | undefined {
    return this.#newest;
  }

  /** The counters of `epoch` (read once per transaction); undefined when the epoch has none yet. */
  async counters(tx: SqlExecutor, epoch: number): Promise<EpochCounters | undefined> {
    if (this.#epochs.has(epoch)) return this.#epochs.get(epoch);
    const rows = await tx.query<ReplayRow>("SELECT window_size, replay_window, tags, sealed_until FROM replay_state WHERE device = ? AND key_id = ? AND epoch = ?", [
      this.device,
      this.keyId,
      epoch,
    ]);
    const row = rows[0];
    let counters: EpochCounters | undefined;
    if (row) {
      const window = bytesOf(row.replay_window);
      const tags = bytesOf(row.tags);
      counters = window ? EpochCounters.import({ window, ...(tags ? { tags } : {}), ...(row.sealed_until !== null ? { sealedUntil: row.sealed_until } : {}) }, row.window_size) : undefined;
      // A window that does not read is not taken for an empty one: that would accept every replay.
      if (!counters) throw new CollectorDbError("corrupt", `the replay state of ${this.device} epoch ${epoch} does not read as a window of ${row.window_size}`);
      if (!tags) counters.dropTags();
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

  /** Writes what changed: retired epochs deleted, old epochs' tags dropped, changed windows, the device's newest epoch and times. */
  async flush(tx: SqlExecutor): Promise<void> {
    const newest = this.#newest;
    if (this.#newestChanged && newest !== undefined) {
      await tx.run("DELETE FROM replay_state WHERE device = ? AND key_id = ? AND epoch < ?", [this.device, this.keyId, newest - RETAINED_EPOCHS]);
      await tx.run("UPDATE replay_state SET tags = NULL WHERE device = ? AND key_id = ? AND epoch <= ? AND tags IS NOT NULL", [this.device, this.keyId, newest - TAGGED_EPOCHS]);
    }
    for (const epoch of this.#dirty) {
      const counters = this.#epochs.get(epoch)!;
      const snapshot = counters.export();
      await tx.run(
        "INSERT INTO replay_state (device, key_id, epoch, window_size, replay_window, tags, sealed_until) VALUES (?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (device, key_id, epoch) DO UPDATE SET window_size = excluded.window_size, replay_window = excluded.replay_window, tags = excluded.tags, sealed_until = excluded.sealed_until",
        [this.device, this.keyId, epoch, counters.size, snapshot.window, snapshot.tags ?? null, snapshot.sealedUntil ?? null],
      );
    }
    if (this.#newestChanged || this.#seenChanged) {
      await tx.run("UPDATE devices SET newest_epoch = ?, first_seen_ms = ?, last_seen_ms = ? WHERE device = ?", [
        newest ?? null,
        this.#firstSeenMs ?? null,
        this.#lastSeenMs ?? null,
        this.device,
      ]);
    }
    this.#dirty.clear();
    this.#newestChanged = false;
    this.#seenChanged = false;
  }
}
