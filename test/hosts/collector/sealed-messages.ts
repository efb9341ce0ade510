/**
 * Sealed summaries and health reports for the collector's tests, made by the node's own sealing code
 * (UplinkSealer over a MemoryStore provisioned with the device's root key), so counters, kids, tags
 * and epochs are exactly what a node sends.
 */
import { messageAad } from "../../../src/wire/message-aad.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../../src/wire/senml.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

export const ZONE = "old-town";
/** The first window's start (Unix ms). */
export const T0 = Date.UTC(2026, 9, 1, 8, 0, 0);
export const WINDOW_S = 300;

export interface SealedMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  /** What the message is, for the test's bookkeeping: "<device> summary <window>" or "<device> health <window>". */
  readonly label: string;
}

export function rootKeyOf(device: string): Uint8Array {
  let seed = 0;
  for (const c of device) seed = (seed * 31 + c.charCodeAt(0)) & 0xff;
  return Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 7) & 0xff);
}

/** A keyring holding `devices` with their test keys, provisioned a day before T0. */
export function keyringOf(...devices: string[]): Keyring {
  const keyring = new Keyring();
  for (const device of devices) keyring.add(device, ZONE, rootKeyOf(device), new Date(T0 - 86_400_000).toISOString());
  return keyring;
}

/**
 * A node's sealing side. A second TestNode of the same device and key is a node whose store was lost
 * and provisioned again with the same key: it starts its counter over (a nonce reuse).
 */
export class TestNode {
  readonly device: string;
  readonly #sealer: UplinkSealer;
  /** The signed policy's SHA-256 its messages are bound to (wire/message-aad.ts), if it runs on one. */
  readonly #policyHash: Uint8Array | undefined;

  constructor(device: string, rootKey = rootKeyOf(device), policyHash?: Uint8Array) {
    this.device = device;
    this.#policyHash = policyHash;
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKey, device));
    this.#sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: 1024 });
    this.#sealer.boot();
  }

  get nextCounter(): number {
    return this.#sealer.nextCounter;
  }

  get epoch(): number {
    return this.#sealer.epoch;
  }

  /** Moves to the next key epoch (as the rotate-epoch command does). */
  rotate(): void {
    this.#sealer.rotate(T0);
  }

  /** The summary of window `window` (0: the one starting at T0), its noise level `leq`. */
  summary(window: number, leq = 50 + window): SealedMessage {
    const records: SenmlRecordOut[] = [
      { name: "window", unit: "s", value: WINDOW_S },
      { name: "noise/leq", unit: "dB", value: leq },
      { name: "temperature/mean", unit: "Cel", value: 12.5 },
    ];
    return this.#seal("summary", window, T0 / 1000 + window * WINDOW_S, records);
  }

  /** The health report that follows window `window` (its time is the window's end). */
  health(window: number): SealedMessage {
    const records: SenmlRecordOut[] = [
      { name: "uptime", unit: "s", value: (window + 1) * WINDOW_S },
      { name: "queue", value: 0 },
      { name: "dropped", value: 0 },
    ];
    return this.#seal("health", window, T0 / 1000 + (window + 1) * WINDOW_S, records);
  }

  #seal(kind: "summary" | "health", window: number, baseTimeS: number, records: SenmlRecordOut[]): SealedMessage {
    const topic = `civicnode/${ZONE}/${this.device}/${kind}`;
    const writer = new CborWriter(512);
    writeSenmlPack(writer, `${this.device}/`, baseTimeS, records);
    const payload = this.#sealer.seal(writer.written(), messageAad(topic, this.#policyHash), T0 + (window + 1) * WINDOW_S * 1000);
    return { topic, payload, label: `${this.device} ${kind} ${window}` };
  }
}

/** Each node's summary and health report of windows `from` to `to - 1`, in the order the nodes send them. */
export function street(nodes: readonly TestNode[], from: number, to: number): SealedMessage[] {
  const messages: SealedMessage[] = [];
  for (let window = from; window < to; window++) for (const node of nodes) messages.push(node.summary(window), node.health(window));
  return messages;
}

/** The lines of a JSON Lines file, parsed; throws if any line is torn or not JSON. */
export function jsonLines(text: string): Array<Record<string, unknown>> {
  if (text === "") return [];
  if (!text.endsWith("\n")) throw new Error(`the file ends in a torn line: ${JSON.stringify(text.slice(-60))}`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** "<device>/<epoch>/<counter>" of a stored line. */
export const counterOf = (line: Record<string, unknown>): string => `${String(line.device)}/${String(line.epoch)}/${String(line.counter)}`;
