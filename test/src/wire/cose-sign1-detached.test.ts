import { describe, expect, it } from "vitest";
import { decode, Tag } from "cbor2";
import { CoseSign1Error, ed25519PublicKey, signSign1, verifySign1 } from "../../../src/wire/cose-sign1.js";
import { attachSign1Payload, detachSign1Payload } from "../../../src/wire/cose-sign1-detached.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { independentlyVerifiedPayload } from "../../support/independent-cose.js";

const SECRET = new Uint8Array(32).fill(0x33);
const PAYLOAD = utf8Encode('{"format":"civicnode-node-policy","serial":2}');

describe("a COSE_Sign1 with its payload detached (RFC 9052 section 4.1)", () => {
  const attached = signSign1(PAYLOAD, SECRET, utf8Encode("board"));
  const detached = detachSign1Payload(attached);

  it("is the same message with a nil payload, as any CBOR library reads it", () => {
    const tagged = decode(detached) as Tag;
    expect(Number(tagged.tag)).toBe(18);
    const [protectedBytes, unprotected, payload, signature] = tagged.contents as [Uint8Array, Map<number, Uint8Array>, unknown, Uint8Array];
    expect(payload).toBeNull();
    expect(protectedBytes).toEqual(Uint8Array.of(0xa1, 0x01, 0x27));
    expect(unprotected.get(4)).toEqual(utf8Encode("board"));
    expect(signature.length).toBe(64);
    expect(detached.length).toBe(attached.length - PAYLOAD.length - 1);
  });

  it("verifies once the payload is attached again, here and independently; under another payload it does not", () => {
    const again = attachSign1Payload(detached, PAYLOAD);
    expect(again).toEqual(attached);
    expect(verifySign1(again, ed25519PublicKey(SECRET)).payload).toEqual(PAYLOAD);
    expect(independentlyVerifiedPayload(again, ed25519PublicKey(SECRET))).toEqual(PAYLOAD);
    const other = PAYLOAD.slice();
    other[other.length - 2] = 0x33; // serial 3
    expect(() => verifySign1(attachSign1Payload(detached, other), ed25519PublicKey(SECRET))).toThrow(CoseSign1Error);
  });

  it("refuses to detach twice, to attach to an attached one, and what is not a COSE_Sign1", () => {
    expect(() => detachSign1Payload(detached)).toThrow("already detached");
    expect(() => attachSign1Payload(attached, PAYLOAD)).toThrow("nil payload");
    for (const junk of [Uint8Array.of(0xd2, 0x80), Uint8Array.of(0x01), attached.subarray(0, attached.length - 1), new Uint8Array(0)]) {
      expect(() => attachSign1Payload(junk, PAYLOAD)).toThrow(CoseSign1Error);
    }
  });
});
