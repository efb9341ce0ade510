/** The keyring's record of issued keys, its read-modify-write under keyring.lock, and its file sealed at rest. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ISSUED_UNKNOWN, Keyring, KeyringError, KEYRING_FILE, PLAINTEXT_KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { LOCAL_PASSPHRASE_FILE, PassphraseSource } from "../../../hosts/collector/passphrase-source.js";
import { KEYRING_LOCK_FILE, ExclusiveLock, holderPath } from "../../../hosts/node/exclusive-lock.js";
import { localPassphrase } from "../../support/local-passphrase.js";

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i);
const HEX = Buffer.from(ROOT).toString("hex");

const document = (entry: Record<string, unknown>) =>
  JSON.stringify({ format: "civicnode-keyring", version: 1, devices: { "street-01": { zone: "demo-street", rootKey: HEX, created: "2026-11-27T01:05:00.000Z", ...entry } } });

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("issued keys", () => {
  it("are written as an ISO time, and never-issued keys as null", () => {
    const keyring = new Keyring();
    keyring.add("street-01", "demo-street", ROOT, "2026-11-27T01:05:00.000Z");
    expect(JSON.parse(keyring.serialize()).devices["street-01"].issued).toBeNull();
    keyring.markIssued("street-01", new Date("2026-12-01T16:10:00.000Z"));
    keyring.markIssued("street-01", new Date("2027-01-01T00:00:00.000Z")); // the first issue is the one that counts
    expect(JSON.parse(keyring.serialize()).devices["street-01"].issued).toBe("2026-12-01T16:10:00.000Z");
    expect(Keyring.parse(keyring.serialize()).get("street-01")!.issued).toBe("2026-12-01T16:10:00.000Z");
  });

  it("reads a keyring written before the field existed as issued at an unknown time, and keeps it so", () => {
    const legacy = Keyring.parse(document({}));
    expect(legacy.get("street-01")!.issued).toBe(ISSUED_UNKNOWN);
    expect(Keyring.parse(legacy.serialize()).get("street-01")!.issued).toBe(ISSUED_UNKNOWN);
    expect(Keyring.parse(document({ issued: null })).get("street-01")!.issued).toBeUndefined();
  });

  it.each([[42], [""], [true], [{}], ["yesterday"], ["2026-12-01"]])("refuses issued = %j, naming the entry", (issued) => {
    expect(() => Keyring.parse(document({ issued }))).toThrow(new KeyringError('keyring entry street-01: "issued" must be null, "unknown" or an ISO 8601 time'));
  });

  it("replaceKey gives a fresh key, not issued, created now", () => {
    const keyring = Keyring.parse(document({ issued: "2026-12-01T16:10:00.000Z" }));
    const fresh = keyring.replaceKey("street-01", new Date("2026-12-02T00:00:00.000Z"));
    expect(fresh.rootKey).not.toEqual(ROOT);
    expect(fresh).toMatchObject({ zone: "demo-street", created: "2026-12-02T00:00:00.000Z", issued: undefined });
    expect(() => keyring.replaceKey("street-99")).toThrow(KeyringError);
  });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-keyring-"));
  dirs.push(dir);
  return dir;
}

/** A source on `state` with `env` (the test's own environment ignored), and the lines it told its operator. */
function source(state: string, env: Record<string, string> = {}): { passphrases: PassphraseSource; told: string[] } {
  const told: string[] = [];
  return { passphrases: new PassphraseSource(state, { env, notify: (line) => told.push(line) }), told };
}

describe("Keyring.update", () => {
  it("loads afresh, saves only a change, and holds keyring.lock meanwhile", () => {
    const state = folder();
    const added = Keyring.update(state, "test", localPassphrase(state), (keyring) => keyring.provision("street-01", "demo-street"));
    expect(added).toBe(true);
    const saved = readFileSync(join(state, KEYRING_FILE), "utf8");
    expect(Keyring.load(state, localPassphrase(state)).devices).toEqual(["street-01"]);

    let holder: unknown;
    Keyring.update(state, "test", localPassphrase(state), (keyring) => {
      holder = JSON.parse(readFileSync(holderPath(join(state, KEYRING_LOCK_FILE)), "utf8"));
      expect(() => ExclusiveLock.acquire(join(state, KEYRING_LOCK_FILE), { command: "other" })).toThrow(/keyring.lock|is in use by PID/);
      return keyring.provision("street-01", "demo-street"); // already there: no change
    });
    expect(holder).toMatchObject({ pid: process.pid, command: "test" });
    expect(readFileSync(join(state, KEYRING_FILE), "utf8")).toBe(saved); // not even sealed again
    expect(existsSync(holderPath(join(state, KEYRING_LOCK_FILE)))).toBe(false);
  });

  it("saves nothing when the change throws, and makes no passphrase for it", () => {
    const state = folder();
    expect(() =>
      Keyring.update(state, "test", localPassphrase(state), (keyring) => {
        keyring.provision("street-01", "demo-street");
        throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(existsSync(join(state, KEYRING_FILE))).toBe(false);
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false);
    ExclusiveLock.acquire(join(state, KEYRING_LOCK_FILE), { command: "after" }).release(); // and let go
  });
});

describe("the keyring at rest", () => {
  it("is sealed: its file holds none of its root keys, in hex of either case, base64 or binary, nor a device's name", () => {
    const state = folder();
    const keyring = new Keyring();
    keyring.add("street-01", "demo-street", ROOT, "2026-11-27T01:05:00.000Z");
    for (let i = 2; i <= 40; i++) keyring.provision(`street-${String(i).padStart(2, "0")}`, "demo-street");
    keyring.save(state, localPassphrase(state));
    const file = readFileSync(join(state, KEYRING_FILE));
    expect(file.toString("latin1")).toMatch(/^\{"format":"civicnode-secret",[^\n]*\}\n[A-Za-z0-9+/]+={0,2}\n$/);
    const opened = Keyring.load(state, localPassphrase(state));
    expect(opened.serialize()).toBe(keyring.serialize());
    for (const device of opened.devices) {
      const key = Buffer.from(opened.get(device)!.rootKey);
      // Any 8 bytes of a key, at any of its offsets, in any of the encodings it could leak in.
      for (let offset = 0; offset + 8 <= key.length; offset += 8) {
        const part = key.subarray(offset, offset + 8);
        for (const needle of [part, Buffer.from(part.toString("hex")), Buffer.from(part.toString("hex").toUpperCase())]) expect(file.includes(needle), device).toBe(false);
      }
      for (const encoding of ["base64", "base64url"] as const) expect(file.includes(Buffer.from(key.toString(encoding).slice(0, 12))), device).toBe(false);
      expect(file.includes(Buffer.from(device))).toBe(false);
    }
  });

  it("migrates a plaintext keyring.json (version 1) on its first open with a passphrase: sealed first, the plaintext removed after, said once", () => {
    const state = folder();
    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), document({ issued: null }), { mode: 0o600 });
    const { passphrases, told } = source(state, { CIVICNODE_PASSPHRASE: "a city's passphrase" });
    const keyring = Keyring.load(state, passphrases);
    expect(keyring.get("street-01")).toEqual({ zone: "demo-street", rootKey: ROOT, created: "2026-11-27T01:05:00.000Z", issued: undefined });
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false);
    expect(readFileSync(join(state, KEYRING_FILE), "latin1")).not.toContain(HEX);
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false); // it had one: none made
    expect(told).toEqual([
      `sealed the keyring: ${join(state, PLAINTEXT_KEYRING_FILE)} (keys in the clear) is now ${join(state, KEYRING_FILE)}, under the passphrase from CIVICNODE_PASSPHRASE; the plaintext file is removed`,
    ]);

    const again = source(state, { CIVICNODE_PASSPHRASE: "a city's passphrase" });
    expect(Keyring.load(state, again.passphrases).serialize()).toBe(keyring.serialize());
    expect(again.told).toEqual([]);
  });

  it("migrates a plaintext keyring in a folder without a passphrase under a new local one (the quick start of an earlier version)", () => {
    const state = folder();
    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), document({}), { mode: 0o600 });
    const { passphrases, told } = source(state);
    const added = Keyring.update(state, "npm start", passphrases, (keyring) => keyring.provision("street-02", "demo-street"));
    expect(added).toBe(true);
    expect(told).toHaveLength(2);
    expect(told[0]).toMatch(/^created the passphrase that seals the keys in /);
    expect(told[1]).toBe(
      `sealed the keyring: ${join(state, PLAINTEXT_KEYRING_FILE)} (keys in the clear) is now ${join(state, KEYRING_FILE)}, under the passphrase from the local passphrase file ${join(state, LOCAL_PASSPHRASE_FILE)}; the plaintext file is removed`,
    );
    const keyring = Keyring.load(state, localPassphrase(state));
    expect(keyring.devices).toEqual(["street-01", "street-02"]);
    expect(keyring.get("street-01")!.issued).toBe(ISSUED_UNKNOWN);
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false);
  });

  it("finishes a migration cut short (both files, the same keys) and refuses two keyrings that differ, keeping both", () => {
    const state = folder();
    const keyring = Keyring.parse(document({ issued: null }));
    keyring.save(state, localPassphrase(state));
    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), keyring.serialize()); // a crash before the plaintext's removal
    const { passphrases, told } = source(state);
    expect(Keyring.load(state, passphrases).serialize()).toBe(keyring.serialize());
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(false);
    expect(told).toEqual([expect.stringMatching(/^sealed the keyring: /)]);

    writeFileSync(join(state, PLAINTEXT_KEYRING_FILE), document({ issued: "2026-12-01T16:10:00.000Z" })); // a backup put back beside it
    const sealedBefore = readFileSync(join(state, KEYRING_FILE));
    expect(() => Keyring.load(state, localPassphrase(state))).toThrow(
      new KeyringError(
        `${state} holds both keyring.json (keys in the clear) and keyring.sealed, and their keys differ: remove the one you do not mean to keep (keyring.sealed is opened; keyring.json is sealed into it when it is alone)`,
      ),
    );
    expect(readFileSync(join(state, KEYRING_FILE))).toEqual(sealedBefore);
    expect(existsSync(join(state, PLAINTEXT_KEYRING_FILE))).toBe(true);
  });

  it("cannot be opened without its passphrase: the error names both variables and the local file, and no passphrase is made", () => {
    const state = folder();
    Keyring.parse(document({})).save(state, source(state, { CIVICNODE_PASSPHRASE: "kept elsewhere" }).passphrases);
    const without = source(state).passphrases;
    const message = `${join(state, KEYRING_FILE)} is sealed, and no passphrase is given: set CIVICNODE_PASSPHRASE_FILE to the file that holds it (or CIVICNODE_PASSPHRASE to the passphrase), or put its file back at ${join(state, LOCAL_PASSPHRASE_FILE)}`;
    expect(() => Keyring.load(state, without)).toThrow(new KeyringError(message));
    expect(() => Keyring.update(state, "test", without, (keyring) => keyring.provision("street-02", "demo-street"))).toThrow(new KeyringError(message));
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false);
    expect(Keyring.load(state, source(state, { CIVICNODE_PASSPHRASE: "kept elsewhere" }).passphrases).devices).toEqual(["street-01"]);
  });

  it("refuses a wrong passphrase and an altered file alike, saying where the passphrase came from, never a key or the passphrase", () => {
    const state = folder();
    Keyring.parse(document({})).save(state, source(state, { CIVICNODE_PASSPHRASE: "right" }).passphrases);
    const refusal = `wrong passphrase or altered file: ${join(state, KEYRING_FILE)} (the passphrase came from CIVICNODE_PASSPHRASE)`;
    expect(() => Keyring.load(state, source(state, { CIVICNODE_PASSPHRASE: "wrong" }).passphrases)).toThrow(new KeyringError(refusal));
    const bytes = readFileSync(join(state, KEYRING_FILE));
    bytes[bytes.length - 5] ^= 0x01;
    writeFileSync(join(state, KEYRING_FILE), bytes);
    expect(() => Keyring.load(state, source(state, { CIVICNODE_PASSPHRASE: "right" }).passphrases)).toThrow(new KeyringError(refusal));
  });

  it("needs no passphrase while there is no keyring", () => {
    const state = folder();
    expect(Keyring.load(state, source(state).passphrases).devices).toEqual([]);
    expect(existsSync(join(state, LOCAL_PASSPHRASE_FILE))).toBe(false);
  });
});
