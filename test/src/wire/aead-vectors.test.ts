import { describe, expect, it } from "vitest";
import { createCipheriv } from "node:crypto";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import { hkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { coseNonce, encodePartialIv } from "../../../src/wire/cose-encrypt0.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

// RFC 8439 section 2.8.2: AEAD_CHACHA20_POLY1305 example.
const plaintext = utf8Encode(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const aad = hexToBytes("50515253c0c1c2c3c4c5c6c7");
const key = hexToBytes("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const nonce = hexToBytes("070000004041424344454647");
const expectedCiphertext =
  "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b" +
  "1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc" +
  "3ff4def08e4b7a9de576d26586cec64b6116";
const expectedTag = "1ae10b594f09e26a7e902ecbd0600691";

describe("ChaCha20-Poly1305 (RFC 8439 section 2.8.2)", () => {
  it("@noble/ciphers seals the RFC example to the published ciphertext and tag", () => {
    const sealed = chacha20poly1305(key, nonce, aad).encrypt(plaintext);
    expect(bytesToHex(sealed)).toBe(expectedCiphertext + expectedTag);
    expect(chacha20poly1305(key, nonce, aad).decrypt(sealed)).toEqual(plaintext);
  });

  it("Node's OpenSSL agrees (the independent path the end-to-end test uses)", () => {
    const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    expect(ciphertext.toString("hex")).toBe(expectedCiphertext);
    expect(cipher.getAuthTag().toString("hex")).toBe(expectedTag);
  });

  it("the COSE nonce of base IV 07000000 40..47 and counter 0 is the RFC nonce (XOR with a zero partial IV)", () => {
    expect(coseNonce(nonce, encodePartialIv(0))).toEqual(nonce);
  });
});

describe("COSE partial IV and nonce (RFC 9052 section 3.1)", () => {
  it.each([
    [0, "00"],
    [1, "01"],
    [255, "ff"],
    [256, "0100"],
    [65535, "ffff"],
    [65536, "010000"],
    [2 ** 32, "0100000000"],
    [2 ** 40 - 1, "ffffffffff"],
  ])("counter %d -> partial IV %s", (counter, hex) => {
    expect(bytesToHex(encodePartialIv(counter))).toBe(hex);
  });

  it("refuses counters beyond five bytes and negative ones", () => {
    expect(() => encodePartialIv(2 ** 40)).toThrow(RangeError);
    expect(() => encodePartialIv(-1)).toThrow(RangeError);
  });

  it("XORs the partial IV, left-padded, into the base IV", () => {
    const baseIv = hexToBytes("0102030405060708090a0b0c");
    // 01 00 ff lands on the last three bytes: 0a^01, 0b^00, 0c^ff.
    expect(bytesToHex(coseNonce(baseIv, hexToBytes("0100ff")))).toBe("0102030405060708090b0bf3");
    expect(baseIv).toEqual(hexToBytes("0102030405060708090a0b0c")); // the base IV itself is untouched
  });
});

describe("HKDF-SHA-256 (RFC 5869 test case 1)", () => {
  it("derives the published OKM", () => {
    const okm = hkdf(
      sha256,
      hexToBytes("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
      hexToBytes("000102030405060708090a0b0c"),
      hexToBytes("f0f1f2f3f4f5f6f7f8f9"),
      42,
    );
    expect(bytesToHex(okm)).toBe("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  });
});
