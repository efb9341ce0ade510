/**
 * The measured workloads of the XS lane, portable so that the very same code runs inside XS (where
 * the meter counts it) and on Node (for wall-time context). Each keeps everything it needs in
 * memory: virtual clock, in-memory flash, a transport that counts instead of keeping messages.
 */
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig, type NodeConfig } from "../../src/policy/node-config.js";
import type { Buses, Platform } from "../../src/platform.js";
import { openSensor } from "../../src/sensors/catalog.js";
import { RunningStats } from "../../src/aggregate/running-stats.js";
import { WindowSummaryLayout } from "../../src/aggregate/window-summary.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { writeSenmlPack } from "../../src/wire/senml.js";
import { ROOT_KEY_STORE_KEY, UplinkSealer } from "../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { nodeTopic } from "../../src/uplink/topics.js";
import { LoopbackTransport } from "../sim/loopback-transport.js";
import { MemoryStore } from "../sim/memory-store.js";
import { SeededRandom } from "../sim/prng.js";
import { cannedReferenceBoard, simulatedReferenceBoard } from "../sim/reference-board.js";
import { SimClock } from "../sim/sim-clock.js";
import { streetNodeConfig } from "../sim/street.js";

export interface NodeRunOptions {
  readonly device: string;
  readonly street: string;
  readonly rootKey: Uint8Array;
  /** Wall time at boot. */
  readonly startWallMs: number;
  /** Replay recorded bus responses instead of simulating the parts (benchmarks). */
  readonly canned: boolean;
  /** Keep only these sensors of the reference configuration (by id); all when absent. */
  readonly sensors?: readonly string[];
}

export interface NodeRunStats {
  readonly monotonicMs: number;
  readonly windowsClosed: number;
  readonly summariesSealed: number;
  readonly valuesAggregated: number;
  readonly messages: number;
  readonly payloadBytes: number;
  readonly outboxDepth: number;
}

/** A reference node running on its own, as long as it is told to. */
export class NodeRun {
  readonly clock: SimClock;
  readonly node: CivicNode;
  readonly transport = new LoopbackTransport(true, false);
  readonly config: NodeConfig;

  constructor(options: NodeRunOptions) {
    this.clock = new SimClock({ startWallMs: options.startWallMs });
    const store = new MemoryStore();
    store.commit([{ key: ROOT_KEY_STORE_KEY, value: options.rootKey }]);
    const raw = streetNodeConfig(options.device, options.street) as { sensors: Array<{ id: string }> };
    if (options.sensors) raw.sensors = raw.sensors.filter((sensor) => options.sensors!.includes(sensor.id));
    this.config = parseNodeConfig(raw);
    const buses = options.canned
      ? cannedReferenceBoard(options.device, options.street, options.startWallMs)
      : simulatedReferenceBoard(options.device, options.street, this.clock).board;
    const platform: Platform = {
      clock: this.clock,
      timers: this.clock,
      random: new SeededRandom(`${options.device}/random`),
      store,
      transport: this.transport,
      buses,
      log: () => {},
    };
    this.node = new CivicNode(platform, this.config);
    this.node.start();
  }

  advance(ms: number): void {
    this.clock.advanceBy(ms);
  }

  stats(): NodeRunStats {
    const { windowsClosed, summariesSealed, valuesAggregated } = this.node.stats;
    return {
      monotonicMs: this.clock.monotonicMs(),
      windowsClosed,
      summariesSealed,
      valuesAggregated,
      messages: this.transport.messageCount,
      payloadBytes: this.transport.payloadBytes,
      outboxDepth: this.node.outbox.depth,
    };
  }
}

/** The virtual clock alone with one repeating no-op timer: the scheduling cost to subtract. */
export class ClockRun {
  readonly clock = new SimClock({ startWallMs: 0 });
  ticks = 0;

  constructor(intervalMs: number) {
    this.clock.repeat(() => {
      this.ticks++;
    }, intervalMs);
  }

  advance(ms: number): void {
    this.clock.advanceBy(ms);
  }
}

/** Sealing alone: a full reference summary's plaintext under the node's sealer. */
export class SealRun {
  readonly #sealer: UplinkSealer;
  readonly #aad: Uint8Array;
  readonly plaintext: Uint8Array;
  lastSealedBytes = 0;

  constructor(device: string, street: string, rootKey: Uint8Array) {
    const store = new MemoryStore();
    store.commit([{ key: ROOT_KEY_STORE_KEY, value: rootKey }]);
    const config = parseNodeConfig(streetNodeConfig(device, street));
    this.#sealer = new UplinkSealer(store, device, config.uplink.counterBlock, 4096);
    this.#sealer.boot();
    this.#aad = utf8Encode(nodeTopic(street, device, "summary"));
    this.plaintext = referenceSummaryPlaintext(config, cannedReferenceBoard(device, street, 0));
  }

  seal(): void {
    this.lastSealedBytes = this.#sealer.seal(this.plaintext, this.#aad).length;
  }
}

/** A typical summary plaintext of `config`: every channel with 30 readings of plausible values. */
export function referenceSummaryPlaintext(config: NodeConfig, buses: Buses): Uint8Array {
  const released = config.sensors.flatMap((sensor, s) => {
    const driver = openSensor(sensor, buses, new SimClock({ startWallMs: 0 }), `sensors[${s}]`);
    const units = sensor.channels.map((channel) => driver.outputs.find((output) => output.quantity === channel.output)!.unit);
    driver.close();
    return sensor.channels.map((channel, c) => ({ config: channel, unit: units[c]! }));
  });
  const channels = released.map((r) => r.config);
  const layout = new WindowSummaryLayout(released);
  const stats = channels.map((_, c) => {
    const running = new RunningStats();
    for (let i = 0; i < 30; i++) running.add(10 + c * 20 + Math.sin(i) * 3.3);
    return running;
  });
  const writer = new CborWriter(2048);
  writeSenmlPack(writer, `${config.device}/`, 1_800_000_000, layout.records(config.windowSeconds, stats));
  return writer.written().slice();
}
