/**
 * Runs a street of simulated nodes in one Node.js process: each node is the real firmware core on
 * its own platform (its own flash file, its own MQTT session, OS randomness, a simulated reference
 * board), and all of them share one virtual clock that a real-time pump drives `speed` times faster
 * than the wall clock.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Log, LogDetail, LogLevel, Platform } from "../../src/platform.js";
import { ROOT_KEY_STORE_KEY } from "../../src/wire/uplink-sealer.js";
import type { Keyring } from "../collector/keyring.js";
import { simulatedReferenceBoard, type SimulatedParts } from "../sim/reference-board.js";
import { SimClock } from "../sim/sim-clock.js";
import { streetNodeConfig } from "../sim/street.js";
import { FileStore } from "./file-store.js";
import { MqttTransport } from "./mqtt-transport.js";
import { OsRandom } from "./os-random.js";

export interface FleetOptions {
  readonly brokerUrl: string;
  readonly devices: readonly string[];
  readonly zone: string;
  readonly speed: number;
  readonly stateDir: string;
  readonly keyring: Keyring;
  /** Simulated wall time at start (Unix ms). */
  readonly startWallMs: number;
  readonly log: Log;
}

export interface FleetNode {
  readonly device: string;
  readonly node: CivicNode;
  readonly transport: MqttTransport;
  readonly parts: SimulatedParts;
}

/** How often the pump advances virtual time, in real milliseconds. */
const PUMP_INTERVAL_MS = 20;

export class Fleet {
  readonly clock: SimClock;
  readonly nodes: FleetNode[] = [];
  readonly #options: FleetOptions;
  #pump: NodeJS.Timeout | undefined;
  #realStart = 0;

  constructor(options: FleetOptions) {
    this.#options = options;
    this.clock = new SimClock({
      startWallMs: options.startWallMs,
      onError: (error) => options.log("error", "timer-callback-failed", { message: (error as Error).message }),
    });
  }

  /** Provisions and boots every node, connects them, and starts the clock. */
  start(): void {
    const { devices, zone, stateDir, keyring, brokerUrl, log } = this.#options;
    for (const device of devices) {
      const store = provisionedStore(join(stateDir, "nodes", device, "store.json"), keyring, device);
      const transport = new MqttTransport({ url: brokerUrl, clientId: device, log: prefixed(log, device) });
      const { board, parts } = simulatedReferenceBoard(device, zone, this.clock);
      const platform: Platform = {
        clock: this.clock,
        timers: this.clock,
        random: new OsRandom(),
        store,
        transport,
        buses: board,
        log: prefixed(log, device),
      };
      const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(device, zone)));
      node.start();
      transport.start();
      this.nodes.push({ device, node, transport, parts });
    }
    this.#realStart = performance.now();
    this.#pump = setInterval(() => this.#advance(), PUMP_INTERVAL_MS);
  }

  /** Simulated wall time now. */
  get wallMs(): number {
    return this.clock.wallMs();
  }

  async stop(): Promise<void> {
    if (this.#pump) clearInterval(this.#pump);
    this.#pump = undefined;
    for (const { node } of this.nodes) node.stop();
    await Promise.all(this.nodes.map(({ transport }) => transport.close()));
  }

  #advance(): void {
    this.clock.advanceTo((performance.now() - this.#realStart) * this.#options.speed);
  }
}

/**
 * The node's flash, holding the device's root key from the keyring. Provisioning happens once; a
 * flash holding another key (the keyring was replaced) is wiped and provisioned anew, since its
 * counters belong to a key nobody can use any more.
 */
function provisionedStore(path: string, keyring: Keyring, device: string): FileStore {
  const entry = keyring.get(device);
  if (!entry) throw new Error(`device ${device} is not in the keyring`);
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  let store = new FileStore(path);
  const held = store.get(ROOT_KEY_STORE_KEY);
  if (held && !sameBytes(held, entry.rootKey)) {
    rmSync(path, { force: true });
    store = new FileStore(path);
  }
  held?.fill(0);
  if (!store.get(ROOT_KEY_STORE_KEY)) store.commit([{ key: ROOT_KEY_STORE_KEY, value: entry.rootKey }]);
  return store;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function prefixed(log: Log, device: string): Log {
  return (level: LogLevel, event: string, detail?: LogDetail) => log(level, event, { device, ...detail });
}
