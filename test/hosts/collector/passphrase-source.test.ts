/**
 * Where the passphrase of a state folder's secret files comes from (hosts/collector/passphrase-source.ts):
 * the environment, a file, or the quick start's local file, created once and said once.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { LOCAL_PASSPHRASE_FILE, Passphrase, PassphraseError, PassphraseSource } from "../../../hosts/collector/passphrase-source.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-passphrase-"));
  dirs.push(dir);
  return dir;
}

const text = (passphrase: Passphrase) => new TextDecoder().decode(passphrase.bytes);

/** A source on `state` with `env`, and the lines it told its operator. */
function source(state: string, env: Record<string, string> = {}): { passphrases: PassphraseSource; told: string[] } {
  const told: string[] = [];
  return { passphrases: new PassphraseSource(state, { env, notify: (line) => told.push(line) }), told };
}

describe("the passphrase", () => {
  it("comes from CIVICNODE_PASSPHRASE as UTF-8, and no local file is made", () => {
    const state = folder();
    const { passphrases, told } = source(state, { CIVICNODE_PASSPHRASE: "grüne Laterne 7" });
    const passphrase = passphrases.forFirstSeal(join(state, "keyring.sealed"));
    expect(passphrase.bytes).toEqual(new TextEncoder().encode("grüne Laterne 7"));
    expect(passphrase.origin).toBe("CIVICNODE_PASSPHRASE");
    expect(told).toEqual([]);
    expect(() => statSync(join(state, LOCAL_PASSPHRASE_FILE))).toThrow(/ENOENT/);
  });

  it("comes from the file CIVICNODE_PASSPHRASE_FILE names, less one final newline, a relative name taken from the working folder", () => {
    const state = folder();
    const file = join(folder(), "civicnode-passphrase");
    for (const [content, expected] of [
      ["lamp post\n", "lamp post"],
      ["lamp post\r\n", "lamp post"],
      ["lamp post", "lamp post"],
      [" lamp post \n\n", " lamp post \n"],
    ] as const) {
      writeFileSync(file, content);
      const { passphrases } = source(state, { CIVICNODE_PASSPHRASE_FILE: relative(process.cwd(), file) });
      const passphrase = passphrases.forOpening(join(state, "keyring.sealed"));
      expect(text(passphrase)).toBe(expected);
      expect(passphrase.origin).toBe(`CIVICNODE_PASSPHRASE_FILE (${file})`);
    }
  });

  it("is taken from the variables before the local file", () => {
    const state = folder();
    writeFileSync(join(state, LOCAL_PASSPHRASE_FILE), "local\n");
    expect(text(source(state, { CIVICNODE_PASSPHRASE: "given" }).passphrases.forOpening("x.sealed"))).toBe("given");
    expect(text(source(state).passphrases.forOpening("x.sealed"))).toBe("local");
  });

  it.each([
    [{ CIVICNODE_PASSPHRASE: "a", CIVICNODE_PASSPHRASE_FILE: "/etc/hostname" }, "both CIVICNODE_PASSPHRASE_FILE and CIVICNODE_PASSPHRASE are set: set one"],
    [{ CIVICNODE_PASSPHRASE: "" }, "the passphrase from CIVICNODE_PASSPHRASE is empty"],
    [{ CIVICNODE_PASSPHRASE_FILE: "" }, "CIVICNODE_PASSPHRASE_FILE is set but empty: set it to the file that holds the passphrase"],
    [{ CIVICNODE_PASSPHRASE_FILE: "/nonexistent/passphrase" }, "cannot read the passphrase from CIVICNODE_PASSPHRASE_FILE (/nonexistent/passphrase): ENOENT"],
  ])("refuses %j, naming what is wrong", (env, message) => {
    const state = folder();
    const { passphrases } = source(state, env);
    expect(() => passphrases.forFirstSeal(join(state, "keyring.sealed"))).toThrow(new PassphraseError(message));
    expect(() => statSync(join(state, LOCAL_PASSPHRASE_FILE))).toThrow(/ENOENT/); // a mistake is never papered over
  });

  it("refuses an empty or oversized passphrase file", () => {
    const state = folder();
    const file = join(state, "given");
    writeFileSync(file, "\n");
    expect(() => source(state, { CIVICNODE_PASSPHRASE_FILE: file }).passphrases.forOpening("x.sealed")).toThrow(`the passphrase from CIVICNODE_PASSPHRASE_FILE (${file}) is empty`);
    writeFileSync(file, "x".repeat(5000));
    expect(() => source(state, { CIVICNODE_PASSPHRASE_FILE: file }).passphrases.forOpening("x.sealed")).toThrow(/is 5000 bytes: a passphrase is one line, at most 4096 bytes/);
  });

  it("is created for a folder's first seal when none is given: random, mode 0600, said in one line the first time only", () => {
    const state = join(folder(), "fresh");
    const first = source(state);
    const created = first.passphrases.forFirstSeal(join(state, "keyring.sealed"));
    const local = join(state, LOCAL_PASSPHRASE_FILE);
    expect(statSync(local).mode & 0o777).toBe(0o600);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    const content = readFileSync(local, "utf8");
    expect(content).toMatch(/^[A-Za-z0-9_-]{43}\n$/); // 32 bytes, base64url
    expect(text(created)).toBe(content.trimEnd());
    expect(created.origin).toBe(`the local passphrase file ${local}`);
    expect(first.told).toEqual([
      `created the passphrase that seals the keys in ${state}: ${local} (mode 0600); a city keeps its passphrase elsewhere, not beside the keyring: move it and set CIVICNODE_PASSPHRASE_FILE (docs/keys-at-rest.md)`,
    ]);
    expect(first.told.join("\n")).not.toContain(content.trimEnd());

    // The next tool, and the next run: the same passphrase, nothing said.
    for (const next of [source(state), source(state)]) {
      expect(text(next.passphrases.forFirstSeal(join(state, "keyring.sealed")))).toBe(text(created));
      expect(text(next.passphrases.forOpening(join(state, "keyring.sealed")))).toBe(text(created));
      expect(next.told).toEqual([]);
    }
    const another = source(join(folder(), "other"));
    expect(text(another.passphrases.forFirstSeal("keyring.sealed"))).not.toBe(text(created));
  });

  it("is never made anew for a folder that holds a sealed file: opening it without one names both variables and the local file", () => {
    const state = folder();
    writeFileSync(join(state, "keyring.sealed"), "sealed under a passphrase kept elsewhere\n");
    const { passphrases, told } = source(state);
    const guidance = `set CIVICNODE_PASSPHRASE_FILE to the file that holds it (or CIVICNODE_PASSPHRASE to the passphrase), or put its file back at ${join(state, LOCAL_PASSPHRASE_FILE)}`;
    expect(() => passphrases.forOpening(join(state, "keyring.sealed"))).toThrow(new PassphraseError(`${join(state, "keyring.sealed")} is sealed, and no passphrase is given: ${guidance}`));
    expect(() => passphrases.forFirstSeal(join(state, "operator-key.sealed"))).toThrow(
      new PassphraseError(`cannot seal ${join(state, "operator-key.sealed")}: no passphrase is given, and ${state} holds keyring.sealed, sealed under one already: ${guidance}`),
    );
    expect(() => statSync(join(state, LOCAL_PASSPHRASE_FILE))).toThrow(/ENOENT/);
    expect(told).toEqual([]);
  });

  it("prints as where it came from, never as what it is", () => {
    const passphrase = new Passphrase(new TextEncoder().encode("s3cret-lamp"), "CIVICNODE_PASSPHRASE");
    for (const shown of [String(passphrase), `${passphrase}`, JSON.stringify({ passphrase }), inspect(passphrase, { showHidden: true, depth: 5 })]) {
      expect(shown).not.toContain("s3cret-lamp");
      expect(shown).not.toContain(Buffer.from("s3cret-lamp").toString("hex"));
    }
    expect(String(passphrase)).toBe("passphrase from CIVICNODE_PASSPHRASE");
  });
});
