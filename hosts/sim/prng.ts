/**
 * Seeded pseudo-random numbers for the simulated world.
 *
 * Everything random in the simulator (sensor noise, weather, faults, node identities in tests) draws
 * from a `Prng` so that a run is reproducible from its seed. The generator is sfc32 (Chris Doty-Humphrey's
 * "small fast chaotic" generator, 128 bits of state, 32-bit integer math only), seeded through
 * splitmix32 (number seeds) or FNV-1a over the UTF-8 bytes of the text (string seeds).
 *
 * Portable: no Node APIs, no `Math.random`, no TextEncoder; runs on XS as it does on Node.
 *
 * NOT FOR KEYS. Nothing in this file is cryptographically secure. `SeededRandom` exists so that tests and
 * simulations can hand the core a reproducible stand-in for its CSPRNG; a real host must use the hardware
 * or OS random source.
 */

import type { Random } from "../../src/platform.js";

/** A seed: a number (integers up to 2^53 stay distinct) or any text. */
export type Seed = number | string;

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const GOLDEN_GAMMA = 0x9e3779b9;
const TWO_POW_32 = 4294967296;
const INV_TWO_POW_32 = 1 / TWO_POW_32;
const TWO_PI = 2 * Math.PI;

/**
 * 32-bit FNV-1a over the UTF-8 encoding of `text` (lone surrogates encoded as their 3-byte form).
 * `fnv1a32("a") === 0xe40c292c`. `basis` lets callers derive several independent hashes of one text.
 */
export function fnv1a32(text: string, basis: number = FNV_OFFSET_BASIS): number {
  let hash = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
        i++;
      }
    }
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, FNV_PRIME);
    } else if (code < 0x800) {
      hash = Math.imul(hash ^ (0xc0 | (code >>> 6)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    } else if (code < 0x10000) {
      hash = Math.imul(hash ^ (0xe0 | (code >>> 12)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >>> 6) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    } else {
      hash = Math.imul(hash ^ (0xf0 | (code >>> 18)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >>> 12) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | ((code >>> 6) & 0x3f)), FNV_PRIME);
      hash = Math.imul(hash ^ (0x80 | (code & 0x3f)), FNV_PRIME);
    }
  }
  return hash >>> 0;
}

/** A bijective 32-bit integer mixer (the "lowbias32" finaliser). Returns an unsigned 32-bit integer. */
export function mix32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** One splitmix32 output for the state value `state` (the caller advances its state by GOLDEN_GAMMA). */
function splitmix32Output(state: number): number {
  let z = state >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A stateless hash of an integer counter under a two-word key, as a float in [0, 1).
 * Counter-based noise for models that must be a pure function of time (see `StreetClimate`).
 * `counter` may be any integer in the safe range, negative included.
 */
export function hashUnit(key0: number, key1: number, counter: number): number {
  const low = counter >>> 0;
  const high = Math.floor(counter / TWO_POW_32) >>> 0;
  let h = mix32(low ^ key0);
  h = mix32((h + key1) ^ high);
  h = mix32(h ^ (key0 >>> 7) ^ GOLDEN_GAMMA);
  return h * INV_TWO_POW_32;
}

/** Four 32-bit words of key material, derived from a seed. */
function keyFromSeed(seed: Seed): [number, number, number, number] {
  if (typeof seed === "number" && Number.isSafeInteger(seed)) {
    const low = seed >>> 0;
    const high = Math.floor(seed / TWO_POW_32) >>> 0;
    let state = (low ^ mix32(high ^ 0x5bd1e995)) >>> 0;
    const words: [number, number, number, number] = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      state = (state + GOLDEN_GAMMA) >>> 0;
      words[i] = splitmix32Output(state);
    }
    return words;
  }
  const text = typeof seed === "string" ? seed : `number:${String(seed)}`;
  return [
    mix32(fnv1a32(text, mix32(FNV_OFFSET_BASIS + 1))),
    mix32(fnv1a32(text, mix32(FNV_OFFSET_BASIS + 2))),
    mix32(fnv1a32(text, mix32(FNV_OFFSET_BASIS + 3))),
    mix32(fnv1a32(text, mix32(FNV_OFFSET_BASIS + 4))),
  ];
}

/**
 * A seeded pseudo-random generator (sfc32). Not cryptographically secure.
 *
 * Streams: `fork(label)` derives a child generator from this generator's *seed key* and the label, without
 * drawing from this generator. So forking never disturbs the parent's sequence, forking the same label twice
 * gives two generators with the same sequence, and adding a new consumer (a new part, a new node) does not
 * shift the numbers every other consumer sees. Give every consumer its own label: `world.fork("node-17").fork("sht4x")`.
 */
export class Prng {
  /** The generator's own key (seed material), fixed once seeded; the root of its forks. */
  private key: readonly [number, number, number, number] = [0, 0, 0, 0];
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;
  /** The second value of the last Box-Muller pair, or NaN when none is waiting. */
  private spareNormal = Number.NaN;

  constructor(seed: Seed) {
    this.seedWith(keyFromSeed(seed));
  }

  /** A generator seeded directly with four 32-bit words of key material (what `fork` uses). */
  static fromKey(k0: number, k1: number, k2: number, k3: number): Prng {
    const prng = new Prng(0);
    prng.seedWith([k0 >>> 0, k1 >>> 0, k2 >>> 0, k3 >>> 0]);
    return prng;
  }

  private seedWith(key: readonly [number, number, number, number]): void {
    this.key = key;
    this.a = key[0] | 0;
    this.b = key[1] | 0;
    this.c = key[2] | 0;
    this.d = key[3] | 0;
    this.spareNormal = Number.NaN;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** The next 32 random bits as an unsigned integer in [0, 2^32). */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() * INV_TWO_POW_32;
  }

  /** A float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [lo, hiExclusive); both bounds integers, span below 2^32. */
  int(lo: number, hiExclusive: number): number {
    const span = hiExclusive - lo;
    if (!(span >= 1)) throw new RangeError(`Prng.int: empty range [${lo}, ${hiExclusive})`);
    return lo + Math.min(span - 1, Math.floor(span * this.next()));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * A standard normal draw (mean 0, standard deviation 1), Box-Muller. Deterministic for a seed on one
   * engine; `Math.log`/`Math.cos` are not required to be bit-identical across engines, so last-bit
   * differences between Node and XS are possible.
   */
  normal(): number {
    const spare = this.spareNormal;
    if (!Number.isNaN(spare)) {
      this.spareNormal = Number.NaN;
      return spare;
    }
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = TWO_PI * u2;
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }

  /** An independent child generator for `label`; see the class comment. Does not draw from this generator. */
  fork(label: string): Prng {
    return Prng.fromKey(
      mix32(fnv1a32(label, this.key[0] ^ 0x243f6a88)),
      mix32(fnv1a32(label, this.key[1] ^ 0x85a308d3)),
      mix32(fnv1a32(label, this.key[2] ^ 0x13198a2e)),
      mix32(fnv1a32(label, this.key[3] ^ 0x03707344)),
    );
  }
}

/** Fills `target` with bytes from `prng`, four bytes per draw, little-endian. Deterministic; NOT secure. */
export function fillSeededBytes(prng: Prng, target: Uint8Array): void {
  const length = target.length;
  let i = 0;
  for (; i + 4 <= length; i += 4) {
    const word = prng.nextUint32();
    target[i] = word & 0xff;
    target[i + 1] = (word >>> 8) & 0xff;
    target[i + 2] = (word >>> 16) & 0xff;
    target[i + 3] = word >>> 24;
  }
  if (i < length) {
    let word = prng.nextUint32();
    for (; i < length; i++) {
      target[i] = word & 0xff;
      word >>>= 8;
    }
  }
}

/**
 * !!! FOR TESTS AND SIMULATIONS ONLY — NOT A CSPRNG — NEVER USE ON A REAL NODE !!!
 *
 * A reproducible stand-in for the platform's `Random` so that tests and simulated nodes derive the same
 * "random" keys and nonces on every run. Anyone who knows the seed knows every byte it will ever produce.
 */
export class SeededRandom implements Random {
  private readonly prng: Prng;

  /** `seed` may be a seed or a `Prng` to draw from (shared, not copied). */
  constructor(seed: Seed | Prng) {
    this.prng = seed instanceof Prng ? seed : new Prng(seed).fork("seeded-random");
  }

  fill(target: Uint8Array): void {
    fillSeededBytes(this.prng, target);
  }
}
