/**
 * An Ed25519 signing key kept as the project keeps its signing keys (operator-key.ts,
 * oversight-key.ts): the secret half a secret file sealed under a passphrase (secret-file.ts), the
 * public half in the clear beside it for verifiers:
 *   <dir>/<name>-key.sealed   {"format":"civicnode-<name>-key","version":1,"secretKey":"<64 hex>"}
 *   <dir>/<name>.pub          the public key, 64 hex digits and a newline
 * This module reads, creates and publishes them; each key's class says what it signs.
 */
import { randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ed25519PublicKey } from "../../src/wire/cose-sign1.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { ExclusiveLock } from "../node/exclusive-lock.js";
import type { PassphraseSource } from "./passphrase-source.js";
import { readSecretFile, writeSecretFile } from "./secret-file.js";

const HEX_KEY = /^[0-9a-f]{64}$/;

export interface SigningKeyKind {
  /** "operator", "oversight": names the files and the messages. */
  readonly name: string;
  readonly keyFile: string;
  readonly publicKeyFile: string;
  /** The error a failure is thrown as. */
  readonly error: new (message: string) => Error;
}

/** The secret key sealed in `dir`, checked to be one of `kind`; its public half published again if the clear copy differs. */
export function openSigningKey(dir: string, kind: SigningKeyKind, passphrases: PassphraseSource): Uint8Array {
  const path = join(dir, kind.keyFile);
  let document: unknown;
  try {
    document = readSecretFile(path, passphrases.forOpening(path).bytes);
  } catch (error) {
    throw new kind.error(`cannot open the ${kind.name === "operator" ? "operator's key" : `${kind.name} key`}: ${(error as Error).message}`);
  }
  const format = `civicnode-${kind.name}-key`;
  const fields = document as { format?: unknown; version?: unknown; secretKey?: unknown };
  if (fields.format !== format || fields.version !== 1 || typeof fields.secretKey !== "string" || !HEX_KEY.test(fields.secretKey)) {
    throw new kind.error(`${path} is not an ${kind.name} key (${format} version 1)`);
  }
  const secretKey = hexToBytes(fields.secretKey);
  const publicKey = ed25519PublicKey(secretKey);
  const published = readPublicKey(dir, kind);
  // The clear copy is what verifiers are given: it must be this key's.
  if (published === undefined || bytesToHex(published) !== bytesToHex(publicKey)) publish(dir, kind, publicKey);
  return secretKey;
}

/**
 * The secret key sealed in `dir`, created (from the OS CSPRNG) with its public half when there is
 * none, under a lock so that two tools starting at once make one key. `created` says which happened.
 */
export function openOrCreateSigningKey(dir: string, kind: SigningKeyKind, passphrases: PassphraseSource): { secretKey: Uint8Array; created: boolean } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, kind.keyFile);
  const lock = ExclusiveLock.acquire(join(dir, `${kind.name}-key.lock`), { command: `${kind.name} key`, subject: path, advice: "try again once it has finished", waitMs: 10_000 });
  try {
    if (existsSync(path)) return { secretKey: openSigningKey(dir, kind, passphrases), created: false };
    const secretKey = new Uint8Array(32);
    randomFillSync(secretKey);
    writeSecretFile(path, { format: `civicnode-${kind.name}-key`, version: 1, secretKey: bytesToHex(secretKey) }, passphrases.forFirstSeal(path).bytes);
    publish(dir, kind, ed25519PublicKey(secretKey));
    return { secretKey, created: true };
  } finally {
    lock.release();
  }
}

/** The public key in `<dir>/<name>.pub`, or undefined when there is none. Throws on a malformed one. */
export function readPublicKey(dir: string, kind: SigningKeyKind): Uint8Array | undefined {
  const path = join(dir, kind.publicKeyFile);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8").trim();
  if (!HEX_KEY.test(text)) throw new kind.error(`${path} is not an Ed25519 public key (64 lowercase hex digits)`);
  return hexToBytes(text);
}

function publish(dir: string, kind: SigningKeyKind, publicKey: Uint8Array): void {
  writeFileAtomic(join(dir, kind.publicKeyFile), `${bytesToHex(publicKey)}\n`, 0o644);
}
