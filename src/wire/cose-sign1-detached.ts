/**
 * A COSE_Sign1 with a detached payload (RFC 9052 section 4.1: the payload field is nil and the
 * content travels apart): how the oversight key's countersignature of a node's policy travels
 * beside the operator's signed policy, whose payload it signs too, without carrying the payload
 * twice.
 *
 *   18([ h'a10127' (protected {1: -8}), {4: kid}, nil, signature (64 bytes) ])
 *
 * The signature is over the same Sig_structure as an attached one (cose-sign1.ts), so any COSE
 * library verifies it given the payload. These functions only move the payload in and out; the
 * verification is verifySign1's, on the message with the payload attached again. No Ed25519 here.
 */
import { CborDecodeError, CborTagged, decodeCbor } from "./cbor-reader.js";
import { CborWriter } from "./cbor-writer.js";
import { COSE_TAG_SIGN1, CoseSign1Error } from "./cose-sign1-structure.js";

const HEADER_KID = 4;
/** Tag, array, nil, and the headers of the byte strings; the kid is bounded below. */
const FRAMING_BYTES = 16;
const KID_MAX_BYTES = 64;

interface Sign1Parts {
  readonly protectedBytes: Uint8Array;
  readonly kid: Uint8Array | undefined;
  readonly payload: Uint8Array | null;
  readonly signature: Uint8Array;
}

/** `signed` (an attached COSE_Sign1, as signSign1 makes) with its payload left out. */
export function detachSign1Payload(signed: Uint8Array): Uint8Array {
  const parts = sign1Parts(signed);
  if (parts.payload === null) throw new CoseSign1Error("malformed", "the payload is already detached");
  return encode({ ...parts, payload: null });
}

/** The detached COSE_Sign1 `detached` with `payload` attached, ready for verifySign1. Throws CoseSign1Error("malformed"). */
export function attachSign1Payload(detached: Uint8Array, payload: Uint8Array): Uint8Array {
  const parts = sign1Parts(detached);
  if (parts.payload !== null) throw new CoseSign1Error("malformed", "a detached COSE_Sign1 has a nil payload");
  return encode({ ...parts, payload });
}

/** The four fields; the unprotected header holds at most the kid (what civicnode's signers write). */
function sign1Parts(bytes: Uint8Array): Sign1Parts {
  let item;
  try {
    item = decodeCbor(bytes, { maxDepth: 3 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new CoseSign1Error("malformed", `not CBOR: ${error.message}`);
    throw error;
  }
  if (!(item instanceof CborTagged) || item.tag !== COSE_TAG_SIGN1 || !Array.isArray(item.value) || item.value.length !== 4) {
    throw new CoseSign1Error("malformed", "not a COSE_Sign1 (tag 18, an array of 4)");
  }
  const [protectedBytes, unprotected, payload, signature] = item.value;
  if (!(protectedBytes instanceof Uint8Array) || !(unprotected instanceof Map) || !(payload === null || payload instanceof Uint8Array) || !(signature instanceof Uint8Array)) {
    throw new CoseSign1Error("malformed", "a COSE_Sign1 is [bstr, map, bstr / nil, bstr]");
  }
  const kid = unprotected.get(HEADER_KID);
  if (unprotected.size > (kid === undefined ? 0 : 1) || !(kid === undefined || (kid instanceof Uint8Array && kid.length <= KID_MAX_BYTES))) {
    throw new CoseSign1Error("malformed", "the unprotected header holds anything but a kid of at most 64 bytes");
  }
  return { protectedBytes, kid: kid as Uint8Array | undefined, payload, signature };
}

function encode({ protectedBytes, kid, payload, signature }: Sign1Parts): Uint8Array {
  const writer = new CborWriter(FRAMING_BYTES + protectedBytes.length + KID_MAX_BYTES + (payload?.length ?? 0) + signature.length);
  writer.tag(COSE_TAG_SIGN1).array(4).bytes(protectedBytes);
  if (kid === undefined) writer.map(0);
  else writer.map(1).int(HEADER_KID).bytes(kid);
  if (payload === null) writer.null();
  else writer.bytes(payload);
  writer.bytes(signature);
  return writer.written().slice();
}
