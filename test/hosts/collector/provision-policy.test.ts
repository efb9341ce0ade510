/**
 * `npm run provision` for a device (esp32, lin): the files carry the node's signed policy, its
 * signed disclosure and the keys it verifies them with, so that the firmware, which carries no
 * policy, boots from its store (hosts/moddable/firmware.ts). Read back here as the node reads its
 * store, and verified as the node verifies it at boot.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hexToBytes } from "@noble/hashes/utils.js";
import { afterEach, describe, expect, it } from "vitest";
import { KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { OPERATOR_PUBLIC_KEY_FILE, readOperatorPublicKey } from "../../../hosts/collector/operator-key.js";
import { OversightKey } from "../../../hosts/collector/oversight-key.js";
import { streetBoard } from "../../../hosts/sim/street-board.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { projectRoot } from "../../../hosts/xs/bundle.js";
import { disclosureFor, encodeDisclosure } from "../../../src/policy/disclosure.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy } from "../../../src/policy/node-from-policy.js";
import { OVERSIGHT_KEY_STORE_KEY } from "../../../src/policy/policy-update.js";
import { provisionedDisclosure } from "../../../src/policy/signed-disclosure.js";
import { OPERATOR_KEY_STORE_KEY, provisionedPolicy, SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { storeHoldsKey } from "../../../src/wire/key-ratchet.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runBuiltScript } from "../../support/run-simulator.js";
import { Keyring } from "../../../hosts/collector/keyring.js";

const REFERENCE_FILE = join(projectRoot(), "src", "policy", "reference-street.policy.json");
const REFERENCE = JSON.parse(readFileSync(REFERENCE_FILE, "utf8")) as Record<string, unknown>;
const IDENTITY = { device: "street-07", zone: "old-town" };

const states: string[] = [];
afterEach(() => {
  for (const state of states.splice(0)) rmSync(state, { recursive: true, force: true });
});

function stateFolder(): string {
  const state = mkdtempSync(join(tmpdir(), "civicnode-provision-policy-"));
  states.push(state);
  return state;
}

function provision(args: readonly string[]) {
  return runBuiltScript("hosts/collector/provision.js", args);
}

/** The store an ESP32 gets from nvs.csv (every row a hex2bin blob of the civicnode namespace). */
function storeFromCsv(csv: string): MemoryStore {
  const store = new MemoryStore();
  const rows = csv.trimEnd().split("\n").slice(2);
  store.commit(rows.map((row) => {
    const [key, type, encoding, hex] = row.split(",");
    expect([type, encoding]).toEqual(["data", "hex2bin"]);
    return { key: key!, value: hexToBytes(hex!) };
  }));
  return store;
}

/** The store the Moddable Linux simulator gets from modpreferences.json. */
function storeFromLin(json: string): MemoryStore {
  const domain = (JSON.parse(json) as Record<string, Record<string, { buffer: string }>>).civicnode!;
  const store = new MemoryStore();
  store.commit(Object.entries(domain).map(([key, { buffer }]) => ({ key, value: Uint8Array.from(buffer.split(",").map(Number)) })));
  return store;
}

/** What the firmware does at boot with its store: verify the policy, build its configuration, check its disclosure. */
function bootCheck(store: MemoryStore) {
  const signed = provisionedPolicy(store, IDENTITY);
  const config = parseNodeConfig(nodeConfigFromSignedPolicy(signed, streetBoard()));
  provisionedDisclosure(store, encodeDisclosure(disclosureFor(config)));
  return { signed, config };
}

describe("npm run provision writes a device's signed policy", () => {
  it("into nvs.csv and modpreferences.json, which the node verifies at boot under the operator's published key", async () => {
    const state = stateFolder();
    const oversight = OversightKey.loadOrCreate(state, localPassphrase(state)).key;
    const run = await provision(["street-07", "--zone", "old-town", "--state", state, "--target", "both", "--policy", REFERENCE_FILE, "--position", "52.37311,4.89224"]);
    expect(run.stderr).not.toContain("Error");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`the policy "reference-street", serial 1, for street-07 at 52.37311,4.89224`);
    expect(run.stdout).not.toContain("warning: no");

    const out = join(state, "provision", "street-07");
    const esp32 = storeFromCsv(readFileSync(join(out, "nvs.csv"), "utf8"));
    const lin = storeFromLin(readFileSync(join(out, "modpreferences.json"), "utf8"));
    for (const store of [esp32, lin]) {
      const { signed, config } = bootCheck(store);
      expect(signed).toMatchObject({ ...IDENTITY, serial: 1, position: { latitude: 52.37311, longitude: 4.89224 } });
      expect(config.disclosure.policySerial).toBe(1);
      expect(store.get(OPERATOR_KEY_STORE_KEY)).toEqual(readOperatorPublicKey(state));
      expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toEqual(oversight.publicKey);
      // the root key beside it, as before
      const entry = Keyring.load(state, localPassphrase(state)).get("street-07")!;
      expect(storeHoldsKey(store, entry.rootKey, "street-07")).toBe(true);
    }
    expect(esp32.keys().sort()).toEqual(lin.keys().sort());
    // The collector's record of the node's policy, which it opens the node's messages against.
    expect(new Uint8Array(readFileSync(join(state, "policies", "street-07", "1.cose")))).toEqual(esp32.get(SIGNED_POLICY_STORE_KEY));
    // The exact position is provisioning data: signed into the policy, never in the disclosure.
    const disclosure = JSON.stringify(disclosureFor(bootCheck(esp32).config));
    expect(disclosure).not.toContain("52.37311");
    expect(disclosure).not.toContain("4.89224");
  });

  it("numbers a device's policies on from the operator's record, so a node provisioned again never reuses a serial", async () => {
    const state = stateFolder();
    const base = ["street-07", "--zone", "old-town", "--state", state, "--policy", REFERENCE_FILE, "--position", "52.37311,4.89224"];
    expect((await provision(base)).code).toBe(0);
    const again = await provision([...base, "--new-key", "--position", "52.37320,4.89230"]);
    expect(again.code).toBe(0);
    const store = storeFromCsv(readFileSync(join(state, "provision", "street-07", "nvs.csv"), "utf8"));
    expect(bootCheck(store).signed).toMatchObject({ serial: 2, position: { latitude: 52.3732, longitude: 4.8923 } });
    expect(existsSync(join(state, "policies", "street-07", "1.cose"))).toBe(true);
    expect(existsSync(join(state, "policies", "street-07", "2.cose"))).toBe(true);
    // No oversight key in the state folder: said, and none written.
    expect(again.stdout).toContain("warning: no");
    expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toBeUndefined();
    expect(store.get(OPERATOR_KEY_STORE_KEY)).toEqual(readOperatorPublicKey(state));
    expect(readFileSync(join(state, OPERATOR_PUBLIC_KEY_FILE), "utf8")).toContain(Buffer.from(readOperatorPublicKey(state)!).toString("hex"));
  });

  it("takes a position south of the equator and west of Greenwich (negative degrees, given as the next argument)", async () => {
    const state = stateFolder();
    const run = await provision(["street-07", "--zone", "old-town", "--state", state, "--policy", REFERENCE_FILE, "--position", "-33.92487,-18.42406"]);
    expect(run.stderr).not.toContain("ambiguous");
    expect(run.code).toBe(0);
    const store = storeFromCsv(readFileSync(join(state, "provision", "street-07", "nvs.csv"), "utf8"));
    expect(bootCheck(store).signed.position).toEqual({ latitude: -33.92487, longitude: -18.42406 });
  });

  it.each([
    [["--position", "-91,4.8", "--policy", REFERENCE_FILE], "latitude from -90 to 90"],
    [["--target", "esp32"], "--target esp32 needs --policy FILE"],
    [["--target", "lin", "--policy", REFERENCE_FILE], "--target lin needs --position LAT,LON"],
    [["--policy", REFERENCE_FILE, "--position", "52.37311"], "give LAT,LON in decimal degrees"],
    [["--policy", REFERENCE_FILE, "--position", "91,4.8"], "latitude from -90 to 90"],
    [["--target", "sim", "--policy", REFERENCE_FILE], "--policy and --position do not apply to --target sim"],
    [["--policy", "/nonexistent/policy.json", "--position", "52.3,4.8"], "cannot be read"],
  ])("refuses %j with exit code 2 and issues no key", async (args, mention) => {
    const state = stateFolder();
    const run = await provision(["street-07", "--zone", "old-town", "--state", state, ...args]);
    expect(run.stderr).toContain(mention);
    expect(run.code).toBe(2);
    expect(existsSync(join(state, KEYRING_FILE))).toBe(false);
  });

  it("refuses an invalid policy, naming each error's path and rule, before any key is issued", async () => {
    const state = stateFolder();
    const channels = (REFERENCE.channels as Record<string, unknown>[]).map((channel) => (channel.name === "people" ? { ...channel, privacy: { k: 1, epsilon: 0.5, sensitivity: 2 } } : channel));
    const file = join(state, "weak.policy.json");
    writeFileSync(file, JSON.stringify({ ...REFERENCE, channels, accountable: { organisation: "TODO", contact: "someone" } }));
    const run = await provision(["street-07", "--zone", "old-town", "--state", state, "--policy", file, "--position", "52.3,4.8"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("/channels/7/privacy/k");
    expect(run.stderr).toContain("/accountable/organisation");
    expect(existsSync(join(state, KEYRING_FILE))).toBe(false);
    expect(existsSync(join(state, "policies"))).toBe(false);
  });

  it("refuses a policy the firmware's board cannot run, before any key is issued", async () => {
    const state = stateFolder();
    const channels = [...(REFERENCE.channels as Record<string, unknown>[]), { name: "wind", sensor: "anemometer", output: "speed", dataType: "environment", decimals: 1, stats: ["mean"] }];
    const file = join(state, "wind.policy.json");
    writeFileSync(file, JSON.stringify({ ...REFERENCE, channels }));
    const run = await provision(["street-07", "--zone", "old-town", "--state", state, "--policy", file, "--position", "52.3,4.8"]);
    expect(run.stderr).toContain('no sensor "anemometer" on this board');
    expect(run.code).toBe(2);
    expect(existsSync(join(state, KEYRING_FILE))).toBe(false);
  });
});
