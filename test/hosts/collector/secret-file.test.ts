/**
 * Secret files (hosts/collector/secret-file.ts, docs/keys-at-rest.md): a JSON document sealed under
 * a passphrase. Whatever is done to the file, the reader gives the document it was given or one
 * error, never a part of it, never a crash.
 */
import { createDecipheriv, scryptSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSecret, readSecretFile, SCRYPT_DEFAULTS, SecretFileError, writeSecretFile, type ScryptParameters } from "../../../hosts/collector/secret-file.js";

const PASSPHRASE = new TextEncoder().encode("correct horse battery staple");
/** The cheapest parameters a reader accepts: the loops below run thousands of derivations. */
const QUICK: ScryptParameters = { N: 2 ** 10, r: 1, p: 1 };
const DOCUMENT = { format: "example", keys: { "street-01": "00".repeat(32) }, note: "läuft" };

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-secret-"));
  dirs.push(dir);
  return dir;
}

/** What reading `path` gives: the document, or the error's class and message. */
function outcome(path: string, passphrase = PASSPHRASE): unknown {
  try {
    return { document: readSecretFile(path, passphrase) };
  } catch (error) {
    return { error: (error as Error).name, message: (error as Error).message };
  }
}

const refused = (path: string) => ({ error: "SecretFileError", message: `wrong passphrase or altered file: ${path}` });

describe("a secret file", () => {
  it("gives back the document it sealed, under the default parameters written in its header, mode 0600", () => {
    const path = join(folder(), "example.sealed");
    writeSecretFile(path, DOCUMENT, PASSPHRASE);
    expect(readSecretFile(path, PASSPHRASE)).toEqual(DOCUMENT);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const [header, body, end] = readFileSync(path, "latin1").split("\n");
    expect(JSON.parse(header!)).toEqual({
      format: "civicnode-secret",
      version: 1,
      kdf: { name: "scrypt", N: 65536, r: 8, p: 1, salt: expect.stringMatching(/^[0-9a-f]{32}$/) },
      cipher: "xchacha20-poly1305",
      nonce: expect.stringMatching(/^[0-9a-f]{48}$/),
    });
    expect(SCRYPT_DEFAULTS).toEqual({ N: 65536, r: 8, p: 1 });
    expect(body).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    expect(end).toBe("");
  });

  it("opens by the format's documented steps with independent parts: node:crypto's scrypt, HChaCha20 written here, node:crypto's ChaCha20-Poly1305", () => {
    const path = join(folder(), "example.sealed");
    writeSecretFile(path, DOCUMENT, PASSPHRASE, QUICK);
    const [headerLine, body] = readFileSync(path, "latin1").split("\n") as [string, string];
    const header = JSON.parse(headerLine) as { kdf: { N: number; r: number; p: number; salt: string }; nonce: string };
    const key = scryptSync(PASSPHRASE, Buffer.from(header.kdf.salt, "hex"), 32, { N: header.kdf.N, r: header.kdf.r, p: header.kdf.p });
    // XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03 section 2.3): ChaCha20-Poly1305 (RFC 8439) under
    // HChaCha20(key, nonce[0..16]) with the nonce 00000000 || nonce[16..24].
    const nonce = Buffer.from(header.nonce, "hex");
    const sealed = Buffer.from(body, "base64");
    const decipher = createDecipheriv("chacha20-poly1305", hchacha20(key, nonce.subarray(0, 16)), Buffer.concat([Buffer.alloc(4), nonce.subarray(16)]), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(headerLine, "latin1"), { plaintextLength: sealed.length - 16 });
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    const plaintext = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
    expect(JSON.parse(plaintext.toString("utf8"))).toEqual(DOCUMENT);
  });

  it("HChaCha20 as written here gives the draft's test vector (draft-irtf-cfrg-xchacha-03 section 2.2.1)", () => {
    const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    const nonce = Buffer.from("000000090000004a0000000031415927", "hex");
    expect(hchacha20(key, nonce).toString("hex")).toBe("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
  });

  it("draws a new salt and nonce for every write", () => {
    const path = join(folder(), "example.sealed");
    const headers = new Set<string>();
    for (let i = 0; i < 4; i++) {
      writeSecretFile(path, DOCUMENT, PASSPHRASE, QUICK);
      const header = JSON.parse(readFileSync(path, "latin1").split("\n")[0]!) as { kdf: { salt: string }; nonce: string };
      headers.add(header.kdf.salt).add(header.nonce);
      expect(readSecretFile(path, PASSPHRASE)).toEqual(DOCUMENT);
    }
    expect(headers.size).toBe(8);
  });

  it("refuses a wrong passphrase with the one error", () => {
    const path = join(folder(), "example.sealed");
    writeSecretFile(path, DOCUMENT, PASSPHRASE, QUICK);
    expect(outcome(path, new TextEncoder().encode("correct horse battery stapler"))).toEqual(refused(path));
    expect(outcome(path, new Uint8Array(0))).toEqual(refused(path));
  });

  it("refuses every single-byte alteration, with every other byte value, in the header and in the ciphertext", () => {
    const path = join(folder(), "example.sealed");
    writeSecretFile(path, { k: 1 }, PASSPHRASE, QUICK);
    const bytes = readFileSync(path);
    // The file's bytes as readSecretFile reads them (64,000 files written to this disk would take
    // most of the test's time in the file system, not in the reader).
    const opened = (content: Uint8Array) => {
      try {
        return { document: openSecret(content, PASSPHRASE, path) };
      } catch (error) {
        return { error: (error as Error).name, message: (error as Error).message };
      }
    };
    expect(opened(bytes)).toEqual({ document: { k: 1 } });
    const accepted: string[] = [];
    for (let i = 0; i < bytes.length; i++) {
      for (let value = 0; value < 256; value++) {
        if (value === bytes[i]) continue;
        const copy = Buffer.from(bytes);
        copy[i] = value;
        const result = opened(copy);
        if (JSON.stringify(result) !== JSON.stringify(refused(path))) accepted.push(`byte ${i} = ${value}: ${JSON.stringify(result)}`);
      }
    }
    expect(accepted).toEqual([]);
  });

  it("refuses every truncation and anything appended: nothing is ever read in part", () => {
    const dir = folder();
    const original = join(dir, "example.sealed");
    writeSecretFile(original, DOCUMENT, PASSPHRASE, QUICK);
    const bytes = readFileSync(original);
    const altered = join(dir, "altered.sealed");
    const accepted: number[] = [];
    for (let length = 0; length < bytes.length; length++) {
      writeFileSync(altered, bytes.subarray(0, length));
      if (JSON.stringify(outcome(altered)) !== JSON.stringify(refused(altered))) accepted.push(length);
    }
    expect(accepted).toEqual([]);
    for (const tail of ["\n", "A", "A\n", "\n\n", "x"]) {
      writeFileSync(altered, Buffer.concat([bytes, Buffer.from(tail)]));
      expect(outcome(altered)).toEqual(refused(altered));
    }
  });

  it("refuses a header whose KDF parameters were lowered, or anything else in it changed, though it is well-formed", () => {
    const dir = folder();
    const path = join(dir, "example.sealed");
    writeSecretFile(path, DOCUMENT, PASSPHRASE, { N: 2 ** 12, r: 8, p: 2 });
    const [headerLine, body] = readFileSync(path, "latin1").split("\n") as [string, string];
    const header = JSON.parse(headerLine) as { kdf: Record<string, unknown> } & Record<string, unknown>;
    const altered = join(dir, "altered.sealed");
    const changes: Array<[string, (h: typeof header) => void]> = [
      ["N lowered", (h) => (h.kdf.N = 2 ** 10)],
      ["r lowered", (h) => (h.kdf.r = 1)],
      ["p lowered", (h) => (h.kdf.p = 1)],
      ["all lowered", (h) => Object.assign(h.kdf, { N: 2 ** 10, r: 1, p: 1 })],
      ["N raised past what a reader allocates", (h) => (h.kdf.N = 2 ** 30)],
      ["another salt", (h) => (h.kdf.salt = "00".repeat(16))],
      ["another nonce", (h) => (h.nonce = "00".repeat(24))],
      ["another version", (h) => (h.version = 2)],
      ["another KDF", (h) => (h.kdf.name = "pbkdf2")],
      ["another cipher", (h) => (h.cipher = "chacha20-poly1305")],
      ["a field added", (h) => (h.comment = "hi")],
    ];
    for (const [what, change] of changes) {
      const copy = structuredClone(header);
      change(copy);
      writeFileSync(altered, `${JSON.stringify(copy)}\n${body}\n`);
      expect(outcome(altered), what).toEqual(refused(altered));
    }
    // Reformatted but equal JSON is another header, so another AAD: refused too.
    writeFileSync(altered, `${JSON.stringify(header, null, 1).replace(/\n/g, "")}\n${body}\n`);
    expect(outcome(altered)).toEqual(refused(altered));
  });

  it("refuses to write with parameters a reader would refuse", () => {
    const path = join(folder(), "example.sealed");
    for (const kdf of [{ N: 1000, r: 8, p: 1 }, { N: 2 ** 9, r: 8, p: 1 }, { N: 2 ** 19, r: 8, p: 1 }, { N: 2 ** 10, r: 0, p: 1 }, { N: 2 ** 10, r: 1, p: 5 }]) {
      expect(() => writeSecretFile(path, DOCUMENT, PASSPHRASE, kdf)).toThrow(SecretFileError);
    }
  });

  it("says a file it cannot read is unreadable, not altered", () => {
    const path = join(folder(), "missing.sealed");
    expect(outcome(path)).toEqual({ error: "SecretFileError", message: `cannot read ${path}: ENOENT` });
  });
});

/** HChaCha20 (draft-irtf-cfrg-xchacha-03 section 2.2): ChaCha20's 20 rounds over constants, key and a 16-byte nonce, words 0-3 and 12-15 out. */
function hchacha20(key: Uint8Array, nonce: Uint8Array): Buffer {
  const k = Buffer.from(key);
  const n = Buffer.from(nonce);
  const x = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, ...Array.from({ length: 8 }, (_, i) => k.readUInt32LE(4 * i)), ...Array.from({ length: 4 }, (_, i) => n.readUInt32LE(4 * i))];
  const rotl = (v: number, c: number) => ((v << c) | (v >>> (32 - c))) >>> 0;
  const quarter = (a: number, b: number, c: number, d: number) => {
    x[a] = (x[a]! + x[b]!) >>> 0;
    x[d] = rotl(x[d]! ^ x[a]!, 16);
    x[c] = (x[c]! + x[d]!) >>> 0;
    x[b] = rotl(x[b]! ^ x[c]!, 12);
    x[a] = (x[a]! + x[b]!) >>> 0;
    x[d] = rotl(x[d]! ^ x[a]!, 8);
    x[c] = (x[c]! + x[d]!) >>> 0;
    x[b] = rotl(x[b]! ^ x[c]!, 7);
  };
  for (let round = 0; round < 10; round++) {
    quarter(0, 4, 8, 12), quarter(1, 5, 9, 13), quarter(2, 6, 10, 14), quarter(3, 7, 11, 15);
    quarter(0, 5, 10, 15), quarter(1, 6, 11, 12), quarter(2, 7, 8, 13), quarter(3, 4, 9, 14);
  }
  const out = Buffer.alloc(32);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((word, i) => out.writeUInt32LE(x[word]!, 4 * i));
  return out;
}
