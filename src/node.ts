/**
 * A civicnode street node: the data path from bus bytes to a sealed summary on the network.
 *
 *   sample    -> each sensor's driver reads its part on its own interval (drops and counts bad frames)
 *   filter    -> each channel's filter chain (calibration, median, clamp, throttle)
 *   aggregate -> valid values update the open window's fixed-memory statistics; nothing raw is kept
 *   release   -> when the wall-clock window closes, the configured statistics, coarsened
 *   encode    -> a SenML pack in CBOR
 *   seal      -> COSE_Encrypt0 (ChaCha20/Poly1305) under the epoch key, bound to the topic
 *   send      -> the outbox publishes with QoS 1 and keeps the message until the broker acknowledges
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
import { utf8Encode } from "./wire/utf8.js";
import { HealthReport } from "./uplink/health-report.js";
import { CommandReceiver, type CommandOutcome } from "./uplink/command-receiver.js";
import type { DownlinkCommand } from "./uplink/downlink-command.js";
import { AuditLog } from "./policy/audit-log.js";
import { disclosureDocument, encodeDisclosure } from "./policy/disclosure.js";
import { Outbox } from "./uplink/outbox.js";
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
}

export class CivicNode {
  readonly config: NodeConfig;
  readonly stats: NodeStats = { windowsClosed: 0, summariesSealed: 0, healthReportsSealed: 0, sealFailures: 0, valuesAggregated: 0, valuesFiltered: 0 };
  readonly outbox: Outbox;
  readonly identifiers: IdentifierIntake;
  readonly #platform: Platform;
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
  /** A window length set by command, applied when the open window closes. */
  #pendingWindowSeconds: number | undefined;
  readonly #timers: TimerHandle[] = [];
  #windowTimer: TimerHandle | undefined;
  #bootMonotonicMs = 0;
  #running = false;

  constructor(platform: Platform, config: NodeConfig) {
    this.#platform = platform;
    this.config = config;
    this.#summaryTopic = nodeTopic(config.zone, config.device, "summary");
    this.#summaryAad = utf8Encode(this.#summaryTopic);
    this.#healthTopic = nodeTopic(config.zone, config.device, "health");
    this.#healthAad = utf8Encode(this.#healthTopic);
    this.#disclosureTopic = nodeTopic(config.zone, config.device, "disclosure");
    this.audit = new AuditLog(platform.store);
    this.#sealer = new UplinkSealer(platform.store, config.device, {
      counterBlock: config.uplink.counterBlock,
      maxMessageBytes: MAX_PLAINTEXT_BYTES + SEAL_OVERHEAD_BYTES,
      epochSeconds: config.uplink.epochSeconds,
      maxMessagesPerEpoch: config.uplink.maxMessagesPerEpoch,
      onRotate: (reason, epoch) => this.audit.append(platform.clock.wallSynced() ? platform.clock.wallMs() / 1000 : 0, "epoch-rotated", `${reason} to ${epoch}`),
    });
    this.commands = new CommandReceiver(
      platform.store,
      config.device,
      nodeTopic(config.zone, config.device, "cmd"),
      () => this.#sealer.downlinkKeys,
      platform.clock,
      this.audit,
      (command) => this.#execute(command),
    );
    this.outbox = new Outbox(platform.transport, config.uplink.outboxCapacity, config.uplink.maxInFlight);
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
    this.#budget = new PrivacyBudget(platform.store, budgetChannels);
    this.#budgetNames = budgetChannels.map(({ name }) => name);
    this.#gate = new ReleaseGate(policies, groups, this.#noise, this.#budget, budgetIndex);
    this.#health = new HealthReport(
      this.#sensors.map(({ id, driver }) => ({ id, health: driver.health })),
      this.#budgetNames,
    );
    const parts = config.sensors.flatMap((sensor) => sensor.channels.map(() => sensor.part));
    this.#disclosure = encodeDisclosure(disclosureDocument(config, released.map(({ config: channel, output }, c) => ({ name: channel.name, part: parts[c]!, output, stats: channel.stats }))));
  }

  /** The drivers, in configuration order (for health and tests). */
  /** The uplink key epoch the node seals under now. */
  get epoch(): number {
    return this.#sealer.epoch;
  }

  /** The length of the current aggregation window (a set-window command changes the next one). */
  get windowSeconds(): number {
    return this.#window.seconds;
  }

  get sensors(): readonly SensorDriver[] {
    return this.#sensors.map((slot) => slot.driver);
  }

  /**
   * Boots: keys and counter from the store (throws when the device is not provisioned or its
   * counter record is corrupt), sensors configured, then sampling and windows once the wall clock is set.
   */
  start(): void {
    if (this.#running) return;
    this.#sealer.boot();
    this.#budget.load();
    this.audit.load();
    this.commands.load();
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
    const keyId = this.#platform.store.get(KEY_ID_STORE_KEY);
    log("info", "node-boot", { device: this.config.device, keyId: keyId ? bytesToHex(keyId) : "none", epoch: this.#sealer.epoch, counter: this.#sealer.nextCounter });
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

  #beginWindows(): void {
    this.#window.open(this.#platform.clock.wallMs());
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
    }
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
    if (this.#seal(this.#summaryTopic, this.#summaryAad, windowStartS, records, this.#summaryBytes)) {
      this.stats.summariesSealed++;
    }
    if (windowEndS % this.config.uplink.healthSeconds === 0) {
      const uptimeS = Math.round((clock.monotonicMs() - this.#bootMonotonicMs) / 1000);
      const budgetLeft = this.#budgetNames.map((_, b) => this.#budget.remainingMicro(b, now) / 1e6);
      const health = this.#health.records(uptimeS, this.outbox, this.stats, budgetLeft, {
        epoch: this.#sealer.epoch,
        commands: this.commands.counts,
        audit: this.audit.takeUnreported(),
        baseTimeS: windowEndS,
      });
      if (this.#seal(this.#healthTopic, this.#healthAad, windowEndS, health)) this.stats.healthReportsSealed++;
    }
    if (this.#pendingWindowSeconds !== undefined) {
      this.#window.setWindowSeconds(this.#pendingWindowSeconds);
      this.#pendingWindowSeconds = undefined;
    }
    // The statistics of the closed window are forgotten here, whatever happened above.
    this.#window.open(now);
    this.#scheduleWindowClose();
  }

  /** An authentic, fresh command: within the policy's bounds it runs, otherwise "bounds". */
  #execute(command: DownlinkCommand): CommandOutcome {
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
    }
  }

  /** The public disclosure, retained, in the clear: what this node collects and how (policy/disclosure.ts). */
  #publishDisclosure(): void {
    this.outbox.push(this.#disclosureTopic, this.#disclosure, true);
  }

  /** encode -> seal -> enqueue one message; false (logged, counted) when it could not be sealed. */
  #seal(topic: string, aad: Uint8Array, baseTimeS: number, records: readonly SenmlRecordOut[], padToBytes = 0): boolean {
    const { log } = this.#platform;
    try {
      this.#plaintext.reset();
      writeSenmlPack(this.#plaintext, `${this.config.device}/`, baseTimeS, records, padToBytes);
      const sealed = this.#sealer.seal(this.#plaintext.written(), aad, this.#platform.clock.wallMs());
      this.outbox.push(topic, sealed);
      log("info", "message-sealed", { topic, time: baseTimeS, bytes: sealed.length, queue: this.outbox.depth });
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
