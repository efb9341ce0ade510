/**
 * Opened messages for the storage tests, made the way the collector makes them: sealed by the
 * node's own code (UplinkSealer, as in ../sealed-messages.ts), then verified, decrypted and decoded
 * by the real MessageOpener (without its in-memory counters, which the database now keeps), and
 * turned into an OpenedMessage with openedMessageOf().
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { openedMessageOf, type DeviceKey, type OpenedMessage } from "../../../../hosts/collector/db/collector-db.js";
import { Keyring } from "../../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../../hosts/collector/message-opener.js";
import { MemoryStore } from "../../../../hosts/sim/memory-store.js";
import { CborWriter } from "../../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../../src/wire/key-ratchet.js";
import { keyIdFromRoot } from "../../../../src/wire/key-schedule.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../../../src/wire/senml.js";
import { UplinkSealer } from "../../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";
import { keyringOf, rootKeyOf, T0, WINDOW_S, ZONE } from "../sealed-messages.js";

export { T0, WINDOW_S, ZONE };

/** A summary's records as a node with a noise, a footfall and a PM2.5 channel releases them. */
export function streetRecords(window: number, options: { readonly footfall?: "released" | "suppressed" | "budget-exhausted"; readonly pm25Missing?: boolean; readonly leq?: number } = {}): SenmlRecordOut[] {
  const records: SenmlRecordOut[] = [
    { name: "window", unit: "s", value: WINDOW_S },
    { name: "noise/count", value: 300 },
    { name: "noise/leq", unit: "dB", value: options.leq ?? 50 + window },
    { name: "noise/l90", unit: "dB", value: 41.5 },
  ];
  const footfall = options.footfall ?? "released";
  if (footfall === "released") records.push({ name: "footfall/distinct", unit: "count", value: 17 + window }, { name: "footfall/sum", unit: "count", value: 40 });
  else records.push({ name: "footfall/distinct", status: footfall }, { name: "footfall/sum", status: footfall });
  if (options.pm25Missing) records.push({ name: "pm25/status", status: "missing" });
  else records.push({ name: "pm25/count", value: 60 }, { name: "pm25/mean", unit: "ug/m3", value: 8.25 });
  return records;
}

/** A node's sealing side; a second one of the same device and key is a node that lost its store (its counter starts over). */
export class SealingNode {
  readonly device: string;
  readonly #sealer: UplinkSealer;

  constructor(device: string, rootKey = rootKeyOf(device)) {
    this.device = device;
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKey, device));
    this.#sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: 1024 });
    this.#sealer.boot();
  }

  get nextCounter(): number {
    return this.#sealer.nextCounter;
  }

  /** Moves to the next key epoch. */
  rotate(): void {
    this.#sealer.rotate(T0);
  }

  summary(window: number, records = streetRecords(window)): Sealed {
    return this.#seal("summary", T0 / 1000 + window * WINDOW_S, records, window);
  }

  health(window: number): Sealed {
    const records: SenmlRecordOut[] = [
      { name: "uptime", unit: "s", value: (window + 1) * WINDOW_S },
      { name: "queue", value: window % 3 },
      { name: "dropped", value: 0 },
      { name: "budget/footfall", value: 0.75 },
      { name: "commands/accepted", value: 1 },
      { name: "noise/status", status: "ok" },
      { name: "noise/readings", value: 300 },
      { name: "noise/drops/crc", value: 2 },
    ];
    return this.#seal("health", T0 / 1000 + (window + 1) * WINDOW_S, records, window);
  }

  #seal(kind: "summary" | "health", baseTimeS: number, records: SenmlRecordOut[], window: number): Sealed {
    const topic = `civicnode/${ZONE}/${this.device}/${kind}`;
    const writer = new CborWriter(1024);
    writeSenmlPack(writer, `${this.device}/`, baseTimeS, records);
    const payload = this.#sealer.seal(writer.written(), utf8Encode(topic), T0 + (window + 1) * WINDOW_S * 1000);
    return { topic, payload };
  }
}

export interface Sealed {
  readonly topic: string;
  readonly payload: Uint8Array;
}

export function keyIdOf(device: string, rootKey = rootKeyOf(device)): string {
  return bytesToHex(keyIdFromRoot(rootKey, device));
}

export function deviceKeys(...devices: string[]): DeviceKey[] {
  return devices.map((device) => ({ device, zone: ZONE, keyId: keyIdOf(device) }));
}

/** Opens sealed messages as the collector does; throws if the opener refuses one (a test's mistake). */
export class TestOpener {
  readonly #keyring: Keyring;
  readonly #opener: MessageOpener;

  /** An opener whose keyring holds the test key of each device, or `keyring`. */
  constructor(devices: readonly string[] | Keyring) {
    this.#keyring = devices instanceof Keyring ? devices : keyringOf(...devices);
    // Counters are the database's business now: verify() only, never commit(), so every authentic message opens.
    this.#opener = new MessageOpener(this.#keyring, { now: () => T0 + 86_400_000 });
  }

  /** An opener whose keyring holds `rootKey` for `device` (a device provisioned again). */
  static withKey(device: string, rootKey: Uint8Array): TestOpener {
    const keyring = new Keyring();
    keyring.add(device, ZONE, rootKey, new Date(T0 - 86_400_000).toISOString());
    return new TestOpener(keyring);
  }

  /** `keyId`: the key id the collector passes (default: the one of the key that opened it). */
  open(sealed: Sealed, receivedAtMs = T0 + 600_000, keyId?: string): OpenedMessage {
    const result = this.#opener.verify(sealed.topic, sealed.payload);
    if (!result.ok) throw new Error(`the opener refused a test message: ${result.cause} ${result.detail}`);
    const device = result.use.device;
    return openedMessageOf(result, sealed.topic, sealed.payload, keyId ?? keyIdOf(device, this.#keyring.get(device)!.rootKey), receivedAtMs);
  }
}
