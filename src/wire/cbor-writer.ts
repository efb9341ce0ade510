/**
 * A CBOR encoder (RFC 8949) into a fixed-capacity buffer, so encoding a summary on the device never
 * grows memory. It writes preferred serialization (section 4.2): the shortest argument for every
 * length and integer, and floats in the shortest of half, single and double that keeps the value.
 *
 * Example:
 *   const w = new CborWriter(64);
 *   w.map(1); w.int(1); w.int(24);   // {1: 24}
 *   w.written();                     // a1 01 18 18
 */
import { utf8Length, utf8Write } from "./utf8.js";

/** Thrown when a value does not fit the writer's capacity or cannot be encoded. */
export class CborCapacityError extends Error {
  override name = "CborCapacityError";
}

const MAJOR_UINT = 0;
const MAJOR_NEGINT = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;
const MAJOR_TAG = 6;
const MAJOR_SIMPLE = 7;

export class CborWriter {
  readonly #buffer: Uint8Array;
  readonly #view: DataView;
  #length = 0;

  constructor(capacity: number) {
    this.#buffer = new Uint8Array(capacity);
    this.#view = new DataView(this.#buffer.buffer);
  }

  /** Forgets what was written; the buffer is reused. */
  reset(): void {
    this.#length = 0;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** A view of the bytes written so far, valid until the next `reset()`. */
  written(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Zeroes the buffer, for writers that held plaintext or key material. */
  wipe(): void {
    this.#buffer.fill(0);
    this.#length = 0;
  }

  /** An integer (major type 0 or 1); must be a safe integer. */
  int(value: number): this {
    if (!Number.isSafeInteger(value)) throw new CborCapacityError(`not a safe integer: ${value}`);
    if (value >= 0) this.#head(MAJOR_UINT, value);
    else this.#head(MAJOR_NEGINT, -1 - value);
    return this;
  }

  /** A byte string (major type 2). */
  bytes(value: Uint8Array): this {
    this.#head(MAJOR_BYTES, value.length);
    this.#reserve(value.length);
    this.#buffer.set(value, this.#length);
    this.#length += value.length;
    return this;
  }

  /** A text string (major type 3), UTF-8 encoded in place. */
  text(value: string): this {
    const length = utf8Length(value);
    this.#head(MAJOR_TEXT, length);
    this.#reserve(length);
    this.#length = utf8Write(value, this.#buffer, this.#length);
    return this;
  }

  /** The head of an array of `count` items; the items follow. */
  array(count: number): this {
    this.#head(MAJOR_ARRAY, count);
    return this;
  }

  /** The head of a map of `count` pairs; keys and values follow alternately. */
  map(count: number): this {
    this.#head(MAJOR_MAP, count);
    return this;
  }

  /** A tag (major type 6); the tagged item follows. */
  tag(tagNumber: number): this {
    this.#head(MAJOR_TAG, tagNumber);
    return this;
  }

  bool(value: boolean): this {
    this.#reserve(1);
    this.#buffer[this.#length++] = value ? 0xf5 : 0xf4;
    return this;
  }

  null(): this {
    this.#reserve(1);
    this.#buffer[this.#length++] = 0xf6;
    return this;
  }

  /**
   * A number as SenML and most decoders want it: an integer when it is one (and safe), otherwise
   * the shortest float that holds it exactly.
   */
  number(value: number): this {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return this.int(value);
    return this.float(value);
  }

  /** A floating-point value in the shortest of half, single or double precision that is exact. */
  float(value: number): this {
    const half = halfBitsIfExact(value);
    if (half !== undefined) {
      this.#reserve(3);
      this.#buffer[this.#length] = 0xf9;
      this.#view.setUint16(this.#length + 1, half);
      this.#length += 3;
    } else if (Object.is(Math.fround(value), value)) {
      this.#reserve(5);
      this.#buffer[this.#length] = 0xfa;
      this.#view.setFloat32(this.#length + 1, value);
      this.#length += 5;
    } else {
      this.#reserve(9);
      this.#buffer[this.#length] = 0xfb;
      this.#view.setFloat64(this.#length + 1, value);
      this.#length += 9;
    }
    return this;
  }

  /** Copies already-encoded CBOR (e.g. a nested serialized structure) verbatim. */
  raw(encoded: Uint8Array): this {
    this.#reserve(encoded.length);
    this.#buffer.set(encoded, this.#length);
    this.#length += encoded.length;
    return this;
  }

  #head(major: number, argument: number): void {
    if (!Number.isSafeInteger(argument) || argument < 0) throw new CborCapacityError(`bad CBOR argument ${argument}`);
    const type = major << 5;
    const b = this.#buffer;
    if (argument < 24) {
      this.#reserve(1);
      b[this.#length++] = type | argument;
    } else if (argument < 0x100) {
      this.#reserve(2);
      b[this.#length++] = type | 24;
      b[this.#length++] = argument;
    } else if (argument < 0x10000) {
      this.#reserve(3);
      b[this.#length] = type | 25;
      this.#view.setUint16(this.#length + 1, argument);
      this.#length += 3;
    } else if (argument < 0x100000000) {
      this.#reserve(5);
      b[this.#length] = type | 26;
      this.#view.setUint32(this.#length + 1, argument);
      this.#length += 5;
    } else {
      this.#reserve(9);
      b[this.#length] = type | 27;
      this.#view.setUint32(this.#length + 1, Math.floor(argument / 0x100000000));
      this.#view.setUint32(this.#length + 5, argument >>> 0);
      this.#length += 9;
    }
  }

  #reserve(count: number): void {
    if (this.#length + count > this.#buffer.length) {
      throw new CborCapacityError(`CBOR output exceeds its ${this.#buffer.length}-byte capacity`);
    }
  }
}

/** The IEEE 754 binary16 bits of `value` when it converts without loss, else undefined. */
function halfBitsIfExact(value: number): number | undefined {
  if (Number.isNaN(value)) return 0x7e00;
  if (value === Infinity) return 0x7c00;
  if (value === -Infinity) return 0xfc00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude === 0) return sign;
  // Normal half values: 2^-14 .. 65504 with 10 mantissa bits.
  if (magnitude >= 6.103515625e-5 && magnitude <= 65504) {
    const exponent = Math.floor(Math.log2(magnitude));
    // log2 can be off by one for values near powers of two: correct it.
    const e = Math.pow(2, exponent) > magnitude ? exponent - 1 : Math.pow(2, exponent + 1) <= magnitude ? exponent + 1 : exponent;
    const mantissa = (magnitude / Math.pow(2, e) - 1) * 1024;
    if (!Number.isInteger(mantissa)) return undefined;
    return sign | ((e + 15) << 10) | mantissa;
  }
  // Subnormal half values: multiples of 2^-24 below 2^-14.
  if (magnitude < 6.103515625e-5) {
    const steps = magnitude / 5.960464477539063e-8;
    return Number.isInteger(steps) ? sign | steps : undefined;
  }
  return undefined;
}
