/**
 * The collector's store on today's files: the journal (summaries.jsonl and health.jsonl, one
 * accepted message per line, each line naming its device, epoch, counter and tag), the checkpoint
 * (collector.json: the replay state and the window index as of a byte length of each log) and
 * alerts.jsonl. Issue 12 replaces it with a database; the collector talks to it only through the
 * methods below.
 *
 * Crash consistency, at any write:
 * - An append is durable (fsynced) before it returns, and only then does the counter count as
 *   used (`commit`), in memory; the collector acknowledges the message after that.
 * - The checkpoint is written atomically and records how much of each log it covers; at start the
 *   lines after it are replayed into the counters and the index. Replaying a line twice changes
 *   nothing, so a crash between an append and a checkpoint costs nothing but the replay.
 * - Torn last lines are cut at start (json-lines-log.ts), stale `collector.json.tmp-*` removed.
 * - The lines after a checkpoint were accepted under the keys it names: if the keyring holds a new
 *   key for a device (provisioned again), that device's saved counters and the counters of its
 *   later lines are left out of the replay state (its new key's counters start over; its windows
 *   stay in the index), and a checkpoint naming the new keys is written before anything else is
 *   stored.
 */
import { basename, dirname } from "node:path";
import type { Log } from "../../src/platform.js";
import { isTemporaryOf, NODE_FILE_OPS, writeFileAtomic, type FileOps } from "../node/atomic-file.js";
import { CheckpointError, parseCheckpoint, serializeCheckpoint, type Checkpoint } from "./collector-checkpoint.js";
import type { EpochCountersSnapshot } from "./epoch-counters.js";
import { JsonLinesLog } from "./json-lines-log.js";
import type { CounterUse } from "./message-opener.js";
import type { DecodedSummary } from "./decoded-messages.js";
import { StoreWriteError } from "./store-failures.js";
import { summaryDigest, WindowIndex, type WindowPlacement } from "./window-index.js";

/** Where the store keeps what; a file left out is not kept (its lines are only told to listeners). */
export interface CollectorFiles {
  readonly summaries?: string;
  readonly health?: string;
  readonly alerts?: string;
  readonly checkpoint?: string;
}

/** The replay state the store persists: the opener's counters (MessageOpener implements it). */
export interface CounterState {
  exportCounters(): Map<string, EpochCountersSnapshot>;
  importCounters(state: ReadonlyMap<string, EpochCountersSnapshot>): void;
  commit(use: CounterUse): void;
  forgetDevice(device: string): void;
}

export interface CollectorStoreOptions {
  readonly log: Log;
  /** The devices in the keyring, and the key id (hex) of each one's key. */
  readonly keys: () => ReadonlyMap<string, string>;
  readonly ops?: FileOps;
  /** Windows per device in the index (window-index.ts). */
  readonly windowsPerDevice?: number;
  /** Lines stored after which a checkpoint is due (default 1000). */
  readonly checkpointLines?: number;
  /** Told of every write that succeeded, by file (the collector ends a failure episode with it). */
  readonly onWritten?: (file: string) => void;
  /** Told of a recovery that succeeded only when retried before a store (its damaged lines, what it replayed). */
  readonly onLateRecovery?: (report: RecoveryReport) => void;
}

/** A damaged line found at start. */
export interface DamagedLine {
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  /** A torn last line (cut off), or a line in the middle that is not a message (skipped). */
  readonly atEnd: boolean;
}

export interface RecoveryReport {
  readonly damaged: readonly DamagedLine[];
  /** Writes that failed during recovery (cutting a torn line on a read-only disk, removing a temporary). */
  readonly failures: readonly StoreWriteError[];
  /** Journal lines replayed after the checkpoint. */
  readonly replayed: number;
  /** Devices whose saved counters belonged to another key than the keyring's. */
  readonly reset: readonly string[];
}

type LogRole = "summaries" | "health";

export class CollectorStore {
  readonly index: WindowIndex;
  readonly #files: CollectorFiles;
  readonly #counters: CounterState;
  readonly #options: CollectorStoreOptions;
  readonly #ops: FileOps;
  readonly #logs = new Map<LogRole, JsonLinesLog>();
  readonly #alerts: JsonLinesLog | undefined;
  readonly #checkpointLines: number;
  #sinceCheckpoint = 0;
  /** A checkpoint naming the current keys must precede the next append (see the header). */
  #checkpointOwed = false;
  /** Recovery could not read everything: nothing is stored until it can. */
  #recovered = false;

  constructor(files: CollectorFiles, counters: CounterState, options: CollectorStoreOptions) {
    this.#files = files;
    this.#counters = counters;
    this.#options = options;
    this.#ops = options.ops ?? NODE_FILE_OPS;
    this.index = new WindowIndex(options.windowsPerDevice);
    this.#checkpointLines = options.checkpointLines ?? 1000;
    if (files.summaries) this.#logs.set("summaries", new JsonLinesLog(files.summaries, this.#ops));
    if (files.health) this.#logs.set("health", new JsonLinesLog(files.health, this.#ops));
    if (files.alerts) this.#alerts = new JsonLinesLog(files.alerts, this.#ops);
  }

  /** True once a checkpoint is worth writing (`checkpointLines` stored since the last). */
  get checkpointDue(): boolean {
    return this.#sinceCheckpoint >= this.#checkpointLines;
  }

  /** Lines stored since the last checkpoint. */
  get sinceCheckpoint(): number {
    return this.#sinceCheckpoint;
  }

  /**
   * Brings the state back from the files at start: removes stale temporaries, cuts torn lines,
   * reads the checkpoint and replays the journal after it. Never throws; what it could not do is in
   * the report, and stores are refused until a retry (`recover()` again, or the next store) succeeds.
   */
  recover(): RecoveryReport {
    const damaged: DamagedLine[] = [];
    const failures: StoreWriteError[] = [];
    const reset: string[] = [];
    let replayed = 0;
    this.#removeStaleTemporaries(failures);
    for (const log of [...this.#logs.values(), ...(this.#alerts ? [this.#alerts] : [])]) {
      try {
        const recovery = log.recover();
        if (recovery.cutBytes > 0) damaged.push({ file: log.path, offset: recovery.size, bytes: recovery.cutBytes, atEnd: true });
        if (recovery.cutError !== undefined) failures.push(new StoreWriteError(log.path, recovery.cutError));
      } catch (error) {
        failures.push(new StoreWriteError(log.path, error));
        return { damaged, failures, replayed, reset };
      }
    }

    const checkpoint = this.#readCheckpoint();
    const keys = this.#options.keys();
    for (const [device, saved] of checkpoint?.keys ?? []) {
      const current = keys.get(device);
      if (current !== undefined && current !== saved) reset.push(device);
    }
    const resetSet = new Set(reset);
    const counters = new Map([...(checkpoint?.counters ?? [])].filter(([key]) => !resetSet.has(key.slice(0, key.lastIndexOf("/")))));
    for (const device of reset) {
      this.#counters.forgetDevice(device);
      this.#options.log("info", "replay-state-reset", { device, reason: "the keyring holds a new key for this device" });
    }
    this.#counters.importCounters(counters);
    if (checkpoint) this.index.import(checkpoint.windows);

    for (const [role, log] of this.#logs) {
      const mark = checkpoint?.logs.get(role);
      const from = mark && mark.file === basename(log.path) && mark.bytes <= log.size ? mark.bytes : 0;
      try {
        log.readLines(from, (value, offset, bytes) => {
          const entry = journalEntry(role, value);
          if (!entry) {
            damaged.push({ file: log.path, offset, bytes, atEnd: false });
            return;
          }
          // Lines after the checkpoint of a device provisioned again were sealed under its old key:
          // their counters say nothing of the new key's, their windows stay stored all the same.
          if (!resetSet.has(entry.use.device)) this.#counters.commit(entry.use);
          if (entry.summary) this.index.add(entry.use.device, entry.summary.windowStart, { epoch: entry.use.epoch, counter: entry.use.counter, digest: summaryDigest(entry.summary) });
          replayed++;
        });
      } catch (error) {
        failures.push(new StoreWriteError(log.path, error));
        return { damaged, failures, replayed, reset };
      }
    }
    this.#sinceCheckpoint = replayed;
    this.#checkpointOwed = this.#files.checkpoint !== undefined && !sameKeys(checkpoint?.keys, keys);
    this.#recovered = true;
    return { damaged, failures, replayed, reset };
  }

  /** Where a summary stands against the stored windows (changes nothing). */
  placeSummary(summary: DecodedSummary): WindowPlacement {
    return this.index.place(summary);
  }

  /** Appends a summary line (durable when it returns), then commits its counter and window. Throws StoreWriteError. */
  appendSummary(line: object, summary: DecodedSummary, use: CounterUse, placement: WindowPlacement): void {
    this.#append("summaries", line);
    this.#counters.commit(use);
    this.index.add(summary.device, summary.windowStart, { epoch: use.epoch, counter: use.counter, digest: placement.digest });
  }

  /** Appends a health line (durable when it returns), then commits its counter. Throws StoreWriteError. */
  appendHealth(line: object, use: CounterUse): void {
    this.#append("health", line);
    this.#counters.commit(use);
  }

  /** Appends an alert to alerts.jsonl (durable when it returns). Throws StoreWriteError. */
  appendAlert(alert: object): void {
    if (!this.#alerts) return;
    try {
      this.#alerts.append(JSON.stringify(alert));
    } catch (error) {
      throw new StoreWriteError(this.#alerts.path, error);
    }
    this.#options.onWritten?.(this.#alerts.path);
  }

  /**
   * Commits a counter whose message is not stored as a line (a window stored already): in memory and
   * at the next checkpoint, not in the journal. Should a crash lose it, the copy that arrives again
   * meets the same window and is judged the same way.
   */
  noteUse(use: CounterUse): void {
    this.#counters.commit(use);
  }

  /** Writes the checkpoint (atomically). Throws StoreWriteError; the previous checkpoint then stays. */
  checkpoint(): void {
    const path = this.#files.checkpoint;
    if (!path || !this.#recovered) return;
    const logs = new Map([...this.#logs].map(([role, log]) => [role, { file: basename(log.path), bytes: log.size }]));
    const checkpoint: Checkpoint = { keys: this.#options.keys(), counters: this.#counters.exportCounters(), windows: this.index.export(), logs };
    try {
      writeFileAtomic(path, serializeCheckpoint(checkpoint), 0o600, this.#ops);
    } catch (error) {
      throw new StoreWriteError(path, error);
    }
    this.#sinceCheckpoint = 0;
    this.#checkpointOwed = false;
    this.#options.onWritten?.(path);
  }

  #append(role: LogRole, line: object): void {
    if (!this.#recovered) {
      const report = this.recover();
      if (!this.#recovered) throw report.failures[0] ?? new StoreWriteError(this.#files[role] ?? "collector state", new Error("recovery failed"));
      this.#options.onLateRecovery?.(report);
    }
    if (this.#checkpointOwed) this.checkpoint();
    const log = this.#logs.get(role);
    if (log) {
      try {
        log.append(JSON.stringify(line));
      } catch (error) {
        throw new StoreWriteError(log.path, error);
      }
      this.#options.onWritten?.(log.path);
    }
    this.#sinceCheckpoint++;
  }

  #readCheckpoint(): Checkpoint | undefined {
    const path = this.#files.checkpoint;
    if (!path || !this.#ops.exists(path)) return undefined;
    try {
      return parseCheckpoint(readText(this.#ops, path));
    } catch (error) {
      // Without it the journal is replayed whole, which restores the same state from the logs.
      this.#options.log("error", "collector-state-unreadable", { file: path, message: error instanceof CheckpointError ? error.message : String((error as Error).message) });
      return undefined;
    }
  }

  #removeStaleTemporaries(failures: StoreWriteError[]): void {
    const path = this.#files.checkpoint;
    if (!path) return;
    const dir = dirname(path);
    let names: string[];
    try {
      names = this.#ops.list(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!isTemporaryOf(name, basename(path))) continue;
      try {
        this.#ops.remove(`${dir}/${name}`);
        this.#options.log("info", "collector-stale-temporary-removed", { file: `${dir}/${name}` });
      } catch (error) {
        failures.push(new StoreWriteError(`${dir}/${name}`, error));
      }
    }
  }
}

/** What a journal line says about the counter it used (and the window, for a summary); undefined for a line that is not a message. */
function journalEntry(role: LogRole, value: unknown): { use: CounterUse; summary?: Pick<DecodedSummary, "windowStart" | "windowSeconds" | "channels"> } | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const line = value as Record<string, unknown>;
  const { device, epoch, counter, tag } = line;
  if (typeof device !== "string" || !Number.isSafeInteger(epoch) || !Number.isSafeInteger(counter)) return undefined;
  const tagBytes = typeof tag === "string" && /^[0-9a-f]{32}$/.test(tag) ? new Uint8Array(Buffer.from(tag, "hex")) : undefined;
  const base = { device, epoch: epoch as number, counter: counter as number, ...(tagBytes ? { tag: tagBytes } : {}) };
  if (role === "health") {
    if (typeof line.time !== "number") return undefined;
    return { use: { ...base, sealedAt: line.time } };
  }
  const { windowStart, windowSeconds, channels } = line;
  if (!Number.isSafeInteger(windowStart) || typeof windowSeconds !== "number" || typeof channels !== "object" || channels === null) return undefined;
  const summary = { windowStart: windowStart as number, windowSeconds, channels: channels as DecodedSummary["channels"] };
  return { use: { ...base, sealedAt: summary.windowStart + windowSeconds }, summary };
}

function sameKeys(saved: ReadonlyMap<string, string> | undefined, current: ReadonlyMap<string, string>): boolean {
  if (!saved || saved.size !== current.size) return false;
  for (const [device, id] of current) if (saved.get(device) !== id) return false;
  return true;
}

function readText(ops: FileOps, path: string): string {
  const fd = ops.open(path, "r");
  try {
    const bytes = new Uint8Array(ops.size(fd));
    let offset = 0;
    while (offset < bytes.length) {
      const read = ops.read(fd, bytes.subarray(offset), offset);
      if (read <= 0) break;
      offset += read;
    }
    return Buffer.from(bytes.subarray(0, offset)).toString("utf8");
  } finally {
    ops.close(fd);
  }
}
