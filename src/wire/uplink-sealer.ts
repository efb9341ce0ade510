/**
 * Seals a node's uplink messages: the forward-secure epoch keys (key-ratchet.ts), the message
 * counter that makes every nonce unique (seal-counter.ts), and COSE_Encrypt0 bound to the topic.
 *
 * The epoch moves on (a new key, the counter back to 0):
 * - when its time slot ends (every `epochSeconds` of wall time, by default a day),
 * - when it has sealed `maxMessagesPerEpoch` messages,
 * - on command (`rotate()`),
 * - and at boot when the counter record is lost, corrupt or from another epoch: the counter is
 *   never reset or guessed under a key that may have used it.
 * Every move commits the new chain key and the new epoch's counter block in one atomic write
 * before anything is sealed under them, so a power cut at any instant can neither reuse a
 * (key, counter) pair nor lose the key.
 */
import type { KeyValueStore } from "../platform.js";
import { CborWriter } from "./cbor-writer.js";
import { sealEncrypt0, MAX_COUNTER } from "./cose-encrypt0.js";
import { encodeKid } from "./kid.js";
import { KeyRatchet, UNKNOWN_PERIOD } from "./key-ratchet.js";
import { SEAL_COUNTER_KEY, SealCounter } from "./seal-counter.js";

export { NotProvisionedError, KeyStateCorruptError, ROOT_KEY_STORE_KEY, KEY_ID_STORE_KEY } from "./key-ratchet.js";

export interface UplinkSealerOptions {
  /** Counter values reserved per store write (see SealCounter). */
  readonly counterBlock: number;
  /** Largest sealed message (bytes). */
  readonly maxMessageBytes: number;
  /** Length of an epoch's time slot (default a day). */
  readonly epochSeconds?: number;
  /** Messages after which the epoch moves on anyway (default 2^20). */
  readonly maxMessagesPerEpoch?: number;
  /** Told about every move to a new epoch (for the audit log). */
  readonly onRotate?: (reason: RotationReason, epoch: number) => void;
}

export type RotationReason = "time" | "messages" | "command" | "counter-lost";

export interface SealerStats {
  /** Epoch moves since boot, by reason. */
  rotations: Record<RotationReason, number>;
}

export class UplinkSealer {
  readonly #store: KeyValueStore;
  readonly #device: string;
  readonly #ratchet: KeyRatchet;
  readonly #counter: SealCounter;
  readonly #out: CborWriter;
  readonly #epochSeconds: number;
  readonly #maxMessages: number;
  readonly #onRotate: ((reason: RotationReason, epoch: number) => void) | undefined;
  #kid: Uint8Array = new Uint8Array(0);
  #sealedThisEpoch = 0;
  #booted = false;
  readonly stats: SealerStats = { rotations: { time: 0, messages: 0, command: 0, "counter-lost": 0 } };

  constructor(store: KeyValueStore, device: string, options: UplinkSealerOptions) {
    this.#store = store;
    this.#device = device;
    this.#ratchet = new KeyRatchet(store, device);
    this.#counter = new SealCounter(store, options.counterBlock);
    this.#out = new CborWriter(options.maxMessageBytes);
    this.#epochSeconds = options.epochSeconds ?? 86400;
    this.#maxMessages = Math.min(options.maxMessagesPerEpoch ?? 1 << 20, MAX_COUNTER);
    this.#onRotate = options.onRotate;
  }

  /**
   * Loads (or provisions) the keys and the counter. Throws NotProvisionedError when the store holds
   * no key, KeyStateCorruptError when the key records are unreadable.
   */
  boot(): void {
    // A counter record found at provisioning belongs to messages already sealed under epoch 0 (a
    // node that ran before the ratchet, with the same root key): resume above it, never overwrite it.
    const earlierCounter = this.#store.get(SEAL_COUNTER_KEY) !== undefined;
    const booted = this.#ratchet.boot(() => (earlierCounter ? [] : [this.#counter.firstBlockOf(0)]));
    if (booted === "provisioned" && !earlierCounter) this.#counter.started(0);
    else if (this.#counter.load(this.#ratchet.epoch) === "unusable") this.#advance("counter-lost", this.#ratchet.period);
    this.#kid = encodeKid(this.#device, this.#ratchet.epoch);
    this.#sealedThisEpoch = 0;
    this.#booted = true;
  }

  get epoch(): number {
    return this.#ratchet.epoch;
  }

  /** The counter the next sealed message will carry (in the current epoch). */
  get nextCounter(): number {
    return this.#counter.peek;
  }

  /** The downlink key material (for opening commands); see KeyRatchet. */
  get downlinkKeys() {
    return this.#ratchet.downlink;
  }

  /** Seals `plaintext` with `externalAad` (the topic) at wall time `wallMs`; returns a new array. */
  seal(plaintext: Uint8Array, externalAad: Uint8Array, wallMs: number): Uint8Array {
    if (!this.#booted) throw new Error("UplinkSealer.boot() first");
    const period = Math.floor(wallMs / 1000 / this.#epochSeconds);
    if (this.#ratchet.period === UNKNOWN_PERIOD) this.#ratchet.setPeriod(period);
    else if (period > this.#ratchet.period) this.#advance("time", period);
    if (this.#sealedThisEpoch >= this.#maxMessages || this.#counter.peek >= MAX_COUNTER) this.#advance("messages", period);
    const counter = this.#counter.take();
    this.#sealedThisEpoch++;
    return sealEncrypt0(this.#out, plaintext, this.#ratchet.keys, this.#kid, counter, externalAad).slice();
  }

  /** Moves to the next epoch now (a downlink command); the old key is gone afterwards. */
  rotate(wallMs: number): void {
    this.#advance("command", Math.floor(wallMs / 1000 / this.#epochSeconds));
  }

  /** Overwrites the key material (shutdown). */
  wipe(): void {
    this.#ratchet.wipe();
    this.#out.wipe();
    this.#booted = false;
  }

  #advance(reason: RotationReason, period: number): void {
    this.#ratchet.advance(period, (epoch) => [this.#counter.firstBlockOf(epoch)]);
    this.#counter.started(this.#ratchet.epoch);
    this.#kid = encodeKid(this.#device, this.#ratchet.epoch);
    this.#sealedThisEpoch = 0;
    this.stats.rotations[reason]++;
    this.#onRotate?.(reason, this.#ratchet.epoch);
  }
}
