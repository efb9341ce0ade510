/**
 * `npm run cmd` (the built command tool) against the simulator running on the same state folder:
 * it finds the broker, dates commands in the street's simulated time, and the nodes act on them;
 * `update-policy` gives a node a new policy, with the oversight key's countersignature when the
 * change weakens privacy.
 */
import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBuiltScript, runSimulator } from "../../support/run-simulator.js";
import { storedInState, waitForStored } from "../../support/state-db.js";
import { waitFor } from "../../support/wait-for.js";
import { referencePolicyJson } from "../../src/policy/policy-corpus.js";

function runCmd(args: readonly string[]) {
  return runBuiltScript("hosts/collector/cmd.js", args);
}

describe("npm run cmd (the built command tool)", () => {
  it.each([
    [[], "give a device and one of"],
    [["street-01", "self-destruct"], "give a device and one of"],
    [["street-01", "set-window", "seconds"], "is not name=value"],
    [["street-01", "rotate-epoch", "--frobnicate"], "frobnicate"],
    [["street-01", "rotate-epoch", "--broker", "mqtts://localhost:8883"], "an mqtts:// broker needs --ca FILE"],
    [["street-01", "rotate-epoch", "--broker", "mqtt://127.0.0.1:1883", "--ca", "ca.pem"], "--ca needs an mqtts:// broker"],
    [["street-01", "rotate-epoch", "--state", "/nonexistent/state"], "no simulator recorded"],
    [["street-01", "policy-chunk"], "give a device and one of"],
    [["street-01", "update-policy"], "update-policy takes --policy FILE"],
    [["street-01", "update-policy", "seconds=3", "--policy", "p.json"], "update-policy takes --policy FILE and no name=value"],
    [["street-01", "rotate-epoch", "--countersign"], "go with update-policy"],
    [["street-01", "update-policy", "--policy", "/nonexistent/policy.json"], "/nonexistent/policy.json: not a valid policy:\n  /: cannot be read (ENOENT) (x-readable)"],
  ])("refuses %j with a clear message and exit code 2", async (args, mention) => {
    const run = await runCmd(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(mention);
  });

  it("reaches the running simulator's nodes in their simulated time; they act, refuse and report", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cmd-"));
    try {
      // The street resumes three days ahead of the real clock: a command dated by the real clock
      // would be refused as stale, so this also shows that the tool uses the simulated time.
      const ahead = Math.ceil(Date.now() / 300_000) * 300_000 + 3 * 86_400_000;
      writeFileSync(join(state, "simulator.json"), JSON.stringify({ simulatedWallMs: ahead }));
      const simulator = runSimulator(["--nodes", "2", "--speed", "300", "--windows", "8", "--state", state], 90_000);
      const record = () => (existsSync(join(state, "simulator.json")) ? JSON.parse(readFileSync(join(state, "simulator.json"), "utf8")) : {});
      await waitFor(() => record().running !== undefined, "the simulator to record itself", 30_000);
      await waitForStored(state, (stored) => stored.summaries.length >= 1, "a first summary", 30_000);

      const rotate = await runCmd(["street-01", "rotate-epoch", "--state", state]);
      expect(rotate.stderr).toBe("");
      expect(rotate.code).toBe(0);
      expect(rotate.stdout).toMatch(/^sent rotate-epoch to street-01 \(counter 0, \d+ bytes sealed\) on civicnode\/demo-street\/street-01\/cmd/);
      const outOfBounds = await runCmd(["street-01", "set-window", "seconds=900", "--state", state]);
      expect(outOfBounds.code).toBe(0);
      expect(outOfBounds.stdout).toContain("counter 1");

      const run = await simulator;
      expect(run.code).toBe(0);
      expect(record().running).toBeUndefined(); // a stopped simulator is not a target any more
      const { summaries, health } = await storedInState(state);
      expect(summaries.filter((s) => s.device === "street-01").some((s) => s.epoch === 1)).toBe(true);
      expect(summaries.filter((s) => s.device === "street-02").every((s) => s.epoch === 0)).toBe(true);
      expect(summaries.every((s) => s.windowSeconds === 300)).toBe(true);
      const last = health.filter((h) => h.device === "street-01").at(-1);
      expect(last?.commands).toMatchObject({ accepted: 1, bounds: 1 });
      const audited = health.flatMap((h) => h.audit.map((a) => a.entry));
      expect(audited).toEqual(expect.arrayContaining(["command-accepted rotate-epoch", "epoch-rotated command to 1", "command-refused bounds set-window"]));

      const afterwards = await runCmd(["street-01", "rotate-epoch", "--state", state]);
      expect(afterwards.code).toBe(2);
      expect(afterwards.stderr).toContain("is not running");
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);

  it("update-policy: a strengthening goes with one key; a weakening is refused without --countersign, naming it, and goes with it", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cmd-policy-"));
    try {
      const invalid = referencePolicyJson();
      invalid.channels[7].privacy.k = 1;
      invalid.windowSeconds = 301;
      writeFileSync(join(state, "invalid.json"), JSON.stringify(invalid));
      const refusedFile = await runCmd(["street-01", "update-policy", "--policy", join(state, "invalid.json"), "--state", state]);
      expect(refusedFile.code).toBe(2);
      expect(refusedFile.stderr).toContain("/windowSeconds: ");
      expect(refusedFile.stderr).toContain("/channels/7/privacy/k: ");

      const stronger = referencePolicyJson();
      stronger.channels[7].privacy.k = 5;
      writeFileSync(join(state, "stronger.json"), JSON.stringify(stronger));
      writeFileSync(join(state, "reference.json"), JSON.stringify(referencePolicyJson()));
      const simulator = runSimulator(["--nodes", "2", "--speed", "300", "--windows", "16", "--state", state], 100_000);
      await waitForStored(state, (stored) => stored.summaries.length >= 2, "first summaries", 40_000);
      expect(existsSync(join(state, "oversight-key.sealed"))).toBe(true); // the quick start made one

      const taken = await runCmd(["street-01", "update-policy", "--policy", join(state, "stronger.json"), "--state", state]);
      expect(taken.stderr).toBe("");
      expect(taken.code).toBe(0);
      expect(taken.stdout).toMatch(/^sent update-policy to street-01: serial 2 \(from 1\), \d+ chunks \(counters 0-\d+, \d+ bytes\), signed by the operator \(one key\)\n$/);
      const audit = (stored: Awaited<ReturnType<typeof storedInState>>) => stored.health.filter((h) => h.device === "street-01").flatMap((h) => h.audit.map((a) => a.entry));
      await waitForStored(state, (stored) => audit(stored).includes("policy-updated serial 2"), "the update in street-01's health", 40_000);

      const weaker = await runCmd(["street-01", "update-policy", "--policy", join(state, "reference.json"), "--state", state]);
      expect(weaker.code).toBe(2);
      expect(weaker.stderr).toContain("needs the oversight key's countersignature (--countersign)");
      expect(weaker.stderr).toContain('/channels/7/privacy/k: channel "people" withholds counts below 3 instead of below 5');
      const countersigned = await runCmd(["street-01", "update-policy", "--policy", join(state, "reference.json"), "--countersign", "--state", state]);
      expect(countersigned.code).toBe(0);
      expect(countersigned.stdout).toContain("serial 3 (from 2)");
      expect(countersigned.stdout).toContain("signed and countersigned (two keys)");
      expect(countersigned.stdout).toContain("  weakens /channels/7/privacy/k: ");
      await waitForStored(state, (stored) => audit(stored).includes("policy-updated serial 3 two keys"), "the two-key update in street-01's health", 40_000);

      const run = await simulator;
      expect(run.code).toBe(0);
      const { summaries } = await storedInState(state);
      // street-02 was not touched; street-01's summaries carry on under each policy.
      expect(summaries.filter((s) => s.device === "street-01").length).toBeGreaterThanOrEqual(16);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 150_000);
});
