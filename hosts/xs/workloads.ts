/**
 * The measured workloads of the XS lane, portable so that the very same code runs inside XS (where
 * the meter counts it) and on Node (for wall-time context). Each keeps everything it needs in
 * memory: virtual clock, in-memory flash, a transport that counts instead of keeping messages.
 */
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig, type NodeConfig } from "../../src/policy/node-config.js";
import type { Buses, KeyValueStore, Platform } from "../../src/platform.js";
import { KEY_ID_STORE_KEY, provisioningWrites } from "../../src/wire/key-ratchet.js";
import { FaultyBuses, type FaultyBusesOptions } from "../sim/faulty-buses.js";
import { UplinkSealer } from "../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { nodeTopic } from "../../src/uplink/topics.js";
import { LoopbackTransport } from "../sim/loopback-transport.js";
import { MemoryStore } from "../sim/memory-store.js";
import { SeededRandom } from "../sim/prng.js";
import { BusRecorder, ReplayBoard } from "../sim/bus-recording.js";
import { simulatedReferenceBoard } from "../sim/reference-board.js";
import { SimClock } from "../sim/sim-clock.js";
import { streetNodeConfig } from "../sim/street.js";

export interface NodeRunOptions {
  readonly device: string;
  readonly street: string;
  readonly rootKey: Uint8Array;
  /** Wall time at boot. */
  readonly startWallMs: number;
  /**
   * Where the buses' answers come from: "simulated" parts (the street, computed as it goes), or a
   * "recorded" loop of what those parts said during the first `recordMs` of the same node, played
   * back without simulation cost and without allocation per event (benchmarks, long runs).
   */
  readonly source: "simulated" | "recorded";
  /** Length of the recording for source "recorded" (default 600 s: two windows). */
  readonly recordMs?: number;
  /** Keep only these sensors of the reference configuration (by id); all when absent. */
  readonly sensors?: readonly string[];
  /** Bus-level fault episodes on the board (hosts/sim/faulty-buses.ts); none when absent. */
  readonly busFaults?: FaultyBusesOptions;
  /** The node's flash (default: a new MemoryStore); provisioned with `rootKey` when empty. */
  readonly store?: KeyValueStore;
}

export interface NodeRunStats {
  readonly monotonicMs: number;
  readonly windowsClosed: number;
  readonly summariesSealed: number;
  readonly valuesAggregated: number;
  readonly messages: number;
  readonly payloadBytes: number;
  readonly lastMessageBytes: number;
  readonly outboxDepth: number;
  /** Good readings per sensor since boot, by sensor id. */
  readonly readings: Record<string, number>;
}

/** A reference node running on its own, as long as it is told to. */
export class NodeRun {
  readonly clock: SimClock;
  readonly node: CivicNode;
  readonly transport = new LoopbackTransport(true, false);
  readonly config: NodeConfig;
  /** The board's bus faults, when asked for. */
  readonly busFaults: FaultyBuses | undefined;

  constructor(options: NodeRunOptions) {
    this.clock = new SimClock({ startWallMs: options.startWallMs });
    const raw = streetNodeConfig(options.device, options.street) as { sensors: Array<{ id: string }> };
    if (options.sensors) raw.sensors = raw.sensors.filter((sensor) => options.sensors!.includes(sensor.id));
    this.config = parseNodeConfig(raw);
    let buses: Buses;
    if (options.source === "recorded") {
      // Record what the simulated parts say to this very configuration, then loop it.
      const recordMs = options.recordMs ?? 600_000;
      const recordingClock = new SimClock({ startWallMs: options.startWallMs });
      const recorder = new BusRecorder(simulatedReferenceBoard(options.device, options.street, recordingClock, recordingClock).board, recordingClock);
      const recordingNode = bootNode(this.config, recordingClock, recorder, options.rootKey, new LoopbackTransport(true, false), options.device);
      recordingClock.advanceBy(recordMs);
      recordingNode.stop();
      buses = new ReplayBoard(recorder.finish(recordMs), this.clock);
    } else {
      buses = simulatedReferenceBoard(options.device, options.street, this.clock, this.clock).board;
    }
    if (options.busFaults) buses = this.busFaults = new FaultyBuses(buses, this.clock, options.busFaults);
    this.node = bootNode(this.config, this.clock, buses, options.rootKey, this.transport, options.device, options.store);
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
      lastMessageBytes: this.transport.lastPayloadBytes,
      outboxDepth: this.node.outbox.depth,
      readings: Object.fromEntries(this.config.sensors.map((sensor, i) => [sensor.id, this.node.sensors[i]!.health.readings])),
    };
  }
}

function bootNode(config: NodeConfig, clock: SimClock, buses: Buses, rootKey: Uint8Array, transport: LoopbackTransport, device: string, store: KeyValueStore = new MemoryStore()): CivicNode {
  if (store.get(KEY_ID_STORE_KEY) === undefined) store.commit(provisioningWrites(rootKey, device));
  const platform: Platform = { clock, timers: clock, random: new SeededRandom(`${device}/random`), store, transport, buses, log: () => {} };
  const node = new CivicNode(platform, config);
  node.start();
  return node;
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

/**
 * Sealing alone: the node's sealer on a plaintext of a summary's size (sealing costs depend on the
 * length only). `framing` is what COSE adds around it.
 */
export class SealRun {
  readonly #sealer: UplinkSealer;
  readonly #aad: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly framing: number;
  lastSealedBytes = 0;

  constructor(device: string, street: string, rootKey: Uint8Array, plaintextBytes: number) {
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKey, device));
    const config = parseNodeConfig(streetNodeConfig(device, street));
    this.#sealer = new UplinkSealer(store, device, { counterBlock: config.uplink.counterBlock, maxMessageBytes: 8192 });
    this.#sealer.boot();
    this.#aad = utf8Encode(nodeTopic(street, device, "summary"));
    this.plaintext = new Uint8Array(plaintextBytes).fill(0xa5);
    this.framing = this.#sealer.seal(this.plaintext, this.#aad, 1_800_000_000_000).length - plaintextBytes;
  }

  seal(): void {
    this.lastSealedBytes = this.#sealer.seal(this.plaintext, this.#aad, 1_800_000_000_000).length;
  }
}
