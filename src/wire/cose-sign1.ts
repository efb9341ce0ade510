/**
 * COSE_Sign1 (RFC 9052 section 4.2) with EdDSA over Ed25519 (RFC 9053 section 2.2, COSE alg -8):
 * how the operator signs a node's policy and its disclosure, and how anyone checks them.
 *
 *   18([ h'a10127' (protected {1: -8}), {4: kid}, payload, signature (64 bytes) ])
 *
 * The signature is over the CBOR encoding of Sig_structure (RFC 9052 section 4.4):
 *   ["Signature1", protected (the bstr as sent), external_aad (bstr), payload (bstr)]
 * Only the algorithm is protected; the kid (the signer's key id) is a hint, not trusted: the
 * verifier names the key it trusts. Signing happens on the host (the operator's tools); the node
 * only verifies, at boot and when a new policy arrives.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { CborWriter } from "./cbor-writer.js";
import { COSE_TAG_SIGN1, CoseSign1Error, ED25519_PUBLIC_KEY_BYTES, parseSign1 } from "./cose-sign1-structure.js";

export { COSE_ALG_EDDSA, COSE_TAG_SIGN1, CoseSign1Error, ED25519_PUBLIC_KEY_BYTES, unverifiedSign1Payload, type Sign1Failure } from "./cose-sign1-structure.js";

const PROTECTED_HEADER = Uint8Array.of(0xa1, 0x01, 0x27);
const HEADER_KID = 4;
const SIGNATURE_BYTES = 64;
const NO_AAD = new Uint8Array(0);

/** The bytes the signature covers. */
export function sign1ToBeSigned(protectedHeader: Uint8Array, payload: Uint8Array, externalAad: Uint8Array = NO_AAD): Uint8Array {
  const writer = new CborWriter(protectedHeader.length + payload.length + externalAad.length + 32);
  writer.array(4).text("Signature1").bytes(protectedHeader).bytes(externalAad).bytes(payload);
  return writer.written().slice();
}

/** Signs `payload` with an Ed25519 secret key (32 bytes); `kid` names the signer's key. */
export function signSign1(payload: Uint8Array, secretKey: Uint8Array, kid: Uint8Array, externalAad: Uint8Array = NO_AAD): Uint8Array {
  const signature = ed25519.sign(sign1ToBeSigned(PROTECTED_HEADER, payload, externalAad), secretKey);
  const writer = new CborWriter(payload.length + kid.length + SIGNATURE_BYTES + 32);
  writer.tag(COSE_TAG_SIGN1).array(4).bytes(PROTECTED_HEADER).map(1).int(HEADER_KID).bytes(kid).bytes(payload).bytes(signature);
  return writer.written().slice();
}

export interface VerifiedSign1 {
  readonly payload: Uint8Array;
  /** The kid the message named (unauthenticated), or undefined. */
  readonly kid: Uint8Array | undefined;
}

/**
 * Checks a COSE_Sign1 against the one public key the caller trusts; the payload when the signature
 * holds. Throws CoseSign1Error: "malformed" (not a COSE_Sign1), "unsupported" (another algorithm,
 * or a critical header), "signature" (it does not verify under `publicKey`).
 */
export function verifySign1(bytes: Uint8Array, publicKey: Uint8Array, externalAad: Uint8Array = NO_AAD): VerifiedSign1 {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) throw new RangeError(`an Ed25519 public key has ${ED25519_PUBLIC_KEY_BYTES} bytes, not ${publicKey.length}`);
  const { protectedBytes, payload, signature, kid } = parseSign1(bytes);
  let valid = false;
  try {
    // RFC 8032's strict checks (zip215 off): one valid encoding per signature and key.
    valid = ed25519.verify(signature, sign1ToBeSigned(protectedBytes, payload, externalAad), publicKey, { zip215: false });
  } catch {
    valid = false;
  }
  if (!valid) throw new CoseSign1Error("signature", "the signature does not verify under the trusted key");
  return { payload, kid };
}

/** The Ed25519 public key of a secret key (host tools). */
export function ed25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(secretKey);
}
