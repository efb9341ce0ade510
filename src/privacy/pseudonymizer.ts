/**
 * Keyed pseudonyms of identifiers (BLE advertiser addresses): a 64-bit truncated keyed BLAKE2s of
 * the address, under a 256-bit key drawn from the platform CSPRNG. The key lives only in RAM, is
 * never stored, logged or sent, and is replaced every pseudonym epoch, its bytes overwritten.
 *
 * Why a key, and why it rotates: a MAC address has 48 bits, and a BLE random address fewer
 * unknown ones. Anyone can hash all 2^48 addresses (a day or so on a GPU), so a plain or salted
 * hash of an address is just a lookup table away from the address, and a salt stored on the
 * device is read off a stolen one. A keyed hash under a secret 256-bit key cannot be inverted
 * without the key, and rotating and erasing the key makes pseudonyms of different epochs
 * unlinkable, also to whoever later obtains the node.
 */
import type { Random } from "../platform.js";
import { KeyedBlake2s } from "./keyed-blake2s.js";

export const PSEUDONYM_KEY_BYTES = 32;
export const PSEUDONYM_BYTES = 8;

export class Pseudonymizer {
  readonly #random: Random;
  readonly #key = new Uint8Array(PSEUDONYM_KEY_BYTES);
  readonly #prf = new KeyedBlake2s(PSEUDONYM_BYTES);
  readonly #digest = new Uint8Array(PSEUDONYM_BYTES);
  /** Epochs started since construction (for health and tests; says nothing about any key). */
  epochs = 0;

  constructor(random: Random) {
    this.#random = random;
    this.rotate();
  }

  /** Starts a new epoch: a fresh key from the CSPRNG over the old one's bytes. */
  rotate(): void {
    this.#random.fill(this.#key);
    this.#prf.wipe();
    this.#prf.setKey(this.#key);
    // The key schedule holds everything needed; the raw key bytes need not stay in RAM.
    this.#key.fill(0);
    this.epochs++;
  }

  /**
   * The pseudonym of the first `length` bytes of `identifier`, as two 32-bit words written to
   * `out` (out[0] high, out[1] low). Allocates nothing; nothing of the identifier is kept.
   */
  pseudonym(identifier: Uint8Array, length: number, out: Uint32Array): void {
    const d = this.#digest;
    this.#prf.hash(identifier, length, d);
    out[0] = ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
    out[1] = ((d[4]! << 24) | (d[5]! << 16) | (d[6]! << 8) | d[7]!) >>> 0;
    d.fill(0);
  }

  /** Erases the key state (shutdown). */
  wipe(): void {
    this.#prf.wipe();
    this.#key.fill(0);
  }
}
