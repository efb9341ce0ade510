/**
 * Entry of the XS scenario bundle: the conformance scenario and the metered workloads, run inside
 * the XS engine on the host's command. Each command is one crank, so the meter the host reads with
 * the reply covers exactly that command.
 *
 *   ["conformance", options JSON]        -> ["ok", result JSON]   (runReferenceScenario)
 *   ["audit", options JSON]              -> ["ok", result JSON]   (runAuditScenario)
 *   ["node.setup", options JSON]         a NodeRun (rootKey as hex in the JSON)
 *   ["node.advance", ms]                 advance it
 *   ["clock.setup", intervalMs] / ["clock.advance", ms]
 *   ["seal.setup", device, street, rootKey, plaintextBytes] / ["seal.run", times]
 *   ["soak.setup", options JSON]         a SoakRun (rootKey as hex in the JSON)
 *   ["soak.day"]                         one more simulated day of the soak, faults included
 *   ["gc"]                               a full collection and nothing else: the reply's heap count is
 *                                        then exactly the live slots (a collection inside a busier
 *                                        command also counts what that command still holds)
 *   ["noop"]                             the cost of a command itself
 * Replies are ["ok", JSON] with the workload's statistics.
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import { runReferenceScenario } from "../../sim/reference-scenario.js";
import { runAuditScenario } from "../../sim/audit-scenario.js";
import { decodeBridge, encodeBridge, toArrayBuffer, type BridgeValue } from "../bridge-codec.js";
import { ClockRun, NodeRun, SealRun } from "../workloads.js";
import { SoakRun } from "../soak-run.js";

class ScenarioWorker {
  #node: NodeRun | undefined;
  #clock: ClockRun | undefined;
  #seal: SealRun | undefined;
  #soak: SoakRun | undefined;

  handle(message: BridgeValue[]): BridgeValue[] {
    const [op] = message;
    let result: unknown = null;
    switch (op) {
      case "conformance": {
        const options = JSON.parse(String(message[1]));
        result = runReferenceScenario({ ...options, rootKey: hexToBytes(options.rootKey) });
        break;
      }
      case "audit":
        result = runAuditScenario(JSON.parse(String(message[1])));
        break;
      case "node.setup": {
        const options = JSON.parse(String(message[1]));
        this.#node = new NodeRun({ ...options, rootKey: hexToBytes(options.rootKey) });
        result = this.#node.stats();
        break;
      }
      case "node.advance":
        this.#node!.advance(Number(message[1]));
        result = this.#node!.stats();
        break;
      case "clock.setup":
        this.#clock = new ClockRun(Number(message[1]));
        break;
      case "clock.advance":
        this.#clock!.advance(Number(message[1]));
        result = this.#clock!.ticks;
        break;
      case "seal.setup":
        this.#seal = new SealRun(String(message[1]), String(message[2]), message[3] as Uint8Array, Number(message[4]));
        result = this.#seal.framing;
        break;
      case "seal.run":
        for (let i = Number(message[1]); i > 0; i--) this.#seal!.seal();
        result = this.#seal!.lastSealedBytes;
        break;
      case "soak.setup": {
        const options = JSON.parse(String(message[1]));
        this.#soak = new SoakRun({ ...options, rootKey: hexToBytes(options.rootKey) });
        result = this.#soak.stats();
        break;
      }
      case "soak.day":
        result = this.#soak!.advanceDay();
        break;
      case "gc":
      case "noop":
        break;
      default:
        throw new Error(`unknown command ${String(op)}`);
    }
    if (op === "gc") {
      this.#soak?.settleForMeasure();
      gc();
    }
    return ["ok", JSON.stringify(result)];
  }
}

const worker = new ScenarioWorker();
globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => toArrayBuffer(encodeBridge(worker.handle(decodeBridge(new Uint8Array(message)))));
