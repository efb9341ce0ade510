/**
 * Entry of the XS signature bench bundle: the node's Ed25519 checks at boot and on a policy update
 * (the same modules the node runs), each one crank on the host's command, for hosts/xs/bench.ts to
 * meter (hosts/xs/signature-bench.ts builds and drives it).
 *
 *   ["store", entries JSON, config JSON]  a fresh store as provisioned ({ key: hex }) and the node's
 *                                         boot configuration, parsed here so that no measured
 *                                         command parses it
 *   ["no-table"]                          what the firmware does before any verification
 *                                         (hosts/moddable/firmware.ts): no table of the base point
 *   ["verify"]                            verifySign1 of the stored signed policy under the stored
 *                                         operator key -> its payload's length
 *   ["boot", identity JSON]               provisionedPolicy: verify and parse, as the node boots -> serial
 *   ["apply", update]                     applyPolicyUpdate against the store -> its verdict
 *   ["reserve", objects]                  grows the slot heap to hold that many more objects, then
 *                                         frees them: a command that follows finds that much room
 *   ["fill", bytes]                       holds one more ArrayBuffer of that size (its bytes are a chunk):
 *                                         the host fills the chunk heap until the engine grows it, which
 *                                         measures the room that was free in it
 *   ["gc"]                                a full collection and nothing else (the reply's heap count is
 *                                         then the live slots)
 *   ["noop"]                              the cost of a command itself
 * Replies are ["ok", result JSON].
 *
 * @noble/curves' Ed25519 needs class static fields lowered in this XS: the bundle is built so,
 * like the conformance test's policy-update bundle (policy-update-entry.ts).
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { hexToBytes } from "@noble/hashes/utils.js";
import { parseNodeConfig, type NodeConfig } from "../../../src/policy/node-config.js";
import { applyPolicyUpdate } from "../../../src/policy/policy-update.js";
import { OPERATOR_KEY_STORE_KEY, provisionedPolicy, SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { verifySign1 } from "../../../src/wire/cose-sign1.js";
import { MemoryStore } from "../../sim/memory-store.js";
import { decodeBridge, encodeBridge, toArrayBuffer, type BridgeValue } from "../bridge-codec.js";

class SignatureBenchWorker {
  #store = new MemoryStore();
  #config: NodeConfig | undefined;
  readonly #filling: ArrayBuffer[] = [];

  handle(message: BridgeValue[]): BridgeValue[] {
    const [op] = message;
    let result: unknown = null;
    switch (op) {
      case "store": {
        this.#store = new MemoryStore();
        const entries = JSON.parse(String(message[1])) as Record<string, string>;
        this.#store.commit(Object.entries(entries).map(([key, hex]) => ({ key, value: hexToBytes(hex) })));
        this.#config = parseNodeConfig(JSON.parse(String(message[2])));
        break;
      }
      case "no-table":
        ed25519.Point.BASE.precompute(1);
        break;
      case "verify":
        result = verifySign1(this.#store.get(SIGNED_POLICY_STORE_KEY)!, this.#store.get(OPERATOR_KEY_STORE_KEY)!).payload.length;
        break;
      case "boot":
        result = provisionedPolicy(this.#store, JSON.parse(String(message[1])) as { device: string; zone: string }).serial;
        break;
      case "apply":
        result = applyPolicyUpdate(message[1] as Uint8Array, this.#store, this.#config!);
        break;
      case "reserve": {
        // The heap count after a command is the slots taken since the last collection: all the
        // command took only if the engine did not collect during it, for want of free slots.
        // (A WeakRef cannot tell: xsnap keeps their targets in the collections the engine runs by
        // itself, for determinism.)
        const held: object[] = [];
        for (let i = Number(message[1]); i > 0; i--) held.push({});
        held.length = 0;
        break;
      }
      case "fill":
        this.#filling.push(new ArrayBuffer(Number(message[1])));
        break;
      case "gc":
      case "noop":
        break;
      default:
        throw new Error(`unknown command ${String(op)}`);
    }
    if (op === "gc" || op === "reserve") gc();
    return ["ok", JSON.stringify(result)];
  }
}

const worker = new SignatureBenchWorker();
globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => toArrayBuffer(encodeBridge(worker.handle(decodeBridge(new Uint8Array(message)))));
