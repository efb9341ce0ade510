/**
 * The messages between Node and code running in XS: a CBOR array per message, first the operation
 * name, then its arguments (numbers, text, bytes, booleans, null, nested arrays). Portable: the
 * same module encodes and decodes on both sides of the pipe.
 */
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { CborTagged, decodeCbor, type CborValue } from "../../src/wire/cbor-reader.js";
import { utf8Length } from "../../src/wire/utf8.js";

export type BridgeValue = number | string | boolean | null | Uint8Array | readonly BridgeValue[];

export function encodeBridge(values: readonly BridgeValue[]): Uint8Array {
  const writer = new CborWriter(16 + sizeOf(values));
  write(writer, values);
  return writer.written();
}

export function decodeBridge(bytes: Uint8Array): BridgeValue[] {
  const value = decodeCbor(bytes, { maxDepth: 8 });
  if (!Array.isArray(value)) throw new Error("bridge message must be an array");
  return value.map(toBridge);
}

function toBridge(value: CborValue): BridgeValue {
  if (Array.isArray(value)) return value.map(toBridge);
  if (value instanceof Map || value instanceof CborTagged || typeof value === "symbol") throw new Error("unexpected value in bridge message");
  return value;
}

function write(writer: CborWriter, value: BridgeValue): void {
  if (value === null) writer.null();
  else if (typeof value === "number") writer.number(value);
  else if (typeof value === "string") writer.text(value);
  else if (typeof value === "boolean") writer.bool(value);
  else if (value instanceof Uint8Array) writer.bytes(value);
  else {
    writer.array(value.length);
    for (const item of value) write(writer, item);
  }
}

function sizeOf(value: BridgeValue): number {
  if (typeof value === "string") return 9 + utf8Length(value);
  if (value instanceof Uint8Array) return 9 + value.length;
  if (Array.isArray(value)) return 9 + (value as readonly BridgeValue[]).reduce((sum: number, item) => sum + sizeOf(item), 0);
  return 9;
}

/** The bytes of `view` as a standalone ArrayBuffer (what xsnap's command functions take). */
export function toArrayBuffer(view: Uint8Array): ArrayBuffer {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? (view.buffer as ArrayBuffer) : (view.slice().buffer as ArrayBuffer);
}
