/**
 * A strict CBOR decoder (RFC 8949) for input that may be hostile: messages from the broker,
 * downlink commands. It accepts definite-length items only (civicnode never writes indefinite
 * lengths), integers up to 2^53, maps keyed by integers or text without duplicates, and rejects
 * truncation, trailing bytes, invalid UTF-8, reserved additional information and excessive nesting
 * with a `CborDecodeError`, never another exception.
 *
 * Example:
 *   decodeCbor(Uint8Array.of(0xa1, 0x01, 0x18, 0x18)); // Map { 1 => 24 }
 */
import { utf8Decode } from "./utf8.js";

export class CborDecodeError extends Error {
  override name = "CborDecodeError";
}

/** A tagged item (major type 6). */
export class CborTagged {
  constructor(
    readonly tag: number,
    readonly value: CborValue,
  ) {}
}

/** The simple value `undefined` (0xf7), kept distinct from absence. */
export const CBOR_UNDEFINED: unique symbol = Symbol("cbor-undefined");

export type CborMapKey = number | string;
export type CborValue =
  | number
  | string
  | boolean
  | null
  | typeof CBOR_UNDEFINED
  | Uint8Array
  | CborValue[]
  | Map<CborMapKey, CborValue>
  | CborTagged;

export interface CborDecodeOptions {
  /** Deepest nesting of arrays, maps and tags accepted (default 16). */
  readonly maxDepth?: number;
}

/** Decodes exactly one CBOR item that spans all of `bytes`. */
export function decodeCbor(bytes: Uint8Array, options: CborDecodeOptions = {}): CborValue {
  const reader = new Reader(bytes, options.maxDepth ?? 16);
  const value = reader.item(0);
  if (reader.offset !== bytes.length) throw new CborDecodeError(`${bytes.length - reader.offset} trailing bytes after the CBOR item`);
  return value;
}

class Reader {
  offset = 0;
  readonly #view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly maxDepth: number,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  item(depth: number): CborValue {
    if (depth > this.maxDepth) throw new CborDecodeError(`CBOR nested deeper than ${this.maxDepth}`);
    const initial = this.#byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    if (major === 7) return this.#simple(info);
    const argument = this.#argument(info);
    switch (major) {
      case 0:
        return argument;
      case 1:
        return -1 - argument;
      case 2:
        return this.#take(argument).slice();
      case 3: {
        const start = this.offset;
        this.#take(argument);
        try {
          return utf8Decode(this.bytes, start, start + argument);
        } catch (error) {
          throw new CborDecodeError(`text string: ${(error as Error).message}`);
        }
      }
      case 4: {
        this.#plausibleCount(argument, 1);
        const items: CborValue[] = [];
        for (let i = 0; i < argument; i++) items.push(this.item(depth + 1));
        return items;
      }
      case 5: {
        this.#plausibleCount(argument, 2);
        const map = new Map<CborMapKey, CborValue>();
        for (let i = 0; i < argument; i++) {
          const key = this.item(depth + 1);
          if (typeof key !== "number" && typeof key !== "string") throw new CborDecodeError("map key is neither integer nor text");
          if (map.has(key)) throw new CborDecodeError(`duplicate map key ${JSON.stringify(key)}`);
          map.set(key, this.item(depth + 1));
        }
        return map;
      }
      default:
        return new CborTagged(argument, this.item(depth + 1));
    }
  }

  #simple(info: number): CborValue {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return CBOR_UNDEFINED;
      case 25: {
        this.#need(2);
        const value = decodeHalf(this.#view.getUint16(this.offset));
        this.offset += 2;
        return value;
      }
      case 26: {
        this.#need(4);
        const value = this.#view.getFloat32(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.#need(8);
        const value = this.#view.getFloat64(this.offset);
        this.offset += 8;
        return value;
      }
      default:
        throw new CborDecodeError(`unsupported simple value (additional information ${info})`);
    }
  }

  #argument(info: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.#byte();
      case 25: {
        this.#need(2);
        const value = this.#view.getUint16(this.offset);
        this.offset += 2;
        return value;
      }
      case 26: {
        this.#need(4);
        const value = this.#view.getUint32(this.offset);
        this.offset += 4;
        return value;
      }
      case 27: {
        this.#need(8);
        const high = this.#view.getUint32(this.offset);
        const low = this.#view.getUint32(this.offset + 4);
        this.offset += 8;
        if (high > 0x1fffff) throw new CborDecodeError("integer beyond 2^53 is not supported");
        return high * 0x100000000 + low;
      }
      case 31:
        throw new CborDecodeError("indefinite-length items are not accepted");
      default:
        throw new CborDecodeError(`reserved additional information ${info}`);
    }
  }

  /** Rejects a count that the remaining bytes cannot possibly hold, before allocating for it. */
  #plausibleCount(count: number, bytesPerEntry: number): void {
    if (count * bytesPerEntry > this.bytes.length - this.offset) throw new CborDecodeError("CBOR truncated: declared count exceeds input");
  }

  #byte(): number {
    this.#need(1);
    return this.bytes[this.offset++]!;
  }

  #take(length: number): Uint8Array {
    this.#need(length);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  #need(length: number): void {
    if (this.offset + length > this.bytes.length) throw new CborDecodeError("CBOR truncated");
  }
}

/** IEEE 754 binary16 to a number (RFC 8949 Appendix D). */
function decodeHalf(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * Math.pow(2, -24);
  if (exponent === 31) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * Math.pow(2, exponent - 15);
}
