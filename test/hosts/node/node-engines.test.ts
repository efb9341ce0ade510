/**
 * What the README says of `npm ci`'s EBADENGINE warnings on Node 20, held true: the packages of
 * the lock file that ask for a newer Node are amaro (pulled in by @agoric/xsnap through
 * @endo/bundle-source) and cookie (by fastify through light-my-request), and neither is ever loaded
 * by what civicnode runs: the street with its cores in XS and the collector's API answering, with
 * every module the process resolves (ESM and CommonJS) recorded.
 */
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

interface LockedPackage {
  readonly version?: string;
  readonly engines?: { readonly node?: string };
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

type Version = readonly [number, number, number];

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Whether a package.json `engines.node` range admits Node `version`: the part of semver the lock
 * file's ranges use (>=, >, <, <=, ^, ~, wildcards, ||).
 */
function admits(range: string, version: Version): boolean {
  return range.split("||").some((alternative) => {
    const parts = alternative.trim().replace(/(>=|<=|>|<|\^|~|=)\s+/g, "$1").split(/\s+/).filter(Boolean);
    return parts.every((part) => {
      if (part === "*" || part === "x") return true;
      const match = /^(>=|>|<=|<|\^|~|=)?v?(\d+)(?:\.(\d+|x|\*))?(?:\.(\d+|x|\*))?$/.exec(part);
      if (!match) throw new Error(`a range this check does not read: ${range}`);
      const [, op, major, minor, patch] = match;
      const wild = (text: string | undefined) => text === undefined || text === "x" || text === "*";
      const low: Version = [Number(major), wild(minor) ? 0 : Number(minor), wild(patch) ? 0 : Number(patch)];
      // The first version past the range a bare, ^ or ~ version (or a wildcard) stands for.
      const next: Version = op === "^" ? (low[0] > 0 ? [low[0] + 1, 0, 0] : [0, low[1] + 1, 0]) : op === "~" || (op === undefined && !wild(minor) && wild(patch)) ? [low[0], low[1] + 1, 0] : wild(minor) ? [low[0] + 1, 0, 0] : [low[0], low[1], low[2] + 1];
      switch (op) {
        case ">=":
          return compare(version, low) >= 0;
        case ">":
          return compare(version, wild(minor) || wild(patch) ? next : low) >= (wild(minor) || wild(patch) ? 0 : 1);
        case "<":
          return compare(version, low) < 0;
        case "<=":
          return compare(version, wild(minor) || wild(patch) ? next : low) < (wild(minor) || wild(patch) ? 0 : 1);
        default:
          return compare(version, low) >= 0 && compare(version, next) < 0;
      }
    });
  });
}

/** The oldest Node that civicnode supports (package.json's engines, ">=20.19"). */
const OLDEST: Version = [20, 19, 0];

const SUSPECTS = ["node_modules/amaro/", "node_modules/cookie/", "node_modules/light-my-request/", "node_modules/@endo/bundle-source/"];

describe("packages that ask for a newer Node than 20.19", () => {
  it("are amaro (through @endo/bundle-source) and cookie (through light-my-request), as the README says", () => {
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, LockedPackage> };
    const newer = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== "" && entry.engines?.node !== undefined && !admits(entry.engines.node, OLDEST))
      .map(([path]) => path);
    expect(newer.sort()).toEqual(["node_modules/amaro", "node_modules/cookie"]);
    const dependents = (name: string) => Object.entries(lock.packages).filter(([, entry]) => name in (entry.dependencies ?? {}) || name in (entry.optionalDependencies ?? {})).map(([path]) => path);
    expect(dependents("amaro")).toEqual(["node_modules/@endo/bundle-source"]);
    expect(dependents("@endo/bundle-source")).toEqual(["node_modules/@agoric/xsnap"]);
    expect(dependents("cookie")).toEqual(["node_modules/light-my-request"]);
    expect(dependents("light-my-request")).toEqual(["node_modules/fastify"]);
  });

  it("the range check reads the lock file's ranges right", () => {
    const cases: Array<[string, boolean]> = [
      [">=22", false],
      [">= 20.19.0", true],
      [">=20.20", false],
      ["^20.9 || ^22.11", true],
      ["^20.19.0 || >=22.12.0", true],
      ["^20.19.1 || >=22.12.0", false],
      ["20.x || 22.x || 23.x", true],
      ["6.* || 8.* || >= 10.*", true],
      ["^12.22.0 || ^14.17.0 || >=16.0.0", true],
      ["^18 || ^22", false],
      ["~20.18.0", false],
      [">= 10.x", true],
      ["<20", false],
      ["*", true],
    ];
    for (const [range, expected] of cases) expect(admits(range, OLDEST), range).toBe(expected);
    expect(JSON.parse(readFileSync("package.json", "utf8")).engines.node).toBe(">=20.19");
  });

  it("none of them is loaded by the street in XS with the collector's API answering", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-engines-"));
    const log = join(dir, "resolved.log");
    try {
      // CommonJS: every require() resolved. ESM: every import resolved, by a resolve hook (in its own thread on Node 20).
      writeFileSync(join(dir, "record.cjs"), `const Module = require("node:module"); const fs = require("node:fs"); const resolve = Module._resolveFilename;
Module._resolveFilename = function (...args) { const file = resolve.apply(this, args); fs.appendFileSync(process.env.RESOLVED_LOG, file + "\\n"); return file; };`);
      writeFileSync(join(dir, "hooks.mjs"), `import { appendFileSync } from "node:fs";
export async function resolve(specifier, context, next) { const result = await next(specifier, context); appendFileSync(process.env.RESOLVED_LOG, result.url + "\\n"); return result; }`);
      writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});`);
      const args = ["--require", join(dir, "record.cjs"), "--import", pathToFileURL(join(dir, "register.mjs")).href, "dist/hosts/node/main.js", "--engine", "xs", "--nodes", "1", "--speed", "600", "--windows", "1", "--state", join(dir, "state")];
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RESOLVED_LOG: log } });
      let output = "";
      let answered = false;
      child.stderr.on("data", (chunk) => (output += chunk));
      child.stdout.on("data", (chunk) => {
        output += chunk;
        const api = /collector API on (http:\/\/[^/]+)\/api\/nodes/.exec(output);
        if (api && !answered) {
          answered = true;
          void fetch(`${api[1]}/api/nodes`).then((response) => expect(response.status).toBe(200));
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code, output).toBe(0);
      expect(answered).toBe(true);
      expect(existsSync(log)).toBe(true);
      const resolved = readFileSync(log, "utf8").split("\n");
      // The recording sees imports and the require() calls below them (fastify's own avvio).
      expect(resolved.some((file) => file.includes("node_modules/fastify/"))).toBe(true);
      expect(resolved.some((file) => file.includes("node_modules/avvio/"))).toBe(true);
      expect(resolved.some((file) => file.includes("node_modules/@agoric/xsnap/"))).toBe(true);
      for (const suspect of SUSPECTS) expect(resolved.filter((file) => file.includes(suspect))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
