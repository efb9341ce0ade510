/**
 * `npm run cmd` (the built tool) checks a command's name=value arguments before it seals: a
 * malformed one exits 2 naming what is wrong, with nothing sealed, no counter reserved and nothing
 * recorded; the first command that is well formed takes counter 0. Also its other usage errors:
 * negative and junk option values, and a file given as --state.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCommandArguments } from "../../../hosts/collector/command-arguments.js";
import { CommandError, DOWNLINK_STATE_FILE } from "../../../hosts/collector/commander.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runBuiltScript } from "../../support/run-simulator.js";

function runCmd(args: readonly string[]) {
  return runBuiltScript("hosts/collector/cmd.js", args);
}

describe("npm run cmd: arguments checked before sealing", () => {
  let state: string;
  /** Nothing listens here: a command that gets as far as publishing fails there, after sealing. */
  const nowhere = ["--broker", "mqtt://127.0.0.1:1"];

  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), "civicnode-cmd-args-"));
    const keyring = new Keyring();
    keyring.provision("street-01", "demo-street");
    keyring.save(state, localPassphrase(state));
  });
  afterAll(() => rmSync(state, { recursive: true, force: true }));

  it.each([
    [["set-window", "seconds=abc"], "set-window: seconds=abc is not a whole number of seconds from 1 to 86400"],
    [["set-window", "seconds=-300"], "set-window: seconds=-300 is not a whole number of seconds from 1 to 86400"],
    [["set-window", "seconds=1.5"], "set-window: seconds=1.5 is not a whole number of seconds from 1 to 86400"],
    [["set-window", "seconds="], "set-window: seconds= is not a whole number of seconds from 1 to 86400"],
    [["set-window", "seconds=0x12c"], "set-window: seconds=0x12c is not a whole number of seconds from 1 to 86400"],
    [["set-window"], "set-window needs seconds=N (missing seconds=)"],
    [["set-window", "secs=300"], "set-window takes seconds=N, not secs=300"],
    [["set-window", "seconds=300", "seconds=600"], "set-window: seconds= is given twice"],
    [["set-interval", "seconds=30"], "set-interval needs sensor=ID seconds=N (missing sensor=)"],
    [["set-interval", "sensor=climate", "seconds=0"], "set-interval: seconds=0 is not a number of seconds above 0, at most 86400"],
    [["set-interval", "sensor=climate", "seconds=Infinity"], "set-interval: seconds=Infinity is not a number of seconds above 0, at most 86400"],
    [["set-interval", "sensor=<b>", "seconds=30"], "set-interval: sensor=<b> is not a sensor id"],
    [["rotate-epoch", "seconds=3"], "rotate-epoch takes no arguments, not seconds=3"],
    [["republish-disclosure", "now"], '"now" is not name=value'],
  ])("refuses %j with exit code 2, nothing sealed", async (command, message) => {
    const run = await runCmd(["street-01", ...command, "--state", state, ...nowhere]);
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toContain(`cmd: ${message}`);
    expect(run.stdout).toBe("");
    expect(existsSync(join(state, DOWNLINK_STATE_FILE))).toBe(false); // no counter reserved
    expect(existsSync(join(state, "collector.db"))).toBe(false); // nothing recorded
  });

  it("seals the first well-formed command under counter 0", async () => {
    const run = await runCmd(["street-01", "set-interval", "sensor=climate", "seconds=30", "--state", state, ...nowhere]);
    expect(run.code).toBe(1); // sealed, then the broker is not there
    expect(run.stderr).toContain("ECONNREFUSED");
    expect(JSON.parse(readFileSync(join(state, DOWNLINK_STATE_FILE), "utf8")).counters).toEqual({ "street-01": 1 });
  });

  it.each([
    [["street-01", "rotate-epoch", "--state", "-x"], undefined],
    [["street-01", "rotate-epoch", "--broker"], "cmd: --broker needs a value"],
    [["street-01", "rotate-epoch", "--wait=yes"], "cmd: --wait takes no value"],
  ])("words the command line's errors itself: %j", async (args, message) => {
    const run = await runCmd(args);
    expect(run.code).toBe(2);
    expect(run.stderr).not.toMatch(/ambiguous|ERR_PARSE_ARGS/);
    if (message) expect(run.stderr).toContain(message);
  });

  it("refuses a file given as --state with exit code 2, and no stack trace", async () => {
    const file = join(state, "not-a-folder");
    writeFileSync(file, "");
    for (const path of [file, join(file, "below")]) {
      const run = await runCmd(["street-01", "rotate-epoch", "--state", path, ...nowhere]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^cmd: --state ${path} (is a file, not a folder|cannot be made: ${file} is a file, not a folder): give the state folder, or a path where one can be made\\n$`));
    }
  });
});

describe("parseCommandArguments", () => {
  it("turns well-formed arguments into the values the node reads", () => {
    expect(parseCommandArguments("set-window", ["seconds=300"])).toEqual({ seconds: 300 });
    expect(parseCommandArguments("set-interval", ["seconds=0.5", "sensor=sound"])).toEqual({ sensor: "sound", seconds: 0.5 });
    expect(parseCommandArguments("rotate-epoch", [])).toEqual({});
    expect(() => parseCommandArguments("policy-chunk", [])).toThrow(CommandError);
  });
});
