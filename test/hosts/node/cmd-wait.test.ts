/**
 * `npm run cmd -- ... --wait` (the built tool) against the built simulator on the same state
 * folder, its embedded broker and its collector's database: it prints what the node made of the
 * command from the node's next health report (accepted; refused by the policy's bounds; a policy
 * update taken), records it as the command's outcome, and gives up after three health intervals,
 * saying so, for a node that never reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runBuiltScript } from "../../support/run-simulator.js";
import { waitForStored, withStateDb } from "../../support/state-db.js";
import { waitFor } from "../../support/wait-for.js";
import { referencePolicyJson } from "../../src/policy/policy-corpus.js";

/** 300x: the reference board's health report (every 900 s) comes every 3 s, a --wait gives up after 9 s. */
const SPEED = 300;
const INTERVAL_S = 900 / SPEED;

function runCmd(args: readonly string[]) {
  // The tool's own budget is three intervals; the rest is its start and the database.
  return runBuiltScript("hosts/collector/cmd.js", args, 60_000 + 3 * INTERVAL_S * 1000);
}

describe("npm run cmd --wait", () => {
  let state: string;
  let simulator: ChildProcess;
  let output = "";

  beforeAll(async () => {
    state = mkdtempSync(join(tmpdir(), "civicnode-cmd-wait-"));
    // street-09 is in the keyring, but no node of the street runs it: it never reports.
    const keyring = new Keyring();
    keyring.provision("street-09", "demo-street");
    keyring.save(state, localPassphrase(state));
    const stronger = referencePolicyJson();
    stronger.channels[7].privacy.k = 5;
    writeFileSync(join(state, "stronger.json"), JSON.stringify(stronger));
    simulator = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/node/main.js", "--nodes", "2", "--speed", String(SPEED), "--state", state], { stdio: ["ignore", "pipe", "pipe"] });
    simulator.stdout!.on("data", (chunk) => (output += chunk));
    simulator.stderr!.on("data", (chunk) => (output += chunk));
    const record = () => (existsSync(join(state, "simulator.json")) ? JSON.parse(readFileSync(join(state, "simulator.json"), "utf8")) : {});
    await waitFor(() => record().running !== undefined || simulator.exitCode !== null, "the simulator to record itself", 30_000);
    await waitForStored(state, (stored) => stored.health.filter((h) => h.device === "street-01").length >= 2, "two health reports of street-01", 60_000, 100, () => output);
  }, 120_000);

  afterAll(async () => {
    if (simulator && simulator.exitCode === null) {
      const exited = new Promise((resolve) => simulator.once("exit", resolve));
      simulator.kill("SIGINT");
      await exited;
    }
    rmSync(state, { recursive: true, force: true });
  });

  it("prints the node's acceptance from its next health report, with its audit entries, and records it", async () => {
    const run = await runCmd(["street-01", "rotate-epoch", "--wait", "--state", state]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines[0]).toMatch(/^sent rotate-epoch to street-01 \(counter 0, \d+ bytes sealed\)/);
    expect(lines[1]).toBe(`waiting for street-01's next health report: one every 900 s of its clock (${INTERVAL_S.toFixed(1)} s at ${SPEED}x)`);
    expect(lines[2]).toMatch(/^street-01 accepted rotate-epoch \(its health report of \d{4}-\d\d-\d\d \d\d:\d\dZ\)$/);
    expect(lines).toContain("  audit: command-accepted rotate-epoch");
    expect(lines).toContain("  audit: epoch-rotated command to 1");
    const commands = await withStateDb(state, async (db) => (await db.commands({ device: "street-01", limit: 10 })).items);
    expect(commands?.map((c) => [c.name, c.counter, c.outcome])).toEqual([["rotate-epoch", 0, "accepted"]]);
  }, 90_000);

  it("prints a refusal by the node's policy and its reason, exits 1, and records it", async () => {
    const run = await runCmd(["street-01", "set-window", "seconds=600", "--wait", "--state", state]);
    expect(run.code, run.stderr).toBe(1);
    expect(run.stdout).toMatch(/\nstreet-01 refused set-window: outside what its signed policy allows \(its health report of [^)]+\)\n/);
    expect(run.stdout).toContain("  audit: command-refused bounds set-window\n");
    const commands = await withStateDb(state, async (db) => (await db.commands({ device: "street-01", limit: 10 })).items);
    expect(commands?.map((c) => [c.name, c.outcome])).toEqual([["rotate-epoch", "accepted"], ["set-window", "bounds"]]);
  }, 90_000);

  it("prints a policy update taken, by its serial, once the node has restarted on it", async () => {
    const run = await runCmd(["street-02", "update-policy", "--policy", join(state, "stronger.json"), "--wait", "--state", state]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^sent update-policy to street-02: serial 2 \(from 1\)/);
    expect(run.stdout).toMatch(/\nstreet-02 accepted update-policy \(its health report of [^)]+\)\n/);
    expect(run.stdout).toContain("  audit: policy-updated serial 2\n");
  }, 90_000);

  it("gives up after three health intervals for a node that never reports, and says what that means", async () => {
    const run = await runCmd(["street-09", "rotate-epoch", "--wait", "--state", state]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^sent rotate-epoch to street-09 \(counter 0/);
    expect(run.stderr).toBe(
      `cmd: no health report of street-09 reached ${join(state, "collector.db")} within ${(3 * INTERVAL_S).toFixed(1)} s (3 of its health intervals of 900 s (${INTERVAL_S.toFixed(1)} s at ${SPEED}x)): ` +
        "is the node online, and a collector storing into that database? The command was sent (counter 0); the node's next health reports will say what became of it\n",
    );
    const commands = await withStateDb(state, async (db) => (await db.commands({ device: "street-09", limit: 10 })).items);
    expect(commands?.map((c) => [c.name, c.outcome])).toEqual([["rotate-epoch", "published"]]);
  }, 90_000);
});
