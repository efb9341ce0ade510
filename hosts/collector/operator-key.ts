/**
 * The operator's signing key (Ed25519): it signs each node's policy and its disclosure
 * (docs/governance.md). The secret half is a secret file, sealed under the state folder's
 * passphrase (secret-file.ts); the public half is in the clear beside it, for anyone to verify
 * with:
 *   <state>/operator-key.sealed   {"format":"civicnode-operator-key","version":1,"secretKey":"<64 hex>"}
 *   <state>/operator.pub          the public key, 64 hex digits and a newline
 * The quick start creates both on first run; a city creates its key once, off the collector's
 * machine, and keeps the passphrase elsewhere.
 *
 * The key id (COSE kid) is the first 8 bytes of SHA-256 over the public key: a name for the key in
 * messages, never a reason to trust one (a verifier is given the public key itself).
 */
import { randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { ed25519PublicKey, signSign1 } from "../../src/wire/cose-sign1.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { ExclusiveLock } from "../node/exclusive-lock.js";
import type { PassphraseSource } from "./passphrase-source.js";
import { readSecretFile, writeSecretFile } from "./secret-file.js";

export const OPERATOR_KEY_FILE = "operator-key.sealed";
export const OPERATOR_PUBLIC_KEY_FILE = "operator.pub";
const OPERATOR_KEY_LOCK_FILE = "operator-key.lock";
const FORMAT = "civicnode-operator-key";
const HEX_KEY = /^[0-9a-f]{64}$/;

export class OperatorKeyError extends Error {
  override name = "OperatorKeyError";
}

export class OperatorKey {
  readonly #secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly kid: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = ed25519PublicKey(secretKey);
    this.kid = operatorKeyId(this.publicKey);
  }

  /** A COSE_Sign1 of `payload` under this key. */
  sign(payload: Uint8Array): Uint8Array {
    return signSign1(payload, this.#secretKey, this.kid);
  }

  /** Zeroes the secret key; the object signs no more. */
  wipe(): void {
    this.#secretKey.fill(0);
  }

  /**
   * The state folder's operator key; created (from the OS CSPRNG) when there is none, with its
   * public half, under a lock so that two tools starting at once make one key. `created` says
   * which happened. Throws OperatorKeyError naming the file.
   */
  static loadOrCreate(stateDir: string, passphrases: PassphraseSource): { key: OperatorKey; created: boolean } {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const lock = ExclusiveLock.acquire(join(stateDir, OPERATOR_KEY_LOCK_FILE), { command: "operator key", subject: join(stateDir, OPERATOR_KEY_FILE), advice: "try again once it has finished", waitMs: 10_000 });
    try {
      const path = join(stateDir, OPERATOR_KEY_FILE);
      if (existsSync(path)) return { key: OperatorKey.#open(stateDir, passphrases), created: false };
      const secretKey = new Uint8Array(32);
      randomFillSync(secretKey);
      const key = new OperatorKey(secretKey);
      writeSecretFile(path, { format: FORMAT, version: 1, secretKey: bytesToHex(secretKey) }, passphrases.forFirstSeal(path).bytes);
      writeFileAtomic(join(stateDir, OPERATOR_PUBLIC_KEY_FILE), `${bytesToHex(key.publicKey)}\n`, 0o644);
      return { key, created: true };
    } finally {
      lock.release();
    }
  }

  static #open(stateDir: string, passphrases: PassphraseSource): OperatorKey {
    const path = join(stateDir, OPERATOR_KEY_FILE);
    let document: unknown;
    try {
      document = readSecretFile(path, passphrases.forOpening(path).bytes);
    } catch (error) {
      throw new OperatorKeyError(`cannot open the operator's key: ${(error as Error).message}`);
    }
    const fields = document as { format?: unknown; version?: unknown; secretKey?: unknown };
    if (fields.format !== FORMAT || fields.version !== 1 || typeof fields.secretKey !== "string" || !HEX_KEY.test(fields.secretKey)) {
      throw new OperatorKeyError(`${path} is not an operator key (${FORMAT} version 1)`);
    }
    const key = new OperatorKey(hexToBytes(fields.secretKey));
    const published = readOperatorPublicKey(stateDir);
    if (published === undefined || bytesToHex(published) !== bytesToHex(key.publicKey)) {
      // The clear copy is what verifiers are given: it must be this key's.
      writeFileAtomic(join(stateDir, OPERATOR_PUBLIC_KEY_FILE), `${bytesToHex(key.publicKey)}\n`, 0o644);
    }
    return key;
  }
}

/** The public key in `<stateDir>/operator.pub`, or undefined when there is none. Throws on a malformed one. */
export function readOperatorPublicKey(stateDir: string): Uint8Array | undefined {
  const path = join(stateDir, OPERATOR_PUBLIC_KEY_FILE);
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, "utf8").trim();
  if (!HEX_KEY.test(text)) throw new OperatorKeyError(`${path} is not an Ed25519 public key (64 lowercase hex digits)`);
  return hexToBytes(text);
}

/** The COSE kid of an operator's public key. */
export function operatorKeyId(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 8);
}
