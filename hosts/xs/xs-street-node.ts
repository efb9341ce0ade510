/**
 * A street node whose firmware core runs in the XS engine (`npm start -- --engine xs`): one
 * xsnap-worker per node runs the core, the simulated board and the node's virtual clock; this side
 * answers its platform queries (flash file, OS randomness, MQTT, log) and tells it how far
 * simulated time has moved.
 */
import type { KeyValueStore, Log, LogDetail, LogLevel, Random } from "../../src/platform.js";
import type { MqttTransport } from "../node/mqtt-transport.js";
import { decodeBridge, encodeBridge, type BridgeValue } from "./bridge-codec.js";
import { XsnapWorker } from "./xsnap-worker.js";

export interface XsStreetNodeOptions {
  readonly device: string;
  readonly street: string;
  /** The node's configuration as JSON (validated inside XS by the firmware itself). */
  readonly configJson: string;
  readonly startWallMs: number;
  /** Mean simulated hours between fault episodes per part, 0 for none. */
  readonly faultHours: number;
  readonly bundle: string;
  readonly store: KeyValueStore;
  readonly random: Random;
  readonly transport: MqttTransport;
  readonly log: Log;
}

export class XsStreetNode {
  readonly device: string;
  readonly transport: MqttTransport;
  readonly #worker: XsnapWorker;
  readonly #options: XsStreetNodeOptions;
  #outboxDepth = 0;
  #dropped = 0;
  #storeErrors = 0;
  #storeFailure: string | undefined;
  #sealFailures = 0;
  #windowsClosed = 0;
  #stopped = false;

  private constructor(options: XsStreetNodeOptions) {
    this.device = options.device;
    this.transport = options.transport;
    this.#options = options;
    this.#worker = new XsnapWorker({ name: `civicnode-${options.device}`, onQuery: (query) => this.#answer(query) });
  }

  /** Spawns the worker, loads the bundle and boots the node inside it. */
  static async start(options: XsStreetNodeOptions): Promise<XsStreetNode> {
    const node = new XsStreetNode(options);
    await node.#worker.evaluate(options.bundle);
    await node.#command(["boot", options.configJson, options.street, options.startWallMs, options.faultHours]);
    options.transport.onConnectionChange((connected) => void node.#command(["connection", connected]).catch((e) => node.#report(e)));
    if (options.transport.connected) await node.#command(["connection", true]);
    return node;
  }

  get outboxDepth(): number {
    return this.#outboxDepth;
  }

  /** Messages its outbox dropped (full or corrupt), since the node was provisioned. */
  get dropped(): number {
    return this.#dropped;
  }

  get storeErrors(): number {
    return this.#storeErrors;
  }

  /** The cause of a store failure in progress, if any. */
  get storeFailure(): string | undefined {
    return this.#storeFailure;
  }

  get sealFailures(): number {
    return this.#sealFailures;
  }

  get windowsClosed(): number {
    return this.#windowsClosed;
  }

  /** Moves the node's clock to `monotonicMs` unless it is still busy with the previous step. */
  advance(monotonicMs: number): void {
    if (this.#stopped || this.#worker.busy > 0) return;
    this.#command(["advance", monotonicMs]).catch((error) => this.#report(error));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await this.#command(["stop"]).catch(() => {});
    await this.#worker.close();
  }

  async #command(message: readonly BridgeValue[]): Promise<void> {
    const { reply } = await this.#worker.command(encodeBridge(message));
    const [, windowsClosed, outboxDepth, , , dropped, storeErrors, storeFailure, sealFailures] = decodeBridge(reply);
    this.#windowsClosed = Number(windowsClosed);
    this.#outboxDepth = Number(outboxDepth);
    this.#dropped = Number(dropped ?? 0);
    this.#storeErrors = Number(storeErrors ?? 0);
    this.#storeFailure = typeof storeFailure === "string" ? storeFailure : undefined;
    this.#sealFailures = Number(sealFailures ?? 0);
  }

  #report(error: unknown): void {
    if (!this.#stopped) this.#options.log("error", "xs-node-failed", { message: (error as Error).message.slice(0, 300) });
  }

  /** Platform calls from the core in XS, answered while it waits. */
  #answer(query: Uint8Array): Uint8Array {
    const message = decodeBridge(query);
    const { store, random, transport, log } = this.#options;
    try {
      switch (message[0]) {
        case "store.get":
          return encodeBridge(["ok", store.get(String(message[1])) ?? null]);
        case "store.keys":
          return encodeBridge(["ok", store.keys(String(message[1]))]);
        case "store.commit": {
          const writes = (message[1] as BridgeValue[][]).map(([key, value]) => ({ key: String(key), value: value instanceof Uint8Array ? value : undefined }));
          store.commit(writes);
          return encodeBridge(["ok"]);
        }
        case "random": {
          const bytes = new Uint8Array(Number(message[1]));
          random.fill(bytes);
          return encodeBridge(["ok", bytes]);
        }
        case "publish": {
          const [, id, topic, payload, qos, retain] = message;
          const accepted = transport.publish(String(topic), payload as Uint8Array, { qos: qos === 1 ? 1 : 0, retain: retain === true }, (delivered) => {
            this.#command(["settled", Number(id), delivered]).catch((error) => this.#report(error));
          });
          return encodeBridge(["ok", accepted]);
        }
        case "subscribe": {
          const filter = String(message[1]);
          transport.subscribe(filter, (topic, payload) => {
            this.#command(["message", filter, topic, payload]).catch((error) => this.#report(error));
          });
          return encodeBridge(["ok"]);
        }
        case "log": {
          const detail = message[3] === null ? undefined : (JSON.parse(String(message[3])) as LogDetail);
          log(String(message[1]) as LogLevel, String(message[2]), detail);
          return encodeBridge(["ok"]);
        }
        default:
          return encodeBridge(["error", `unknown query ${String(message[0])}`]);
      }
    } catch (error) {
      return encodeBridge(["error", (error as Error).message]);
    }
  }
}
