/**
 * The node's side of the forward-secure key schedule (key-schedule.ts): it holds only the current
 * epoch's chain key, derives the epoch's AEAD key and base IV from it, and on rotation derives the
 * next chain key and overwrites the old one, in RAM and in the store. A stolen node therefore
 * cannot derive the keys of any earlier epoch. The collector keeps the root key and derives any
 * epoch.
 *
 * Provisioning leaves the 256-bit root key in the store ("key.root"). At the first boot the node
 * derives chain_0 and the downlink key from it and commits them, deleting the root key in the same
 * atomic commit. From then on the root key exists only in the keyring.
 *
 * Store records (all with a CRC-32, big-endian):
 *   "key.chain" 48 bytes: "CK" 1 0 | epoch u32 | period u32 | chain key (32) | CRC-32 of bytes 0..43
 *               (period: the epoch's time slot, floor(wall s / epochSeconds); 0xFFFFFFFF until known)
 *   "key.down"  52 bytes: "DK" 1 0 | downlink key (32) | downlink base IV (12) | CRC-32 of bytes 0..47
 *   "key.id"     8 bytes: a public fingerprint of the root key (so a host can tell which key a node holds)
 */
import type { KeyValueStore, StoreWrite } from "../platform.js";
import { crc32 } from "./crc32.js";
import { deriveEpochKeys, downlinkKeysFromRoot, EpochKeys, initialChainKey, keyIdFromRoot, nextChainKey, ROOT_KEY_BYTES } from "./key-schedule.js";

export const ROOT_KEY_STORE_KEY = "key.root";
export const CHAIN_STORE_KEY = "key.chain";
export const DOWNLINK_STORE_KEY = "key.down";
export const KEY_ID_STORE_KEY = "key.id";
/** The period of an epoch whose start time is not known yet. */
export const UNKNOWN_PERIOD = 0xffffffff;

export class NotProvisionedError extends Error {
  override name = "NotProvisionedError";
}

/** The key records are unreadable: the node must be provisioned again. */
export class KeyStateCorruptError extends Error {
  override name = "KeyStateCorruptError";
}

export class KeyRatchet {
  readonly #store: KeyValueStore;
  readonly #device: string;
  #chain: Uint8Array = new Uint8Array(32);
  #epoch = 0;
  #period = UNKNOWN_PERIOD;
  #keys: EpochKeys | undefined;
  #downlink: EpochKeys | undefined;

  constructor(store: KeyValueStore, device: string) {
    this.#store = store;
    this.#device = device;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** The epoch's time slot (floor(wall s / epochSeconds)), or UNKNOWN_PERIOD. */
  get period(): number {
    return this.#period;
  }

  get keys(): EpochKeys {
    if (!this.#keys) throw new Error("KeyRatchet.boot() first");
    return this.#keys;
  }

  /** The downlink key and base IV (commands from the city to this node). */
  get downlink(): EpochKeys {
    if (!this.#downlink) throw new Error("KeyRatchet.boot() first");
    return this.#downlink;
  }

  /**
   * Loads the key state, provisioning it from the root key on the first boot. `firstWrites` are
   * committed together with the provisioning (the counter record of epoch 0). Returns "provisioned"
   * on that first boot, "loaded" afterwards.
   */
  boot(firstWrites: () => readonly StoreWrite[]): "provisioned" | "loaded" {
    const chainRecord = this.#store.get(CHAIN_STORE_KEY);
    if (chainRecord === undefined) {
      this.#provision(firstWrites());
      return "provisioned";
    }
    const chain = decodeChainRecord(chainRecord);
    const downlink = decodeDownlinkRecord(this.#store.get(DOWNLINK_STORE_KEY));
    chainRecord.fill(0);
    if (!chain || !downlink) throw new KeyStateCorruptError("the node's key records are unreadable: provision it again");
    this.#install(chain.epoch, chain.period, chain.chain, downlink);
    return "loaded";
  }

  /**
   * Moves to the next epoch: chain_{n+1} from chain_n, new keys, and one atomic commit of the new
   * chain record with `alsoWrite` (the new epoch's counter record). Only after the commit is the
   * old chain key overwritten; if the commit fails, nothing changes and the error propagates.
   */
  advance(period: number, alsoWrite: (epoch: number) => readonly StoreWrite[]): void {
    const nextEpoch = this.#epoch + 1;
    const next = nextChainKey(this.#chain, this.#device, this.#epoch);
    try {
      this.#store.commit([{ key: CHAIN_STORE_KEY, value: encodeChainRecord(nextEpoch, period, next) }, ...alsoWrite(nextEpoch)]);
    } catch (error) {
      next.fill(0);
      throw error;
    }
    this.#install(nextEpoch, period, next, undefined);
  }

  /** Records the epoch's time slot once it is known (the wall clock was not set at the rotation). */
  setPeriod(period: number): void {
    this.#store.commit([{ key: CHAIN_STORE_KEY, value: encodeChainRecord(this.#epoch, period, this.#chain) }]);
    this.#period = period;
  }

  /** Overwrites every key in RAM (shutdown). */
  wipe(): void {
    this.#chain.fill(0);
    this.#keys?.wipe();
    this.#downlink?.wipe();
    this.#keys = undefined;
    this.#downlink = undefined;
  }

  #provision(writes: readonly StoreWrite[]): void {
    const root = this.#store.get(ROOT_KEY_STORE_KEY);
    if (root === undefined || root.length !== ROOT_KEY_BYTES) {
      root?.fill(0);
      throw new NotProvisionedError(`no device root key in the store (key "${ROOT_KEY_STORE_KEY}"): provision the device first`);
    }
    const chain = initialChainKey(root, this.#device);
    const downlink = downlinkKeysFromRoot(root, this.#device);
    const keyId = keyIdFromRoot(root, this.#device);
    root.fill(0);
    try {
      this.#store.commit([
        { key: CHAIN_STORE_KEY, value: encodeChainRecord(0, UNKNOWN_PERIOD, chain) },
        { key: DOWNLINK_STORE_KEY, value: encodeDownlinkRecord(downlink) },
        { key: KEY_ID_STORE_KEY, value: keyId },
        { key: ROOT_KEY_STORE_KEY, value: undefined }, // from now on, only the keyring holds it
        ...writes,
      ]);
    } catch (error) {
      chain.fill(0);
      downlink.wipe();
      throw error;
    }
    this.#install(0, UNKNOWN_PERIOD, chain, downlink);
  }

  #install(epoch: number, period: number, chain: Uint8Array, downlink: EpochKeys | undefined): void {
    const keys = deriveEpochKeys(chain, this.#device, epoch);
    this.#chain.fill(0);
    this.#keys?.wipe();
    this.#chain = chain;
    this.#keys = keys;
    this.#epoch = epoch;
    this.#period = period;
    if (downlink) {
      this.#downlink?.wipe();
      this.#downlink = downlink;
    }
  }
}

/**
 * What a provisioning tool writes into a fresh node's store: the root key, and its public
 * fingerprint so that a host can later tell which key the node holds without reading a secret.
 */
export function provisioningWrites(rootKey: Uint8Array, device: string): StoreWrite[] {
  return [
    { key: ROOT_KEY_STORE_KEY, value: rootKey },
    { key: KEY_ID_STORE_KEY, value: keyIdFromRoot(rootKey, device) },
  ];
}

/** True when the store was provisioned with `rootKey` (compares public fingerprints only). */
export function storeHoldsKey(store: KeyValueStore, rootKey: Uint8Array, device: string): boolean {
  const held = store.get(KEY_ID_STORE_KEY);
  const expected = keyIdFromRoot(rootKey, device);
  return held !== undefined && held.length === expected.length && held.every((b, i) => b === expected[i]);
}

export function encodeChainRecord(epoch: number, period: number, chain: Uint8Array): Uint8Array {
  const record = new Uint8Array(48);
  const view = new DataView(record.buffer);
  record[0] = 0x43; // C
  record[1] = 0x4b; // K
  record[2] = 1;
  view.setUint32(4, epoch);
  view.setUint32(8, period);
  record.set(chain, 12);
  view.setUint32(44, crc32(record, 0, 44));
  return record;
}

export function decodeChainRecord(record: Uint8Array): { epoch: number; period: number; chain: Uint8Array } | undefined {
  if (record.length !== 48 || record[0] !== 0x43 || record[1] !== 0x4b || record[2] !== 1 || record[3] !== 0) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (view.getUint32(44) !== crc32(record, 0, 44)) return undefined;
  return { epoch: view.getUint32(4), period: view.getUint32(8), chain: record.slice(12, 44) };
}

function encodeDownlinkRecord(keys: EpochKeys): Uint8Array {
  const record = new Uint8Array(52);
  record[0] = 0x44; // D
  record[1] = 0x4b; // K
  record[2] = 1;
  record.set(keys.key, 4);
  record.set(keys.baseIv, 36);
  new DataView(record.buffer).setUint32(48, crc32(record, 0, 48));
  return record;
}

function decodeDownlinkRecord(record: Uint8Array | undefined): EpochKeys | undefined {
  if (!record || record.length !== 52 || record[0] !== 0x44 || record[1] !== 0x4b || record[2] !== 1 || record[3] !== 0) return undefined;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  if (view.getUint32(48) !== crc32(record, 0, 48)) return undefined;
  const keys = new EpochKeys(DOWNLINK_EPOCH, record.slice(4, 36), record.slice(36, 48));
  record.fill(0);
  return keys;
}

/** The epoch field of downlink kids: not an uplink epoch. */
export const DOWNLINK_EPOCH = 0xffffffff;
