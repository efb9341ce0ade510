/** The simulator and collector against a real Mosquitto broker, as with `--broker` in the field. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto, type RunningMosquitto } from "../support/mosquitto.js";
import { runSimulator } from "../support/run-simulator.js";

const available = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
if (!available) console.warn("mosquitto is not installed: skipping the real-broker tests (CI runs them)");

describe.runIf(available)("against a real Mosquitto broker", () => {
  let mosquitto: RunningMosquitto;
  let state: string;

  beforeAll(async () => {
    mosquitto = await startMosquitto();
    state = mkdtempSync(join(tmpdir(), "civicnode-mosquitto-run-"));
  });

  afterAll(async () => {
    await mosquitto?.stop();
    if (state) rmSync(state, { recursive: true, force: true });
  });

  it("npm start --broker delivers every node's summaries through mosquitto and exits 0", async () => {
    const run = await runSimulator(["--broker", mosquitto.url, "--nodes", "4", "--speed", "600", "--windows", "2", "--state", state]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`using external MQTT broker ${mosquitto.url}`);
    const lines = readFileSync(join(state, "summaries.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    for (const device of ["street-01", "street-02", "street-03", "street-04"]) {
      expect(lines.filter((l) => l.device === device).length).toBeGreaterThanOrEqual(2);
    }
    expect(run.stdout).toMatch(/\d+ decrypted, 0 rejected/);
  });
});
