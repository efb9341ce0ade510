/**
 * The oversight key (Ed25519) of the city's data-ethics board: its countersignature is what a
 * policy change that weakens privacy needs beside the operator's signature, and the node checks
 * it (src/policy/policy-update.ts, docs/governance.md). It countersigns the very payload the
 * operator signed, as a COSE_Sign1 with that payload detached (src/wire/cose-sign1-detached.ts).
 *
 * Kept like the operator's key (operator-key.ts), a secret file sealed under a passphrase
 * (secret-file.ts), its public half in the clear beside it:
 *   <dir>/oversight-key.sealed   {"format":"civicnode-oversight-key","version":1,"secretKey":"<64 hex>"}
 *   <dir>/oversight.pub          the public key, 64 hex digits and a newline
 * The quick start keeps it in the state folder, beside the operator's, so that one person can try
 * the two-key rule; a city keeps it with its board, on another machine under another passphrase:
 * a key beside the operator's is no second key.
 *
 * The key id (COSE kid) is the first 8 bytes of SHA-256 over the public key.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { ed25519PublicKey, signSign1 } from "../../src/wire/cose-sign1.js";
import { detachSign1Payload } from "../../src/wire/cose-sign1-detached.js";
import type { PassphraseSource } from "./passphrase-source.js";
import { openOrCreateSigningKey, openSigningKey, readPublicKey, type SigningKeyKind } from "./sealed-signing-key.js";

export const OVERSIGHT_KEY_FILE = "oversight-key.sealed";
export const OVERSIGHT_PUBLIC_KEY_FILE = "oversight.pub";

export class OversightKeyError extends Error {
  override name = "OversightKeyError";
}

const KIND: SigningKeyKind = { name: "oversight", keyFile: OVERSIGHT_KEY_FILE, publicKeyFile: OVERSIGHT_PUBLIC_KEY_FILE, error: OversightKeyError };

export class OversightKey {
  readonly #secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly kid: Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey;
    this.publicKey = ed25519PublicKey(secretKey);
    this.kid = sha256(this.publicKey).slice(0, 8);
  }

  /** The countersignature of `payload` (the signed policy's payload): a COSE_Sign1 with the payload detached. */
  countersign(payload: Uint8Array): Uint8Array {
    return detachSign1Payload(signSign1(payload, this.#secretKey, this.kid));
  }

  /** Zeroes the secret key; the object signs no more. */
  wipe(): void {
    this.#secretKey.fill(0);
  }

  /** `dir`'s oversight key; throws OversightKeyError when there is none or it cannot be opened. */
  static open(dir: string, passphrases: PassphraseSource): OversightKey {
    const path = join(dir, OVERSIGHT_KEY_FILE);
    if (!existsSync(path)) throw new OversightKeyError(`no oversight key in ${dir} (${OVERSIGHT_KEY_FILE}): the data-ethics board holds it`);
    return new OversightKey(openSigningKey(dir, KIND, passphrases));
  }

  /**
   * `dir`'s oversight key, created (from the OS CSPRNG) with its public half when there is none,
   * under a lock so that two tools starting at once make one key. `created` says which happened.
   */
  static loadOrCreate(dir: string, passphrases: PassphraseSource): { key: OversightKey; created: boolean } {
    const { secretKey, created } = openOrCreateSigningKey(dir, KIND, passphrases);
    return { key: new OversightKey(secretKey), created };
  }
}

/** The public key in `<dir>/oversight.pub`, or undefined when there is none. Throws on a malformed one. */
export function readOversightPublicKey(dir: string): Uint8Array | undefined {
  return readPublicKey(dir, KIND);
}
