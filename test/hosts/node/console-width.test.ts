/**
 * `npm start` (the built simulator) as a new user sees it: in a terminal 120 columns wide (a
 * pseudo-terminal from util-linux's `script`), every line it prints fits, whatever its kind (setup
 * messages, summaries, health lines with faults, the status line redrawn in place), so the
 * terminal never wraps one. In a pipe, the summary, health and status lines fit too.
 */
import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSimulator } from "../../support/run-simulator.js";

/** Faults about every 6 simulated minutes per part: health lines in every run of a few windows. */
const ARGS = ["--nodes", "3", "--speed", "600", "--windows", "4", "--faults", "0.1"];
const SUMMARY = /^\d\d:\d\dZ street-\d\d +#\d+ +T /;
const HEALTH = /^\d\d:\d\dZ street-\d\d +health: /;
const STATUS = /^sim /;

/** What a terminal shows, one entry per physical line: split at newlines and at the status line's redraws. */
function screenLines(output: string): string[] {
  return output
    .replace(/\r\n/g, "\n")
    .split(/\n|\r\x1b\[2K|\r/)
    .map((line) => line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ""))
    .filter((line) => line !== "");
}

function columns(line: string): number {
  return [...line].length;
}

describe("npm start fits 120 columns", () => {
  it("in a terminal 120 columns wide: every line of every kind", async () => {
    expect(spawnSync("script", ["--version"]).status, "util-linux's script makes the pseudo-terminal").toBe(0);
    const state = mkdtempSync(join(tmpdir(), "civicnode-width-"));
    try {
      const command = `stty cols 120 rows 50; exec ${JSON.stringify(process.execPath)} --enable-source-maps dist/hosts/node/main.js ${ARGS.join(" ")} --state ${JSON.stringify(state)}`;
      const child = spawn("script", ["-qfec", command, "/dev/null"], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (chunk) => (output += chunk));
      child.stderr.on("data", (chunk) => (output += chunk));
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
      expect(code, output).toBe(0);
      const lines = screenLines(output);
      for (const kind of [SUMMARY, HEALTH, STATUS]) expect(lines.some((line) => kind.test(line)), `${kind}\n${output}`).toBe(true);
      expect(lines.some((line) => line.startsWith("created the passphrase"))).toBe(true); // the longest message, wrapped
      for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(120);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);

  it("in a pipe: every summary, health and status line", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-width-"));
    try {
      const run = await runSimulator([...ARGS, "--state", state], 120_000);
      expect(run.code, run.stderr).toBe(0);
      const lines = run.stdout.split("\n").filter((line) => SUMMARY.test(line) || HEALTH.test(line) || STATUS.test(line));
      expect(lines.filter((line) => SUMMARY.test(line)).length).toBeGreaterThanOrEqual(12);
      expect(lines.some((line) => HEALTH.test(line))).toBe(true);
      for (const line of lines) expect(columns(line), line).toBeLessThanOrEqual(120);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  }, 150_000);
});
