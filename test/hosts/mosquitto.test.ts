/** The simulator and collector against a real Mosquitto broker, as with `--broker` in the field. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto, type RunningMosquitto } from "../support/mosquitto.js";
import { runSimulator } from "../support/run-simulator.js";
import { storedInState } from "../support/state-db.js";
import { makeTestPki, type TestPki } from "../support/test-pki.js";

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
    const lines = (await storedInState(state)).summaries;
    for (const device of ["street-01", "street-02", "street-03", "street-04"]) {
      expect(lines.filter((l) => l.device === device).length).toBeGreaterThanOrEqual(2);
    }
    expect(run.stdout).toMatch(/\d+ decrypted, 0 rejected/);
  });
});

describe.runIf(available)("against a real Mosquitto broker over TLS (mqtts://, pinned CA)", () => {
  let pki: TestPki;
  let mosquitto: RunningMosquitto;
  let state: string;

  beforeAll(async () => {
    pki = makeTestPki();
    mosquitto = await startMosquitto({ tls: { caFile: pki.caFile, certFile: pki.server.certFile, keyFile: pki.server.keyFile } });
    state = mkdtempSync(join(tmpdir(), "civicnode-mosquitto-tls-run-"));
  });

  afterAll(async () => {
    await mosquitto?.stop();
    if (state) rmSync(state, { recursive: true, force: true });
    pki?.remove();
  });

  it("npm start --broker mqtts://localhost:port --ca FILE delivers every node's summaries over TLS and exits 0", async () => {
    expect(mosquitto.url).toMatch(/^mqtts:\/\/localhost:\d+$/);
    const run = await runSimulator(["--broker", mosquitto.url, "--ca", pki.caFile, "--nodes", "4", "--speed", "600", "--windows", "2", "--state", state]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`using external MQTT broker ${mosquitto.url} over TLS, pinning the CA in ${pki.caFile}`);
    const lines = (await storedInState(state)).summaries;
    for (const device of ["street-01", "street-02", "street-03", "street-04"]) {
      expect(lines.filter((l) => l.device === device).length).toBeGreaterThanOrEqual(2);
    }
    expect(run.stdout).toMatch(/\d+ decrypted, 0 rejected/);
    expect(readFileSync(join(state, "simulator.log"), "utf8")).not.toContain("tls_certificate_rejected");
  });

  it("exits 1, naming the certificate problem, when the pinned CA did not issue the broker's certificate", async () => {
    const other = mkdtempSync(join(tmpdir(), "civicnode-mosquitto-tls-other-"));
    try {
      const run = await runSimulator(["--broker", mosquitto.url, "--ca", pki.otherCaFile, "--nodes", "1", "--windows", "1", "--state", other], 40_000);
      expect(run.code).toBe(1);
      // Mosquitto sends its CA along with its certificate, so OpenSSL reports "self-signed in chain".
      expect(run.stdout).toContain(`cannot start the collector on the MQTT broker at ${mosquitto.url}: self-signed certificate in certificate chain`);
      expect(run.stdout).toContain('"code":"SELF_SIGNED_CERT_IN_CHAIN"');
      expect((await storedInState(other)).summaries).toEqual([]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
