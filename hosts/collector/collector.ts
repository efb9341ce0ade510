/**
 * The reference collector: subscribes to every node's summaries and health reports, verifies and
 * decrypts them, and stores them in JSON Lines files. Rejected messages are counted by cause and
 * logged without their bytes; nothing the broker sends can stop it, and neither can its disk.
 *
 *   subscribe (broker-session.ts) -> open (message-opener.ts) -> store (collector-store.ts)
 *     -> acknowledge, tell listeners
 *
 * A message is acknowledged (PUBACK) only once it is stored, fsynced; what is rejected is
 * acknowledged at once, having nothing to store. When the disk refuses a write (ENOSPC, EROFS, EIO)
 * the message is not acknowledged and consumption pauses, so that the broker keeps it and what
 * follows, until the disk takes writes again. Failures are logged once per episode, counted and
 * alerted, and so is the recovery.
 *
 * Example:
 *   const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1883", keyring, outputFile: "summaries.jsonl", stateFile: "collector.json" });
 *   collector.onSummary((s) => console.log(s.device, s.channels));
 *   collector.onAlert((a) => console.error(a.kind, a.detail, a.action));
 *   await collector.start();
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Log, LogDetail } from "../../src/platform.js";
import type { Keyring } from "./keyring.js";
import { pinnedCaPem } from "../node/pinned-ca.js";
import { NODE_FILE_OPS, type FileOps } from "../node/atomic-file.js";
import { keyIdFromRoot } from "../../src/wire/key-schedule.js";
import { BrokerSession } from "./broker-session.js";
import { ALERT_KINDS, counterReuseAlert, tornLineAlert, windowConflictAlert, type Alert, type AlertKind } from "./alerts.js";
import { CollectorStore, type RecoveryReport } from "./collector-store.js";
import {
  REJECT_CAUSES,
  MessageOpener,
  type DecodedHealth,
  type DecodedSummary,
  type MessageOpenerOptions,
  type OpenResult,
  type RejectCause,
} from "./message-opener.js";
import { StoreFailures, StoreWriteError, type StoreStats } from "./store-failures.js";

export const SUMMARY_FILTER = "civicnode/+/+/summary";
export const HEALTH_FILTER = "civicnode/+/+/health";
export const ALERTS_FILE = "alerts.jsonl";

export interface CollectorOptions {
  readonly brokerUrl: string;
  readonly keyring: Keyring;
  /** JSON Lines output of summaries (the journal); omitted: summaries are only passed to listeners. */
  readonly outputFile?: string;
  /** JSON Lines output of health reports (the journal too). */
  readonly healthFile?: string;
  /**
   * The checkpoint of the replay state and the window index (collector-checkpoint.ts), written
   * every `checkpointLines` stored lines, `checkpointMs` after a store, and on stop.
   */
  readonly stateFile?: string;
  /** JSON Lines of alerts; default `alerts.jsonl` beside the state file (none without one). */
  readonly alertsFile?: string;
  /**
   * The MQTT client id, which names the broker's session. Default: derived from the host name and
   * the folder of the collector's files, so a restarted collector resumes its session; without
   * files, `civicnode-collector-<pid>` in a clean session (nothing kept, nothing for the broker to keep).
   */
  readonly clientId?: string;
  readonly log?: Log;
  /**
   * PEM CA certificate(s): required with an mqtts:// broker, and the only CA trusted for its
   * certificate (pinned; the system's public roots are not used). Refused with mqtt://.
   */
  readonly ca?: string | Uint8Array;
  /** The file operations of the store (tests inject failures and power cuts); default node:fs. */
  readonly fileOps?: FileOps;
  /** Waits before consuming again after a failed write (ms): the first, doubling up to the last. Default 1 s to 30 s. */
  readonly storeRetryMs?: { readonly first: number; readonly max: number };
  /** Lines stored after which a checkpoint is written (default 1000). */
  readonly checkpointLines?: number;
  /** Time after a store within which a checkpoint follows (default 5000 ms; Infinity: only by lines and on stop). */
  readonly checkpointMs?: number;
  /** Windows per device in the one-summary-per-window index (default a week of 5-minute windows). */
  readonly windowsPerDevice?: number;
  /** Options of the message opener (replay window width, clock for the epoch bound, ...). */
  readonly opener?: MessageOpenerOptions;
}

export interface CollectorStats {
  /** Messages accepted and stored: summaries and health reports. */
  accepted: number;
  summaries: number;
  healthReports: number;
  /** Messages refused by the opener, by cause (`duplicate` is a harmless QoS 1 copy). */
  rejected: Record<RejectCause, number>;
  /** Summaries for a window already stored, with the same values under another counter: dropped. */
  windowDuplicates: number;
  /** Summaries for a window already stored, with other values: not stored, alerted. */
  windowConflicts: number;
  /** Summaries stored without the window check: older than every window the index holds for their device. */
  windowsUnchecked: number;
  /** Write failures of the collector's files and their cause, damaged lines found at start. */
  store: StoreStats & { paused: boolean; replayedLines: number };
  /** Alerts raised, by kind. */
  alerts: Record<AlertKind, number>;
}

/** A decoded health report as written to its JSON Lines file. */
export interface HealthLine extends DecodedHealth {
  readonly receivedAt: string;
  readonly timeIso: string;
  /** The message's Poly1305 tag, hex: tells a later copy from another message under the same counter. */
  readonly tag: string;
}

/** A decoded summary as written to the JSON Lines file. */
export interface SummaryLine extends DecodedSummary {
  readonly receivedAt: string;
  readonly windowStartIso: string;
  /** The message's Poly1305 tag, hex. */
  readonly tag: string;
}

/** What became of a message: stored, refused by the opener, or not stored. */
export type HandleResult =
  | OpenResult
  | {
      readonly ok: false;
      /** window-duplicate and window-conflict are acknowledged; store-failed is not (the broker delivers it again). */
      readonly cause: "window-duplicate" | "window-conflict" | "store-failed";
      readonly detail: string;
    };

/** Alerts kept for the first `onAlert` listener when raised before it was registered (at start-up). */
const EARLY_ALERTS = 100;

export class Collector {
  readonly stats: CollectorStats;
  readonly #options: CollectorOptions;
  readonly #opener: MessageOpener;
  readonly #store: CollectorStore;
  readonly #failures: StoreFailures;
  readonly #log: Log;
  readonly #summaryListeners: Array<(line: SummaryLine) => void> = [];
  readonly #healthListeners: Array<(line: HealthLine) => void> = [];
  readonly #rejectListeners: Array<(cause: RejectCause, topic: string) => void> = [];
  readonly #alertListeners: Array<(alert: Alert) => void> = [];
  #earlyAlerts: Alert[] | undefined = [];
  /** "device/epoch" whose counter reuse was alerted (once per run; every message is counted). */
  readonly #reuseAlerted = new Set<string>();
  #session: BrokerSession | undefined;
  /** The pinned CA, PEM, for an mqtts:// broker. */
  readonly #ca: string | undefined;
  readonly #clientId: string;
  readonly #persistent: boolean;
  readonly #retry: { readonly first: number; readonly max: number };
  #checkpointTimer: NodeJS.Timeout | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#opener = new MessageOpener(options.keyring, options.opener);
    this.#log = options.log ?? (() => {});
    this.#ca = brokerCa(options.brokerUrl, options.ca);
    this.#retry = options.storeRetryMs ?? { first: 1000, max: 30_000 };
    this.#failures = new StoreFailures(this.#log, (alert) => this.#raise(alert, false));
    this.stats = {
      accepted: 0,
      summaries: 0,
      healthReports: 0,
      rejected: Object.fromEntries(REJECT_CAUSES.map((c) => [c, 0])) as Record<RejectCause, number>,
      windowDuplicates: 0,
      windowConflicts: 0,
      windowsUnchecked: 0,
      store: Object.assign(this.#failures.stats, { paused: false, replayedLines: 0 }),
      alerts: Object.fromEntries(ALERT_KINDS.map((k) => [k, 0])) as Record<AlertKind, number>,
    };
    const files = [options.stateFile, options.outputFile, options.healthFile].filter((f): f is string => f !== undefined);
    this.#persistent = files.length > 0;
    this.#clientId = options.clientId ?? (files.length > 0 ? stableClientId(dirname(resolve(files[0]!))) : `civicnode-collector-${process.pid}`);
    const alertsFile = options.alertsFile ?? (options.stateFile ? join(dirname(options.stateFile), ALERTS_FILE) : undefined);
    const ops = options.fileOps ?? NODE_FILE_OPS;
    for (const file of [...files, alertsFile]) {
      if (!file) continue;
      try {
        ops.mkdir(dirname(file));
      } catch {
        // A folder that cannot be made fails its first write, which is reported as such.
      }
    }
    this.#store = new CollectorStore(
      { summaries: options.outputFile, health: options.healthFile, alerts: alertsFile, checkpoint: options.stateFile },
      this.#opener,
      {
        log: this.#log,
        keys: () => this.#keyIds(),
        ops,
        windowsPerDevice: options.windowsPerDevice,
        checkpointLines: options.checkpointLines,
        onWritten: (file) => this.#failures.succeeded(file),
        onLateRecovery: (report) => this.#reportRecovery(report),
      },
    );
    const report = this.#store.recover();
    this.#reportRecovery(report);
    for (const failure of report.failures) this.#failures.failed(failure, this.#retry.first);
  }

  /** The MQTT client id (the broker's session name). */
  get clientId(): string {
    return this.#clientId;
  }

  onSummary(listener: (line: SummaryLine) => void): void {
    this.#summaryListeners.push(listener);
  }

  onHealth(listener: (line: HealthLine) => void): void {
    this.#healthListeners.push(listener);
  }

  onReject(listener: (cause: RejectCause, topic: string) => void): void {
    this.#rejectListeners.push(listener);
  }

  /** Told of every alert; the first listener also hears those raised before it (at start-up). */
  onAlert(listener: (alert: Alert) => void): void {
    this.#alertListeners.push(listener);
    const early = this.#earlyAlerts;
    this.#earlyAlerts = undefined;
    for (const alert of early ?? []) tell(listener, alert, this.#log);
  }

  get rejectedTotal(): number {
    return REJECT_CAUSES.reduce((sum, cause) => sum + this.stats.rejected[cause], 0);
  }

  /** Connects and subscribes; resolves once the subscription is acknowledged. Reconnects by itself afterwards. */
  start(): Promise<void> {
    const session = new BrokerSession(
      {
        brokerUrl: this.#options.brokerUrl,
        ca: this.#ca,
        clientId: this.#clientId,
        persistent: this.#persistent,
        filters: [SUMMARY_FILTER, HEALTH_FILTER],
        retryMs: this.#retry,
        log: this.#log,
        onPause: (paused) => (this.stats.store.paused = paused),
      },
      (topic, payload) => {
        const result = this.handle(topic, payload);
        return !result.ok && result.cause === "store-failed" ? "hold" : "ack";
      },
    );
    this.#session = session;
    return session.start();
  }

  /**
   * Verifies one message and stores it; counts and reports the outcome. Never throws for bad input
   * or a failing disk: `store-failed` says the message is not stored (and must not be acknowledged).
   */
  handle(topic: string, payload: Uint8Array): HandleResult {
    let result: OpenResult;
    try {
      result = this.#opener.verify(topic, payload);
    } catch (error) {
      // A defect in the opener must not take the collector down; it is counted as malformed input.
      this.#log("error", "collector-open-defect", { message: (error as Error).message });
      result = { ok: false, cause: "malformed", detail: "internal error" };
    }
    try {
      return result.ok ? this.#keep(result) : this.#refuse(result, topic);
    } catch (error) {
      const failure = error instanceof StoreWriteError ? error : new StoreWriteError("collector store", error);
      this.#failures.failed(failure, this.#retry.first);
      return { ok: false, cause: "store-failed", detail: `${failure.file}: ${failure.code}` };
    }
  }

  async stop(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (session) await session.stop();
    if (this.#checkpointTimer) clearTimeout(this.#checkpointTimer);
    this.#checkpointTimer = undefined;
    this.#checkpoint();
  }

  /** Reports what the store's recovery found: the journal lines replayed, damaged lines (alerted). */
  #reportRecovery(report: RecoveryReport): void {
    this.stats.store.replayedLines = report.replayed;
    if (report.replayed > 0) this.#log("info", "collector-journal-replayed", { lines: report.replayed });
    for (const damage of report.damaged) {
      this.stats.store.tornLines++;
      this.#raise(tornLineAlert(damage.file, damage.offset, damage.bytes, damage.atEnd), false);
    }
  }

  #keep(result: Extract<OpenResult, { ok: true }>): HandleResult {
    const receivedAt = new Date().toISOString();
    const tag = Buffer.from(result.use.tag ?? []).toString("hex");
    if (result.kind === "health") {
      const line: HealthLine = { receivedAt, timeIso: new Date(result.health.time * 1000).toISOString(), ...result.health, tag };
      this.#store.appendHealth(line, result.use);
      this.stats.accepted++;
      this.stats.healthReports++;
      this.#stored();
      for (const listener of this.#healthListeners) tell(listener, line, this.#log);
      return result;
    }
    const summary = result.summary;
    const placement = this.#store.placeSummary(summary);
    if (placement.verdict !== "new") {
      const detail = `window ${new Date(summary.windowStart * 1000).toISOString()} is stored from epoch ${placement.stored.epoch} counter ${placement.stored.counter}`;
      if (placement.verdict === "conflict") {
        this.#raise(windowConflictAlert(summary.device, summary.windowStart, placement.stored, result.use), true);
        this.#store.noteUse(result.use);
        this.stats.windowConflicts++;
        return { ok: false, cause: "window-conflict", detail };
      }
      this.#store.noteUse(result.use);
      this.stats.windowDuplicates++;
      this.#log("info", "summary-window-duplicate", { device: summary.device, epoch: summary.epoch, counter: summary.counter, detail });
      return { ok: false, cause: "window-duplicate", detail };
    }
    if (placement.unchecked) {
      this.stats.windowsUnchecked++;
      this.#log("warn", "summary-window-unchecked", { device: summary.device, windowStart: summary.windowStart, reason: "older than every window the index holds" });
    }
    const line: SummaryLine = { receivedAt, windowStartIso: new Date(summary.windowStart * 1000).toISOString(), ...summary, tag };
    this.#store.appendSummary(line, summary, result.use, placement);
    this.stats.accepted++;
    this.stats.summaries++;
    this.#stored();
    for (const listener of this.#summaryListeners) tell(listener, line, this.#log);
    return result;
  }

  #refuse(result: Extract<OpenResult, { ok: false }>, topic: string): HandleResult {
    if (result.cause === "counter-reuse" && result.source) {
      const key = `${result.source.device}/${result.source.epoch}`;
      if (!this.#reuseAlerted.has(key)) {
        this.#raise(counterReuseAlert(result.source, result.detail), true); // stored before the message is acknowledged
        this.#reuseAlerted.add(key);
      }
    }
    this.stats.rejected[result.cause]++;
    // A QoS 1 copy is expected after every reconnect: worth a line in the log, not a warning.
    this.#log(result.cause === "duplicate" ? "info" : "warn", "summary-rejected", {
      cause: result.cause,
      topic: topic.slice(0, 200),
      detail: result.detail.slice(0, 200),
    });
    for (const listener of this.#rejectListeners) tell((cause: RejectCause) => listener(cause, topic), result.cause, this.#log);
    return result;
  }

  /** Logs, stores (`mustStore`: throws StoreWriteError when it cannot) and tells the listeners. */
  #raise(alert: Alert, mustStore: boolean): void {
    try {
      this.#store.appendAlert(alert);
    } catch (error) {
      if (mustStore) throw error;
      // An alert about a failing disk often cannot be written to it: the log and the listeners have it.
    }
    this.stats.alerts[alert.kind]++;
    const detail: Record<string, string | number> = { kind: alert.kind, detail: alert.detail.slice(0, 400), action: alert.action.slice(0, 300) };
    if (alert.device !== undefined) detail.device = alert.device;
    if (alert.epoch !== undefined) detail.epoch = alert.epoch;
    this.#log("error", "collector-alert", detail as LogDetail);
    if (this.#earlyAlerts) {
      if (this.#earlyAlerts.length < EARLY_ALERTS) this.#earlyAlerts.push(alert);
      return;
    }
    for (const listener of this.#alertListeners) tell(listener, alert, this.#log);
  }

  /** After a stored message: a checkpoint now when enough lines await one, else soon. */
  #stored(): void {
    if (this.#store.checkpointDue) {
      this.#checkpoint();
      return;
    }
    const delay = this.#options.checkpointMs ?? 5000;
    if (this.#checkpointTimer || !Number.isFinite(delay)) return;
    this.#checkpointTimer = setTimeout(() => {
      this.#checkpointTimer = undefined;
      this.#checkpoint();
    }, delay);
    this.#checkpointTimer.unref();
  }

  #checkpoint(): void {
    try {
      this.#store.checkpoint();
    } catch (error) {
      // The journal holds everything the checkpoint would: a failed one costs replay time at the next start.
      this.#failures.failed(error instanceof StoreWriteError ? error : new StoreWriteError("collector state", error), this.#retry.first);
    }
  }

  /** Key ids by device and root key, derived once each (every checkpoint names them). */
  readonly #keyIdCache = new WeakMap<Uint8Array, string>();

  /** Per device in the keyring, the public fingerprint of its key, hex. */
  #keyIds(): Map<string, string> {
    const ids = new Map<string, string>();
    for (const device of this.#options.keyring.devices) {
      const entry = this.#options.keyring.get(device)!;
      let id = this.#keyIdCache.get(entry.rootKey);
      if (id === undefined) {
        id = Buffer.from(keyIdFromRoot(entry.rootKey, device)).toString("hex");
        this.#keyIdCache.set(entry.rootKey, id);
      }
      ids.set(device, id);
    }
    return ids;
  }
}

/** Calls a listener; one that throws is logged, and neither stops the others nor un-stores the message. */
function tell<T>(listener: (value: T) => void, value: T, log: Log): void {
  try {
    listener(value);
  } catch (error) {
    log("error", "collector-listener-failed", { message: String((error as Error)?.message ?? error).slice(0, 200) });
  }
}

/** A client id that names this collector's session at every start: the host and the folder of its files. */
function stableClientId(folder: string): string {
  return `civicnode-collector-${createHash("sha256").update(`${hostname()}\0${folder}`).digest("hex").slice(0, 12)}`;
}

/** The CA to pin for the broker: required with mqtts://, refused with mqtt:// (no silent plaintext). */
function brokerCa(brokerUrl: string, ca: string | Uint8Array | undefined): string | undefined {
  const secure = /^mqtts:/i.test(brokerUrl);
  if (secure && ca === undefined) throw new TypeError("an mqtts:// broker needs the CA certificate to pin (ca)");
  if (!secure && ca !== undefined) throw new TypeError("a CA was given for a plaintext broker URL; use mqtts://");
  return ca === undefined ? undefined : pinnedCaPem(ca);
}
