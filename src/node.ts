/**
 * A civicnode street node: the data path from bus bytes to a sealed summary on the network.
 *
 *   sample    -> each sensor's driver reads its part on its own interval (drops and counts bad frames)
 *   filter    -> each channel's filter chain (calibration, median, clamp, throttle)
 *   aggregate -> valid values update the open window's fixed-memory statistics; nothing raw is kept
 *   release   -> when the wall-clock window closes, the configured statistics, coarsened
 *   encode    -> a SenML pack in CBOR
 *   seal      -> COSE_Encrypt0 (ChaCha20/Poly1305) under the epoch key, bound to the topic
 *   send      -> the outbox stores the message on flash, publishes it with QoS 1 and deletes it when
 *                the broker acknowledges it (again after a reconnect or a reboot until then)
 * Identifiers (BLE advertiser addresses) never take this path: the scanner hands them to the
 * privacy intake the moment they arrive, where a keyed pseudonym feeds a distinct-count sketch and
 * the address is forgotten. Counts of people, devices and vehicles pass the release gate
 * (k-anonymity, differential privacy under a daily budget) before they are encoded.
 *
 * Example:
 *   const node = new CivicNode(platform, parseNodeConfig(json));
 *   node.start();
 */
import type { Platform, TimerHandle } from "./platform.js";
import type { NodeConfig } from "./policy/node-config.js";
import type { SensorDriver } from "./sensors/sensor-driver.js";
import { openSensor } from "./sensors/catalog.js";
import { FilterChain } from "./sensors/channel-filters.js";
import { statisticsFor, type ChannelStatistics } from "./aggregate/channel-statistics.js";
import { WindowAggregator } from "./aggregate/window-aggregator.js";
import { WindowSummaryLayout, type ReleasedChannel } from "./aggregate/window-summary.js";
import { IdentifierIntake } from "./privacy/identifier-intake.js";
import { DistinctDevices } from "./privacy/distinct-devices.js";
import { DiscreteLaplace } from "./privacy/discrete-laplace.js";
import { PrivacyBudget, type BudgetChannel } from "./privacy/privacy-budget.js";
import { ReleaseGate, type ChannelPrivacy } from "./privacy/release-gate.js";
import { ConfigError } from "./policy/node-config.js";
import { CborWriter } from "./wire/cbor-writer.js";
import { writeSenmlPack, type SenmlRecordOut } from "./wire/senml.js";
import { KEY_ID_STORE_KEY, UplinkSealer } from "./wire/uplink-sealer.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { HealthReport } from "./uplink/health-report.js";
import { CommandReceiver, type CommandOutcome, type CommandVerdict } from "./uplink/command-receiver.js";
import type { DownlinkCommand } from "./uplink/downlink-command.js";
import { PolicyUpdateReceiver } from "./uplink/policy-update-receiver.js";
import type { PolicyUpdateApplier } from "./policy/policy-update.js";
import { AuditLog } from "./policy/audit-log.js";
import { disclosureFor, encodeDisclosure } from "./policy/disclosure.js";
import { provisionedDisclosure } from "./policy/signed-disclosure.js";
import { messageAad, policyHashBytes } from "./wire/message-aad.js";
import { Outbox, type OutboxMessage } from "./uplink/outbox.js";
import { decodeWindowMark, WINDOW_MARK_KEY, windowMarkWrite } from "./aggregate/window-mark.js";
import type { StoreWrite } from "./platform.js";
import { ReportingStore } from "./reporting-store.js";
import { nodeTopic } from "./uplink/topics.js";

/** Largest SenML plaintext a message may take; a configuration that needs more fails loudly. */
const MAX_PLAINTEXT_BYTES = 3072;
/** COSE framing around the ciphertext: tag, headers, kid, partial IV, Poly1305 tag. */
const SEAL_OVERHEAD_BYTES = 96;
/** How often to look again when the wall clock is not yet set (SNTP pending). */
const CLOCK_SYNC_POLL_MS = 1000;

/** A sensor with the window channels its outputs feed. */
interface SensorSlot {
  readonly id: string;
  readonly driver: SensorDriver;
  /** For each routed output: its index in the driver's values... */
  readonly outputIndex: Int8Array;
  /** ...the window channel it feeds... */
  readonly channelIndex: Int8Array;
  /** ...and the channel's filter chain. */
  readonly filters: readonly FilterChain[];
  intervalMs: number;
  /** The sensor's sampling timer. */
  timer: TimerHandle | undefined;
  readonly configuredIntervalMs: number;
}

export interface NodeStats {
  windowsClosed: number;
  summariesSealed: number;
  healthReportsSealed: number;
  /** Messages that could not be encoded or sealed (logged with the reason). */
  sealFailures: number;
  /** Valid values that entered a window. */
  valuesAggregated: number;
  /** Values a channel filter dropped (throttle). */
  valuesFiltered: number;
  /** Times the wall clock was found behind the open window (set back, or behind the newest sealed window at boot), since boot. */
  clockBehind: number;
  /** Windows whose readings were discarded because the clock was set back past their start. */
  windowsDiscarded: number;
}

/** What a host may give the node beyond its platform. */
export interface NodeHostOptions {
  /**
   * Checks and stores a policy update (policy/policy-update.ts: it carries Ed25519, so the node
   * does not import it); without it the node refuses every update.
   */
  readonly applyPolicyUpdate?: PolicyUpdateApplier;
  /** Reboots the node, to run a policy just stored; called during a command, so schedule it. Without it the node runs on until it boots again. */
  readonly restart?: () => void;
}

export class CivicNode {
  readonly config: NodeConfig;
  readonly stats: NodeStats = { windowsClosed: 0, summariesSealed: 0, healthReportsSealed: 0, sealFailures: 0, valuesAggregated: 0, valuesFiltered: 0, clockBehind: 0, windowsDiscarded: 0 };
  readonly outbox: Outbox;
  readonly identifiers: IdentifierIntake;
  readonly #platform: Platform;
  readonly #store: ReportingStore;
  readonly #sensors: SensorSlot[] = [];
  readonly #window: WindowAggregator;
  readonly #layout: WindowSummaryLayout;
  readonly #health: HealthReport;
  readonly #gate: ReleaseGate;
  readonly #budget: PrivacyBudget;
  readonly #noise: DiscreteLaplace;
  readonly #budgetNames: readonly string[];
  readonly #distinct: DistinctDevices[] = [];
  readonly #plaintext = new CborWriter(MAX_PLAINTEXT_BYTES);
  readonly #sealer: UplinkSealer;
  /** Every summary's plaintext is padded to this size, so its length reveals nothing. */
  readonly #summaryBytes: number;
  readonly #summaryTopic: string;
  readonly #summaryAad: Uint8Array;
  readonly #healthTopic: string;
  readonly #healthAad: Uint8Array;
  readonly #disclosureTopic: string;
  readonly #disclosure: Uint8Array;
  readonly audit: AuditLog;
  readonly commands: CommandReceiver;
  readonly policyUpdates: PolicyUpdateReceiver;
  /** A window length set by command, applied when the open window closes. */
  #pendingWindowSeconds: number | undefined;
  readonly #timers: TimerHandle[] = [];
  #windowTimer: TimerHandle | undefined;
  #bootMonotonicMs = 0;
  #running = false;
  /** End of the newest window sealed (Unix ms), from the store: no window before it opens again. */
  #sealedThroughMs = 0;
  /** True while the wall clock reads earlier than the open window's start (set back). */
  #clockBehind = false;
  /** True once the open window took a value (a set-back clock then discards them). */
  #windowHasValues = false;

  constructor(platform: Platform, config: NodeConfig, host: NodeHostOptions = {}) {
    this.#platform = platform;
    this.config = config;
    this.#summaryTopic = nodeTopic(config.zone, config.device, "summary");
    // Bound to the topic and to the signed policy the node runs on (wire/message-aad.ts).
    const policyHash = config.disclosure.policyHash === undefined ? undefined : policyHashBytes(config.disclosure.policyHash);
    this.#summaryAad = messageAad(this.#summaryTopic, policyHash);
    this.#healthTopic = nodeTopic(config.zone, config.device, "health");
    this.#healthAad = messageAad(this.#healthTopic, policyHash);
    this.#disclosureTopic = nodeTopic(config.zone, config.device, "disclosure");
    // Every part writes through one store that says when the flash fails (once per episode).
    const store = new ReportingStore(platform.store, platform.log, config.device);
    this.#store = store;
    this.audit = new AuditLog(store, platform.random);
    this.#sealer = new UplinkSealer(store, config.device, {
      counterBlock: config.uplink.counterBlock,
      maxMessageBytes: MAX_PLAINTEXT_BYTES + SEAL_OVERHEAD_BYTES,
      epochSeconds: config.uplink.epochSeconds,
      maxMessagesPerEpoch: config.uplink.maxMessagesPerEpoch,
      onRotate: (reason, epoch) => {
        this.audit.append(platform.clock.wallSynced() ? platform.clock.wallMs() / 1000 : 0, "epoch-rotated", `${reason} to ${epoch}`);
        // Safe (a fresh key, counter 0), but the record's loss says something about the flash.
        if (reason === "counter-lost") platform.log("warn", "counter-record-lost", { device: config.device, epoch, action: "moved to a new key epoch; the counter is never guessed" });
      },
    });
    this.commands = new CommandReceiver(
      store,
      config.device,
      nodeTopic(config.zone, config.device, "cmd"),
      () => this.#sealer.downlinkKeys,
      platform.clock,
      this.audit,
      (command) => this.#execute(command),
    );
    this.policyUpdates = new PolicyUpdateReceiver(store, config, platform.clock, this.audit, platform.log, host.applyPolicyUpdate, host.restart);
    this.outbox = new Outbox(store, platform.transport, platform.log, {
      capacity: config.uplink.outboxCapacity,
      budgetBytes: config.uplink.outboxBytes,
      ramBytes: config.uplink.outboxRamBytes,
      maxInFlight: config.uplink.maxInFlight,
    });
    this.identifiers = new IdentifierIntake();

    const released: ReleasedChannel[] = [];
    const statistics: ChannelStatistics[] = [];
    config.sensors.forEach((sensorConfig, s) => {
      const driver = openSensor(sensorConfig, { buses: platform.buses, clock: platform.clock, identifiers: this.identifiers }, `sensors[${s}]`);
      const count = sensorConfig.channels.length;
      const outputIndex = new Int8Array(count);
      const channelIndex = new Int8Array(count);
      const filters: FilterChain[] = [];
      sensorConfig.channels.forEach((channel, c) => {
        const o = driver.outputs.findIndex((output) => output.quantity === channel.output);
        const output = driver.outputs[o]!;
        outputIndex[c] = o;
        channelIndex[c] = released.length;
        filters.push(new FilterChain(channel.filters, output));
        released.push({ config: channel, output });
        if (output.kind === "identifiers") {
          if (this.#distinct.length > 0) throw new ConfigError(`sensors[${s}].channels[${c}]: only one channel may count identifiers`);
          const devices = new DistinctDevices(platform.random, config.privacy.pseudonymEpochSeconds);
          this.identifiers.attach(devices);
          this.#distinct.push(devices);
          statistics.push(devices);
        } else statistics.push(statisticsFor(output));
      });
      const intervalMs = sensorConfig.intervalSeconds * 1000;
      this.#sensors.push({ id: sensorConfig.id, driver, outputIndex, channelIndex, filters, intervalMs, configuredIntervalMs: intervalMs, timer: undefined });
    });
    this.#window = new WindowAggregator(statistics, config.windowSeconds);
    this.#layout = new WindowSummaryLayout(released);
    const worstCase = new CborWriter(MAX_PLAINTEXT_BYTES);
    // Base time: a date after 2038 takes the widest integer; padding adds its own record at the end.
    writeSenmlPack(worstCase, `${config.device}/`, 0x100000000, [...this.#layout.worstCaseRecords(config.windowSeconds), { name: "pad", status: "" }]);
    this.#summaryBytes = worstCase.length + 12;

    // The release gate: per channel policy, noise, and the daily budget of every noisy channel.
    const budgetChannels: BudgetChannel[] = [];
    const budgetIndex: number[] = [];
    const policies = released.map(({ config: channel }): ChannelPrivacy | undefined => {
      const privacy = channel.privacy;
      budgetIndex.push(privacy && privacy.epsilon > 0 ? budgetChannels.length : -1);
      if (!privacy) return undefined;
      const epsilonMilli = Math.round(privacy.epsilon * 1000);
      if (epsilonMilli > 0) budgetChannels.push({ name: channel.name, dailyMicro: Math.round(privacy.dailyEpsilon * 1e6), costMicro: epsilonMilli * 1000 });
      return { k: privacy.k, epsilonMilli, sensitivity: privacy.sensitivity };
    });
    const indexOf = (name: string) => released.findIndex(({ config: channel }) => channel.name === name);
    const groups = config.privacy.totals.map(({ total, parts }) => ({ total: indexOf(total), parts: parts.map(indexOf) }));
    this.#noise = new DiscreteLaplace(platform.random);
    this.#budget = new PrivacyBudget(store, budgetChannels);
    this.#budgetNames = budgetChannels.map(({ name }) => name);
    this.#gate = new ReleaseGate(policies, groups, this.#noise, this.#budget, budgetIndex);
    this.#health = new HealthReport(
      this.#sensors.map(({ id, driver }) => ({ id, health: driver.health })),
      this.#budgetNames,
    );
    // A node on a signed policy publishes its disclosure as the operator signed it, and only if it
    // says what the node itself would say (signed-disclosure.ts).
    const disclosure = encodeDisclosure(disclosureFor(config));
    this.#disclosure = config.disclosure.policyHash === undefined ? disclosure : provisionedDisclosure(store, disclosure);
  }

  /** The uplink key epoch the node seals under now. */
  get epoch(): number {
    return this.#sealer.epoch;
  }

  /** The length of the current aggregation window (a set-window command changes the next one). */
  get windowSeconds(): number {
    return this.#window.seconds;
  }

  /** The drivers, in configuration order (for health and tests). */
  get sensors(): readonly SensorDriver[] {
    return this.#sensors.map((slot) => slot.driver);
  }

  /** Store writes that failed since boot (counter, outbox, budget, audit log), for health and the console. */
  get storeErrors(): number {
    return this.#store.failures;
  }

  /** The cause of a store failure in progress (ENOSPC, EROFS, EIO, ...), or undefined. */
  get storeFailure(): string | undefined {
    return this.#store.failure ?? this.outbox.storeFailure;
  }

  /** End of the newest window sealed (Unix ms): windows never open before it. */
  get sealedThroughMs(): number {
    return this.#sealedThroughMs;
  }

  /**
   * Boots: the audit log first (so that what boot finds is recorded after it, not overwritten by
   * it), keys and counter from the store (throws when the device is not provisioned or its key
   * records are unreadable), the budget, the outbox's queue, the window mark; sensors configured,
   * then sampling and windows once the wall clock is set.
   */
  start(): void {
    if (this.#running) return;
    this.audit.load(this.#platform.clock.wallSynced() ? this.#platform.clock.wallMs() / 1000 : 0);
    this.#sealer.boot();
    this.#budget.load();
    this.commands.load();
    this.outbox.load();
    this.#sealedThroughMs = this.#loadWindowMark();
    this.#running = true;
    const { timers, transport, clock, log } = this.#platform;
    this.#bootMonotonicMs = clock.monotonicMs();
    this.audit.append(clock.wallSynced() ? clock.wallMs() / 1000 : 0, "boot", `epoch ${this.#sealer.epoch}`);
    transport.onConnectionChange((connected) => {
      if (connected) this.outbox.pump();
    });
    transport.subscribe(nodeTopic(this.config.zone, this.config.device, "cmd"), (_topic, payload) => {
      if (!this.#running) return;
      const outcome = this.commands.receive(payload);
      // The console says what the audit log records; a refusal is expected input, not an error.
      log(outcome === "accepted" ? "info" : "warn", "command", { outcome, epoch: this.#sealer.epoch });
    });
    this.#publishDisclosure();
    for (const slot of this.#sensors) slot.driver.configure();
    // The root key's public fingerprint: lets whoever provisioned the node check which key it holds.
    const keyId = this.#store.get(KEY_ID_STORE_KEY);
    log("info", "node-boot", {
      device: this.config.device,
      keyId: keyId ? bytesToHex(keyId) : "none",
      epoch: this.#sealer.epoch,
      counter: this.#sealer.nextCounter,
      queued: this.outbox.depth,
      sealedThrough: this.#sealedThroughMs / 1000,
    });
    if (clock.wallSynced()) this.#beginWindows();
    else {
      const poll = timers.repeat(() => {
        if (!clock.wallSynced()) return;
        timers.clear(poll);
        this.#beginWindows();
      }, CLOCK_SYNC_POLL_MS);
      this.#timers.push(poll);
    }
  }

  /** Stops sampling and windows, closes the parts and wipes key material. The open window is discarded. */
  stop(): void {
    if (!this.#running) return;
    this.#running = false;
    const { timers } = this.#platform;
    for (const timer of this.#timers) timers.clear(timer);
    this.#timers.length = 0;
    for (const slot of this.#sensors) if (slot.timer) timers.clear(slot.timer);
    if (this.#windowTimer) timers.clear(this.#windowTimer);
    for (const slot of this.#sensors) slot.driver.close();
    for (const devices of this.#distinct) devices.wipe();
    this.#noise.wipe();
    this.#sealer.wipe();
    this.#plaintext.wipe();
  }

  /**
   * The end of the newest sealed window (Unix ms): the mark in the store, or the newest summary
   * still queued when the mark is unreadable (both are written together, so either tells).
   */
  #loadWindowMark(): number {
    const { log } = this.#platform;
    const store = this.#store;
    let markS: number | undefined;
    try {
      const bytes = store.get(WINDOW_MARK_KEY);
      markS = bytes === undefined ? 0 : decodeWindowMark(bytes);
      if (markS === undefined) log("warn", "window-mark-corrupt", { device: this.config.device, action: "resumes after the newest queued summary" });
    } catch (error) {
      log("error", "window-mark-unreadable", { device: this.config.device, message: (error as Error).message });
    }
    return Math.max(markS ?? 0, this.outbox.newestSummaryEndS) * 1000;
  }

  #beginWindows(): void {
    // A window never opens before the end of the newest one sealed, whatever the clock reads now.
    this.#window.resumeAfter(this.#sealedThroughMs);
    this.#window.open(this.#platform.clock.wallMs());
    this.#windowHasValues = false;
    this.#scheduleWindowClose();
    for (const slot of this.#sensors) this.#startSampling(slot);
  }

  #startSampling(slot: SensorSlot): void {
    if (slot.timer) this.#platform.timers.clear(slot.timer);
    slot.timer = this.#platform.timers.repeat(() => this.#sample(slot), slot.intervalMs);
  }

  /** sample -> filter -> aggregate, for one sensor. Allocates nothing. */
  #sample(slot: SensorSlot): void {
    const now = this.#platform.clock.wallMs();
    // A reading belongs to the window its time falls in, whichever timer fires first at a boundary.
    if (now >= this.#window.endMs) this.#closeWindow();
    const values = slot.driver.sample();
    if (values === undefined) return;
    if (now < this.#window.startMs) {
      this.#clockIsBehind(now);
      return;
    }
    this.#clockBehind = false;
    for (let i = 0; i < slot.outputIndex.length; i++) {
      const raw = values[slot.outputIndex[i]!]!;
      if (Number.isNaN(raw)) continue;
      const value = slot.filters[i]!.apply(raw, now);
      if (Number.isNaN(value)) {
        this.stats.valuesFiltered++;
        continue;
      }
      this.#window.add(slot.channelIndex[i]!, value);
      this.stats.valuesAggregated++;
      this.#windowHasValues = true;
    }
  }

  /**
   * The wall clock reads earlier than the open window's start: it was set back (SNTP, or a host
   * resuming an older time), or the window opened after the newest sealed one. Readings now have
   * no window to go to; those the open window took were timed by a clock now known wrong, so they
   * are discarded, and the window takes readings again once the clock reaches its start.
   */
  #clockIsBehind(now: number): void {
    if (this.#clockBehind) return;
    this.#clockBehind = true;
    this.stats.clockBehind++;
    const discarded = this.#windowHasValues;
    if (discarded) {
      this.#window.reset();
      this.#windowHasValues = false;
      this.stats.windowsDiscarded++;
    }
    this.#platform.log("warn", "clock-behind-window", { device: this.config.device, behindS: Math.round((this.#window.startMs - now) / 1000), windowStart: this.#window.startMs / 1000, discarded });
  }

  #scheduleWindowClose(): void {
    const delay = Math.max(0, this.#window.endMs - this.#platform.clock.wallMs());
    this.#windowTimer = this.#platform.timers.once(() => this.#closeWindow(), delay);
  }

  /** release -> encode -> seal -> send, then the next window (and, every so often, a health report). */
  #closeWindow(): void {
    const { clock, timers } = this.#platform;
    const now = clock.wallMs();
    if (this.#windowTimer) timers.clear(this.#windowTimer);
    if (now < this.#window.endMs) {
      // Not yet (the wall clock was set back after the timer was armed): wait for the real end.
      this.#scheduleWindowClose();
      return;
    }
    const windowStartS = this.#window.startMs / 1000;
    const windowEndS = this.#window.endMs / 1000;
    this.stats.windowsClosed++;
    const records = this.#layout.records(this.#window.seconds, this.#window.channels, this.#gate, this.#window.startMs);
    // The window mark goes with the summary in one commit: sealed and queued with it, or neither.
    if (this.#seal("summary", this.#summaryTopic, this.#summaryAad, windowStartS, windowEndS, records, this.#summaryBytes, [windowMarkWrite(windowEndS)])) {
      this.stats.summariesSealed++;
    }
    this.#sealedThroughMs = Math.max(this.#sealedThroughMs, this.#window.endMs);
    if (windowEndS % this.config.uplink.healthSeconds === 0) {
      const uptimeS = Math.round((clock.monotonicMs() - this.#bootMonotonicMs) / 1000);
      const budgetLeft = this.#budgetNames.map((_, b) => this.#budget.remainingMicro(b, now) / 1e6);
      const counters = { sealFailures: this.stats.sealFailures, storeErrors: this.storeErrors, clockBehind: this.stats.clockBehind, windowsDiscarded: this.stats.windowsDiscarded };
      const audit = this.audit.takeReport(windowEndS);
      const health = this.#health.records(uptimeS, this.outbox, counters, budgetLeft, { epoch: this.#sealer.epoch, commands: this.commands.counts, audit, baseTimeS: windowEndS });
      // The audit entries count as reported in the same commit that queues the report.
      if (this.#seal("health", this.#healthTopic, this.#healthAad, windowEndS, windowEndS, health, 0, [audit.write])) {
        this.stats.healthReportsSealed++;
        this.audit.reported(audit);
      }
    }
    this.policyUpdates.expire();
    if (this.#pendingWindowSeconds !== undefined) {
      this.#window.setWindowSeconds(this.#pendingWindowSeconds);
      this.#pendingWindowSeconds = undefined;
    }
    // The statistics of the closed window are forgotten here, whatever happened above.
    this.#window.open(now);
    this.#windowHasValues = false;
    this.#scheduleWindowClose();
  }

  /** An authentic, fresh command: within the policy's bounds it runs, otherwise "bounds". */
  #execute(command: DownlinkCommand): CommandOutcome | CommandVerdict {
    const { clock } = this.#platform;
    switch (command.name) {
      case "rotate-epoch":
        this.#sealer.rotate(clock.wallMs());
        return "accepted";
      case "set-window": {
        const seconds = command.args.seconds;
        if (typeof seconds !== "number" || !this.config.downlink.allowedWindowSeconds.includes(seconds)) return "bounds";
        this.#pendingWindowSeconds = seconds;
        return "accepted";
      }
      case "set-interval": {
        const slot = this.#sensors.find(({ id }) => id === command.args.sensor);
        const seconds = command.args.seconds;
        if (!slot || typeof seconds !== "number" || !Number.isFinite(seconds)) return "bounds";
        const ms = seconds * 1000;
        // Slower than configured is allowed up to the factor; faster never (more data than the policy says).
        if (ms < slot.configuredIntervalMs || ms > slot.configuredIntervalMs * this.config.downlink.maxIntervalFactor) return "bounds";
        slot.intervalMs = ms;
        if (this.#running && slot.timer) this.#startSampling(slot);
        return "accepted";
      }
      case "republish-disclosure":
        this.#publishDisclosure();
        return "accepted";
      case "policy-chunk":
        return this.policyUpdates.receive(command);
    }
  }

  /** The public disclosure, retained, in the clear: what this node collects and how (policy/disclosure.ts). */
  #publishDisclosure(): void {
    this.outbox.publishRetained(this.#disclosureTopic, this.#disclosure);
  }

  /**
   * encode -> seal -> enqueue one message (with `alsoWrite` in its outbox commit); false (logged,
   * counted) when it could not be sealed.
   */
  #seal(
    kind: OutboxMessage["kind"],
    topic: string,
    aad: Uint8Array,
    baseTimeS: number,
    aboutTimeS: number,
    records: readonly SenmlRecordOut[],
    padToBytes = 0,
    alsoWrite: readonly StoreWrite[] = [],
  ): boolean {
    const { log } = this.#platform;
    try {
      this.#plaintext.reset();
      writeSenmlPack(this.#plaintext, `${this.config.device}/`, baseTimeS, records, padToBytes);
      const sealed = this.#sealer.seal(this.#plaintext.written(), aad, this.#platform.clock.wallMs());
      const kept = this.outbox.push({ kind, timeS: aboutTimeS, topic, payload: sealed }, alsoWrite);
      log("info", "message-sealed", { topic, time: baseTimeS, about: aboutTimeS, bytes: sealed.length, queue: this.outbox.depth, kept });
      return true;
    } catch (error) {
      this.stats.sealFailures++;
      log("error", "seal-failed", { topic, time: baseTimeS, reason: (error as Error).name, message: (error as Error).message });
      return false;
    } finally {
      this.#plaintext.wipe();
    }
  }
}
