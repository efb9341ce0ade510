/**
 * The staff token in the state folder: made once from the CSPRNG with mode 0600, kept across
 * starts, the same for two processes that start together, refused (naming the file, never its
 * content) when the file holds something else, and compared as a whole.
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { API_TOKEN_FILE, ApiToken, ApiTokenError } from "../../../../hosts/collector/api/api-token.js";

describe("the API token", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  function folder(): string {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-token-"));
    dirs.push(dir);
    return dir;
  }

  it("is made on first use with mode 0600 in a folder it makes 0700, and read back afterwards", () => {
    const dir = join(folder(), "state");
    const path = join(dir, API_TOKEN_FILE);
    const first = ApiToken.loadOrCreate(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const text = readFileSync(path, "utf8");
    expect(text).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    const again = ApiToken.loadOrCreate(path);
    expect(again.created).toBe(false);
    expect(readFileSync(path, "utf8")).toBe(text);
    expect(again.token.matches(text.trim())).toBe(true);
    expect(again.token.exposed).toBe(false);
  });

  it("makes the folders missing above its own", () => {
    const dir = join(folder(), "var", "lib", "state");
    ApiToken.loadOrCreate(join(dir, API_TOKEN_FILE));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(readFileSync(join(dir, API_TOKEN_FILE), "utf8")).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });

  it("differs between folders (from the CSPRNG)", () => {
    const a = ApiToken.loadOrCreate(join(folder(), API_TOKEN_FILE)).token;
    const b = ApiToken.loadOrCreate(join(folder(), API_TOKEN_FILE)).token;
    expect(readFileSync(a.path, "utf8")).not.toBe(readFileSync(b.path, "utf8"));
  });

  it("admits exactly its own bearer token", () => {
    const { token } = ApiToken.loadOrCreate(join(folder(), API_TOKEN_FILE));
    const value = readFileSync(token.path, "utf8").trim();
    expect(token.admits(`Bearer ${value}`)).toBe(true);
    expect(token.admits(`bearer ${value}`)).toBe(true); // the scheme is case-insensitive (RFC 7235)
    for (const header of [undefined, "", value, `Bearer`, `Bearer ${value.slice(0, -1)}`, `Bearer ${value}A`, `Bearer ${value.toUpperCase()}`, `Basic ${value}`, `Bearer ${value} ${value}`]) {
      expect(token.admits(header), String(header)).toBe(false);
    }
  });

  it("is one token for processes that make it at the same time", async () => {
    const path = join(folder(), API_TOKEN_FILE);
    const script = `import { ApiToken } from ${JSON.stringify(new URL("../../../../dist/hosts/collector/api/api-token.js", import.meta.url).href)};
      const { created } = ApiToken.loadOrCreate(${JSON.stringify(path)}); process.stdout.write(String(created));`;
    const run = () =>
      new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
        child.once("error", reject);
        child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}`))));
      });
    const created = await Promise.all([run(), run(), run(), run()]);
    expect(created.filter((c) => c === "true")).toHaveLength(1);
    expect(created.filter((c) => c === "false")).toHaveLength(3);
    expect(readFileSync(path, "utf8")).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
  });

  it("refuses a file that holds no token, naming the file and not its content", () => {
    const path = join(folder(), API_TOKEN_FILE);
    writeFileSync(path, "hunter2-the-old-password\n", { mode: 0o600 });
    expect(() => ApiToken.loadOrCreate(path)).toThrow(ApiTokenError);
    try {
      ApiToken.loadOrCreate(path);
    } catch (error) {
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("says when others can read it", () => {
    const path = join(folder(), API_TOKEN_FILE);
    ApiToken.loadOrCreate(path);
    chmodSync(path, 0o644);
    expect(ApiToken.loadOrCreate(path).token.exposed).toBe(true);
  });

  // As root no mode keeps a folder from being written: /proc refuses new entries to anyone (and
  // mkdirSync's own recursion loops there for ever on Node 20, which api-token.ts avoids).
  it("says why it cannot be made in a folder that cannot be written", () => {
    const path = join("/proc", "civicnode-no-such", API_TOKEN_FILE);
    expect(() => ApiToken.loadOrCreate(path)).toThrow(/cannot make the API token \/proc\/civicnode-no-such\/api-token/);
  });
});
