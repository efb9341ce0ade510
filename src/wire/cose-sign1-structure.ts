/**
 * The structure of a COSE_Sign1 (RFC 9052 section 4.2) with EdDSA (COSE alg -8), read without
 * checking its signature: what cose-sign1.ts verifies, and what a signer's own message needs to
 * be compared with what it would say (signed-disclosure.ts). Apart from cose-sign1.ts so that code
 * which never verifies does not carry the Ed25519 arithmetic (@noble/curves) into its build.
 */
import { CborDecodeError, CborTagged, decodeCbor } from "./cbor-reader.js";

export const COSE_TAG_SIGN1 = 18;
export const COSE_ALG_EDDSA = -8;
const HEADER_ALG = 1;
const HEADER_KID = 4;
export const ED25519_PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

export type Sign1Failure = "malformed" | "unsupported" | "signature";

export class CoseSign1Error extends Error {
  override name = "CoseSign1Error";
  constructor(
    readonly failure: Sign1Failure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The payload of a well-formed COSE_Sign1 with EdDSA, its signature not checked: for a signer's
 * own message whose payload it compares with what it would say (signed-disclosure.ts), never to
 * trust what the payload says. Throws CoseSign1Error as verifySign1 does, but never "signature".
 */
export function unverifiedSign1Payload(bytes: Uint8Array): Uint8Array {
  return parseSign1(bytes).payload;
}

export function parseSign1(bytes: Uint8Array): { protectedBytes: Uint8Array; payload: Uint8Array; signature: Uint8Array; kid: Uint8Array | undefined } {
  let item;
  try {
    item = decodeCbor(bytes, { maxDepth: 4 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new CoseSign1Error("malformed", `not CBOR: ${error.message}`);
    throw error;
  }
  if (!(item instanceof CborTagged) || item.tag !== COSE_TAG_SIGN1) throw new CoseSign1Error("malformed", "not a COSE_Sign1 (CBOR tag 18)");
  const parts = item.value;
  if (!Array.isArray(parts) || parts.length !== 4) throw new CoseSign1Error("malformed", "a COSE_Sign1 is an array of 4");
  const [protectedBytes, unprotected, payload, signature] = parts;
  if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map) || !(payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new CoseSign1Error("malformed", "a COSE_Sign1 is [bstr, map, bstr, bstr] (a detached payload is not accepted)");
  }
  let header;
  try {
    header = decodeCbor(protectedBytes, { maxDepth: 2 });
  } catch {
    throw new CoseSign1Error("malformed", "the protected header is not CBOR");
  }
  if (!(header instanceof Map)) throw new CoseSign1Error("malformed", "the protected header is not a map");
  if (header.get(HEADER_ALG) !== COSE_ALG_EDDSA) throw new CoseSign1Error("unsupported", `algorithm ${String(header.get(HEADER_ALG))}: only EdDSA (-8) is accepted`);
  for (const label of header.keys()) {
    if (label !== HEADER_ALG) throw new CoseSign1Error("unsupported", `protected header ${String(label)} is not understood`);
  }
  if (signature.length !== SIGNATURE_BYTES) throw new CoseSign1Error("malformed", `an Ed25519 signature has ${SIGNATURE_BYTES} bytes, not ${signature.length}`);
  const kid = unprotected.get(HEADER_KID);
  return { protectedBytes, payload, signature, kid: kid instanceof Uint8Array ? kid : undefined };
}

