import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { decode as cbor2Decode, Tag } from "cbor2";
import { describe, expect, it } from "vitest";
import { hexToBytes, bytesToHex } from "@noble/hashes/utils.js";
import { CoseSign1Error, ed25519PublicKey, sign1ToBeSigned, signSign1, verifySign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

// RFC 8032 section 7.1, TEST 1: the secret key and its public key.
const SECRET = hexToBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
const PUBLIC = hexToBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
const PAYLOAD = utf8Encode("This is the content.");
const KID = utf8Encode("operator-1");

function failure(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (error instanceof CoseSign1Error) return error.failure;
    throw error;
  }
}

describe("COSE_Sign1 with EdDSA (Ed25519)", () => {
  it("builds Sig_structure as the COSE Working Group's EdDSA Sign1 example does (eddsa-sig-02, ToBeSign)", () => {
    // {1: -8} protected, no external AAD, payload "This is the content.".
    expect(bytesToHex(sign1ToBeSigned(Uint8Array.of(0xa1, 0x01, 0x27), PAYLOAD)).toUpperCase()).toBe(
      "846A5369676E61747572653143A101274054546869732069732074686520636F6E74656E742E",
    );
  });

  it("derives the RFC 8032 public key", () => {
    expect(bytesToHex(ed25519PublicKey(SECRET))).toBe(bytesToHex(PUBLIC));
  });

  it("signs what an independent COSE reader (cbor2 + Node's Ed25519) verifies", () => {
    const signed = signSign1(PAYLOAD, SECRET, KID);
    const tagged = cbor2Decode(signed) as Tag;
    expect(tagged).toBeInstanceOf(Tag);
    expect(Number(tagged.tag)).toBe(18);
    const [protectedBytes, unprotected, payload, signature] = tagged.contents as [Uint8Array, Map<number, Uint8Array>, Uint8Array, Uint8Array];
    expect(cbor2Decode(protectedBytes)).toEqual(new Map([[1, -8]]));
    expect(unprotected.get(4)).toEqual(KID);
    expect(payload).toEqual(PAYLOAD);
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(PUBLIC).toString("base64url") }, format: "jwk" });
    const toBeSigned = sign1ToBeSigned(protectedBytes, payload);
    expect(nodeVerify(null, toBeSigned, key, signature)).toBe(true);
    expect(verifySign1(signed, PUBLIC)).toEqual({ payload: PAYLOAD, kid: KID });
  });

  it("refuses every flipped bit, another key and another external AAD", () => {
    const signed = signSign1(PAYLOAD, SECRET, KID, utf8Encode("aad"));
    expect(failure(() => verifySign1(signed, PUBLIC, utf8Encode("aad")))).toBeUndefined();
    expect(failure(() => verifySign1(signed, PUBLIC))).toBe("signature");
    expect(failure(() => verifySign1(signed, ed25519PublicKey(new Uint8Array(32).fill(7)), utf8Encode("aad")))).toBe("signature");
    // d2 84 43 a1 01 27 | a1 04 4a <kid> | payload | signature: the unprotected map is a hint,
    // outside the signature, so altering it changes no verdict on the content.
    const unprotectedStart = 6;
    const unprotectedEnd = unprotectedStart + 3 + KID.length;
    for (let byte = 0; byte < signed.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const altered = signed.slice();
        altered[byte]! ^= 1 << bit;
        const result = failure(() => verifySign1(altered, PUBLIC, utf8Encode("aad")));
        if (byte >= unprotectedStart && byte < unprotectedEnd) continue;
        expect(result, `byte ${byte} bit ${bit}`).toBeDefined();
      }
    }
  });

  it("names what is malformed and what is unsupported", () => {
    expect(failure(() => verifySign1(Uint8Array.of(0xff), PUBLIC))).toBe("malformed");
    expect(failure(() => verifySign1(Uint8Array.of(0xd1, 0x80), PUBLIC))).toBe("malformed"); // tag 17, []
    // {1: -7} (ES256) in place of {1: -8}
    const signed = signSign1(PAYLOAD, SECRET, KID);
    const es256 = signed.slice();
    es256[es256.indexOf(0x27)] = 0x26;
    expect(failure(() => verifySign1(es256, PUBLIC))).toBe("unsupported");
  });
});
