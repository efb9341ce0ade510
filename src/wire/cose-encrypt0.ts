/**
 * COSE_Encrypt0 (RFC 9052 section 5.2) with ChaCha20/Poly1305 (RFC 9053 section 4.3, COSE alg 24).
 *
 *   16([ h'a1011818' (protected {1: 24}), {4: kid, 6: partial_iv}, ciphertext || tag ])
 *
 * The nonce is the epoch's base IV XOR the partial IV left-padded with zeros (RFC 9052 section 3.1),
 * the partial IV being the message counter in big-endian bytes with leading zeros removed (at
 * least one byte, at most five, as OSCORE's sequence numbers, RFC 8613 section 6.1). The external
 * AAD is the MQTT topic, so a summary re-published under another topic fails authentication.
 */
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { CborWriter } from "./cbor-writer.js";
import { CborDecodeError, CborTagged, decodeCbor } from "./cbor-reader.js";
import { BASE_IV_BYTES, type EpochKeys } from "./key-schedule.js";

export const COSE_TAG_ENCRYPT0 = 16;
export const COSE_ALG_CHACHA20_POLY1305 = 24;
const HEADER_ALG = 1;
const HEADER_KID = 4;
const HEADER_IV = 5;
const HEADER_PARTIAL_IV = 6;
const TAG_BYTES = 16;
/** Counters stay below 2^40 so the partial IV fits its five bytes. */
export const MAX_COUNTER = 0xff_ffff_ffff;

/** The serialized protected header {1: 24}. */
const PROTECTED_HEADER = Uint8Array.of(0xa1, 0x01, 0x18, 0x18);

/** Why a message could not be opened; the collector counts rejections by these causes. */
export type OpenFailure = "malformed" | "unsupported" | "unknown-key" | "authentication";

export class CoseOpenError extends Error {
  override name = "CoseOpenError";
  constructor(
    readonly failure: OpenFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The counter as a partial IV: big-endian, leading zero bytes removed, at least one byte. */
export function encodePartialIv(counter: number): Uint8Array {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER) throw new RangeError(`counter out of range: ${counter}`);
  let length = 1;
  while (length < 5 && counter >= Math.pow(2, 8 * length)) length++;
  const piv = new Uint8Array(length);
  let rest = counter;
  for (let i = length - 1; i >= 0; i--) {
    piv[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return piv;
}

/** The counter a partial IV carries. */
export function decodePartialIv(piv: Uint8Array): number {
  let counter = 0;
  for (const byte of piv) counter = counter * 256 + byte;
  return counter;
}

/** nonce = base IV XOR left-padded partial IV (RFC 9052 section 3.1). */
export function coseNonce(baseIv: Uint8Array, partialIv: Uint8Array): Uint8Array {
  if (baseIv.length !== BASE_IV_BYTES) throw new RangeError("base IV must be 12 bytes");
  const nonce = baseIv.slice();
  const offset = BASE_IV_BYTES - partialIv.length;
  for (let i = 0; i < partialIv.length; i++) nonce[offset + i]! ^= partialIv[i]!;
  return nonce;
}

/** The Enc_structure that ChaCha20/Poly1305 authenticates as its AAD (RFC 9052 section 5.3). */
export function encStructure(externalAad: Uint8Array): Uint8Array {
  const writer = new CborWriter(32 + externalAad.length);
  writer.array(3).text("Encrypt0").bytes(PROTECTED_HEADER).bytes(externalAad);
  return writer.written();
}

/**
 * Seals `plaintext` into `out` (which is reset first) and returns a view of the COSE message.
 * The caller guarantees that (keys, counter) was never used before.
 */
export function sealEncrypt0(
  out: CborWriter,
  plaintext: Uint8Array,
  keys: EpochKeys,
  kid: Uint8Array,
  counter: number,
  externalAad: Uint8Array,
): Uint8Array {
  const partialIv = encodePartialIv(counter);
  const nonce = coseNonce(keys.baseIv, partialIv);
  const ciphertext = chacha20poly1305(keys.key, nonce, encStructure(externalAad)).encrypt(plaintext);
  out.reset();
  out.tag(COSE_TAG_ENCRYPT0).array(3).bytes(PROTECTED_HEADER);
  out.map(2).int(HEADER_KID).bytes(kid).int(HEADER_PARTIAL_IV).bytes(partialIv);
  out.bytes(ciphertext);
  return out.written();
}

/** The unauthenticated parts of a COSE_Encrypt0 message, read before choosing a key. */
export interface Encrypt0Envelope {
  readonly kid: Uint8Array;
  readonly partialIv: Uint8Array;
  readonly counter: number;
  readonly ciphertext: Uint8Array;
}

/**
 * Parses a COSE_Encrypt0 message strictly: tag 16, exactly alg 24 protected, kid and a 1-5 byte
 * partial IV unprotected, nothing else. Throws CoseOpenError("malformed" | "unsupported").
 */
export function parseEncrypt0(message: Uint8Array): Encrypt0Envelope {
  let item;
  try {
    item = decodeCbor(message, { maxDepth: 4 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new CoseOpenError("malformed", error.message);
    throw error;
  }
  if (!(item instanceof CborTagged) || item.tag !== COSE_TAG_ENCRYPT0) throw new CoseOpenError("malformed", "not a COSE_Encrypt0 (tag 16)");
  const parts = item.value;
  if (!Array.isArray(parts) || parts.length !== 3) throw new CoseOpenError("malformed", "COSE_Encrypt0 must have 3 parts");
  const [protectedBytes, unprotected, ciphertext] = parts;
  if (!(protectedBytes instanceof Uint8Array) || !sameBytes(protectedBytes, PROTECTED_HEADER)) {
    throw new CoseOpenError("unsupported", "protected header must be exactly {1: 24} (ChaCha20/Poly1305)");
  }
  if (!(unprotected instanceof Map)) throw new CoseOpenError("malformed", "unprotected header is not a map");
  for (const label of unprotected.keys()) {
    if (label !== HEADER_KID && label !== HEADER_PARTIAL_IV) {
      throw new CoseOpenError(label === HEADER_IV || label === HEADER_ALG ? "unsupported" : "malformed", `unexpected header ${String(label)}`);
    }
  }
  const kid = unprotected.get(HEADER_KID);
  const partialIv = unprotected.get(HEADER_PARTIAL_IV);
  if (!(kid instanceof Uint8Array) || kid.length === 0) throw new CoseOpenError("malformed", "missing kid");
  if (!(partialIv instanceof Uint8Array) || partialIv.length < 1 || partialIv.length > 5) {
    throw new CoseOpenError("malformed", "partial IV must be 1 to 5 bytes");
  }
  if (partialIv.length > 1 && partialIv[0] === 0) throw new CoseOpenError("malformed", "partial IV has a leading zero byte");
  if (!(ciphertext instanceof Uint8Array) || ciphertext.length < TAG_BYTES) throw new CoseOpenError("malformed", "ciphertext shorter than its tag");
  return { kid, partialIv, counter: decodePartialIv(partialIv), ciphertext };
}

/** Authenticates and decrypts a parsed envelope; throws CoseOpenError("authentication") on any mismatch. */
export function openEncrypt0(envelope: Encrypt0Envelope, keys: EpochKeys, externalAad: Uint8Array): Uint8Array {
  const nonce = coseNonce(keys.baseIv, envelope.partialIv);
  try {
    return chacha20poly1305(keys.key, nonce, encStructure(externalAad)).decrypt(envelope.ciphertext);
  } catch {
    throw new CoseOpenError("authentication", "authentication tag mismatch");
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
