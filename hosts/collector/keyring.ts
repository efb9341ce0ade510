/**
 * The keyring: every device's 256-bit root key, from which the collector derives any epoch's key.
 * It is the most sensitive file of a deployment: created with mode 0600 in a 0700 folder, written
 * atomically, and its keys never appear in logs or errors.
 *
 * Format (JSON, `keyring.json`):
 *   {
 *     "format": "civicnode-keyring",
 *     "version": 1,
 *     "devices": {
 *       "<device id>": { "zone": "<zone id>", "rootKey": "<64 lowercase hex digits>", "created": "<ISO 8601>" }
 *     }
 *   }
 */
import { randomFillSync } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { isValidId } from "../../src/uplink/topics.js";
import { ROOT_KEY_BYTES } from "../../src/wire/key-schedule.js";
import { writeFileAtomic } from "../node/atomic-file.js";

export const KEYRING_FILE = "keyring.json";

export interface KeyringEntry {
  readonly zone: string;
  readonly rootKey: Uint8Array;
  readonly created: string;
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
    this.#entries.set(device, { zone, rootKey, created: now.toISOString() });
    return true;
  }

  /** Adds a device with a given root key (import from another keyring, tests). */
  add(device: string, zone: string, rootKey: Uint8Array, created = new Date().toISOString()): void {
    if (!isValidId(device) || !isValidId(zone)) throw new KeyringError(`invalid device or zone id: ${device} / ${zone}`);
    if (rootKey.length !== ROOT_KEY_BYTES) throw new KeyringError(`root key of ${device} must be ${ROOT_KEY_BYTES} bytes`);
    this.#entries.set(device, { zone, rootKey: rootKey.slice(), created });
  }

  /** Parses a keyring document; errors name the entry, never a key. */
  static parse(text: string): Keyring {
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch {
      throw new KeyringError("keyring is not valid JSON");
    }
    const root = document as { format?: unknown; version?: unknown; devices?: unknown };
    if (typeof root !== "object" || root === null || root.format !== "civicnode-keyring" || root.version !== 1) {
      throw new KeyringError('keyring must have "format": "civicnode-keyring" and "version": 1');
    }
    if (typeof root.devices !== "object" || root.devices === null || Array.isArray(root.devices)) throw new KeyringError('keyring "devices" must be an object');
    const keyring = new Keyring();
    for (const [device, raw] of Object.entries(root.devices as Record<string, unknown>)) {
      const entry = raw as { zone?: unknown; rootKey?: unknown; created?: unknown };
      if (!isValidId(device)) throw new KeyringError(`keyring device id ${JSON.stringify(device)} is invalid`);
      if (typeof entry !== "object" || entry === null || typeof entry.zone !== "string" || !isValidId(entry.zone)) {
        throw new KeyringError(`keyring entry ${device}: "zone" is missing or invalid`);
      }
      if (typeof entry.rootKey !== "string" || !/^[0-9a-f]{64}$/.test(entry.rootKey)) {
        throw new KeyringError(`keyring entry ${device}: "rootKey" must be 64 lowercase hex digits`);
      }
      keyring.#entries.set(device, {
        zone: entry.zone,
        rootKey: hexToBytes(entry.rootKey),
        created: typeof entry.created === "string" ? entry.created : "",
      });
    }
    return keyring;
  }

  serialize(): string {
    const devices: Record<string, { zone: string; rootKey: string; created: string }> = {};
    for (const [device, entry] of this.#entries) devices[device] = { zone: entry.zone, rootKey: bytesToHex(entry.rootKey), created: entry.created };
    return JSON.stringify({ format: "civicnode-keyring", version: 1, devices }, null, 2) + "\n";
  }

  /** Reads `<stateDir>/keyring.json`, or an empty keyring when there is none yet. */
  static load(stateDir: string): Keyring {
    const path = join(stateDir, KEYRING_FILE);
    if (!existsSync(path)) return new Keyring();
    return Keyring.parse(readFileSync(path, "utf8"));
  }

  /** Writes `<stateDir>/keyring.json` atomically with mode 0600. */
  save(stateDir: string): void {
    writeFileAtomic(join(stateDir, KEYRING_FILE), this.serialize(), 0o600);
  }

  /** True when the keyring file can be read by group or others. */
  static isExposed(stateDir: string): boolean {
    const path = join(stateDir, KEYRING_FILE);
    return existsSync(path) && (statSync(path).mode & 0o077) !== 0;
  }
}
