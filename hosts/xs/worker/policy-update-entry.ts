/**
 * Entry of the XS policy-update bundle: the two-key rule's comparison (policy-change.ts) and the
 * node's check of a whole policy update (policy-update.ts), run inside the XS engine on the host's
 * command, for the conformance test to compare with Node.
 *
 *   ["weakenings", cases JSON]   cases: [{ running, proposed, runningAt, proposedAt }] (policy.json
 *                                documents and positions) -> ["ok", JSON [[pointer, ...], ...]]
 *   ["apply", store JSON, config JSON, update]
 *                                store: { key: hex } as provisioned; config: the node's boot
 *                                configuration -> ["ok", JSON { verdict, keys: { key: hex } }]
 *
 * It carries the Ed25519 verification (@noble/curves), whose class static fields construct their
 * own class, which this XS refuses: the bundle is built with class static fields lowered
 * (test/support/xs-policy-worker.ts), for this entry only (the street node's bundle has no Ed25519).
 */
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { parsePolicy } from "../../../src/policy/deployment-policy.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { policyWeakenings } from "../../../src/policy/policy-change.js";
import { applyPolicyUpdate } from "../../../src/policy/policy-update.js";
import { MemoryStore } from "../../sim/memory-store.js";
import { decodeBridge, encodeBridge, toArrayBuffer, type BridgeValue } from "../bridge-codec.js";

interface ChangeCase {
  readonly running: unknown;
  readonly proposed: unknown;
  readonly runningAt: { latitude: number; longitude: number };
  readonly proposedAt: { latitude: number; longitude: number };
}

function handle(message: BridgeValue[]): BridgeValue[] {
  const [op] = message;
  switch (op) {
    case "weakenings": {
      const cases = JSON.parse(String(message[1])) as ChangeCase[];
      const found = cases.map((c) => policyWeakenings({ policy: parsePolicy(c.running), position: c.runningAt }, { policy: parsePolicy(c.proposed), position: c.proposedAt }).map((w) => w.pointer));
      return ["ok", JSON.stringify(found)];
    }
    case "apply": {
      const store = new MemoryStore();
      const entries = JSON.parse(String(message[1])) as Record<string, string>;
      store.commit(Object.entries(entries).map(([key, hex]) => ({ key, value: hexToBytes(hex) })));
      const verdict = applyPolicyUpdate(message[3] as Uint8Array, store, parseNodeConfig(JSON.parse(String(message[2]))));
      const keys: Record<string, string> = {};
      for (const key of store.keys("").sort()) keys[key] = bytesToHex(store.get(key)!);
      return ["ok", JSON.stringify({ verdict, keys })];
    }
    default:
      throw new Error(`unknown command ${String(op)}`);
  }
}

globalThis.handleCommand = (message: ArrayBuffer): ArrayBuffer => toArrayBuffer(encodeBridge(handle(decodeBridge(new Uint8Array(message)))));
