/**
 * Provisioning: the files that carry a device's root key and identity into its store (ESP32 NVS
 * via ESP-IDF's partition generator, the Moddable Linux simulator's preference file), and the
 * built `npm run provision` tool that writes them from the keyring.
 */
import { describe, expect, it } from "vitest";
import { runBuiltScript } from "../../support/run-simulator.js";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { Keyring, KEYRING_FILE, PLAINTEXT_KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { LOCAL_PASSPHRASE_FILE } from "../../../hosts/collector/passphrase-source.js";
import { linPreferencesJson, nvsCsv, provisioningRecords } from "../../../hosts/collector/provisioning-bundle.js";
import { FileStore } from "../../../hosts/node/file-store.js";
import { keyIdFromRoot } from "../../../src/wire/key-schedule.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { projectRoot } from "../../../hosts/xs/bundle.js";

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i);
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));

/** Reads a value back the way Moddable's lin Preference get() does (modules/files/preference/lin/preference.js). */
function linGet(document: Record<string, Record<string, unknown>>, domain: string, key: string): Uint8Array | undefined {
  const result = document[domain]?.[key] as { buffer: string } | undefined;
  if (!result || typeof result !== "object") return undefined;
  return new Uint8Array(Uint8Array.from(result.buffer.split(",") as unknown as number[]).buffer);
}

describe("the provisioning files", () => {
  const records = provisioningRecords("street-01", "demo-street", ROOT);

  it("hold the root key, its fingerprint and the node's identity, as the ratchet and the firmware read them", () => {
    expect(records.map((r) => r.key)).toEqual(["key.root", "key.id", "node.device", "node.zone"]);
    expect(records[0]!.value).toEqual(ROOT);
    expect(records[1]!.value).toEqual(keyIdFromRoot(ROOT, "street-01"));
    expect(records[2]!.value).toEqual(utf8("street-01"));
    expect(records[3]!.value).toEqual(utf8("demo-street"));
    for (const record of records) expect(record.key.length).toBeLessThanOrEqual(15); // NVS key limit
  });

  it("nvs.csv is the generator's header, the civicnode namespace row, then one hex2bin blob row per record", () => {
    const keyId = bytesToHex(keyIdFromRoot(ROOT, "street-01"));
    expect(nvsCsv(records)).toBe(
      [
        "key,type,encoding,value",
        "civicnode,namespace,,",
        "key.root,data,hex2bin,000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        `key.id,data,hex2bin,${keyId}`,
        "node.device,data,hex2bin,7374726565742d3031",
        "node.zone,data,hex2bin,64656d6f2d737472656574",
        "",
      ].join("\n"),
    );
    const rows = nvsCsv(records).trimEnd().split("\n").slice(2).map((line) => line.split(","));
    const decoded = Object.fromEntries(rows.map(([key, , , hex]) => [key!, hexToBytes(hex!)]));
    expect(decoded["key.root"]).toEqual(ROOT);
    expect(decoded["key.id"]).toEqual(keyIdFromRoot(ROOT, "street-01"));
    expect(new TextDecoder().decode(decoded["node.device"])).toBe("street-01");
    expect(new TextDecoder().decode(decoded["node.zone"])).toBe("demo-street");
  });

  it("modpreferences.json reads back, the way the lin Preference decodes ArrayBuffers, as the same bytes", () => {
    const text = linPreferencesJson(records);
    const document = JSON.parse(text) as Record<string, Record<string, unknown>>;
    expect(Object.keys(document)).toEqual(["civicnode"]);
    expect(document.civicnode!["key.id"]).toEqual({ buffer: Array.from(keyIdFromRoot(ROOT, "street-01")).join(",") });
    for (const record of records) expect(linGet(document, "civicnode", record.key)).toEqual(record.value);
    expect(text).toBe(JSON.stringify(document)); // as the lin Preference writes it back
  });

  it("refuses ids the project refuses and keys of the wrong size", () => {
    expect(() => provisioningRecords("Street 01", "demo-street", ROOT)).toThrow(/invalid device id/);
    expect(() => provisioningRecords("street-01", "demo_street", ROOT)).toThrow(/invalid zone id/);
    expect(() => provisioningRecords("street-01", "demo-street", ROOT.slice(1))).toThrow(/32 bytes/);
  });
});

const REFERENCE_POLICY = join(projectRoot(), "src", "policy", "reference-street.policy.json");
const POSITION = "52.37311,4.89224";

/**
 * The built tool. Files for a device (every target but sim) need a policy and a position: given the
 * reference street's, unless the test gives its own or says `{ policy: false }`.
 */
function runProvision(args: readonly string[], options: { policy?: boolean } = {}) {
  const target = args[args.indexOf("--target") + 1];
  const needsPolicy = options.policy !== false && !(args.includes("--target") && target === "sim") && !args.includes("--policy");
  return runBuiltScript("hosts/collector/provision.js", needsPolicy ? [...args, "--policy", REFERENCE_POLICY, "--position", POSITION] : args);
}

/** The civicnode domain of a lin preference file. */
const linDomain = (json: string) => (JSON.parse(json) as Record<string, Record<string, unknown>>).civicnode!;

const mode = (path: string) => statSync(path).mode & 0o777;

/** What the first tool to seal a keyring in a folder without a passphrase says, once. */
function expectPassphraseCreated(stderr: string, state: string): void {
  expect(stderr).toBe(
    `provision: created the passphrase that seals the keys in ${state}: ${join(state, LOCAL_PASSPHRASE_FILE)} (mode 0600); a city keeps its passphrase elsewhere, ` +
      "not beside the keyring: move it and set CIVICNODE_PASSPHRASE_FILE (docs/keys-at-rest.md)\n",
  );
  expect(mode(join(state, LOCAL_PASSPHRASE_FILE))).toBe(0o600);
}

describe("npm run provision (the built tool)", () => {
  it("adds a new device to the keyring, writes private files and prints the fingerprint, never the key", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const run = await runProvision(["street-07", "--zone", "old-town", "--state", state, "--target", "both"]);
      expectPassphraseCreated(run.stderr, state);
      expect(run.code).toBe(0);
      const entry = Keyring.load(state, localPassphrase(state)).get("street-07")!;
      expect(entry.zone).toBe("old-town");
      expect(mode(join(state, KEYRING_FILE))).toBe(0o600);

      const out = join(state, "provision", "street-07");
      expect(mode(out)).toBe(0o700);
      for (const file of ["nvs.csv", "modpreferences.json"]) expect(mode(join(out, file))).toBe(0o600);
      expect(readFileSync(join(out, "nvs.csv"), "utf8").startsWith(nvsCsv(provisioningRecords("street-07", "old-town", entry.rootKey)))).toBe(true); // then the signed policy (provision-policy.test.ts)
      expect(linDomain(readFileSync(join(out, "modpreferences.json"), "utf8"))).toMatchObject(linDomain(linPreferencesJson(provisioningRecords("street-07", "old-town", entry.rootKey))));

      const keyHex = bytesToHex(entry.rootKey);
      const passphrase = readFileSync(join(state, LOCAL_PASSPHRASE_FILE), "utf8").trim();
      for (const text of [run.stdout, run.stderr]) {
        expect(text).not.toContain(passphrase);
        expect(text.toLowerCase()).not.toContain(keyHex);
        expect(text).not.toContain(Array.from(entry.rootKey).join(","));
      }
      expect(run.stdout).toContain(`key fingerprint (key.id): ${bytesToHex(keyIdFromRoot(entry.rootKey, "street-07"))}`);
      expect(run.stdout).toContain(`wrote ${join(out, "nvs.csv")} (mode 0600)`);
      expect(run.stdout).toContain(`nvs_partition_gen.py generate ${join(out, "nvs.csv")} ${join(out, "nvs.bin")} 0x46000`);
      expect(run.stdout).toContain(`esptool.py --port <PORT> write_flash 0x9000 ${join(out, "nvs.bin")}`);
      expect(run.stdout).toContain("replaces its whole content");
      expect(run.stdout).toContain(`"file": { "root": "${out}/" }`);
      expect(run.stdout).toMatch(/delete the provisioning files/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("reuses the key of a known device, and replaces it only with --new-key", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const keyring = new Keyring();
      keyring.add("street-01", "demo-street", ROOT);
      keyring.save(state, localPassphrase(state));
      const out = join(state, "out");

      const reuse = await runProvision(["street-01", "--state", state, "--out", out]);
      expect(reuse.code).toBe(0);
      expect(Keyring.load(state, localPassphrase(state)).get("street-01")!.rootKey).toEqual(ROOT);
      expect(readFileSync(join(out, "nvs.csv"), "utf8").startsWith(nvsCsv(provisioningRecords("street-01", "demo-street", ROOT)))).toBe(true); // then the signed policy (provision-policy.test.ts)
      expect(existsSync(join(out, "modpreferences.json"))).toBe(false); // esp32 is the default target
      expect(reuse.stdout).toContain(`key fingerprint (key.id): ${bytesToHex(keyIdFromRoot(ROOT, "street-01"))}`);

      const rekey = await runProvision(["street-01", "--zone", "demo-street", "--state", state, "--out", out, "--new-key", "--target", "lin"]);
      expect(rekey.code).toBe(0);
      const fresh = Keyring.load(state, localPassphrase(state)).get("street-01")!;
      expect(fresh.rootKey).not.toEqual(ROOT);
      expect(fresh.zone).toBe("demo-street");
      const document = JSON.parse(readFileSync(join(out, "modpreferences.json"), "utf8"));
      expect(linGet(document, "civicnode", "key.root")).toEqual(fresh.rootKey);
      expect(rekey.stdout).not.toContain(bytesToHex(fresh.rootKey));
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("refuses a zone that differs from the keyring's, with exit code 2 and the keyring untouched", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const keyring = new Keyring();
      keyring.add("street-01", "demo-street", ROOT);
      keyring.save(state, localPassphrase(state));
      const before = readFileSync(join(state, KEYRING_FILE), "utf8");
      const run = await runProvision(["street-01", "--zone", "old-town", "--state", state]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("belongs to zone demo-street");
      expect(readFileSync(join(state, KEYRING_FILE), "utf8")).toBe(before);
      expect(existsSync(join(state, "provision"))).toBe(false);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("refuses to write the key into a folder other users can enter", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const shared = join(state, "shared");
      mkdirSync(shared);
      chmodSync(shared, 0o755);
      const run = await runProvision(["street-01", "--zone", "demo-street", "--state", state, "--out", shared]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("accessible to other users");
      expect(existsSync(join(shared, "nvs.csv"))).toBe(false);
      expect(existsSync(join(state, KEYRING_FILE))).toBe(false); // no key made for files never written
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it.each([
    [["Street_01", "--zone", "demo-street"], "invalid device id"],
    [["street-01", "--zone", "Demo Street"], "invalid zone id"],
    [["street-01"], "give --zone to add it"],
    [[], "give exactly one device id"],
    [["street-01", "street-02", "--zone", "demo-street"], "give exactly one device id"],
    [["street-01", "--zone", "demo-street", "--target", "esp8266"], "--target must be one of esp32, lin, both"],
    [["street-01", "--frobnicate"], "frobnicate"],
    [["street-01", "--zone", "demo-street", "--new-key", "--same-key"], "give --new-key or --same-key, not both"],
    [["street-01", "--zone", "demo-street", "--same-key"], "so it has no key to write again"],
    [["street-01", "--zone", "demo-street", "--target", "sim", "--same-key"], "--same-key does not apply to --target sim"],
    [["street-01", "--zone", "demo-street", "--target", "sim", "--out", "elsewhere"], "--out does not apply to --target sim"],
  ])("refuses %j with a clear message and exit code 2", async (args, mention) => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const run = await runProvision([...args, "--state", state]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(mention);
      expect(existsSync(join(state, KEYRING_FILE))).toBe(false);
      expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false); // nothing sealed, no passphrase made
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("marks a key issued before writing it, and gives it out again only with --same-key or as a new key with --new-key", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const keyring = new Keyring();
      keyring.add("street-01", "demo-street", ROOT);
      keyring.save(state, localPassphrase(state));
      const out = join(state, "out");
      const first = await runProvision(["street-01", "--state", state, "--out", out]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("issued now for the first time");
      const issued = Keyring.load(state, localPassphrase(state)).get("street-01")!.issued!;
      expect(new Date(issued).toISOString()).toBe(issued);
      rmSync(join(out, "nvs.csv"));

      // The files were lost: the same request is refused, and says what to pass.
      const keyringBefore = readFileSync(join(state, KEYRING_FILE), "utf8");
      const refused = await runProvision(["street-01", "--state", state, "--out", out, "--target", "both"]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`provision: the root key of street-01 in ${join(state, KEYRING_FILE)} was issued on ${issued}: a node that booted with it and got it again would restart its counters and repeat nonces.`);
      expect(refused.stderr).toContain("Pass --new-key to give street-01 a new root key, or --same-key if no node ever booted with this one");
      expect(refused.stdout).toBe("");
      expect(existsSync(join(out, "nvs.csv"))).toBe(false);
      expect(existsSync(join(out, "modpreferences.json"))).toBe(false);
      expect(readFileSync(join(state, KEYRING_FILE), "utf8")).toBe(keyringBefore);

      // The operator's word that no node booted with it: the same key, its first issue date kept.
      const same = await runProvision(["street-01", "--state", state, "--out", out, "--same-key"]);
      expect(same.code).toBe(0);
      expect(same.stdout).toContain(`writing again the root key of street-01 (zone demo-street), issued on ${issued}: --same-key says no node ever booted with it`);
      expect(readFileSync(join(out, "nvs.csv"), "utf8").startsWith(nvsCsv(provisioningRecords("street-01", "demo-street", ROOT)))).toBe(true); // then the signed policy (provision-policy.test.ts)
      expect(Keyring.load(state, localPassphrase(state)).get("street-01")!.issued).toBe(issued);

      const rekeyed = await runProvision(["street-01", "--state", state, "--out", out, "--new-key"]);
      expect(rekeyed.code).toBe(0);
      const fresh = Keyring.load(state, localPassphrase(state)).get("street-01")!;
      expect(fresh.rootKey).not.toEqual(ROOT);
      expect(fresh.issued).toMatch(/^\d{4}-/);
      expect(readFileSync(join(out, "nvs.csv"), "utf8").startsWith(nvsCsv(provisioningRecords("street-01", "demo-street", fresh.rootKey)))).toBe(true); // then the signed policy (provision-policy.test.ts)
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("takes every key of a keyring written before keys were marked as issued", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const legacy = { format: "civicnode-keyring", version: 1, devices: { "street-01": { zone: "demo-street", rootKey: bytesToHex(ROOT), created: "2026-11-27T01:05:00.000Z" } } };
      writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), JSON.stringify(legacy), { mode: 0o600 });
      const run = await runProvision(["street-01", "--state", state]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain("was issued before this keyring recorded issues");
      // Sealed on this first open, refused or not; the plaintext is gone.
      expect(run.stderr).toContain(`provision: sealed the keyring: ${join(state, PLAINTEXT_KEYRING_FILE)} (keys in the clear) is now ${join(state, KEYRING_FILE)}`);
      expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false);
      expect(Keyring.load(state, localPassphrase(state)).get("street-01")!.rootKey).toEqual(ROOT);
      expect(existsSync(join(state, "provision"))).toBe(false);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("--target sim writes a simulated node's flash with the keyring's key, marked issued", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-provision-"));
    try {
      const run = await runProvision(["street-05", "--zone", "demo-street", "--target", "sim", "--state", state]);
      expectPassphraseCreated(run.stderr, state);
      expect(run.code).toBe(0);
      const entry = Keyring.load(state, localPassphrase(state)).get("street-05")!;
      expect(entry.issued).toMatch(/^\d{4}-/);
      const path = join(state, "nodes", "street-05", "store.json");
      expect(mode(path)).toBe(0o600);
      const store = new FileStore(path);
      expect(store.get("key.root")).toEqual(entry.rootKey);
      expect(store.get("key.id")).toEqual(keyIdFromRoot(entry.rootKey, "street-05"));
      expect(run.stdout).toContain(`wrote ${path} (mode 0600)`);
      expect(run.stdout).not.toContain(bytesToHex(entry.rootKey));

      const again = await runProvision(["street-05", "--target", "sim", "--state", state]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain("Pass --new-key to give street-05 a new root key.");
      expect(again.stderr).not.toContain("--same-key if");
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("--help prints the usage and exits 0", async () => {
    const run = await runProvision(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Usage: npm run provision -- <device> [options]");
    expect(run.stderr).toBe("");
  });
});
