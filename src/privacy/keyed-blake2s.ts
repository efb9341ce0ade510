/**
 * Keyed BLAKE2s (RFC 7693) for short messages, as the pseudonym function of identifiers.
 *
 * Why not @noble/hashes' blake2s, which the rest of the core would prefer: in XS it takes about
 * 1,600 heap slots and 60,000 computrons per call, and a node hashes every BLE advertisement it
 * hears (tens per second). This implementation keeps its whole state in preallocated typed
 * arrays and allocates nothing per message. It also precomputes the state after the key block
 * once per key, so a pseudonym costs one compression. Its output is checked against the RFC 7693
 * test vector and against @noble/hashes on random keys and messages (test/src/privacy).
 *
 * Scope: keys of 1..32 bytes (or none), messages of 1..64 bytes with a key and 0..64 without
 * (one block after the key block), digests of 1..32 bytes.
 *
 * Example:
 *   const prf = new KeyedBlake2s(8);
 *   prf.setKey(key);                    // once per pseudonym epoch
 *   prf.hash(address, 6, out);          // out: Uint8Array(8), the truncated keyed hash
 *   prf.wipe();                         // at rotation: the key state is overwritten
 */

/** RFC 7693 section 2.6: the SHA-256 initial values. */
const IV = Uint32Array.of(0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19);

/** RFC 7693 section 2.7: the message word schedule of each of the 10 rounds. */
const SIGMA = Uint8Array.of(
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
  14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3,
  11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4,
  7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8,
  9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13,
  2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9,
  12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11,
  13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10,
  6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5,
  10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0,
);

export class KeyedBlake2s {
  readonly outLength: number;
  /** The chaining state after the key block (or the initial state when there is no key). */
  readonly #keyed = new Uint32Array(8);
  /** Bytes processed before the message block: 64 with a key, 0 without. */
  #offset = 0;
  readonly #h = new Uint32Array(8);
  readonly #v = new Uint32Array(16);
  readonly #m = new Uint32Array(16);
  readonly #block = new Uint8Array(64);
  #ready = false;

  constructor(outLength: number) {
    if (!Number.isInteger(outLength) || outLength < 1 || outLength > 32) throw new RangeError("BLAKE2s digest length must be 1..32 bytes");
    this.outLength = outLength;
  }

  /** Sets the key (1..32 bytes; empty for plain BLAKE2s) and processes the key block. */
  setKey(key: Uint8Array): void {
    if (key.length > 32) throw new RangeError("BLAKE2s key must be at most 32 bytes");
    const h = this.#keyed;
    h.set(IV);
    // Parameter block word 0: digest length, key length, fanout 1, depth 1 (RFC 7693 section 2.5).
    h[0] = h[0]! ^ 0x01010000 ^ (key.length << 8) ^ this.outLength;
    if (key.length > 0) {
      this.#block.fill(0);
      this.#block.set(key);
      this.#compress(h, this.#block, 64, false);
      this.#block.fill(0);
      this.#offset = 64;
    } else this.#offset = 0;
    this.#ready = true;
  }

  /**
   * Hashes the first `length` bytes of `message` (at most 64) into `out` (at least outLength
   * bytes). Allocates nothing.
   */
  hash(message: Uint8Array, length: number, out: Uint8Array): void {
    if (!this.#ready) throw new Error("KeyedBlake2s: setKey() first");
    if (length > 64 || (length === 0 && this.#offset > 0)) throw new RangeError("KeyedBlake2s hashes keyed messages of 1 to 64 bytes");
    const block = this.#block;
    for (let i = 0; i < 64; i++) block[i] = i < length ? message[i]! : 0;
    const h = this.#h;
    h.set(this.#keyed);
    // An empty message without a key is one all-zero final block of length 0 (RFC 7693 section 3.3).
    this.#compress(h, block, this.#offset + length, true);
    block.fill(0);
    for (let i = 0; i < this.outLength; i++) out[i] = (h[i >> 2]! >>> (8 * (i & 3))) & 0xff;
    h.fill(0);
  }

  /** Overwrites every byte of key-derived state. */
  wipe(): void {
    this.#keyed.fill(0);
    this.#h.fill(0);
    this.#v.fill(0);
    this.#m.fill(0);
    this.#block.fill(0);
    this.#ready = false;
  }

  /** RFC 7693 section 3.2, F. `counter` is the byte count t (below 2^32 here). */
  #compress(h: Uint32Array, block: Uint8Array, counter: number, last: boolean): void {
    const v = this.#v;
    const m = this.#m;
    for (let i = 0; i < 16; i++) {
      const j = 4 * i;
      m[i] = block[j]! | (block[j + 1]! << 8) | (block[j + 2]! << 16) | (block[j + 3]! << 24);
    }
    for (let i = 0; i < 8; i++) {
      v[i] = h[i]!;
      v[i + 8] = IV[i]!;
    }
    v[12] = v[12]! ^ counter;
    if (last) v[14] = ~v[14]!;
    for (let round = 0; round < 10; round++) {
      const s = round * 16;
      mix(v, m, 0, 4, 8, 12, SIGMA[s]!, SIGMA[s + 1]!);
      mix(v, m, 1, 5, 9, 13, SIGMA[s + 2]!, SIGMA[s + 3]!);
      mix(v, m, 2, 6, 10, 14, SIGMA[s + 4]!, SIGMA[s + 5]!);
      mix(v, m, 3, 7, 11, 15, SIGMA[s + 6]!, SIGMA[s + 7]!);
      mix(v, m, 0, 5, 10, 15, SIGMA[s + 8]!, SIGMA[s + 9]!);
      mix(v, m, 1, 6, 11, 12, SIGMA[s + 10]!, SIGMA[s + 11]!);
      mix(v, m, 2, 7, 8, 13, SIGMA[s + 12]!, SIGMA[s + 13]!);
      mix(v, m, 3, 4, 9, 14, SIGMA[s + 14]!, SIGMA[s + 15]!);
    }
    for (let i = 0; i < 8; i++) h[i] = h[i]! ^ v[i]! ^ v[i + 8]!;
    v.fill(0);
    m.fill(0);
  }
}

/** RFC 7693 section 3.1, G with BLAKE2s's rotations 16, 12, 8, 7 (on Uint32Array: wraps mod 2^32). */
function mix(v: Uint32Array, m: Uint32Array, a: number, b: number, c: number, d: number, x: number, y: number): void {
  let va = v[a]!;
  let vb = v[b]!;
  let vc = v[c]!;
  let vd = v[d]!;
  va = (va + vb + m[x]!) | 0;
  vd ^= va;
  vd = (vd >>> 16) | (vd << 16);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb >>> 12) | (vb << 20);
  va = (va + vb + m[y]!) | 0;
  vd ^= va;
  vd = (vd >>> 8) | (vd << 24);
  vc = (vc + vd) | 0;
  vb ^= vc;
  vb = (vb >>> 7) | (vb << 25);
  v[a] = va;
  v[b] = vb;
  v[c] = vc;
  v[d] = vd;
}
