/**
 * A civicnode street node: the data path from bus bytes to a sealed summary on the network.
 *
 *   sample  -> each sensor's driver reads its part on its own interval (drops and counts bad frames)
 *   aggregate -> valid values update the open window's fixed-memory statistics; nothing raw is kept
 *   release -> when the wall-clock window closes, the configured statistics, coarsened
 *   encode  -> a SenML pack in CBOR
 *   seal    -> COSE_Encrypt0 (ChaCha20/Poly1305) under the epoch key, bound to the topic
 *   send    -> the outbox publishes with QoS 1 and keeps the message until the broker acknowledges
 *
 * Example:
 *   const node = new CivicNode(platform, parseNodeConfig(json));
 *   node.start();
 */
import type { Platform, TimerHandle } from "./platform.js";
import type { NodeConfig } from "./policy/node-config.js";
import type { SensorDriver } from "./sensors/sensor-driver.js";
import { openSensor } from "./sensors/catalog.js";
import { WindowAggregator } from "./aggregate/window-aggregator.js";
import { WindowSummaryLayout, type ReleasedChannel } from "./aggregate/window-summary.js";
import { CborWriter } from "./wire/cbor-writer.js";
import { writeSenmlPack } from "./wire/senml.js";
import { UplinkSealer } from "./wire/uplink-sealer.js";
import { utf8Encode } from "./wire/utf8.js";
import { Outbox } from "./uplink/outbox.js";
import { nodeTopic } from "./uplink/topics.js";

/** Largest SenML plaintext a summary may take; a configuration that needs more fails loudly. */
const MAX_SUMMARY_BYTES = 2048;
/** COSE framing around the ciphertext: tag, headers, kid, partial IV, Poly1305 tag. */
const SEAL_OVERHEAD_BYTES = 96;
/** How often to look again when the wall clock is not yet set (SNTP pending). */
const CLOCK_SYNC_POLL_MS = 1000;

/** A sensor with the window channels its outputs feed. */
interface SensorSlot {
  readonly driver: SensorDriver;
  /** For each routed output: its index in the driver's values... */
  readonly outputIndex: Int8Array;
  /** ...and the window channel it feeds. */
  readonly channelIndex: Int8Array;
  readonly intervalMs: number;
}

export interface NodeStats {
  windowsClosed: number;
  summariesSealed: number;
  /** Windows whose summary could not be encoded or sealed (logged with the reason). */
  summaryFailures: number;
  /** Valid values that entered a window. */
  valuesAggregated: number;
}

export class CivicNode {
  readonly config: NodeConfig;
  readonly stats: NodeStats = { windowsClosed: 0, summariesSealed: 0, summaryFailures: 0, valuesAggregated: 0 };
  readonly outbox: Outbox;
  readonly #platform: Platform;
  readonly #sensors: SensorSlot[] = [];
  readonly #window: WindowAggregator;
  readonly #layout: WindowSummaryLayout;
  readonly #plaintext = new CborWriter(MAX_SUMMARY_BYTES);
  readonly #sealer: UplinkSealer;
  readonly #summaryTopic: string;
  readonly #summaryAad: Uint8Array;
  readonly #timers: TimerHandle[] = [];
  #windowTimer: TimerHandle | undefined;
  #running = false;

  constructor(platform: Platform, config: NodeConfig) {
    this.#platform = platform;
    this.config = config;
    this.#summaryTopic = nodeTopic(config.zone, config.device, "summary");
    this.#summaryAad = utf8Encode(this.#summaryTopic);
    this.#sealer = new UplinkSealer(platform.store, config.device, config.uplink.counterBlock, MAX_SUMMARY_BYTES + SEAL_OVERHEAD_BYTES);
    this.outbox = new Outbox(platform.transport, config.uplink.outboxCapacity, config.uplink.maxInFlight);

    const released: ReleasedChannel[] = [];
    config.sensors.forEach((sensorConfig, s) => {
      const driver = openSensor(sensorConfig, platform.buses, platform.clock, `sensors[${s}]`);
      const outputIndex = new Int8Array(sensorConfig.channels.length);
      const channelIndex = new Int8Array(sensorConfig.channels.length);
      sensorConfig.channels.forEach((channel, c) => {
        const output = driver.outputs.findIndex((o) => o.quantity === channel.output);
        outputIndex[c] = output;
        channelIndex[c] = released.length;
        released.push({ config: channel, unit: driver.outputs[output]!.unit });
      });
      this.#sensors.push({ driver, outputIndex, channelIndex, intervalMs: sensorConfig.intervalSeconds * 1000 });
    });
    this.#window = new WindowAggregator(released.length, config.windowSeconds);
    this.#layout = new WindowSummaryLayout(released);
  }

  /** The drivers, in configuration order (for health and tests). */
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
    this.#running = true;
    const { timers, transport, clock, log } = this.#platform;
    transport.onConnectionChange((connected) => {
      if (connected) this.outbox.pump();
    });
    for (const slot of this.#sensors) slot.driver.configure();
    log("info", "node-boot", { device: this.config.device, epoch: this.#sealer.epoch, counter: this.#sealer.nextCounter });
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
    if (this.#windowTimer) timers.clear(this.#windowTimer);
    for (const slot of this.#sensors) slot.driver.close();
    this.#sealer.wipe();
    this.#plaintext.wipe();
  }

  #beginWindows(): void {
    this.#window.open(this.#platform.clock.wallMs());
    this.#scheduleWindowClose();
    for (const slot of this.#sensors) {
      this.#timers.push(this.#platform.timers.repeat(() => this.#sample(slot), slot.intervalMs));
    }
  }

  /** sample -> aggregate, for one sensor. Allocates nothing. */
  #sample(slot: SensorSlot): void {
    // A reading belongs to the window its time falls in, whichever timer fires first at a boundary.
    if (this.#platform.clock.wallMs() >= this.#window.endMs) this.#closeWindow();
    const values = slot.driver.sample();
    if (values === undefined) return;
    for (let i = 0; i < slot.outputIndex.length; i++) {
      const value = values[slot.outputIndex[i]!]!;
      if (Number.isNaN(value)) continue;
      this.#window.add(slot.channelIndex[i]!, value);
      this.stats.valuesAggregated++;
    }
  }

  #scheduleWindowClose(): void {
    const delay = Math.max(0, this.#window.endMs - this.#platform.clock.wallMs());
    this.#windowTimer = this.#platform.timers.once(() => this.#closeWindow(), delay);
  }

  /** release -> encode -> seal -> send, then the next window. */
  #closeWindow(): void {
    const { clock, log, timers } = this.#platform;
    const now = clock.wallMs();
    if (this.#windowTimer) timers.clear(this.#windowTimer);
    if (now < this.#window.endMs) {
      // Not yet (the wall clock was set back after the timer was armed): wait for the real end.
      this.#scheduleWindowClose();
      return;
    }
    const windowStartS = this.#window.startMs / 1000;
    this.stats.windowsClosed++;
    try {
      const records = this.#layout.records(this.config.windowSeconds, this.#window.channels);
      this.#plaintext.reset();
      writeSenmlPack(this.#plaintext, `${this.config.device}/`, windowStartS, records);
      const sealed = this.#sealer.seal(this.#plaintext.written(), this.#summaryAad);
      this.stats.summariesSealed++;
      this.outbox.push(this.#summaryTopic, sealed);
      log("info", "summary-sealed", { window: windowStartS, bytes: sealed.length, queue: this.outbox.depth });
    } catch (error) {
      this.stats.summaryFailures++;
      log("error", "summary-failed", { window: windowStartS, reason: (error as Error).name, message: (error as Error).message });
    } finally {
      this.#plaintext.wipe();
    }
    // The statistics of the closed window are forgotten here, whatever happened above.
    this.#window.open(now);
    this.#scheduleWindowClose();
  }
}
