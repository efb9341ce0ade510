/**
 * Store-and-forward for sealed messages: a bounded queue on flash that survives broker outages,
 * reboots and power cuts, and never loses a message without counting it.
 *
 * - A message is written to the store (its own record, queue-record.ts) before it is offered to the
 *   broker, and deleted only when the broker has acknowledged it (QoS 1 PUBACK). Whatever was not
 *   acknowledged is sent again after a reconnect and after a reboot, oldest first. The collector
 *   drops the copies it already has by their counter.
 * - The queue is bounded twice: by messages (`capacity`, the RAM it takes to track them) and by the
 *   bytes its records take in the store (`budgetBytes`: flash is small). When a new message does not
 *   fit, the oldest are dropped, because newer windows are worth more and a node must keep working;
 *   the drop is written in the same atomic commit as the new record, with the running total
 *   (`outbox.drops`), logged, and reported in health. A record found corrupt is skipped, deleted and
 *   counted the same way; it never blocks the queue.
 * - Payloads stay in the store, not in RAM: the queue keeps a few numbers per message
 *   (queue-index.ts) and reads a record back when it sends it.
 * - When the store fails (full, read-only, failing flash), the message is held in RAM instead
 *   (bounded by `ramBytes`), the failure is counted and logged once per episode, and the node keeps
 *   going; once the store takes writes again, those messages are written to it, oldest first. A
 *   message held in RAM is lost if power fails before the broker has it: health says how many are
 *   held so.
 * - The disclosure is not queued on flash: it is rebuilt and published (retained) at every boot, so
 *   only its latest version waits, in RAM.
 */
import type { KeyValueStore, Log, StoreWrite, Transport } from "../platform.js";
import { storeFailureCause } from "../store-contract.js";
import { QueueIndex } from "./queue-index.js";
import { scanQueue, type QueueScan } from "./queue-scan.js";
import {
  decodeDropTotals,
  decodeQueueRecord,
  DROP_TOTALS_KEY,
  encodeDropTotals,
  encodeQueueRecord,
  MAX_SEQUENCE,
  queueKey,
  type DropTotals,
  type QueuedKind,
} from "./queue-record.js";

export interface OutboxOptions {
  /** Messages the queue holds at most. */
  readonly capacity: number;
  /** Bytes of queue records the store may hold. */
  readonly budgetBytes: number;
  /** Bytes of messages held in RAM while the store cannot take them. */
  readonly ramBytes: number;
  /** QoS 1 messages awaiting PUBACK at once. */
  readonly maxInFlight: number;
}

/** A sealed message to deliver. */
export interface OutboxMessage {
  readonly kind: QueuedKind;
  /** Unix seconds: a summary's window end, a health report's time. */
  readonly timeS: number;
  readonly topic: string;
  readonly payload: Uint8Array;
}

export interface OutboxStats {
  /** Messages queued since boot. */
  queued: number;
  /** Messages the broker acknowledged since boot. */
  delivered: number;
  /** Sends that ended without acknowledgement and were retried, since boot. */
  retried: number;
  /** Oldest messages dropped because the queue was full, since the node was provisioned. */
  dropped: number;
  /** Records found corrupt or unreadable and skipped, since the node was provisioned. */
  droppedCorrupt: number;
  /** Store operations of the outbox that failed, since boot. */
  storeErrors: number;
}

/** Where a pushed message is kept until the broker has it, or "dropped" when it fits nowhere. */
export type PushOutcome = "stored" | "ram" | "dropped";

/** Records deleted per commit at boot: keeps one commit within the NVS journal's 4,000 bytes. */
const DELETES_PER_COMMIT = 64;
/** Retained topics the node publishes (its disclosure). */
const RETAINED_SLOTS = 2;
/** Ids of messages held in RAM start above every store sequence number, so that ids never collide. */
const RAM_ID_BASE = MAX_SEQUENCE + 1;


interface RetainedEntry {
  readonly topic: string;
  readonly payload: Uint8Array;
  inFlight: boolean;
}

export class Outbox {
  readonly #store: KeyValueStore;
  readonly #transport: Transport;
  readonly #log: Log;
  readonly #options: OutboxOptions;
  /** The queue, oldest first: a few numbers per message (queue-index.ts). */
  readonly #index: QueueIndex;
  /** Messages held in RAM (the store could not take them), by id; at most `capacity`. */
  readonly #ram: Array<{ readonly id: number; readonly message: OutboxMessage }> = [];
  readonly #retained: RetainedEntry[] = [];
  #storedBytes = 0;
  #ramBytes = 0;
  #inFlight = 0;
  #nextSequence = 0;
  #nextRamId = RAM_ID_BASE;
  /** The totals the store holds; `stats` may be ahead while the store fails. */
  #recordedDrops: DropTotals = { full: 0, corrupt: 0 };
  /** The cause while the store fails, so that an episode is logged once. */
  #storeFailure: string | undefined;
  #loaded = false;
  /** True once the store's records are known (see #listRecords). */
  #listed = false;
  #pumping = false;
  #pumpAgain = false;
  /** The message push() just stored, while it pumps: sent without reading its record back. */
  #inHand: { readonly id: number; readonly topic: string; readonly payload: Uint8Array } | undefined;
  readonly stats: OutboxStats = { queued: 0, delivered: 0, retried: 0, dropped: 0, droppedCorrupt: 0, storeErrors: 0 };

  constructor(store: KeyValueStore, transport: Transport, log: Log, options: OutboxOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new RangeError("outbox capacity must be a positive integer");
    if (!Number.isInteger(options.maxInFlight) || options.maxInFlight < 1) throw new RangeError("outbox maxInFlight must be a positive integer");
    this.#store = store;
    this.#transport = transport;
    this.#log = log;
    this.#options = options;
    this.#index = new QueueIndex(options.capacity);
  }

  /** Messages waiting for the broker (on flash or in RAM), the disclosure not counted. */
  get depth(): number {
    return this.#index.length;
  }

  /** Bytes the queue's records take in the store. */
  get storedBytes(): number {
    return this.#storedBytes;
  }

  /** Messages held only in RAM because the store could not take them. */
  get ramOnly(): number {
    return this.#ram.length;
  }

  /** The cause of the store failure in progress, or undefined while the store works. */
  get storeFailure(): string | undefined {
    return this.#storeFailure;
  }

  /** The newest summary's window end queued (Unix s), or 0. */
  get newestSummaryEndS(): number {
    let newest = 0;
    for (let i = 0; i < this.#index.length; i++) if (this.#index.kind(i) === "summary" && this.#index.timeS(i) > newest) newest = this.#index.timeS(i);
    return newest;
  }

  /**
   * Finds the messages queued before the reboot, in order, and the drop totals. A record that is
   * corrupt is deleted and counted; records beyond the bounds (configured smaller since they were
   * queued) are dropped oldest first and counted. Call once, before anything is pushed.
   */
  load(): void {
    if (this.#loaded) return;
    this.#loaded = true;
    this.#loadTotals();
    this.#listRecords();
  }

  /**
   * Queues a sealed message: its record (with `alsoWrite`, in the same atomic commit) goes to the
   * store, dropping the oldest messages when it would not fit, then it is offered to the broker.
   * When the store fails, the message is held in RAM ("ram") and `alsoWrite` is not written.
   */
  push(message: OutboxMessage, alsoWrite: readonly StoreWrite[] = []): PushOutcome {
    if (!this.#loaded) throw new Error("Outbox.load() first");
    if (!this.#listed) this.#listRecords();
    if (this.#ram.length > 0 && this.#listed) this.#moveRamToStore();
    if (this.#nextSequence > MAX_SEQUENCE && this.#storedBytes === 0) this.#nextSequence = 0; // 2^32 messages: never in a node's life
    let outcome: PushOutcome = "ram";
    if (this.#listed && this.#nextSequence <= MAX_SEQUENCE) {
      const sequence = this.#nextSequence;
      const record = encodeQueueRecord({ sequence, ...message });
      const victims = this.#victims(record.length, false);
      const dropsAfter = { full: this.stats.dropped + victims.length, corrupt: this.stats.droppedCorrupt };
      const writes: StoreWrite[] = [];
      for (const i of victims) if (!this.#index.isRam(i)) writes.push({ key: queueKey(this.#index.id(i)), value: undefined });
      if (victims.length > 0 || this.#dropsUnrecorded()) writes.push({ key: DROP_TOTALS_KEY, value: encodeDropTotals(dropsAfter) });
      writes.push({ key: queueKey(sequence), value: record });
      for (const write of alsoWrite) writes.push(write);
      if (this.#commit(writes, queueKey(sequence), record)) {
        this.#nextSequence++;
        this.#drop(victims, "full");
        this.#recordedDrops = dropsAfter;
        this.#index.append(sequence, message.kind, message.timeS, record.length, false);
        this.#storedBytes += record.length;
        this.#storeRecovered();
        outcome = "stored";
      }
    }
    if (outcome === "ram" && message.payload.length > this.#options.ramBytes) {
      outcome = "dropped";
      this.stats.dropped++;
      this.#log("warn", "outbox-dropped", { reason: "no-room", kind: message.kind, time: message.timeS, queue: this.#index.length });
    } else if (outcome === "ram") {
      // The previous state stands in the store; RAM carries the message until the broker has it.
      this.#drop(this.#victims(message.payload.length, true), "full");
      const id = this.#nextRamId++;
      this.#ram.push({ id, message });
      this.#index.append(id, message.kind, message.timeS, message.payload.length, true);
      this.#ramBytes += message.payload.length;
    }
    this.stats.queued++;
    // The message is in hand: sent from here, the store is not read back for it (the common case
    // online); only a resend reads (and checks) its record.
    if (outcome === "stored") this.#inHand = { id: this.#nextSequence - 1, topic: message.topic, payload: message.payload };
    this.pump();
    this.#inHand = undefined;
    return outcome;
  }

  /** Publishes a retained message (the disclosure), replacing a version of it still waiting. */
  publishRetained(topic: string, payload: Uint8Array): void {
    const index = this.#retained.findIndex((entry) => entry.topic === topic);
    if (index >= 0) {
      if (this.#retained[index]!.inFlight) this.#inFlight--;
      this.#retained.splice(index, 1);
    } else if (this.#retained.length >= RETAINED_SLOTS) {
      if (this.#retained.shift()!.inFlight) this.#inFlight--;
    }
    this.#retained.push({ topic, payload, inFlight: false });
    this.pump();
  }

  /** Sends waiting messages, oldest first, while the transport takes them. Call on reconnect. */
  pump(): void {
    // A transport may settle a publish inside publish(): the loop then simply goes on.
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpRetained();
        this.#pumpQueue();
      } while (this.#pumpAgain);
    } finally {
      this.#pumping = false;
    }
  }

  /**
   * Reads the queue's records from the store. Until it has succeeded, the sequence numbers in use
   * are unknown, so nothing is written to the store (a new record could replace an old one):
   * pushes are held in RAM and the listing is tried again at the next push.
   */
  #listRecords(): void {
    let scan: QueueScan;
    try {
      scan = scanQueue(this.#store, (error) => this.#storeFailed(error, "read"));
    } catch (error) {
      this.#storeFailed(error, "list");
      return;
    }
    this.#listed = true;
    const { records: found, corruptKeys: corrupt, highestSequence: highest } = scan;
    // Records found only after a failed listing go before what RAM took meanwhile (it is newer);
    // beyond the capacity the oldest are not tracked this boot (dropped and counted below).
    const room = this.#options.capacity - this.#index.length;
    const skipped = Math.max(0, found.length - room);
    const kept = found.slice(skipped);
    this.#index.insertFront(kept.length);
    kept.forEach(({ sequence, kind, timeS, bytes }, i) => this.#index.set(i, sequence, kind, timeS, bytes, false));
    for (const { bytes } of kept) this.#storedBytes += bytes;
    this.#nextSequence = highest + 1;
    for (const key of corrupt) this.#log("warn", "outbox-record-corrupt", { key, action: "skipped and deleted" });
    this.stats.droppedCorrupt += corrupt.length;
    // Bounds configured smaller since these were queued: keep the newest that fit.
    const overBudget = this.#victims(0, false);
    const victimKeys = [...found.slice(0, skipped).map(({ sequence }) => queueKey(sequence)), ...overBudget.map((i) => queueKey(this.#index.id(i)))];
    this.#deleteAtBoot(corrupt, victimKeys, overBudget);
  }

  /**
   * Deletes corrupt records and drops the victims at boot, in commits small enough for NVS, each
   * with the totals it makes true. What could not be deleted stays: skipped (or queued) again at
   * the next boot.
   */
  #deleteAtBoot(corrupt: readonly string[], victimKeys: readonly string[], trackedVictims: readonly number[]): void {
    const work = [...corrupt.map((key) => ({ key, corrupt: true })), ...victimKeys.map((key) => ({ key, corrupt: false }))];
    const deleted = new Set<string>();
    for (let start = 0; start < work.length; start += DELETES_PER_COMMIT) {
      const chunk = work.slice(start, start + DELETES_PER_COMMIT);
      const corruptInChunk = chunk.filter((item) => item.corrupt).length;
      const after = { full: this.#recordedDrops.full + chunk.length - corruptInChunk, corrupt: this.#recordedDrops.corrupt + corruptInChunk };
      const writes: StoreWrite[] = chunk.map(({ key }) => ({ key, value: undefined }));
      writes.push({ key: DROP_TOTALS_KEY, value: encodeDropTotals(after) });
      try {
        this.#store.commit(writes);
      } catch (error) {
        this.#storeFailed(error, "delete");
        break;
      }
      this.#recordedDrops = after;
      for (const { key } of chunk) deleted.add(key);
    }
    const droppedUntracked = victimKeys.length - trackedVictims.length;
    let droppedBeyond = 0;
    for (const key of victimKeys.slice(0, droppedUntracked)) if (deleted.has(key)) droppedBeyond++;
    this.stats.dropped += droppedBeyond;
    if (droppedBeyond > 0) this.#log("warn", "outbox-dropped", { reason: "full", count: droppedBeyond, queue: this.#index.length });
    // Tracked victims leave the queue once their deletion is in the store.
    this.#drop(
      trackedVictims.filter((i) => deleted.has(queueKey(this.#index.id(i)))),
      "full",
    );
  }

  /**
   * After a store failure, the messages RAM held are written to the store before anything newer,
   * oldest first, so that a reboot keeps them in order. A message that cannot be written stops the
   * move (the store still fails); one in flight stays in RAM until its PUBACK, which is near.
   */
  #moveRamToStore(): void {
    for (let i = 0; i < this.#index.length; i++) {
      if (!this.#index.isRam(i) || this.#index.isInFlight(i)) continue;
      if (this.#nextSequence > MAX_SEQUENCE) return;
      const held = this.#ram.findIndex(({ id }) => id === this.#index.id(i));
      const { message } = this.#ram[held]!;
      const sequence = this.#nextSequence;
      const record = encodeQueueRecord({ sequence, ...message });
      if (this.#storedBytes + record.length > this.#options.budgetBytes) return; // the next push makes room
      try {
        this.#store.commit([{ key: queueKey(sequence), value: record }]);
      } catch (error) {
        this.#storeFailed(error, "write");
        return;
      }
      this.#nextSequence++;
      this.#ram.splice(held, 1);
      this.#ramBytes -= this.#index.bytes(i);
      this.#index.set(i, sequence, message.kind, message.timeS, record.length, false);
      this.#storedBytes += record.length;
    }
  }

  #pumpRetained(): void {
    for (const entry of this.#retained) {
      if (!this.#transport.connected || this.#inFlight >= this.#options.maxInFlight) return;
      if (entry.inFlight) continue;
      entry.inFlight = true;
      this.#inFlight++;
      const accepted = this.#transport.publish(entry.topic, entry.payload, { qos: 1, retain: true }, (delivered) => this.#settleRetained(entry, delivered));
      if (!accepted) {
        entry.inFlight = false;
        this.#inFlight--;
        return;
      }
    }
  }

  #pumpQueue(): void {
    while (this.#transport.connected && this.#inFlight < this.#options.maxInFlight) {
      // From the front each time: a publish may settle (and remove) entries before the one sent.
      const i = this.#index.firstIdle();
      if (i < 0) return;
      const id = this.#index.id(i);
      let topic: string;
      let payload: Uint8Array;
      if (this.#index.isRam(i)) ({ topic, payload } = this.#ram.find((held) => held.id === id)!.message);
      else if (this.#inHand !== undefined && this.#inHand.id === id) ({ topic, payload } = this.#inHand);
      else {
        let bytes: Uint8Array | undefined;
        try {
          bytes = this.#store.get(queueKey(id));
        } catch (error) {
          this.#storeFailed(error, "read");
          return; // tried again at the next pump
        }
        const record = bytes === undefined ? undefined : decodeQueueRecord(bytes, id);
        if (record === undefined) {
          this.#dropCorrupt(i);
          continue;
        }
        ({ topic, payload } = record);
      }
      this.#index.setInFlight(i, true);
      this.#inFlight++;
      const accepted = this.#transport.publish(topic, payload, { qos: 1 }, (delivered) => this.#settle(id, delivered));
      if (!accepted) {
        const index = this.#index.indexOf(id);
        if (index >= 0) this.#index.setInFlight(index, false);
        this.#inFlight--;
        return;
      }
    }
  }

  #settle(id: number, delivered: boolean): void {
    const i = this.#index.indexOf(id);
    if (i < 0 || !this.#index.isInFlight(i)) return; // dropped while in flight: counted then
    this.#index.setInFlight(i, false);
    this.#inFlight--;
    if (!delivered) {
      this.stats.retried++;
      this.pump();
      return;
    }
    const ram = this.#index.isRam(i);
    const bytes = this.#index.bytes(i);
    this.#index.removeAt(i);
    this.stats.delivered++;
    if (ram) {
      this.#ram.splice(
        this.#ram.findIndex((held) => held.id === id),
        1,
      );
      this.#ramBytes -= bytes;
    } else {
      this.#storedBytes -= bytes;
      try {
        this.#store.commit([{ key: queueKey(id), value: undefined }]);
      } catch (error) {
        // Left in the store, it is sent once more after the next reboot: a copy the collector drops.
        this.#storeFailed(error, "delete");
      }
    }
    this.pump();
  }

  #settleRetained(entry: RetainedEntry, delivered: boolean): void {
    const index = this.#retained.indexOf(entry);
    if (index < 0 || !entry.inFlight) return; // replaced by a newer version meanwhile
    entry.inFlight = false;
    this.#inFlight--;
    if (delivered) this.#retained.splice(index, 1);
    this.pump();
  }

  /**
   * The indices (ascending) of the oldest entries to drop so that one more message of `bytes` fits:
   * within `capacity`, and within the store budget (`ram` false) or the RAM budget (`ram` true).
   * Messages in flight go last, since the broker may be acknowledging them right now.
   */
  #victims(bytes: number, ram: boolean): number[] {
    const { capacity, budgetBytes, ramBytes } = this.#options;
    let count = this.#index.length + (bytes > 0 ? 1 : 0);
    let stored = this.#storedBytes + (ram ? 0 : bytes);
    let held = this.#ramBytes + (ram ? bytes : 0);
    const fits = () => count <= capacity && (ram ? held <= ramBytes : stored <= budgetBytes);
    const victims: number[] = [];
    for (const inFlight of [false, true]) {
      for (let i = 0; i < this.#index.length; i++) {
        if (fits()) return victims.sort((a, b) => a - b);
        if (this.#index.isInFlight(i) !== inFlight || victims.includes(i)) continue;
        const isRam = this.#index.isRam(i);
        // Any drop frees a place in the queue. A stored record frees store bytes, a message held in
        // RAM frees RAM; with the store failing a stored record cannot be deleted and only frees its
        // place (it stays on flash and is sent after a reboot).
        const frees = count > capacity || (ram ? isRam && held > ramBytes : !isRam && stored > budgetBytes);
        if (!frees) continue;
        victims.push(i);
        count--;
        if (isRam) held -= this.#index.bytes(i);
        else if (!ram) stored -= this.#index.bytes(i);
      }
    }
    return victims.sort((a, b) => a - b);
  }

  /** Removes the entries at `indices` (ascending) from the queue, counting and logging each drop. */
  #drop(indices: readonly number[], reason: "full" | "corrupt"): void {
    for (let n = indices.length - 1; n >= 0; n--) {
      const i = indices[n]!;
      const id = this.#index.id(i);
      const kind = this.#index.kind(i);
      const timeS = this.#index.timeS(i);
      if (this.#index.isInFlight(i)) this.#inFlight--;
      if (this.#index.isRam(i)) {
        this.#ram.splice(
          this.#ram.findIndex((held) => held.id === id),
          1,
        );
        this.#ramBytes -= this.#index.bytes(i);
      } else this.#storedBytes -= this.#index.bytes(i);
      this.#index.removeAt(i);
      if (reason === "full") this.stats.dropped++;
      this.#log("warn", "outbox-dropped", { reason, kind, time: timeS, queue: this.#index.length });
    }
  }

  /** A record that no longer reads back intact: skipped, deleted and counted. */
  #dropCorrupt(i: number): void {
    const id = this.#index.id(i);
    this.stats.droppedCorrupt++;
    this.#drop([i], "corrupt");
    const totals = { full: this.stats.dropped, corrupt: this.stats.droppedCorrupt };
    try {
      this.#store.commit([
        { key: queueKey(id), value: undefined },
        { key: DROP_TOTALS_KEY, value: encodeDropTotals(totals) },
      ]);
      this.#recordedDrops = totals;
    } catch (error) {
      this.#storeFailed(error, "delete");
    }
  }

  #loadTotals(): void {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#store.get(DROP_TOTALS_KEY);
    } catch (error) {
      this.#storeFailed(error, "read");
      return;
    }
    if (bytes === undefined) return;
    const totals = decodeDropTotals(bytes);
    if (totals === undefined) {
      // Only the count is lost, never a message: say so, and count on from zero.
      this.#log("warn", "outbox-totals-corrupt", { action: "drop counts restart at 0" });
      return;
    }
    this.#recordedDrops = totals;
    this.stats.dropped = totals.full;
    this.stats.droppedCorrupt = totals.corrupt;
  }

  #dropsUnrecorded(): boolean {
    return this.#recordedDrops.full !== this.stats.dropped || this.#recordedDrops.corrupt !== this.stats.droppedCorrupt;
  }

  /**
   * Commits `writes`; true when they are in the store. A commit that threw may still have taken
   * effect (a journal complete before the failure): the record itself tells.
   */
  #commit(writes: readonly StoreWrite[], key: string, record: Uint8Array): boolean {
    try {
      this.#store.commit(writes);
      return true;
    } catch (error) {
      this.#storeFailed(error, "write");
      try {
        const stored = this.#store.get(key);
        return stored !== undefined && stored.length === record.length && stored.every((byte, i) => byte === record[i]);
      } catch {
        return false;
      }
    }
  }

  #storeFailed(error: unknown, operation: "list" | "read" | "write" | "delete"): void {
    this.stats.storeErrors++;
    const cause = storeFailureCause(error);
    if (this.#storeFailure === undefined) {
      this.#log("warn", "outbox-store-failed", { operation, cause, message: error instanceof Error ? error.message : String(error), action: "messages wait in RAM" });
    }
    this.#storeFailure = cause;
  }

  #storeRecovered(): void {
    if (this.#storeFailure === undefined) return;
    this.#log("info", "outbox-store-recovered", { after: this.#storeFailure, ramOnly: this.#ram.length });
    this.#storeFailure = undefined;
  }
}
