/**
 * What anyone who sees a sealed message on the wire can read of it without a key: the
 * COSE_Encrypt0 envelope (RFC 9052 section 5.2; src/wire/cose-encrypt0.ts parses it, as the
 * collector's opener does) and its sizes.
 *
 *   16([ h'a1011818' protected {1: 24}, {4: kid, 6: partial IV}, ciphertext || 16-byte tag ])
 *
 * The kid names the device and the key epoch in the clear (src/wire/kid.ts); the partial IV is the
 * message counter. Everything else is the ciphertext: the summary itself is readable only with the
 * device's keys, which is why the inspector shows the collector's decoded copy beside it.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { COSE_ALG_CHACHA20_POLY1305, COSE_TAG_ENCRYPT0, parseEncrypt0 } from "../../../../src/wire/cose-encrypt0.js";
import { decodeKid } from "../../../../src/wire/kid.js";

/** Poly1305's tag at the end of the ciphertext (RFC 8439 section 2.5). */
const AUTH_TAG_BYTES = 16;

export interface SealedEnvelope {
  readonly coseTag: number;
  readonly algorithm: number;
  readonly kid: string;
  readonly kidDevice: string | null;
  readonly kidEpoch: number | null;
  readonly partialIv: string;
  readonly counter: number;
  /** The encrypted SenML pack and its tag. */
  readonly ciphertextBytes: number;
  readonly authTagBytes: number;
  /** What the envelope adds to the ciphertext: CBOR tag and array, headers. */
  readonly headerBytes: number;
}

/** The envelope of a stored sealed message; null for bytes that are not one (never stored: the opener refuses them). */
export function sealedEnvelope(sealed: Uint8Array): SealedEnvelope | null {
  let envelope;
  try {
    envelope = parseEncrypt0(sealed);
  } catch {
    return null;
  }
  const kid = decodeKid(envelope.kid);
  return {
    coseTag: COSE_TAG_ENCRYPT0,
    algorithm: COSE_ALG_CHACHA20_POLY1305,
    kid: bytesToHex(envelope.kid),
    kidDevice: kid?.device ?? null,
    kidEpoch: kid?.epoch ?? null,
    partialIv: bytesToHex(envelope.partialIv),
    counter: envelope.counter,
    ciphertextBytes: envelope.ciphertext.length,
    authTagBytes: AUTH_TAG_BYTES,
    headerBytes: sealed.length - envelope.ciphertext.length,
  };
}
