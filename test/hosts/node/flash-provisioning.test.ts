/**
 * The simulated nodes' flash gets its key once: a key the keyring has issued is never written into
 * a flash again, whatever happened to the old one, and the keyring says "issued" before any flash
 * holds the key.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterEach, describe, expect, it } from "vitest";
import { ISSUED_UNKNOWN, Keyring, KEYRING_FILE, PLAINTEXT_KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { FileStore } from "../../../hosts/node/file-store.js";
import { Fleet } from "../../../hosts/node/fleet.js";
import { FlashRefusedError, FlashWriteError, flashPath, inspectFlash, prepareStreetFlash } from "../../../hosts/node/flash-provisioning.js";
import { KEY_ID_STORE_KEY, ROOT_KEY_STORE_KEY } from "../../../src/wire/key-ratchet.js";
import { keyIdFromRoot } from "../../../src/wire/key-schedule.js";
import { testOperatorKey } from "../../support/operator-key.js";
import { localPassphrase } from "../../support/local-passphrase.js";

const ZONE = "demo-street";
const DEVICES = ["street-01", "street-02", "street-03"];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-flash-"));
  dirs.push(dir);
  return dir;
}

/** Every file under the state folder's nodes/ and the keyring, as text, to show nothing changed. */
function snapshot(state: string): Record<string, string> {
  const files: Record<string, string> = {};
  const keyring = join(state, KEYRING_FILE);
  if (existsSync(keyring)) files[KEYRING_FILE] = readFileSync(keyring, "utf8");
  for (const device of DEVICES) {
    const path = flashPath(state, device);
    if (existsSync(path)) files[device] = readFileSync(path, "utf8");
  }
  return files;
}

describe("prepareStreetFlash", () => {
  it("adds new devices, marks their keys issued in the saved keyring and writes each flash with its key", () => {
    const state = stateFolder();
    const prepared = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    expect(prepared.refusals).toEqual([]);
    expect(prepared.added).toEqual(DEVICES);
    expect(prepared.provisioned).toEqual(DEVICES.map((device) => ({ device, replaced: undefined })));
    const saved = Keyring.load(state, localPassphrase(state));
    for (const device of DEVICES) {
      const entry = saved.get(device)!;
      expect(entry.issued).toMatch(/^\d{4}-\d\d-\d\dT/);
      const store = new FileStore(flashPath(state, device));
      expect(store.get(ROOT_KEY_STORE_KEY)).toEqual(entry.rootKey);
      expect(store.get(KEY_ID_STORE_KEY)).toEqual(keyIdFromRoot(entry.rootKey, device));
    }

    // Again: every flash holds its key, nothing to do.
    const before = snapshot(state);
    const again = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    expect(again).toMatchObject({ added: [], provisioned: [], refusals: [] });
    expect(snapshot(state)).toEqual(before);
  });

  it.each([
    ["missing", (path: string) => rmSync(path), "is missing"],
    ["not JSON", (path: string) => writeFileSync(path, "{torn"), "cannot be read (" ],
    ["not a store", (path: string) => writeFileSync(path, JSON.stringify({ format: "something-else" })), "is not a civicnode store file"],
    ["empty of keys", (path: string) => writeFileSync(path, JSON.stringify({ format: "civicnode-store", version: 1, entries: {} })), "holds no key id"],
  ])("refuses a flash that is %s once its key was issued, changing nothing, and says how to re-key", (_, damage, why) => {
    const state = stateFolder();
    prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    damage(flashPath(state, "street-02"));
    const before = snapshot(state);
    const refused = prepareStreetFlash(state, [...DEVICES, "street-04"], ZONE, "test", localPassphrase(state));
    expect(refused.refusals).toHaveLength(1);
    const message = refused.refusals[0]!;
    const entry = Keyring.load(state, localPassphrase(state)).get("street-02")!;
    expect(message).toContain(`street-02: its flash ${flashPath(state, "street-02")} `);
    expect(message).toContain(why);
    expect(message).toContain(`the keyring's key ${bytesToHex(keyIdFromRoot(entry.rootKey, "street-02"))} was issued on ${entry.issued}`);
    expect(message).toContain(`Re-key it: npm run provision -- street-02 --new-key --target sim --state ${state}`);
    expect(refused).toMatchObject({ added: [], provisioned: [] });
    expect(snapshot(state)).toEqual(before); // not even street-04 was added
  });

  it("refuses a flash that holds another device's key", () => {
    const state = stateFolder();
    prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    writeFileSync(flashPath(state, "street-02"), readFileSync(flashPath(state, "street-01")));
    const other = bytesToHex(keyIdFromRoot(Keyring.load(state, localPassphrase(state)).get("street-01")!.rootKey, "street-01"));
    const [message] = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state)).refusals;
    expect(message).toContain(`holds the key ${other}, not the keyring's`);
  });

  it("keeps the mark when the flash write fails after it: the next start refuses rather than reuse the key", () => {
    const state = stateFolder();
    // A file where street-02's flash folder should be: its flash cannot be written.
    mkdirSync(join(state, "nodes"), { recursive: true });
    writeFileSync(join(state, "nodes", "street-02"), "");
    expect(() => prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state))).toThrow(FlashWriteError);
    expect(Keyring.load(state, localPassphrase(state)).get("street-02")!.issued).toMatch(/^\d{4}-/);
    rmSync(join(state, "nodes", "street-02"));
    // street-03 came after the failure: its key is marked, its flash never written.
    const refusals = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state)).refusals;
    expect(refusals).toEqual([expect.stringContaining("street-02: its flash"), expect.stringContaining("street-03: its flash")]);
  });

  it("replaces the flash of a key nobody holds with one for a key never issued (a keyring made anew)", () => {
    const state = stateFolder();
    prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    rmSync(join(state, KEYRING_FILE));
    const prepared = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    expect(prepared.refusals).toEqual([]);
    expect(prepared.provisioned.map(({ device, replaced }) => [device, replaced?.replace(/[0-9a-f]{16}/, "X")])).toEqual(DEVICES.map((d) => [d, "holds the key X, not the keyring's"]));
    const keyring = Keyring.load(state, localPassphrase(state));
    for (const device of DEVICES) expect(inspectFlash(flashPath(state, device), keyring.get(device)!.rootKey, device).kind).toBe("holds-key");
  });

  it("reads a keyring saved before keys were marked (in the clear, as then) as all issued: a flash holding its key runs, a lost one is refused", () => {
    const state = stateFolder();
    prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state));
    const document = JSON.parse(Keyring.load(state, localPassphrase(state)).serialize());
    for (const entry of Object.values<Record<string, unknown>>(document.devices)) delete entry.issued;
    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), JSON.stringify(document));
    rmSync(join(state, KEYRING_FILE));
    expect(prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state)).refusals).toEqual([]);
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false); // sealed on that first open
    expect(Keyring.load(state, localPassphrase(state)).get("street-01")!.issued).toBe(ISSUED_UNKNOWN);
    rmSync(flashPath(state, "street-03"));
    const [message] = prepareStreetFlash(state, DEVICES, ZONE, "test", localPassphrase(state)).refusals;
    expect(message).toContain("street-03: its flash");
    expect(message).toContain("was issued before this keyring recorded issues");
  });
});

describe("the fleet's own provisioning (a keyring made in memory)", () => {
  it("gives a fresh flash a key never issued, marks it, and refuses the same key for a lost flash", async () => {
    const state = stateFolder();
    const keyring = new Keyring();
    keyring.provision("street-01", ZONE);
    const start = () => new Fleet({ brokerUrl: "mqtt://127.0.0.1:1", devices: ["street-01"], zone: ZONE, speed: 1, stateDir: state, keyring, operator: testOperatorKey(state), startWallMs: Date.UTC(2026, 0, 1), log: () => {} });
    const first = start();
    await first.start();
    await first.stop();
    expect(keyring.get("street-01")!.issued).toBeDefined();
    rmSync(flashPath(state, "street-01"));
    const second = start();
    await expect(second.start()).rejects.toThrow(FlashRefusedError);
    await second.stop();
    expect(existsSync(flashPath(state, "street-01"))).toBe(false);
  });
});
