/**
 * A secret file: a JSON document sealed under a passphrase, so that a copied disk, a backup or a
 * stray `cat` shows no key. The collector's keyring is one; the operator's signing keys are another.
 *
 * Format (docs/keys-at-rest.md), two lines of ASCII, each ending in "\n":
 *
 *   {"format":"civicnode-secret","version":1,"kdf":{"name":"scrypt","N":65536,"r":8,"p":1,"salt":"<32 hex>"},"cipher":"xchacha20-poly1305","nonce":"<48 hex>"}
 *   <base64 (RFC 4648 section 4, padded) of ciphertext || 16-byte Poly1305 tag>
 *
 *   key        = scrypt(passphrase, salt, N, r, p, dkLen 32)          (RFC 7914)
 *   ciphertext = XChaCha20-Poly1305(key, nonce, AAD = the header line's bytes, as in the file,
 *                without its "\n"; plaintext = the document as UTF-8 JSON)
 *
 * The header is the AAD, so lowering the KDF's cost, or changing anything else in it, fails the tag
 * like any other altered byte. Every write draws a fresh salt (so a fresh key) and a fresh 24-byte
 * nonce: XChaCha's nonce is long enough to be drawn at random, so even a key kept for many writes
 * would never see one twice (a 12-byte one would not promise that). Every representation is
 * canonical (the header is the one JSON.stringify writes, hex in lowercase, base64 padded), so no
 * byte of the file can change without the reader refusing it.
 *
 * A wrong passphrase and an altered file are the same thing to the tag: one error,
 * `wrong passphrase or altered file: <path>`, and nothing of the document is returned.
 *
 * Wiping: the derived key and the plaintext's bytes are zeroed as soon as they are used. The
 * document's JSON text and the strings JSON.parse makes of it cannot be: JS strings are immutable,
 * and they stay in the heap until the garbage collector reuses it. So a process that reads a secret
 * file holds its content in memory for a while, whatever it wipes; what is at rest is sealed.
 *
 * Example:
 *   writeSecretFile(join(stateDir, "keyring.sealed"), document, passphrase);
 *   const document = readSecretFile(join(stateDir, "keyring.sealed"), passphrase);
 */
import { randomFillSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { xchacha20poly1305 } from "@noble/ciphers/chacha.js";
import { scrypt } from "@noble/hashes/scrypt.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { writeFileAtomic } from "../node/atomic-file.js";

/** A secret file's name ends so: a state folder that holds one already has a passphrase (passphrase-source.ts). */
export const SECRET_FILE_SUFFIX = ".sealed";
const FORMAT = "civicnode-secret";
const VERSION = 1;
const CIPHER = "xchacha20-poly1305";
const SALT_BYTES = 16;
const NONCE_BYTES = 24;
const KEY_BYTES = 32;
const TAG_BYTES = 16;

export interface ScryptParameters {
  /** CPU and memory cost, a power of two. */
  readonly N: number;
  /** Block size: scrypt's memory is 128 * N * r bytes. */
  readonly r: number;
  /** Parallelisation (run one after another here: p multiplies the time). */
  readonly p: number;
}

/**
 * 64 MiB of memory, about 0.3 s per derivation in @noble/hashes on Node 20 on a 2-core x86 VM (the
 * project's test machine; node:crypto's native scrypt takes 0.24 s). Every tool that opens the
 * keyring pays it once or twice at start (npm start and npm run provision read, then write), so
 * it must stay well under a second; 2^17 takes 0.8 s there. A guess at a city's passphrase costs an
 * attacker the same 64 MiB, which is what limits guessing in parallel on GPUs. The quick start's
 * local passphrase is 256 random bits, which no KDF needs to strengthen.
 */
export const SCRYPT_DEFAULTS: ScryptParameters = Object.freeze({ N: 2 ** 16, r: 8, p: 1 });

/**
 * What a reader accepts: a header asking for more is refused before any work (an altered file must
 * not make the reader allocate gigabytes, a crash rather than a clear error). Below 2^10 scrypt
 * protects nothing; the tests' quickest files use 2^10.
 */
const MIN_LOG2_N = 10;
const MAX_LOG2_N = 20;
const MAX_R = 16;
const MAX_P = 4;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;

export class SecretFileError extends Error {
  override name = "SecretFileError";
}

/**
 * Seals `document` (anything JSON.stringify takes) under `passphrase` into `path`: written
 * atomically (the old file or the new one, never half), mode 0600.
 */
export function writeSecretFile(path: string, document: unknown, passphrase: Uint8Array, kdf: ScryptParameters = SCRYPT_DEFAULTS): void {
  if (!acceptable(kdf)) throw new SecretFileError(`scrypt parameters N=${kdf.N} r=${kdf.r} p=${kdf.p} are outside what a reader accepts`);
  const salt = new Uint8Array(SALT_BYTES);
  const nonce = new Uint8Array(NONCE_BYTES);
  randomFillSync(salt);
  randomFillSync(nonce);
  const header = headerLine(kdf, salt, nonce);
  const plaintext = new TextEncoder().encode(JSON.stringify(document));
  const key = scrypt(passphrase, salt, { N: kdf.N, r: kdf.r, p: kdf.p, dkLen: KEY_BYTES, maxmem: MAX_MEMORY_BYTES * 2 });
  let sealed: Uint8Array;
  try {
    sealed = xchacha20poly1305(key, nonce, ascii(header)).encrypt(plaintext);
  } finally {
    key.fill(0);
    plaintext.fill(0);
  }
  writeFileAtomic(path, `${header}\n${Buffer.from(sealed).toString("base64")}\n`, 0o600);
}

/**
 * The document sealed in `path`. Throws SecretFileError: `wrong passphrase or altered file` for
 * anything but the exact file a writer made under this passphrase, or `cannot read` when the file
 * system says no.
 */
export function readSecretFile(path: string, passphrase: Uint8Array): unknown {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new SecretFileError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return openSecret(bytes, passphrase, path);
}

/** The document sealed in `bytes`, a secret file's content, as readSecretFile gives it; `name` (its path) names it in errors. */
export function openSecret(bytes: Uint8Array, passphrase: Uint8Array, name: string): unknown {
  const refused = new SecretFileError(`wrong passphrase or altered file: ${name}`);
  const parts = parse(bytes);
  if (parts === undefined) throw refused;
  const { kdf, salt, nonce, header, sealed } = parts;
  const key = scrypt(passphrase, salt, { N: kdf.N, r: kdf.r, p: kdf.p, dkLen: KEY_BYTES, maxmem: MAX_MEMORY_BYTES * 2 });
  let plaintext: Uint8Array;
  try {
    plaintext = xchacha20poly1305(key, nonce, header).decrypt(sealed);
  } catch {
    throw refused;
  } finally {
    key.fill(0);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch {
    // Authentic, yet not JSON: written by something other than writeSecretFile.
    throw new SecretFileError(`${name} holds no JSON document`);
  } finally {
    plaintext.fill(0);
  }
}

interface SecretFileParts {
  readonly kdf: ScryptParameters;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  /** The header line's bytes: the AAD. */
  readonly header: Uint8Array;
  /** Ciphertext and tag. */
  readonly sealed: Uint8Array;
}

/** The file's parts if it has exactly the form a writer gives it; undefined for anything else. */
function parse(bytes: Uint8Array): SecretFileParts | undefined {
  for (const byte of bytes) if (byte !== 0x0a && (byte < 0x20 || byte > 0x7e)) return undefined;
  const text = Buffer.from(bytes).toString("latin1");
  const lines = text.split("\n");
  if (lines.length !== 3 || lines[2] !== "") return undefined;
  const [headerText, body] = lines as [string, string, string];
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch {
    return undefined;
  }
  const fields = header as { kdf?: { N?: unknown; r?: unknown; p?: unknown; salt?: unknown }; nonce?: unknown };
  const { N, r, p, salt } = fields.kdf ?? {};
  if (typeof N !== "number" || typeof r !== "number" || typeof p !== "number" || typeof salt !== "string" || typeof fields.nonce !== "string") return undefined;
  if (!/^[0-9a-f]+$/.test(salt) || salt.length !== 2 * SALT_BYTES || !/^[0-9a-f]+$/.test(fields.nonce) || fields.nonce.length !== 2 * NONCE_BYTES) return undefined;
  const kdf = { N, r, p };
  if (!acceptable(kdf)) return undefined;
  const saltBytes = hexToBytes(salt);
  const nonce = hexToBytes(fields.nonce);
  // The one form a writer gives the header: anything else (a reordered key, a space, "version": 2) is not this format.
  if (headerLine(kdf, saltBytes, nonce) !== headerText) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return undefined;
  const sealed = Buffer.from(body, "base64");
  if (sealed.toString("base64") !== body || sealed.length < TAG_BYTES) return undefined;
  return { kdf, salt: saltBytes, nonce, header: ascii(headerText), sealed: new Uint8Array(sealed) };
}

function headerLine(kdf: ScryptParameters, salt: Uint8Array, nonce: Uint8Array): string {
  return JSON.stringify({ format: FORMAT, version: VERSION, kdf: { name: "scrypt", N: kdf.N, r: kdf.r, p: kdf.p, salt: bytesToHex(salt) }, cipher: CIPHER, nonce: bytesToHex(nonce) });
}

function acceptable({ N, r, p }: ScryptParameters): boolean {
  const log2N = Math.log2(N);
  return (
    Number.isInteger(log2N) &&
    log2N >= MIN_LOG2_N &&
    log2N <= MAX_LOG2_N &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P &&
    128 * N * r <= MAX_MEMORY_BYTES
  );
}

function ascii(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "latin1"));
}
