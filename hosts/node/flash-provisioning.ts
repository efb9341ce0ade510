/**
 * The simulated nodes' flash (`<state>/nodes/<device>/store.json`) gets its root key from the
 * keyring once per key. A node's counters and key chain live in its flash: a node that boots
 * again from its root key starts over at epoch 0, counter 0, and repeats every nonce it sealed
 * under that key. So a key the keyring has issued is never written into a flash again: a flash
 * that is missing, unreadable, or holds another key is refused, with the command that re-keys the
 * node (`npm run provision -- <device> --new-key --target sim`).
 *
 * The order that makes this hold across crashes: the keyring marks the key issued and is saved
 * (atomically, under keyring.lock) before the key is written into a flash. A crash between the
 * two leaves an issued key and no flash: refused, never reused.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { KEY_ID_STORE_KEY, provisioningWrites, storeHoldsKey } from "../../src/wire/key-ratchet.js";
import { keyIdFromRoot } from "../../src/wire/key-schedule.js";
import { ISSUED_UNKNOWN, Keyring, type KeyringEntry } from "../collector/keyring.js";
import type { PassphraseSource } from "../collector/passphrase-source.js";
import { FileStore } from "./file-store.js";

/** What a node's flash file holds, seen against the keyring's key. */
export type FlashState =
  | { readonly kind: "holds-key"; readonly store: FileStore }
  | { readonly kind: "blank" }
  | { readonly kind: "unusable"; readonly why: string };

/** A flash could not be written after its key was marked issued: the node needs a new key. */
export class FlashWriteError extends Error {
  override name = "FlashWriteError";
}

/** A node the simulator will not start, why, and how to re-key it. */
export class FlashRefusedError extends Error {
  override name = "FlashRefusedError";
  readonly device: string;

  constructor(device: string, message: string) {
    super(message);
    this.device = device;
  }
}

export function flashPath(stateDir: string, device: string): string {
  return join(stateDir, "nodes", device, "store.json");
}

/** Reads the flash at `path` and says whether it holds `rootKey` (by its public fingerprint). */
export function inspectFlash(path: string, rootKey: Uint8Array, device: string): FlashState {
  if (!existsSync(path)) return { kind: "blank" };
  let store: FileStore;
  try {
    store = new FileStore(path);
  } catch (error) {
    return { kind: "unusable", why: `cannot be read (${(error as Error).message})` };
  }
  if (storeHoldsKey(store, rootKey, device)) return { kind: "holds-key", store };
  const held = store.get(KEY_ID_STORE_KEY);
  return { kind: "unusable", why: held === undefined ? "holds no key id" : `holds the key ${bytesToHex(held)}, not the keyring's` };
}

/**
 * Writes a fresh node's flash: the root key and its fingerprint (`provisioningWrites`, as a
 * provisioning tool does for a device), replacing whatever the file held. The key must already be
 * marked issued in the saved keyring.
 */
export function provisionFlash(path: string, rootKey: Uint8Array, device: string): FileStore {
  mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const store = new FileStore(path);
  store.commit(provisioningWrites(rootKey, device));
  return store;
}

/** Why the simulator refuses the device's flash, and the command that re-keys it. */
export function refusalMessage(stateDir: string, device: string, entry: KeyringEntry, flash: Exclude<FlashState, { kind: "holds-key" }>): string {
  const path = flashPath(stateDir, device);
  const state = flash.kind === "blank" ? `${path} is missing` : `${path} ${flash.why}`;
  const when = entry.issued === ISSUED_UNKNOWN ? "before this keyring recorded issues" : `on ${entry.issued}`;
  return (
    `${device}: its flash ${state}, and the keyring's key ${bytesToHex(keyIdFromRoot(entry.rootKey, device))} was issued ${when}: ` +
    `provisioning it again would restart its counters and repeat nonces.\n` +
    `  Re-key it: npm run provision -- ${device} --new-key --target sim --state ${stateDir}`
  );
}

/** What prepareStreetFlash() did, or why it did nothing. */
export interface StreetFlash {
  readonly keyring: Keyring;
  /** Devices added to the keyring with a fresh key. */
  readonly added: readonly string[];
  /** Devices whose flash was written now, with what it held before if it was not blank. */
  readonly provisioned: ReadonlyArray<{ readonly device: string; readonly replaced: string | undefined }>;
  /** One message per refused device; when any, nothing was changed or written. */
  readonly refusals: readonly string[];
}

/**
 * Before a street starts: adds missing devices to the keyring, and gives every node whose flash
 * does not hold its key a flash with it, if and only if the key was never issued. Any refusal
 * stops everything: the keyring and every flash are left as they were.
 */
export function prepareStreetFlash(stateDir: string, devices: readonly string[], zone: string, command: string, passphrases: PassphraseSource): StreetFlash {
  const pending: Array<{ device: string; replaced: string | undefined }> = [];
  const prepared = Keyring.update(stateDir, command, passphrases, (keyring): StreetFlash => {
    const refusals: string[] = [];
    const states = new Map<string, FlashState>();
    for (const device of devices) {
      const entry = keyring.get(device);
      if (entry === undefined) continue; // added below with a fresh key: its flash cannot hold it
      const flash = inspectFlash(flashPath(stateDir, device), entry.rootKey, device);
      states.set(device, flash);
      if (flash.kind !== "holds-key" && entry.issued !== undefined) refusals.push(refusalMessage(stateDir, device, entry, flash));
    }
    if (refusals.length > 0) return { keyring, added: [], provisioned: [], refusals };

    const added = devices.filter((device) => keyring.provision(device, zone));
    for (const device of devices) {
      // Marked even when the flash holds the key already (a keyring saved before marks existed).
      const entry = keyring.markIssued(device);
      const flash = states.get(device) ?? inspectFlash(flashPath(stateDir, device), entry.rootKey, device);
      if (flash.kind !== "holds-key") pending.push({ device, replaced: flash.kind === "unusable" ? flash.why : undefined });
    }
    return { keyring, added, provisioned: pending, refusals };
  });
  // The keyring that marks these keys issued is saved: only now may they reach a flash.
  for (const { device } of pending) {
    const path = flashPath(stateDir, device);
    try {
      provisionFlash(path, prepared.keyring.get(device)!.rootKey, device);
    } catch (error) {
      throw new FlashWriteError(
        `cannot write the flash of ${device}, ${path}: ${(error as Error).message}. Its key is marked issued already (and so are those of the nodes after it), ` +
          `so the next start will ask for new keys: npm run provision -- <device> --new-key --target sim --state ${stateDir}`,
      );
    }
  }
  return prepared;
}
