/**
 * The COSE key identifier of an uplink epoch: the device id in UTF-8 followed by the epoch number as
 * four big-endian bytes. It tells the collector whose key and which epoch to derive, before any
 * authentication; it is not secret, and the topic (authenticated as external AAD) must agree with it.
 */
import { utf8Decode, utf8Encode } from "./utf8.js";
import { isValidId } from "../uplink/topics.js";

export interface KeyId {
  readonly device: string;
  readonly epoch: number;
}

export function encodeKid(device: string, epoch: number): Uint8Array {
  const deviceBytes = utf8Encode(device);
  const kid = new Uint8Array(deviceBytes.length + 4);
  kid.set(deviceBytes, 0);
  new DataView(kid.buffer).setUint32(deviceBytes.length, epoch);
  return kid;
}

/** The device and epoch a kid names, or undefined when it is not a well-formed civicnode kid. */
export function decodeKid(kid: Uint8Array): KeyId | undefined {
  if (kid.length < 5 || kid.length > 4 + 32) return undefined;
  let device: string;
  try {
    device = utf8Decode(kid, 0, kid.length - 4);
  } catch {
    return undefined;
  }
  if (!isValidId(device)) return undefined;
  const epoch = new DataView(kid.buffer, kid.byteOffset, kid.byteLength).getUint32(kid.length - 4);
  return { device, epoch };
}
