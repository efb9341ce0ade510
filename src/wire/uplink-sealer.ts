/**
 * Seals a node's uplink messages: holds the current epoch's key material and the message counter,
 * and turns plaintext into COSE_Encrypt0 bound to the topic.
 *
 * The root key is read from the store at boot (where provisioning put it), used to derive the
 * epoch's keys, and the in-memory copy is overwritten at once.
 */
import type { KeyValueStore } from "../platform.js";
import { CborWriter } from "./cbor-writer.js";
import { sealEncrypt0 } from "./cose-encrypt0.js";
import { epochKeysFromRoot, ROOT_KEY_BYTES, type EpochKeys } from "./key-schedule.js";
import { encodeKid } from "./kid.js";
import { SealCounter } from "./seal-counter.js";

/** Store key of the provisioned 256-bit device root key. */
export const ROOT_KEY_STORE_KEY = "key.root";

export class NotProvisionedError extends Error {
  override name = "NotProvisionedError";
}

export class UplinkSealer {
  readonly #store: KeyValueStore;
  readonly #device: string;
  readonly #counter: SealCounter;
  readonly #out: CborWriter;
  #keys: EpochKeys | undefined;
  #kid: Uint8Array = new Uint8Array(0);

  constructor(store: KeyValueStore, device: string, counterBlock: number, maxMessageBytes: number) {
    this.#store = store;
    this.#device = device;
    this.#counter = new SealCounter(store, counterBlock);
    this.#out = new CborWriter(maxMessageBytes);
  }

  /** Loads the counter and derives the epoch's keys. Throws NotProvisionedError or SealCounterCorruptError. */
  boot(): void {
    const root = this.#store.get(ROOT_KEY_STORE_KEY);
    if (root === undefined || root.length !== ROOT_KEY_BYTES) {
      root?.fill(0);
      throw new NotProvisionedError(`no device root key in the store (key "${ROOT_KEY_STORE_KEY}"): provision the device first`);
    }
    try {
      this.#counter.load();
      this.#keys?.wipe();
      this.#keys = epochKeysFromRoot(root, this.#device, this.#counter.epoch);
      this.#kid = encodeKid(this.#device, this.#counter.epoch);
    } finally {
      root.fill(0);
    }
  }

  get epoch(): number {
    return this.#counter.epoch;
  }

  /** The counter the next sealed message will carry. */
  get nextCounter(): number {
    return this.#counter.peek;
  }

  /** Seals `plaintext` with `externalAad` (the topic); returns a new array the caller owns. */
  seal(plaintext: Uint8Array, externalAad: Uint8Array): Uint8Array {
    if (this.#keys === undefined) throw new Error("UplinkSealer.boot() first");
    const counter = this.#counter.take();
    return sealEncrypt0(this.#out, plaintext, this.#keys, this.#kid, counter, externalAad).slice();
  }

  /** Overwrites the key material (shutdown). */
  wipe(): void {
    this.#keys?.wipe();
    this.#keys = undefined;
    this.#out.wipe();
  }
}
