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
import { sha256 } from "@noble/hashes/sha2.js";
import { ed25519PublicKey, signSign1 } from "../../src/wire/cose-sign1.js";
import type { PassphraseSource } from "./passphrase-source.js";
import { openOrCreateSigningKey, openSigningKey, readPublicKey, type SigningKeyKind } from "./sealed-signing-key.js";

export const OPERATOR_KEY_FILE = "operator-key.sealed";
export const OPERATOR_PUBLIC_KEY_FILE = "operator.pub";

export class OperatorKeyError extends Error {
  override name = "OperatorKeyError";
}

const KIND: SigningKeyKind = { name: "operator", keyFile: OPERATOR_KEY_FILE, publicKeyFile: OPERATOR_PUBLIC_KEY_FILE, error: OperatorKeyError };

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
    const { secretKey, created } = openOrCreateSigningKey(stateDir, KIND, passphrases);
    return { key: new OperatorKey(secretKey), created };
  }
}

/** The public key in `<stateDir>/operator.pub`, or undefined when there is none. Throws on a malformed one. */
export function readOperatorPublicKey(stateDir: string): Uint8Array | undefined {
  return readPublicKey(stateDir, KIND);
}

/** The COSE kid of an operator's public key. */
export function operatorKeyId(publicKey: Uint8Array): Uint8Array {
  return sha256(publicKey).slice(0, 8);
}
