/**
 * A lost or unreadable flash never restarts a counter (issue 11, finding 2): deleting a node's
 * store.json made `npm start` provision it again from the same root key, at epoch 0, counter 0,
 * repeating its nonces. Now the built simulator refuses, names the node and the command that
 * re-keys it; after `npm run provision -- <device> --new-key --target sim` the node runs under
 * its new key, and the collector takes its counters starting over for what they are.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring, KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { FileStore } from "../../../hosts/node/file-store.js";
import { flashPath } from "../../../hosts/node/flash-provisioning.js";
import { KEY_ID_STORE_KEY } from "../../../src/wire/key-ratchet.js";
import { keyIdFromRoot } from "../../../src/wire/key-schedule.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runBuiltScript, runSimulator } from "../../support/run-simulator.js";
import { alertsInState, devicesInState, storedInState } from "../../support/state-db.js";

const DEVICES = ["street-01", "street-02", "street-03"];
const STREET = ["--nodes", "3", "--speed", "600", "--windows", "2"];

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-lost-flash-"));
  dirs.push(dir);
  return dir;
}

/** What a start that seals nothing must leave as it was: the keyring, every flash, and what the collector's database holds (rows, devices and their replay keys, alerts). */
async function snapshot(state: string): Promise<Record<string, unknown>> {
  const files = [KEYRING_FILE, ...DEVICES.map((d) => join("nodes", d, "store.json"))];
  return {
    ...Object.fromEntries(files.map((file) => [file, existsSync(join(state, file)) ? readFileSync(join(state, file), "utf8") : undefined])),
    stored: await storedInState(state),
    devices: await devicesInState(state),
    alerts: await alertsInState(state),
  };
}

function keyId(state: string, device: string): string {
  return bytesToHex(keyIdFromRoot(Keyring.load(state, localPassphrase(state)).get(device)!.rootKey, device));
}

describe("a simulated node whose flash is lost or unreadable", () => {
  it("is refused without sealing anything, then runs under a new key from provision --new-key --target sim, accepted by the collector", async () => {
    const state = stateFolder();
    const first = await runSimulator([...STREET, "--state", state]);
    expect(first.code).toBe(0);
    const oldKeyId = keyId(state, "street-02");

    rmSync(flashPath(state, "street-02"));
    const before = await snapshot(state);
    expect((before.stored as { summaries: unknown[] }).summaries.length).toBeGreaterThan(0); // the first run stored something to compare
    const refused = await runSimulator([...STREET, "--state", state]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("civicnode: not starting: 1 node(s) would repeat nonces; nothing was sealed.");
    expect(refused.stderr).toContain(`street-02: its flash ${flashPath(state, "street-02")} is missing, and the keyring's key ${oldKeyId} was issued on `);
    expect(refused.stderr).toContain(`Re-key it: npm run provision -- street-02 --new-key --target sim --state ${state}`);
    expect(refused.stdout).toBe("");
    expect(await snapshot(state)).toEqual(before);

    const provision = await runBuiltScript("hosts/collector/provision.js", ["street-02", "--new-key", "--target", "sim", "--state", state]);
    expect(provision.stderr).toBe("");
    expect(provision.code).toBe(0);
    const newKeyId = keyId(state, "street-02");
    expect(newKeyId).not.toBe(oldKeyId);
    expect(provision.stdout).toContain(`key fingerprint (key.id): ${newKeyId}`);
    expect(provision.stdout).toContain(`wrote ${flashPath(state, "street-02")} (mode 0600)`);
    expect(bytesToHex(new FileStore(flashPath(state, "street-02")).get(KEY_ID_STORE_KEY)!)).toBe(newKeyId);
    expect(Keyring.load(state, localPassphrase(state)).get("street-02")!.issued).toMatch(/^\d{4}-/);

    const accepted = (await summaries(state)).length;
    const again = await runSimulator([...STREET, "--state", state]);
    expect(again.stderr).toBe("");
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/2\/2 windows\/node \| \d+ decrypted, 0 rejected/);
    const fresh = (await summaries(state)).slice(accepted).filter((s) => s.device === "street-02");
    expect(fresh.length).toBeGreaterThanOrEqual(2);
    expect(fresh[0]).toMatchObject({ epoch: 0, counter: 0 }); // its counters started over, and were accepted
    const keys = new Map((await devicesInState(state)).map((row) => [row.device, row.keyId]));
    expect(keys.get("street-02")).toBe(newKeyId);
    expect(keys.get("street-01")).toBe(keyId(state, "street-01"));
    expect(readFileSync(join(state, "simulator.log"), "utf8")).toMatch(/"event":"replay-state-reset".*"device":"street-02"/);
  }, 150_000);

  it("is refused when its flash is corrupt, and the flash is left for inspection", async () => {
    const state = stateFolder();
    expect((await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "1", "--state", state])).code).toBe(0);
    writeFileSync(flashPath(state, "street-01"), '{"format": "civicnode-store", "version": 1, "entries": {"key.chain": 7');
    const torn = readFileSync(flashPath(state, "street-01"), "utf8");
    const run = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "1", "--state", state]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`street-01: its flash ${flashPath(state, "street-01")} cannot be read (${flashPath(state, "street-01")} is not a civicnode store file (invalid JSON))`);
    expect(run.stderr).toContain("npm run provision -- street-01 --new-key --target sim");
    expect(readFileSync(flashPath(state, "street-01"), "utf8")).toBe(torn);
  }, 90_000);

  it("cannot be re-keyed for the simulator while a simulator runs on the folder", async () => {
    const state = stateFolder();
    expect((await runSimulator(["--nodes", "1", "--speed", "600", "--windows", "1", "--state", state])).code).toBe(0);
    const { ExclusiveLock, SIMULATOR_LOCK_FILE } = await import("../../../hosts/node/exclusive-lock.js");
    const simulator = ExclusiveLock.acquire(join(state, SIMULATOR_LOCK_FILE), { command: "npm start" });
    try {
      const keyring = readFileSync(join(state, KEYRING_FILE), "utf8");
      const flash = readFileSync(flashPath(state, "street-01"), "utf8");
      const run = await runBuiltScript("hosts/collector/provision.js", ["street-01", "--new-key", "--target", "sim", "--state", state]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(new RegExp(`^provision: ${state} is in use by PID ${process.pid} \\(npm start, since [0-9T:Z-]+\\): stop the simulator first, then provision again\\n$`));
      expect(readFileSync(join(state, KEYRING_FILE), "utf8")).toBe(keyring);
      expect(readFileSync(flashPath(state, "street-01"), "utf8")).toBe(flash);
    } finally {
      simulator.release();
    }
  }, 90_000);
});

async function summaries(state: string): Promise<Array<{ device: string; epoch: number; counter: number }>> {
  return (await storedInState(state)).summaries;
}
