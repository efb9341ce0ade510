/**
 * The built tools as a user runs them with a wrong command line: a file given as --state (or a
 * path below a file) to npm start, npm run collector, npm run cmd and npm run provision, and
 * negative or junk numbers to the options that take one. Each says what is wrong in its own words
 * and exits 2, with no stack trace and nothing made on disk.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuiltScript } from "../../support/run-simulator.js";

const TOOLS = [
  { tool: "npm start", script: "hosts/node/main.js", prefix: "civicnode", args: ["--windows", "1"] },
  { tool: "npm run collector", script: "hosts/collector/main.js", prefix: "collector", args: ["--broker", "mqtt://127.0.0.1:1"] },
  { tool: "npm run cmd", script: "hosts/collector/cmd.js", prefix: "cmd", args: ["street-01", "rotate-epoch", "--broker", "mqtt://127.0.0.1:1"] },
  { tool: "npm run provision", script: "hosts/collector/provision.js", prefix: "provision", args: ["street-01", "--zone", "demo-street", "--target", "sim"] },
] as const;

/** What a stack trace looks like in Node's output. */
const STACK = /\n\s+at .+:\d+:\d+/;

describe("usage errors of the built tools", () => {
  let dir: string;
  let file: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "civicnode-usage-"));
    file = join(dir, "keyring.sealed");
    writeFileSync(file, "not a folder");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const { tool, script, prefix, args } of TOOLS) {
    it(`${tool}: a file given as --state, or a path below one, is a usage error (exit 2) that says so`, async () => {
      for (const [state, what] of [
        [file, "is a file, not a folder"],
        [join(file, "state"), `cannot be made: ${file} is a file, not a folder`],
      ] as const) {
        const run = await runBuiltScript(script, [...args, "--state", state]);
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr).toContain(`${prefix}: --state ${state} ${what}: give the state folder, or a path where one can be made\n`);
        expect(run.stderr).not.toMatch(STACK);
        expect(run.stdout).toBe("");
      }
      expect(readdirSync(dir)).toEqual(["keyring.sealed"]);
    });
  }

  it.each([
    ["--speed", "-1", 'civicnode: --speed: "-1" is not a number from 1 to 36000'],
    ["--nodes", "-3", 'civicnode: --nodes: "-3" is not a number from 1 to 256'],
    ["--windows", "-abc", 'civicnode: --windows: "-abc" is not a number from 1 to 100000'],
    ["--faults", "-0.5", 'civicnode: --faults: "-0.5" is not a number from 0 to 100000'],
    ["--public-url", "https://sensors.example.city/?x=1", 'civicnode: --public-url "https://sensors.example.city/?x=1": must have no query, fragment or credentials: the pages\' addresses are built under it'],
  ])("npm start %s %s: the option's own message", async (option, value, message) => {
    const run = await runBuiltScript(TOOLS[0].script, [option, value, "--state", join(dir, "never-made")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`${message}\nRun "npm start -- --help" for the options.\n`);
  });

  it.each([
    ["--retention-days", "-1", 'collector: --retention-days: "-1" is not a whole number from 0 to 100000'],
    ["--health-days", "soon", 'collector: --health-days: "soon" is not a whole number from 0 to 100000'],
    ["--rejection-days", "-x", 'collector: --rejection-days: "-x" is not a whole number from 0 to 100000'],
    ["--session-expiry", "-60", 'collector: --session-expiry: "-60" is not a whole number from 0 to 4294967295'],
    ["--http", "-", 'collector: --http "-": expected host:port'],
    ["--public-url", "sensors.example.city", 'collector: --public-url "sensors.example.city": expected an absolute http(s) URL'],
    ["--public-url", "ftp://sensors.example.city", 'collector: --public-url "ftp://sensors.example.city": must be http or https'],
  ])("npm run collector %s %s: the option's own message", async (option, value, message) => {
    const run = await runBuiltScript(TOOLS[1].script, [...TOOLS[1].args, option, value, "--state", join(dir, "never-made")]);
    expect(run.code).toBe(2);
    expect(run.stderr.startsWith(message), run.stderr).toBe(true);
    expect(run.stderr).not.toMatch(/ambiguous|ERR_PARSE_ARGS/);
    expect(readdirSync(dir)).toEqual(["keyring.sealed"]);
  });
});
