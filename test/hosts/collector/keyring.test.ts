/** The keyring's record of issued keys, and its read-modify-write under keyring.lock. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ISSUED_UNKNOWN, Keyring, KeyringError } from "../../../hosts/collector/keyring.js";
import { KEYRING_LOCK_FILE, ExclusiveLock, holderPath } from "../../../hosts/node/exclusive-lock.js";

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

describe("Keyring.update", () => {
  function folder(): string {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-keyring-"));
    dirs.push(dir);
    return dir;
  }

  it("loads afresh, saves only a change, and holds keyring.lock meanwhile", () => {
    const state = folder();
    const added = Keyring.update(state, "test", (keyring) => keyring.provision("street-01", "demo-street"));
    expect(added).toBe(true);
    const saved = readFileSync(join(state, "keyring.json"), "utf8");
    expect(Keyring.parse(saved).devices).toEqual(["street-01"]);

    let holder: unknown;
    Keyring.update(state, "test", (keyring) => {
      holder = JSON.parse(readFileSync(holderPath(join(state, KEYRING_LOCK_FILE)), "utf8"));
      expect(() => ExclusiveLock.acquire(join(state, KEYRING_LOCK_FILE), { command: "other" })).toThrow(/keyring.lock|is in use by PID/);
      return keyring.provision("street-01", "demo-street"); // already there: no change
    });
    expect(holder).toMatchObject({ pid: process.pid, command: "test" });
    expect(readFileSync(join(state, "keyring.json"), "utf8")).toBe(saved);
    expect(existsSync(holderPath(join(state, KEYRING_LOCK_FILE)))).toBe(false);
  });

  it("saves nothing when the change throws", () => {
    const state = folder();
    expect(() =>
      Keyring.update(state, "test", (keyring) => {
        keyring.provision("street-01", "demo-street");
        throw new Error("refused");
      }),
    ).toThrow("refused");
    expect(existsSync(join(state, "keyring.json"))).toBe(false);
    ExclusiveLock.acquire(join(state, KEYRING_LOCK_FILE), { command: "after" }).release(); // and let go
  });
});
