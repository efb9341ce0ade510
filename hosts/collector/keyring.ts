/**
 * The keyring: every device's 256-bit root key, from which the collector derives any epoch's key.
 * It is the most sensitive file of a deployment: sealed under the deployment's passphrase
 * (`keyring.sealed`, a secret file: secret-file.ts, docs/keys-at-rest.md), created with mode 0600
 * in a 0700 folder, written atomically, and its keys never appear in logs or errors.
 *
 * A key is used by one node, once: a node that boots again with a key it has already used starts
 * its counters over and repeats nonces. So the keyring records when it first gave a key out (to a
 * node's store, or into provisioning files), saved before the key is written anywhere, and the
 * provisioning paths refuse to give an issued key out again without an explicit word.
 *
 * The document sealed in `keyring.sealed` (JSON; the `keyring.json` of earlier versions held it
 * in the clear):
 *   {
 *     "format": "civicnode-keyring",
 *     "version": 1,
 *     "devices": {
 *       "<device id>": { "zone": "<zone id>", "rootKey": "<64 lowercase hex digits>", "created": "<ISO 8601>",
 *                       "issued": null | "<ISO 8601>" | "unknown" }
 *     }
 *   }
 * `issued` null: the key has never left the keyring. A keyring written before the field existed
 * has none: its keys may have been given out, so they read as issued at an "unknown" time.
 *
 * A plaintext `keyring.json` is sealed on the first open that has a passphrase, under
 * `keyring.lock`: the sealed copy is written atomically, and only then is the plaintext removed,
 * and the tool says so. A crash between the two leaves both, the same keys: the next open removes
 * the plaintext. Two that differ are refused, both kept, for the operator to choose.
 *
 * Read-modify-write goes through Keyring.update(), under `keyring.lock`, so that two tools
 * (`npm start` adding its devices, `npm run provision`) never lose each other's changes.
 */
import { randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { isValidId } from "../../src/uplink/topics.js";
import { ROOT_KEY_BYTES } from "../../src/wire/key-schedule.js";
import { NODE_FILE_OPS, syncDirectory } from "../node/atomic-file.js";
import { ExclusiveLock, KEYRING_LOCK_FILE } from "../node/exclusive-lock.js";
import { PassphraseError, type Passphrase, type PassphraseSource } from "./passphrase-source.js";
import { readSecretFile, SecretFileError, writeSecretFile } from "./secret-file.js";

export const KEYRING_FILE = "keyring.sealed";
/** The keyring of earlier versions, keys in the clear: sealed into KEYRING_FILE on its first open. */
export const PLAINTEXT_KEYRING_FILE = "keyring.json";
/** The keyring's critical sections take milliseconds; a loaded machine may stretch them to seconds. */
const KEYRING_LOCK_WAIT_MS = 10_000;
/** The `issued` of a key from a keyring written before keys were marked: given out, nobody knows when. */
export const ISSUED_UNKNOWN = "unknown";
/** As Date#toISOString writes it (UTC), with or without milliseconds. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;

export interface KeyringEntry {
  readonly zone: string;
  readonly rootKey: Uint8Array;
  readonly created: string;
  /** When the key was first given to a node or written into provisioning files; undefined: never. */
  readonly issued: string | undefined;
}

export class KeyringError extends Error {
  override name = "KeyringError";
}

export class Keyring {
  readonly #entries = new Map<string, KeyringEntry>();

  get devices(): readonly string[] {
    return [...this.#entries.keys()];
  }

  get(device: string): KeyringEntry | undefined {
    return this.#entries.get(device);
  }

  /** Adds a device with a fresh root key from the OS CSPRNG; returns whether it was new. */
  provision(device: string, zone: string, now = new Date()): boolean {
    if (!isValidId(device) || !isValidId(zone)) throw new KeyringError(`invalid device or zone id: ${device} / ${zone}`);
    if (this.#entries.has(device)) return false;
    const rootKey = new Uint8Array(ROOT_KEY_BYTES);
    randomFillSync(rootKey);
    this.#entries.set(device, { zone, rootKey, created: now.toISOString(), issued: undefined });
    return true;
  }

  /** Adds a device with a given root key (import from another keyring, tests), not issued unless said. */
  add(device: string, zone: string, rootKey: Uint8Array, created = new Date().toISOString(), issued?: string): void {
    if (!isValidId(device) || !isValidId(zone)) throw new KeyringError(`invalid device or zone id: ${device} / ${zone}`);
    if (rootKey.length !== ROOT_KEY_BYTES) throw new KeyringError(`root key of ${device} must be ${ROOT_KEY_BYTES} bytes`);
    this.#entries.set(device, { zone, rootKey: new Uint8Array(rootKey), created, issued });
  }

  /**
   * Replaces a known device's root key with a fresh one from the OS CSPRNG, not issued yet. The
   * old key is dropped, not kept alongside: the keyring holds one key per device.
   */
  replaceKey(device: string, now = new Date()): KeyringEntry {
    const entry = this.#entries.get(device);
    if (!entry) throw new KeyringError(`device ${device} is not in the keyring`);
    const rootKey = new Uint8Array(ROOT_KEY_BYTES);
    randomFillSync(rootKey);
    const fresh = { zone: entry.zone, rootKey, created: now.toISOString(), issued: undefined };
    this.#entries.set(device, fresh);
    return fresh;
  }

  /**
   * Records that the device's key is being given out (the first time only: the date says when it
   * first left the keyring). Save the keyring before writing the key anywhere.
   */
  markIssued(device: string, now = new Date()): KeyringEntry {
    const entry = this.#entries.get(device);
    if (!entry) throw new KeyringError(`device ${device} is not in the keyring`);
    if (entry.issued !== undefined) return entry;
    const marked = { ...entry, issued: now.toISOString() };
    this.#entries.set(device, marked);
    return marked;
  }

  /** Parses a keyring document's text; errors name the entry, never a key. */
  static parse(text: string): Keyring {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new KeyringError("keyring is not valid JSON");
    }
    return Keyring.fromDocument(document);
  }

  /** A keyring from its document, parsed; errors name the entry, never a key. */
  static fromDocument(document: unknown): Keyring {
    const root = document as { format?: unknown; version?: unknown; devices?: unknown };
    if (typeof root !== "object" || root === null || root.format !== "civicnode-keyring" || root.version !== 1) {
      throw new KeyringError('keyring must have "format": "civicnode-keyring" and "version": 1');
    }
    if (typeof root.devices !== "object" || root.devices === null || Array.isArray(root.devices)) throw new KeyringError('keyring "devices" must be an object');
    const keyring = new Keyring();
    for (const [device, raw] of Object.entries(root.devices as Record<string, unknown>)) {
      const entry = raw as { zone?: unknown; rootKey?: unknown; created?: unknown; issued?: unknown };
      if (!isValidId(device)) throw new KeyringError(`keyring device id ${JSON.stringify(device)} is invalid`);
      if (typeof entry !== "object" || entry === null || typeof entry.zone !== "string" || !isValidId(entry.zone)) {
        throw new KeyringError(`keyring entry ${device}: "zone" is missing or invalid`);
      }
      if (typeof entry.rootKey !== "string" || !/^[0-9a-f]{64}$/.test(entry.rootKey)) {
        throw new KeyringError(`keyring entry ${device}: "rootKey" must be 64 lowercase hex digits`);
      }
      const issued = "issued" in entry ? entry.issued : ISSUED_UNKNOWN;
      if (issued !== null && issued !== ISSUED_UNKNOWN && (typeof issued !== "string" || !ISO_TIME.test(issued))) {
        throw new KeyringError(`keyring entry ${device}: "issued" must be null, "${ISSUED_UNKNOWN}" or an ISO 8601 time`);
      }
      keyring.#entries.set(device, {
        zone: entry.zone,
        rootKey: hexToBytes(entry.rootKey),
        created: typeof entry.created === "string" ? entry.created : "",
        issued: issued ?? undefined,
      });
    }
    return keyring;
  }

  serialize(): string {
    return JSON.stringify(this.#document(), null, 2) + "\n";
  }

  #document(): object {
    const devices: Record<string, { zone: string; rootKey: string; created: string; issued: string | null }> = {};
    for (const [device, entry] of this.#entries) {
      devices[device] = { zone: entry.zone, rootKey: bytesToHex(entry.rootKey), created: entry.created, issued: entry.issued ?? null };
    }
    return { format: "civicnode-keyring", version: 1, devices };
  }

  /**
   * Reads `<stateDir>/keyring.sealed`, or an empty keyring when there is none yet (then no
   * passphrase is needed). A plaintext `keyring.json` is sealed first, under `keyring.lock`.
   * Throws KeyringError (a missing or wrong passphrase, an altered file) or LockError.
   */
  static load(stateDir: string, passphrases: PassphraseSource): Keyring {
    if (existsSync(join(stateDir, PLAINTEXT_KEYRING_FILE))) return Keyring.update(stateDir, `sealing ${PLAINTEXT_KEYRING_FILE}`, passphrases, (keyring) => keyring);
    const path = join(stateDir, KEYRING_FILE);
    if (!existsSync(path)) return new Keyring();
    return Keyring.#open(path, passphrases);
  }

  /**
   * Seals the keyring into `<stateDir>/keyring.sealed`, atomically, mode 0600: under the passphrase
   * that opens the file there, or for a first keyring the folder's passphrase (which the quick
   * start may create). Throws KeyringError.
   */
  save(stateDir: string, passphrases: PassphraseSource): void {
    const path = join(stateDir, KEYRING_FILE);
    keyringErrors(() => {
      const passphrase = existsSync(path) ? passphrases.forOpening(path) : passphrases.forFirstSeal(path);
      writeSecretFile(path, this.#document(), passphrase.bytes);
    });
  }

  /**
   * Read-modify-write of `<stateDir>/keyring.sealed` under `keyring.lock` (waiting a few seconds for
   * another tool's change to finish): seals a plaintext keyring.json first, loads the file afresh,
   * lets `change` modify the keyring, saves it if anything changed (or if there was no file yet),
   * and returns what `change` returned. `command` names this tool to whoever finds the lock taken.
   * Throws LockError, KeyringError, or whatever `change` throws (then nothing more is saved).
   */
  static update<T>(stateDir: string, command: string, passphrases: PassphraseSource, change: (keyring: Keyring) => T): T {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const path = join(stateDir, KEYRING_FILE);
    const lock = ExclusiveLock.acquire(join(stateDir, KEYRING_LOCK_FILE), {
      command,
      subject: path,
      advice: "try again once it has finished",
      waitMs: KEYRING_LOCK_WAIT_MS,
    });
    try {
      Keyring.#sealPlaintext(stateDir, passphrases);
      const exists = existsSync(path);
      const keyring = exists ? Keyring.#open(path, passphrases) : new Keyring();
      const before = exists ? keyring.serialize() : undefined;
      const result = change(keyring);
      if (keyring.serialize() !== before) keyring.save(stateDir, passphrases);
      return result;
    } finally {
      lock.release();
    }
  }

  static #open(path: string, passphrases: PassphraseSource): Keyring {
    let passphrase: Passphrase | undefined;
    const document = keyringErrors(() => {
      passphrase = passphrases.forOpening(path);
      return readSecretFile(path, passphrase.bytes);
    }, () => passphrase);
    return Keyring.fromDocument(document);
  }

  /**
   * Under keyring.lock: seals a plaintext keyring.json into keyring.sealed and removes it, or
   * finishes a migration a crash cut short (both there, the same keys). Two that differ are refused.
   */
  static #sealPlaintext(stateDir: string, passphrases: PassphraseSource): void {
    const plainPath = join(stateDir, PLAINTEXT_KEYRING_FILE);
    if (!existsSync(plainPath)) return;
    const path = join(stateDir, KEYRING_FILE);
    const plain = Keyring.parse(readFileSync(plainPath, "utf8"));
    if (existsSync(path)) {
      if (Keyring.#open(path, passphrases).serialize() !== plain.serialize()) {
        throw new KeyringError(
          `${stateDir} holds both ${PLAINTEXT_KEYRING_FILE} (keys in the clear) and ${KEYRING_FILE}, and their keys differ: ` +
            `remove the one you do not mean to keep (${KEYRING_FILE} is opened; ${PLAINTEXT_KEYRING_FILE} is sealed into it when it is alone)`,
        );
      }
    } else plain.save(stateDir, passphrases);
    rmSync(plainPath);
    syncDirectory(NODE_FILE_OPS, stateDir);
    passphrases.notify(`sealed the keyring: ${plainPath} (keys in the clear) is now ${path}, under the passphrase from ${passphrases.forOpening(path).origin}; the plaintext file is removed`);
  }

  /** True when the keyring file can be read by group or others. */
  static isExposed(stateDir: string): boolean {
    const path = join(stateDir, KEYRING_FILE);
    return existsSync(path) && (statSync(path).mode & 0o077) !== 0;
  }
}

/**
 * Runs `work`, giving what the passphrase and the secret file refuse as a KeyringError (which the
 * tools already report), with where the passphrase came from when it did not open the file.
 */
function keyringErrors<T>(work: () => T, passphrase: () => Passphrase | undefined = () => undefined): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof PassphraseError) throw new KeyringError(error.message, { cause: error });
    if (error instanceof SecretFileError) {
      const origin = passphrase()?.origin;
      throw new KeyringError(origin === undefined ? error.message : `${error.message} (the passphrase came from ${origin})`, { cause: error });
    }
    throw error;
  }
}
