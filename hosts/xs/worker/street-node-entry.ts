/**
 * Entry of the XS street-node bundle (`npm start -- --engine xs`): one simulated street node
 * whose firmware core, simulated board and virtual clock all run inside the XS engine, with
 * store, randomness, MQTT and log bridged to the Node host.
 *
 * Commands from the host (CBOR arrays, see bridge-codec.ts):
 *   ["boot", configJson, street, startWallMs, faultHours]   build and start the node
 *   ["advance", monotonicMs]                    run every timer due up to that time
 *   ["settled", id, delivered]                  a publish was acknowledged or lost
 *   ["connection", connected]
 *   ["message", filter, topic, payload]
 *   ["stop"]
 * Every reply is ["ok", windowsClosed, outboxDepth, summariesSealed, monotonicMs, dropped,
 * storeErrors, storeFailure (a cause, or null), sealFailures].
 */
import { CivicNode } from "../../../src/node.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import type { Platform } from "../../../src/platform.js";
import { FaultPlan } from "../../sim/fault-plan.js";
import { simulatedReferenceBoard } from "../../sim/reference-board.js";
import { SimClock } from "../../sim/sim-clock.js";
import { decodeBridge, encodeBridge, toArrayBuffer, type BridgeValue } from "../bridge-codec.js";
import { BridgedRandom, BridgedStore, BridgedTransport, bridgedLog } from "./bridged-platform.js";

class StreetNodeWorker {
  #node: CivicNode | undefined;
  #faults: FaultPlan | undefined;
  #clock: SimClock | undefined;
  readonly #transport = new BridgedTransport();

  handle(message: BridgeValue[]): BridgeValue[] {
    const [op] = message;
    switch (op) {
      case "boot":
        this.#boot(String(message[1]), String(message[2]), Number(message[3]), Number(message[4] ?? 0));
        break;
      case "advance":
        this.#clock?.advanceTo(Number(message[1]));
        break;
      case "settled":
        this.#transport.settle(Number(message[1]), message[2] === true);
        break;
      case "connection":
        this.#transport.setConnected(message[1] === true);
        break;
      case "message":
        this.#transport.deliver(String(message[1]), String(message[2]), message[3] as Uint8Array);
        break;
      case "stop":
        this.#faults?.stop();
        this.#node?.stop();
        break;
      default:
        throw new Error(`unknown command ${String(op)}`);
    }
    const node = this.#node;
    return [
      "ok",
      node?.stats.windowsClosed ?? 0,
      node?.outbox.depth ?? 0,
      node?.stats.summariesSealed ?? 0,
      this.#clock?.monotonicMs() ?? 0,
      node ? node.outbox.stats.dropped + node.outbox.stats.droppedCorrupt : 0,
      node?.storeErrors ?? 0,
      node?.storeFailure ?? null,
      node?.stats.sealFailures ?? 0,
    ];
  }

  #boot(configJson: string, street: string, startWallMs: number, faultHours: number): void {
    const config = parseNodeConfig(JSON.parse(configJson));
    const clock = new SimClock({ startWallMs });
    const log = bridgedLog();
    const { board, parts } = simulatedReferenceBoard(config.device, street, clock, clock);
    if (faultHours > 0) {
      this.#faults = new FaultPlan(parts, clock, {
        seed: `${config.device}/faults`,
        meanHoursBetween: faultHours,
        onEpisode: (sensor, kind, started) => log("info", started ? "fault-injected" : "fault-cleared", { device: config.device, sensor, kind }),
      });
    }
    const platform: Platform = {
      clock,
      timers: clock,
      random: new BridgedRandom(),
      store: new BridgedStore(),
      transport: this.#transport,
      buses: board,
      log,
    };
    this.#clock = clock;
    this.#node = new CivicNode(platform, config);
    this.#node.start();
  }
}

const worker = new StreetNodeWorker();
globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => toArrayBuffer(encodeBridge(worker.handle(decodeBridge(new Uint8Array(message)))));
