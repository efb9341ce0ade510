/**
 * The built tools and the sealed keyring (docs/keys-at-rest.md): each takes its passphrase from
 * CIVICNODE_PASSPHRASE_FILE or CIVICNODE_PASSPHRASE, stops with one clear message on a sealed folder
 * without it or with a wrong one, and seals a plaintext keyring.json of an earlier version on its
 * first open. (`npm start` making the local passphrase on a fresh folder, and saying nothing the
 * second time, is in test/hosts/node/cli.test.ts.)
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { projectRoot } from "../../../hosts/xs/bundle.js";
import { Keyring, KEYRING_FILE, PLAINTEXT_KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { LOCAL_PASSPHRASE_FILE, PassphraseSource } from "../../../hosts/collector/passphrase-source.js";

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const PASSPHRASE = "the city's passphrase, kept elsewhere";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-keys-at-rest-"));
  dirs.push(dir);
  return dir;
}

/** Runs `dist/<script>` with the test's environment less any passphrase, plus `env`. */
function run(script: string, args: readonly string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const { CIVICNODE_PASSPHRASE: _text, CIVICNODE_PASSPHRASE_FILE: _file, ...rest } = process.env;
  const result = spawnSync(process.execPath, ["--enable-source-maps", `dist/${script}`, ...args], { env: { ...rest, ...env }, encoding: "utf8", timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A device's files carry its signed policy: the reference street's, at a position. */
const POLICY = ["--policy", join(projectRoot(), "src", "policy", "reference-street.policy.json"), "--position", "52.37311,4.89224"];
const provision = (state: string, env?: Record<string, string>) => run("hosts/collector/provision.js", ["street-01", "--zone", "demo-street", "--state", state, "--out", join(state, "out"), ...POLICY], env);
const sources = (state: string, env: Record<string, string>) => new PassphraseSource(state, { env, notify: () => {} });

/** A folder whose keyring holds street-01, sealed under PASSPHRASE given in the environment. */
function sealedFolder(): string {
  const state = folder();
  const keyring = new Keyring();
  keyring.add("street-01", "demo-street", ROOT, "2026-11-27T01:05:00.000Z");
  keyring.save(state, sources(state, { CIVICNODE_PASSPHRASE: PASSPHRASE }));
  return state;
}

describe("the built tools and the sealed keyring", () => {
  it("seal under the passphrase CIVICNODE_PASSPHRASE_FILE names, and make no local one", () => {
    const state = folder();
    const file = join(folder(), "passphrase-elsewhere");
    writeFileSync(file, `${PASSPHRASE}\n`, { mode: 0o600 });
    const first = provision(state, { CIVICNODE_PASSPHRASE_FILE: file });
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false);
    expect(Keyring.load(state, sources(state, { CIVICNODE_PASSPHRASE: PASSPHRASE })).get("street-01")!.issued).toMatch(/^\d{4}-/);
    expect(readFileSync(join(state, KEYRING_FILE), "latin1")).toMatch(/^\{"format":"civicnode-secret"/);
  });

  it("open a keyring sealed under CIVICNODE_PASSPHRASE with it, and refuse it without, naming both variables and the local file, changing nothing", () => {
    const state = sealedFolder();
    const sealed = readFileSync(join(state, KEYRING_FILE));
    const message = `${join(state, KEYRING_FILE)} is sealed, and no passphrase is given: set CIVICNODE_PASSPHRASE_FILE to the file that holds it (or CIVICNODE_PASSPHRASE to the passphrase), or put its file back at ${join(state, LOCAL_PASSPHRASE_FILE)}`;
    const tools: Array<[string, string[], string]> = [
      ["hosts/collector/provision.js", ["street-01", "--state", state, "--out", join(state, "out"), ...POLICY], "provision"],
      ["hosts/collector/main.js", ["--broker", "mqtt://127.0.0.1:1", "--state", state, "--http", "off"], "collector"],
      ["hosts/collector/cmd.js", ["street-01", "republish-disclosure", "--broker", "mqtt://127.0.0.1:1", "--state", state], "cmd"],
    ];
    for (const [script, args, name] of tools) {
      const refused = run(script, args);
      expect(refused.stderr, script).toBe(`${name}: ${message}\n`);
      expect(refused.code, script).toBe(1);
    }
    expect(readFileSync(join(state, KEYRING_FILE))).toEqual(sealed);
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false);
    expect(existsSync(join(state, "out"))).toBe(false);

    const wrong = run("hosts/collector/provision.js", ["street-01", "--state", state, ...POLICY], { CIVICNODE_PASSPHRASE: "a guess" });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(`provision: wrong passphrase or altered file: ${join(state, KEYRING_FILE)} (the passphrase came from CIVICNODE_PASSPHRASE)\n`);

    const given = run("hosts/collector/provision.js", ["street-01", "--state", state, "--out", join(state, "out"), ...POLICY], { CIVICNODE_PASSPHRASE: PASSPHRASE });
    expect(given.stderr).toBe("");
    expect(given.code).toBe(0);
    expect(given.stdout).toContain("issued now for the first time");
    for (const text of [wrong.stdout, wrong.stderr, given.stdout, given.stderr]) expect(text).not.toContain(PASSPHRASE);
  });

  it("seal a plaintext keyring.json on their first open, say so once, and then read the sealed one (npm run cmd)", () => {
    const state = folder();
    const legacy = { format: "civicnode-keyring", version: 1, devices: { "street-01": { zone: "demo-street", rootKey: Buffer.from(ROOT).toString("hex"), created: "2026-11-27T01:05:00.000Z", issued: null } } };
    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), JSON.stringify(legacy), { mode: 0o600 });
    const cmd = () => run("hosts/collector/cmd.js", ["street-01", "republish-disclosure", "--broker", "mqtt://127.0.0.1:1", "--state", state], { CIVICNODE_PASSPHRASE: PASSPHRASE });
    const first = cmd();
    expect(first.stderr).toContain(
      `cmd: sealed the keyring: ${join(state, PLAINTEXT_KEYRING_FILE)} (keys in the clear) is now ${join(state, KEYRING_FILE)}, under the passphrase from CIVICNODE_PASSPHRASE; the plaintext file is removed\n`,
    );
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false);
    expect(readFileSync(join(state, KEYRING_FILE), "latin1")).not.toContain(legacy.devices["street-01"].rootKey);
    expect(Keyring.load(state, sources(state, { CIVICNODE_PASSPHRASE: PASSPHRASE })).get("street-01")!.rootKey).toEqual(ROOT);
    // The command was sealed (with the keyring's key) and only its publishing failed: no broker there.
    expect(first.stderr).toMatch(/cmd: .*(ECONNREFUSED|connect)/);
    const second = cmd();
    expect(second.stderr).not.toContain("sealed the keyring");
    expect(second.stderr).not.toContain(PASSPHRASE);
  });
});
