/**
 * The reference collector: subscribes to every node's summaries and health reports, verifies and
 * decrypts them, and stores them in its database (SQLite in the state folder, or PostgreSQL shared
 * by several collectors). Rejected messages are counted by cause and recorded without their bytes;
 * nothing the broker sends can stop it, and neither can its database.
 *
 *   subscribe (broker-session.ts, in batches) -> open (message-opener.ts) -> admit, one
 *     transaction per batch with the replay state (db/admission.ts) -> record rejections and
 *     alerts -> acknowledge, tell listeners, export
 *
 * Exactly once: a message is acknowledged (PUBACK) only once its batch is committed, and the
 * database judges every counter under its unique keys (device, epoch, counter) and (device,
 * window), so a broker's redelivery, a node's resend and the same message at two collectors are
 * stored once. When the database refuses (a full disk, a read-only folder, a server gone), no
 * message of the batch is acknowledged and consumption pauses, so that the broker keeps them and
 * what follows; the failure is logged once per episode, counted and alerted, and so is the
 * recovery. Alerts raised while the database refuses are kept (up to PENDING_ALERTS) and recorded
 * once it takes writes again.
 *
 * Example:
 *   const db = await openCollectorDb({ location: join(stateDir, COLLECTOR_DB_FILE) });
 *   const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1883", keyring, db });
 *   collector.onSummary((s) => console.log(s.device, s.channels));
 *   collector.onAlert((a) => console.error(a.kind, a.detail, a.action));
 *   await collector.start();
 */
import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { Log, LogDetail } from "../../src/platform.js";
import { parseNodeTopic } from "../../src/uplink/topics.js";
import { keyIdFromRoot } from "../../src/wire/key-schedule.js";
import { NODE_FILE_OPS } from "../node/atomic-file.js";
import { pinnedCaPem } from "../node/pinned-ca.js";
import { ALERT_KINDS, disclosureForgedAlert, windowConflictAlert, type Alert, type AlertKind } from "./alerts.js";
import { AuditChainWatch } from "./audit-chain-watch.js";
import { BrokerSession, DEFAULT_BATCH, type BatchLimits, type BrokerMessage, type Delivery } from "./broker-session.js";
import { openedMessageOf, type AdmitOutcome, type CollectorDb, type DeviceKey, type OpenedMessage, type RetentionPolicy } from "./db/collector-db.js";
import { CounterAlerts } from "./counter-alerts.js";
import { CollectorDbError } from "./db/db-errors.js";
import type { PolicyRegistry } from "./policy-registry.js";
import { PolicySources } from "./policy-sources.js";
import { DisclosureStore } from "./disclosure-store.js";
import { disclosedPolicyOf } from "./policy-agreement.js";
import { PolicyMismatches } from "./policy-mismatches.js";
import { EpochJumps } from "./epoch-jumps.js";
import { JsonLinesLog } from "./json-lines-log.js";
import type { Keyring } from "./keyring.js";
import { REJECT_CAUSES, MessageOpener, type DecodedHealth, type DecodedSummary, type MessageOpenerOptions, type RejectCause } from "./message-opener.js";
import { RejectionBursts, type RejectionBurstOptions } from "./rejection-bursts.js";
import { SilentNodeWatch } from "./silent-nodes.js";
import { StoreFailures, StoreWriteError, type StoreStats } from "./store-failures.js";

export const SUMMARY_FILTER = "civicnode/+/+/summary";
export const HEALTH_FILTER = "civicnode/+/+/health";
/** Retained disclosures: every instance subscribes to all of them (MQTT 5 §4.8.2: a shared subscription gets no retained messages). */
export const DISCLOSURE_FILTER = "civicnode/+/+/disclosure";

/** Alerts kept while the database refuses them, recorded once it takes writes again. */
const PENDING_ALERTS = 100;
/** Alerts kept for the first `onAlert` listener when raised before it was registered (at start-up). */
const EARLY_ALERTS = 100;
/** How often the timed watch runs (silent nodes, settled epoch jumps); the first a minute after start, once the broker's backlog is in. */
const WATCH_EVERY_MS = 60_000;
/** How often retention runs (and once at start). */
const RETENTION_EVERY_MS = 3_600_000;

export interface RetentionSettings {
  /**
   * Days a summary is kept after its window ended, per device, for a device whose policy does not
   * say: a node's signed policy (its retention.summariesDays) always decides for its summaries.
   */
  readonly summaryDays: number | ((device: string) => number);
  readonly healthDays: number;
  readonly rejectionDays: number;
}

/** Kept for good unless configured: deleting is what must be decided and disclosed. */
export const KEEP_EVERYTHING: RetentionSettings = { summaryDays: Infinity, healthDays: Infinity, rejectionDays: Infinity };

export interface CollectorOptions {
  readonly brokerUrl: string;
  readonly keyring: Keyring;
  /** The operator's Ed25519 public key, which signs every node's disclosure; without it disclosures are kept unverified. */
  readonly operatorKey?: Uint8Array;
  /** The database, opened and migrated (db/open-collector-db.ts); the caller closes it after stop(). */
  readonly db: CollectorDb;
  /**
   * PEM CA certificate(s): required with an mqtts:// broker, and the only CA trusted for its
   * certificate (pinned; the system's public roots are not used). Refused with mqtt://.
   */
  readonly ca?: string | Uint8Array;
  /**
   * The MQTT client id, which names the broker's session. Default: derived from the host name, the
   * database and the group, so a restarted collector resumes its session. Every member of a group
   * needs its own.
   */
  readonly clientId?: string;
  /** An MQTT 5 shared subscription group: the collectors of one group split the messages. */
  readonly group?: string;
  /** Session Expiry Interval of a group member's session (s); default 7 days (broker-session.ts). */
  readonly sessionExpirySeconds?: number;
  /** A persistent session (default true): the broker keeps what arrives while the collector is away. */
  readonly persistent?: boolean;
  /** Messages per transaction and how long the first waits for others; default 200 and 10 ms. */
  readonly batch?: BatchLimits;
  /** JSON Lines export of what is stored (one object per line, `kind` "summary" or "health"), written after each commit. */
  readonly jsonl?: string;
  /** What is deleted when (default: nothing). */
  readonly retention?: RetentionSettings;
  readonly log?: Log;
  /** Waits before consuming again after a failed write (ms): the first, doubling up to the last. Default 1 s to 30 s. */
  readonly storeRetryMs?: { readonly first: number; readonly max: number };
  /** Options of the message opener (clock for the epoch bound, sizes). */
  readonly opener?: MessageOpenerOptions;
  /** The policies the operator signed per node (policy-registry.ts): every message must be bound to one of its node's. */
  readonly policies?: PolicyRegistry;
  /** The time now (Unix ms); default Date.now. */
  readonly now?: () => number;
  /** How long a gap in a device's audit chain that a missing health report leaves may still be filled by it (ms); default 15 minutes. */
  readonly auditGapSettleMs?: number;
  /** When refusals on one device's topics or one topic are a rejection-burst (rejection-bursts.ts); default 20 within 10 minutes. */
  readonly rejectionBurst?: RejectionBurstOptions;
  /** Epochs a device may move on between two of its messages before an epoch-jump is raised (epoch-jumps.ts); default 1. */
  readonly epochJumpSteps?: number;
  /** How long a possible epoch jump is held for late messages to explain it before it is raised (ms); default 15 minutes. */
  readonly epochJumpSettleMs?: number;
  /**
   * How often a started collector runs its timed watch (ms): silent nodes (silent-nodes.ts), epoch
   * jumps that have settled, newer policies still without their disclosure (policy-mismatches.ts).
   * Default a minute, the first a minute after start; 0: never (watchNow() still does).
   */
  readonly watchEveryMs?: number;
  /**
   * How long after a node's verified disclosure arrives its messages under another policy are still
   * its past (an outbox draining after an update), and how long a message under a newer policy
   * waits for that policy's disclosure, before a policy-mismatch is raised (policy-mismatches.ts);
   * default 15 minutes, 1 s to a day.
   */
  readonly policyMismatchGraceMs?: number;
}

export interface CollectorStats {
  /** Messages accepted and stored: summaries and health reports. */
  accepted: number;
  summaries: number;
  healthReports: number;
  /** Messages refused, by cause (`duplicate` is a harmless QoS 1 copy). */
  rejected: Record<RejectCause, number>;
  /** Summaries for a window already stored, with the same values under another counter: dropped. */
  windowDuplicates: number;
  /** Summaries for a window already stored, with other values: not stored, alerted. */
  windowConflicts: number;
  /** Failures of the database and of the export, and whether consumption is paused for them. */
  store: StoreStats & { paused: boolean };
  /** Lines the JSON Lines export could not write (the database has them). */
  exportFailures: number;
  /** Rows deleted by retention. */
  retained: { summaries: number; health: number; rejections: number };
  /** Alerts raised, by kind. */
  alerts: Record<AlertKind, number>;
  /** Health reports whose audit chain could not be checked (the database failed to read). */
  auditCheckFailures: number;
}

/** A decoded health report as listeners and the export see it. */
export interface HealthLine extends DecodedHealth {
  readonly receivedAt: string;
  readonly timeIso: string;
  /** The message's Poly1305 tag, hex: tells a later copy from another message under the same counter. */
  readonly tag: string;
}

/** A decoded summary as listeners and the export see it. */
export interface SummaryLine extends DecodedSummary {
  readonly receivedAt: string;
  readonly windowStartIso: string;
  /** The message's Poly1305 tag, hex. */
  readonly tag: string;
}

/** What became of a message: stored, or why not (`store-failed`: not stored, not to be acknowledged). */
export type HandleResult =
  | { readonly ok: true; readonly kind: "summary" | "health" }
  | { readonly ok: false; readonly cause: RejectCause | "window-duplicate" | "window-conflict" | "store-failed"; readonly detail: string };

/** What became of one message of a batch. */
type Judged =
  | { readonly kind: "opened"; readonly message: OpenedMessage }
  | { readonly kind: "rejected"; readonly topic: string; readonly cause: RejectCause; readonly detail: string }
  | { readonly kind: "disclosure" };

export class Collector {
  readonly stats: CollectorStats;
  readonly #options: CollectorOptions;
  readonly #db: CollectorDb;
  readonly #opener: MessageOpener;
  readonly #auditWatch: AuditChainWatch;
  readonly #failures: StoreFailures;
  readonly #log: Log;
  readonly #now: () => number;
  readonly #summaryListeners: Array<(line: SummaryLine) => void> = [];
  readonly #healthListeners: Array<(line: HealthLine) => void> = [];
  readonly #rejectListeners: Array<(cause: RejectCause, topic: string) => void> = [];
  readonly #alertListeners: Array<(alert: Alert) => void> = [];
  #earlyAlerts: Alert[] | undefined = [];
  /** Alerts the database refused, to record once it takes writes again. */
  readonly #pendingAlerts: Alert[] = [];
  /**
   * When the latest batch was received: each batch is received later than the one before, also
   * within one millisecond, so that the audit check tells batches apart by it (audit-continuity.ts).
   */
  #lastReceivedAtMs = -Infinity;
  /** Counter reuses and restarts alerted (once per device and epoch in a run; every message is counted). */
  readonly #counterAlerts = new CounterAlerts();
  readonly #epochJumps: EpochJumps;
  /** Stored messages under another policy than their node's verified disclosure names. */
  readonly #policyMismatches: PolicyMismatches;
  readonly #bursts: RejectionBursts;
  readonly #silentNodes: SilentNodeWatch;
  #watchTimer: NodeJS.Timeout | undefined;
  /** The timed watch running or queued (one at a time). */
  #watchRuns: Promise<unknown> = Promise.resolve();
  #watchFailing = false;
  readonly #export: JsonLinesLog | undefined;
  #exportFailing = false;
  /** The latest disclosure of each device in the keyring, as published (retained). */
  readonly disclosures: DisclosureStore;
  #session: BrokerSession | undefined;
  readonly #ca: string | undefined;
  readonly #clientId: string;
  readonly #retry: { readonly first: number; readonly max: number };
  #retentionTimer: NodeJS.Timeout | undefined;
  /** The policies each device may seal under, and the retention they promise. */
  readonly #policySources: PolicySources;
  #retentionRun: Promise<void> = Promise.resolve();
  /** Key ids by root key, derived once each (the keyring may gain devices while the collector runs). */
  readonly #keyIds = new WeakMap<Uint8Array, string>();

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#db = options.db;
    this.disclosures = new DisclosureStore(options.keyring, options.operatorKey);
    this.#policySources = new PolicySources(options.policies, this.disclosures);
    this.#opener = new MessageOpener(options.keyring, { ...options.opener, policies: this.#policySources });
    this.#auditWatch = new AuditChainWatch(options.db, { settleMs: options.auditGapSettleMs });
    this.#log = options.log ?? (() => {});
    this.#now = options.now ?? Date.now;
    this.#ca = brokerCa(options.brokerUrl, options.ca);
    this.#retry = options.storeRetryMs ?? { first: 1000, max: 30_000 };
    this.#failures = new StoreFailures(this.#log, (alert) => this.#raise(alert));
    this.#epochJumps = new EpochJumps(options.db, { maxSteps: options.epochJumpSteps, settleMs: options.epochJumpSettleMs, log: this.#log });
    this.#bursts = new RejectionBursts((device) => options.keyring.get(device) !== undefined, options.rejectionBurst);
    this.#silentNodes = new SilentNodeWatch(options.db, this.#now);
    this.#policyMismatches = new PolicyMismatches((device) => disclosedPolicyOf(this.disclosures.latest(device)), { graceMs: options.policyMismatchGraceMs });
    this.stats = {
      accepted: 0,
      summaries: 0,
      healthReports: 0,
      rejected: Object.fromEntries(REJECT_CAUSES.map((c) => [c, 0])) as Record<RejectCause, number>,
      windowDuplicates: 0,
      windowConflicts: 0,
      store: Object.assign(this.#failures.stats, { paused: false }),
      exportFailures: 0,
      retained: { summaries: 0, health: 0, rejections: 0 },
      alerts: Object.fromEntries(ALERT_KINDS.map((k) => [k, 0])) as Record<AlertKind, number>,
      auditCheckFailures: 0,
    };
    this.#clientId = options.clientId ?? stableClientId(options.db.location, options.group);
    if (options.jsonl !== undefined) {
      try {
        NODE_FILE_OPS.mkdir(dirname(options.jsonl));
      } catch {
        // A folder that cannot be made fails the first export, which is reported as such.
      }
      this.#export = new JsonLinesLog(options.jsonl);
    }
  }

  /** The MQTT client id (the broker's session name). */
  get clientId(): string {
    return this.#clientId;
  }

  /** The broker session's counters (received, acknowledged, left to the broker, connections), once started. */
  get session(): BrokerSession | undefined {
    return this.#session;
  }

  get db(): CollectorDb {
    return this.#db;
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

  /**
   * Records the keyring's devices, applies retention once, connects and subscribes; resolves once
   * the subscription is acknowledged. Reconnects by itself afterwards.
   */
  async start(): Promise<void> {
    await this.prepare();
    this.#scheduleRetention(0);
    const session = new BrokerSession(
      {
        brokerUrl: this.#options.brokerUrl,
        ca: this.#ca,
        clientId: this.#clientId,
        persistent: this.#options.persistent ?? true,
        filters: [SUMMARY_FILTER, HEALTH_FILTER],
        unsharedFilters: [DISCLOSURE_FILTER],
        group: this.#options.group,
        sessionExpirySeconds: this.#options.sessionExpirySeconds,
        batch: this.#options.batch ?? DEFAULT_BATCH,
        retryMs: this.#retry,
        log: this.#log,
        onPause: (paused) => (this.stats.store.paused = paused),
      },
      { deliverBatch: (messages) => this.handleBatch(messages) },
    );
    this.#session = session;
    await session.start();
    this.#scheduleWatch();
  }

  /**
   * Records the keyring's devices in the database (start() does it first): a device whose key
   * changed starts its counters over there. Returns the devices re-keyed.
   */
  async prepare(): Promise<readonly string[]> {
    const devices: DeviceKey[] = this.#options.keyring.devices.map((device) => ({ device, zone: this.#options.keyring.get(device)!.zone, keyId: this.#keyIdOf(device) }));
    const { reset } = await this.#db.syncDevices(devices);
    for (const device of reset) this.#log("warn", "collector-device-rekeyed", { device, detail: "the keyring holds a new key for it: its counters start over" });
    return reset;
  }

  /** Takes no more messages, stores and acknowledges the batch in hand, ends the connection. The database stays open. */
  async stop(): Promise<void> {
    const session = this.#session;
    this.#session = undefined;
    if (this.#retentionTimer) clearTimeout(this.#retentionTimer);
    this.#retentionTimer = undefined;
    if (this.#watchTimer) clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
    if (session) await session.stop();
    await this.#retentionRun;
    await this.#watchRuns;
  }

  /**
   * Runs the timed watch now, with the collector's clock (a started collector runs it every
   * watchEveryMs): nodes gone silent or back (silent-nodes.ts), epoch jumps held long enough
   * (epoch-jumps.ts), messages under a newer policy whose disclosure has not come
   * (policy-mismatches.ts). Raises and returns the alerts; a check the database fails is logged (once
   * until one succeeds), never thrown.
   */
  watchNow(): Promise<readonly Alert[]> {
    const run = this.#watchRuns.then(async () => {
      const alerts = await this.#epochJumps.settle(this.#now());
      alerts.push(...this.#policyMismatches.settle(this.#now()));
      try {
        // While the store refuses writes, nodes only look silent: store-failed says so already.
        if (!this.stats.store.paused) alerts.push(...(await this.#silentNodes.check()));
        if (this.#watchFailing) this.#log("info", "collector-watch-recovered", {});
        this.#watchFailing = false;
      } catch (error) {
        if (!this.#watchFailing) this.#log("warn", "collector-watch-failed", { message: String((error as Error)?.message ?? error).slice(0, 200), detail: "silent nodes are looked for again at the next run" });
        this.#watchFailing = true;
      }
      // Recorded one by one, not through the pending queue: a street-wide outage raises a node-silent per node.
      for (const [i, alert] of alerts.entries()) {
        try {
          await this.#db.recordAlert(alert);
        } catch {
          for (const rest of alerts.slice(i)) this.#raise(rest); // kept until the database takes writes (up to PENDING_ALERTS)
          break;
        }
        this.#announce(alert);
      }
      return alerts;
    });
    this.#watchRuns = run;
    return run;
  }

  /**
   * Verifies a batch of messages, stores what is new in one transaction, records what was refused;
   * answers per message whether the broker may forget it. Never throws: when the database refuses,
   * every message is "hold" (nothing of the batch was stored, or what was is judged a copy when the
   * broker delivers it again).
   */
  async handleBatch(messages: readonly BrokerMessage[]): Promise<Delivery[]> {
    return (await this.#handle(messages)).map((result) => (!result.ok && result.cause === "store-failed" ? "hold" : "ack"));
  }

  /** One message through the batch path (tests, tools): what became of it. */
  async handle(topic: string, payload: Uint8Array): Promise<HandleResult> {
    return (await this.#handle([{ topic, payload }]))[0]!;
  }

  async #handle(messages: readonly BrokerMessage[]): Promise<HandleResult[]> {
    const receivedAtMs = Math.max(this.#now(), this.#lastReceivedAtMs + 1);
    this.#lastReceivedAtMs = receivedAtMs;
    const judged = messages.map((message) => this.#judge(message, receivedAtMs));
    const opened = judged.flatMap((j) => (j.kind === "opened" ? [j.message] : []));
    let outcomes: AdmitOutcome[];
    const alerts: Alert[] = [];
    try {
      outcomes = await this.#admit(opened);
      // What the database judged a refusal is recorded like the opener's refusals, after the admission.
      for (const [i, message] of opened.entries()) {
        const outcome = outcomes[i]!;
        if (outcome.outcome === "window-conflict") {
          const summary = message.summary!;
          alerts.push(windowConflictAlert(summary.device, summary.windowStart, outcome.stored, { epoch: summary.epoch, counter: summary.counter }, new Date(receivedAtMs)));
        }
      }
      alerts.push(...this.#counterAlerts.of(opened, outcomes, new Date(receivedAtMs)));
      alerts.push(...this.#policyMismatches.of(opened, outcomes, new Date(receivedAtMs)));
      alerts.push(...(await this.#checkAuditChains(opened, outcomes, receivedAtMs)));
      await this.#epochJumps.note(opened, outcomes, receivedAtMs);
      for (const j of judged) {
        if (j.kind === "rejected") await this.#db.recordRejection({ timeMs: receivedAtMs, topic: j.topic, cause: j.cause, detail: j.detail });
      }
      for (const [i, message] of opened.entries()) {
        const outcome = outcomes[i]!;
        if (outcome.outcome === "replay" || outcome.outcome === "counter-reuse" || outcome.outcome === "duplicate" || outcome.outcome === "stale-key") {
          await this.#db.recordRejection({ timeMs: receivedAtMs, topic: message.topic, cause: outcome.outcome, detail: outcome.detail });
        }
      }
      // Alerts of this batch are stored before its messages are acknowledged: a redelivery raises them again.
      for (const alert of alerts) await this.#db.recordAlert(alert);
      await this.#flushPendingAlerts();
    } catch (error) {
      const failure = asStoreError(this.#db, error);
      this.#failures.failed(failure, this.#retry.first);
      return messages.map(() => ({ ok: false, cause: "store-failed", detail: `${failure.file}: ${failure.code}` }));
    }
    this.#failures.succeeded(storeName(this.#db));
    for (const alert of alerts) {
      this.#counterAlerts.raised(alert);
      this.#policyMismatches.raised(alert);
      this.#announce(alert);
    }
    const results: HandleResult[] = [];
    let next = 0;
    for (const j of judged) {
      if (j.kind === "rejected") {
        this.#refused(j.cause, j.topic, j.detail);
        results.push({ ok: false, cause: j.cause, detail: j.detail });
      } else if (j.kind === "disclosure") {
        results.push({ ok: false, cause: "topic", detail: "a disclosure: kept for the API, not stored" });
      } else {
        const outcome = outcomes[next++]!;
        this.#settled(j.message, outcome);
        results.push(outcome.outcome === "stored" ? { ok: true, kind: j.message.kind } : { ok: false, cause: outcome.outcome, detail: outcome.detail });
      }
    }
    return results;
  }

  /**
   * Admits a batch. A message opened under another key than the database holds for its device (this
   * collector's keyring is older or newer than the one that wrote it) would make the whole batch
   * fail, and with it every device: such a batch is admitted message by message, and those messages
   * are refused as `stale-key` (recorded, alerted in the log), the others stored.
   */
  async #admit(opened: readonly OpenedMessage[]): Promise<AdmitOutcome[]> {
    try {
      return await this.#db.admitBatch(opened);
    } catch (error) {
      if (!(error instanceof CollectorDbError) || error.failure !== "key-mismatch") throw error;
    }
    const outcomes: AdmitOutcome[] = [];
    for (const message of opened) {
      try {
        outcomes.push(await this.#db.admit(message));
      } catch (error) {
        if (!(error instanceof CollectorDbError) || error.failure !== "key-mismatch") throw error;
        this.#log("error", "collector-stale-key", { topic: message.topic.slice(0, 200), detail: error.message.slice(0, 300), action: "run every collector on the same keyring, and restart them after a re-key" });
        outcomes.push({ outcome: "stale-key", detail: error.message.slice(0, 200) });
      }
    }
    return outcomes;
  }

  /**
   * The audit-chain alerts of the health reports this batch stored (audit-chain-watch.ts), each
   * once: two reports of one batch complete the same finding. A check the database fails is
   * logged and counted; it does not hold the batch, whose reports are stored.
   */
  async #checkAuditChains(opened: readonly OpenedMessage[], outcomes: readonly AdmitOutcome[], receivedAtMs: number): Promise<Alert[]> {
    const alerts: Alert[] = [];
    const raised = new Set<string>();
    for (const [i, message] of opened.entries()) {
      if (message.kind !== "health" || outcomes[i]!.outcome !== "stored") continue;
      const health = message.health!;
      try {
        for (const alert of await this.#auditWatch.check(health, receivedAtMs)) {
          const key = `${alert.kind}\0${alert.detail}`;
          if (raised.has(key)) continue;
          raised.add(key);
          alerts.push(alert);
        }
      } catch (error) {
        this.stats.auditCheckFailures++;
        this.#log("warn", "collector-audit-check-failed", { device: health.device, counter: health.counter, message: String((error as Error)?.message ?? error).slice(0, 200), detail: "this report's place in the audit chain was not checked" });
      }
    }
    return alerts;
  }

  /** Opens one message: authentic and decoded, a disclosure, or refused with a cause. */
  #judge(message: BrokerMessage, receivedAtMs: number): Judged {
    const { topic, payload } = message;
    if (parseNodeTopic(topic)?.kind === "disclosure") {
      const verdict = this.disclosures.offer(topic, payload, receivedAtMs);
      if (verdict !== "kept") this.#log("warn", "collector-disclosure-refused", { topic: topic.slice(0, 200), reason: verdict });
      const device = parseNodeTopic(topic)!.device;
      const refused = verdict === "forged" ? this.disclosures.forgeryToAlert(device, receivedAtMs) : undefined;
      if (refused !== undefined) this.#raise(disclosureForgedAlert(device, topic.slice(0, 200), refused, new Date(receivedAtMs)));
      return { kind: "disclosure" };
    }
    try {
      const result = this.#opener.verify(topic, payload);
      if (!result.ok) return { kind: "rejected", topic, cause: result.cause, detail: result.detail };
      return { kind: "opened", message: openedMessageOf(result, topic, payload, this.#keyIdOf(result.use.device), receivedAtMs) };
    } catch (error) {
      // A defect in the opener must not take the collector down; it is counted as malformed input.
      this.#log("error", "collector-open-defect", { message: String((error as Error)?.message ?? error).slice(0, 200) });
      return { kind: "rejected", topic, cause: "malformed", detail: "internal error" };
    }
  }

  /** The public fingerprint of a keyring device's root key, hex. */
  #keyIdOf(device: string): string {
    const rootKey = this.#options.keyring.get(device)?.rootKey;
    if (!rootKey) return "";
    let id = this.#keyIds.get(rootKey);
    if (id === undefined) {
      id = Buffer.from(keyIdFromRoot(rootKey, device)).toString("hex");
      this.#keyIds.set(rootKey, id);
    }
    return id;
  }

  /** Counts, logs and tells what became of an opened message, after its commit. */
  #settled(message: OpenedMessage, outcome: AdmitOutcome): void {
    const receivedAt = new Date(message.receivedAtMs).toISOString();
    const tag = Buffer.from(message.tag).toString("hex");
    switch (outcome.outcome) {
      case "stored":
        this.stats.accepted++;
        if (message.kind === "summary") {
          const summary = message.summary!;
          this.stats.summaries++;
          const line: SummaryLine = { receivedAt, windowStartIso: new Date(summary.windowStart * 1000).toISOString(), ...summary, tag };
          this.#exportLine({ kind: "summary", ...line });
          for (const listener of this.#summaryListeners) tell(listener, line, this.#log);
        } else {
          const health = message.health!;
          this.stats.healthReports++;
          const line: HealthLine = { receivedAt, timeIso: new Date(health.time * 1000).toISOString(), ...health, tag };
          this.#exportLine({ kind: "health", ...line });
          for (const listener of this.#healthListeners) tell(listener, line, this.#log);
        }
        return;
      case "window-duplicate":
        this.stats.windowDuplicates++;
        this.#log("info", "summary-window-duplicate", { device: message.summary!.device, counter: message.summary!.counter, detail: outcome.detail.slice(0, 200) });
        return;
      case "window-conflict":
        this.stats.windowConflicts++;
        return;
      default:
        this.#refused(outcome.outcome, message.topic, outcome.detail);
    }
  }

  #refused(cause: RejectCause, topic: string, detail: string): void {
    this.stats.rejected[cause]++;
    // A QoS 1 copy is expected after every reconnect: worth a line in the log, not a warning.
    this.#log(cause === "duplicate" ? "info" : "warn", "summary-rejected", { cause, topic: topic.slice(0, 200), detail: detail.slice(0, 200) });
    for (const listener of this.#rejectListeners) tell((c: RejectCause) => listener(c, topic), cause, this.#log);
    const burst = this.#bursts.note(cause, topic, this.#now());
    if (burst) this.#raise(burst);
  }

  /** An alert raised outside a batch (a store failure and its recovery): recorded when the database can, announced now. */
  #raise(alert: Alert): void {
    if (this.#pendingAlerts.length < PENDING_ALERTS) this.#pendingAlerts.push(alert);
    this.#announce(alert);
    void this.#flushPendingAlerts().catch(() => undefined); // the next batch tries again
  }

  async #flushPendingAlerts(): Promise<void> {
    while (this.#pendingAlerts.length > 0) {
      await this.#db.recordAlert(this.#pendingAlerts[0]!);
      this.#pendingAlerts.shift();
    }
  }

  /** Counts, logs and tells an alert. */
  #announce(alert: Alert): void {
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

  /** Appends a stored message to the export; a failure is logged once per episode and counted, never held against the broker. */
  #exportLine(line: object): void {
    if (!this.#export) return;
    try {
      this.#export.append(JSON.stringify(line));
      if (this.#exportFailing) this.#log("info", "collector-export-recovered", { file: this.#export.path });
      this.#exportFailing = false;
    } catch (error) {
      this.stats.exportFailures++;
      if (!this.#exportFailing) this.#log("error", "collector-export-failed", { file: this.#export.path, code: String((error as { code?: unknown })?.code ?? "unknown"), detail: "the database has what the export misses" });
      this.#exportFailing = true;
    }
  }

  #scheduleWatch(): void {
    const everyMs = this.#options.watchEveryMs ?? WATCH_EVERY_MS;
    if (everyMs <= 0) return;
    this.#watchTimer = setTimeout(() => {
      this.#watchTimer = undefined;
      void this.watchNow().finally(() => {
        if (this.#session) this.#scheduleWatch();
      });
    }, everyMs);
    this.#watchTimer.unref();
  }

  #scheduleRetention(delayMs: number): void {
    const settings = this.#options.retention ?? KEEP_EVERYTHING;
    const days = settings.summaryDays;
    // Without policies to read and nothing configured, there is nothing to delete, ever.
    const fromPolicies = this.#options.policies !== undefined || this.#options.operatorKey !== undefined;
    if (!fromPolicies && typeof days === "number" && days === Infinity && settings.healthDays === Infinity && settings.rejectionDays === Infinity) return;
    this.#retentionTimer = setTimeout(() => {
      this.#retentionTimer = undefined;
      this.#retentionRun = this.applyRetention().finally(() => {
        if (this.#session) this.#scheduleRetention(RETENTION_EVERY_MS);
      });
    }, delayMs);
    this.#retentionTimer.unref();
  }

  /**
   * Deletes what is past its period now (it also runs hourly while started): a device's summaries
   * after the days its policy promises (or the configured days when it says nothing), health and
   * rejections after the configured periods. Never throws: a failure is logged and tried again.
   */
  async applyRetention(): Promise<void> {
    const settings = this.#options.retention ?? KEEP_EVERYTHING;
    const summaryDays = settings.summaryDays;
    const configured = typeof summaryDays === "number" ? () => summaryDays : summaryDays;
    const policy: RetentionPolicy = {
      summaryDays: (device) => this.#policySources.summariesDays(device) ?? configured(device),
      healthDays: (device) => this.#policySources.healthDays(device) ?? settings.healthDays,
      rejectionDays: settings.rejectionDays,
    };
    try {
      const deleted = await this.#db.applyRetention(policy, this.#now());
      this.stats.retained.summaries += deleted.summaries;
      this.stats.retained.health += deleted.health;
      this.stats.retained.rejections += deleted.rejections;
      if (deleted.summaries + deleted.health + deleted.rejections > 0) this.#log("info", "collector-retention", { ...deleted });
    } catch (error) {
      this.#log("warn", "collector-retention-failed", { message: String((error as Error)?.message ?? error).slice(0, 200), detail: "tried again in an hour" });
    }
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

/** What a store failure names: the database's engine and where it is (a URL without its password). */
function storeName(db: CollectorDb): string {
  return `${db.engine} ${db.location}`;
}

function asStoreError(db: CollectorDb, error: unknown): StoreWriteError {
  if (!(error instanceof CollectorDbError)) {
    // Not the database's trouble but a defect: logged as such, and the batch held all the same.
    return new StoreWriteError(storeName(db), Object.assign(new Error(String((error as Error)?.message ?? error)), { code: "defect" }));
  }
  return new StoreWriteError(storeName(db), Object.assign(new Error(error.message), { code: error.code }));
}

/** A client id that names this collector's session at every start: the host, the database and the group. */
function stableClientId(location: string, group: string | undefined): string {
  return `civicnode-collector-${createHash("sha256").update(`${hostname()}\0${location}\0${group ?? ""}`).digest("hex").slice(0, 12)}`;
}

/** The CA to pin for the broker: required with mqtts://, refused with mqtt:// (no silent plaintext). */
function brokerCa(brokerUrl: string, ca: string | Uint8Array | undefined): string | undefined {
  const secure = /^mqtts:/i.test(brokerUrl);
  if (secure && ca === undefined) throw new TypeError("an mqtts:// broker needs the CA certificate to pin (ca)");
  if (!secure && ca !== undefined) throw new TypeError("a CA was given for a plaintext broker URL; use mqtts://");
  return ca === undefined ? undefined : pinnedCaPem(ca);
}
