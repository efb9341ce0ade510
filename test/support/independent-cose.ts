/**
 * A COSE_Sign1 checked the way a resident's own tool would, with nothing of civicnode's: cbor2
 * decodes it, Node's crypto (OpenSSL) verifies the Ed25519 signature over the Sig_structure that
 * the test encodes itself with cbor2 (RFC 9052 section 4.4).
 */
import { createPublicKey, verify } from "node:crypto";
import { decode, encode, Tag } from "cbor2";

/** The payload of `signed` when it is a COSE_Sign1 (tag 18) with EdDSA whose signature holds under `publicKey`; throws otherwise. */
export function independentlyVerifiedPayload(signed: Uint8Array, publicKey: Uint8Array): Uint8Array {
  const tagged = decode(signed);
  if (!(tagged instanceof Tag) || Number(tagged.tag) !== 18) throw new Error("not a COSE_Sign1 (tag 18)");
  const [protectedBytes, , payload, signature] = tagged.contents as [Uint8Array, unknown, Uint8Array, Uint8Array];
  const header = decode(protectedBytes) as Map<number, number>;
  if (header.get(1) !== -8) throw new Error(`algorithm ${String(header.get(1))}, not EdDSA (-8)`);
  const toBeSigned = encode(["Signature1", protectedBytes, new Uint8Array(0), payload]);
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
  if (!verify(null, toBeSigned, key, signature)) throw new Error("the signature does not verify");
  return payload;
}
