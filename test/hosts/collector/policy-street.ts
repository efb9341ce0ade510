/**
 * A node through policy updates, for the policy check's tests: the operator's signed policies of
 * one device (serials, as provisioning and update-policy record them), the signed disclosures that
 * name them, and a node whose messages are bound to the policy it runs now, sealed by the node's
 * own code (UplinkSealer over a MemoryStore), its counter going on across a change of policy as a
 * restarted node's does.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { nodePolicyPayload } from "../../../src/policy/signed-policy.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { signSign1 } from "../../../src/wire/cose-sign1.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { messageAad } from "../../../src/wire/message-aad.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../../src/wire/senml.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { rootKeyOf, T0, WINDOW_S, ZONE } from "./sealed-messages.js";

/** The operator's Ed25519 secret key in these tests. */
export const OPERATOR = new Uint8Array(32).fill(9);

export interface TestPolicy {
  readonly serial: number;
  readonly name: string;
  /** The COSE_Sign1 the operator's record holds. */
  readonly signed: Uint8Array;
  readonly hash: Uint8Array;
  readonly sha256: string;
}

/** The operator's signed policy `serial` of `device` (its name makes another policy under the same serial). */
export function signedPolicy(device: string, serial: number, name = `old-town-${serial}`): TestPolicy {
  const payload = utf8Encode(JSON.stringify(nodePolicyPayload({ device, zone: ZONE, serial, issued: T0 / 1000, position: { latitude: 0, longitude: 0 }, policy: { ...REFERENCE, name } })));
  const hash = sha256(payload);
  return { serial, name, signed: signSign1(payload, OPERATOR, utf8Encode("op")), hash, sha256: bytesToHex(hash) };
}

/** The disclosure topic of `device`, and its disclosure naming `policy`, signed by the operator (or by `key`). */
export function signedDisclosure(device: string, policy: TestPolicy, key = OPERATOR): { topic: string; payload: Uint8Array } {
  const document = { format: "civicnode-disclosure", version: 2, device, zone: ZONE, policy: { name: policy.name, serial: policy.serial, sha256: policy.sha256 }, location: { latitude: 0.0004492, longitude: 0.0004492, precisionMeters: 100 } };
  return { topic: `civicnode/${ZONE}/${device}/disclosure`, payload: signSign1(utf8Encode(JSON.stringify(document)), key, utf8Encode("op")) };
}

/** The start of window `window` (0: T0), Unix ms. */
export const windowStartMs = (window: number): number => T0 + window * WINDOW_S * 1000;

/** A node that seals under the policy it runs, which `run` changes (a restart on an update, or provisioning again). */
export class PolicyNode {
  readonly device: string;
  readonly #sealer: UplinkSealer;
  #policy: TestPolicy;

  constructor(device: string, policy: TestPolicy) {
    this.device = device;
    this.#policy = policy;
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKeyOf(device), device));
    this.#sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: 1024 });
    this.#sealer.boot();
  }

  run(policy: TestPolicy): void {
    this.#policy = policy;
  }

  /** The summary of window `window`, bound to the policy the node runs. */
  summary(window: number): { topic: string; payload: Uint8Array } {
    const records: SenmlRecordOut[] = [
      { name: "window", unit: "s", value: WINDOW_S },
      { name: "noise/leq", unit: "dB", value: 50 + window },
    ];
    return this.#seal("summary", windowStartMs(window) / 1000, records, window);
  }

  /** The health report at the end of window `window`. */
  health(window: number): { topic: string; payload: Uint8Array } {
    const records: SenmlRecordOut[] = [
      { name: "uptime", unit: "s", value: (window + 1) * WINDOW_S },
      { name: "queue", value: 0 },
      { name: "dropped", value: 0 },
    ];
    return this.#seal("health", windowStartMs(window + 1) / 1000, records, window);
  }

  #seal(kind: "summary" | "health", baseTimeS: number, records: SenmlRecordOut[], window: number): { topic: string; payload: Uint8Array } {
    const topic = `civicnode/${ZONE}/${this.device}/${kind}`;
    const writer = new CborWriter(512);
    writeSenmlPack(writer, `${this.device}/`, baseTimeS, records);
    return { topic, payload: this.#sealer.seal(writer.written(), messageAad(topic, this.#policy.hash), windowStartMs(window + 1)) };
  }
}
