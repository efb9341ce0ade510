/**
 * The collector over TLS (mqtts://) with a pinned CA. The collector uses the `mqtt` package, which
 * hands its options to Node's tls.connect; these tests make sure that what reaches tls.connect
 * really verifies the chain against the pinned CA only, and the broker's name, and that a refused
 * certificate never turns into a connection.
 */
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { Collector, type SummaryLine } from "../../../hosts/collector/collector.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { Fleet } from "../../../hosts/node/fleet.js";
import type { LogDetail, LogLevel } from "../../../src/platform.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { makeTestPki, type TestCertificate, type TestPki } from "../../support/test-pki.js";
import { startTlsBroker, type TlsTestBroker } from "../../support/tls-broker.js";
import { testOperatorKey } from "../../support/operator-key.js";
import { waitFor } from "../../support/wait-for.js";

/** One database for the file's collectors, opened at its top so that it is removed after it. */
const db = await testCollectorDb();

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki?.remove());

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function tlsBroker(certificate: TestCertificate): Promise<TlsTestBroker> {
  const broker = await startTlsBroker(certificate);
  cleanups.push(() => broker.stop());
  return broker;
}

function makeCollector(brokerUrl: string, ca: string | undefined = pki.ca, devices: readonly string[] = ["street-01"]) {
  const logs: Array<{ level: LogLevel; event: string; detail: LogDetail | undefined }> = [];
  const keyring = new Keyring();
  for (const device of devices) keyring.provision(device, "demo-street");
  const collector = new Collector({ brokerUrl, keyring, db, ca, log: (level, event, detail) => logs.push({ level, event, detail }) });
  cleanups.push(() => collector.stop());
  return { collector, logs, keyring };
}

describe("the collector over TLS with a pinned CA", () => {
  it("refuses mqtts:// without a CA, a CA with mqtt://, and a CA that is not a certificate", () => {
    const keyring = new Keyring();
    expect(() => new Collector({ brokerUrl: "mqtts://localhost:8883", keyring, db })).toThrow(/needs the CA certificate to pin/);
    expect(() => new Collector({ brokerUrl: "mqtt://localhost:1883", keyring, db, ca: pki.ca })).toThrow(/plaintext broker URL/);
    expect(() => new Collector({ brokerUrl: "mqtts://localhost:8883", keyring, db, ca: "nonsense" })).toThrow(/not a PEM certificate/);
  });

  it.each(["localhost", "127.0.0.1"])("connects to %s and subscribes with the right CA", async (host) => {
    const broker = await tlsBroker(pki.server);
    const { collector } = makeCollector(`mqtts://${host}:${broker.port}`);
    await collector.start();
    expect(broker.secureConnections()).toBe(1);
    expect(broker.connectPackets()).toBe(1);
  });

  it.each<[string, (pki: TestPki) => TestCertificate, string | undefined, string]>([
    ["issued by another CA (an impostor)", (p) => p.impostor, undefined, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
    ["issued for another host name", (p) => p.wrongName, undefined, "ERR_TLS_CERT_ALTNAME_INVALID"],
    ["expired", (p) => p.expired, undefined, "CERT_HAS_EXPIRED"],
    ["proper, but the collector pins another CA", (p) => p.server, "other", "UNABLE_TO_VERIFY_LEAF_SIGNATURE"],
  ])("refuses a broker certificate %s, keeps retrying, and never sends CONNECT", async (_what, pick, caChoice, code) => {
    const broker = await tlsBroker(pick(pki));
    const { collector, logs } = makeCollector(`mqtts://localhost:${broker.port}`, caChoice === "other" ? pki.otherCa : pki.ca);
    await expect(collector.start()).rejects.toMatchObject({ code });
    expect(logs.find((entry) => entry.event === "collector-mqtt-error")?.detail).toMatchObject({ code });
    // mqtt.js retries every second; every attempt is refused the same way.
    await waitFor(() => broker.tcpConnections() >= 2, "a second attempt", 5000);
    await waitFor(() => logs.filter((entry) => entry.event === "collector-mqtt-error").length >= 2, "a second refusal", 5000);
    expect(broker.secureConnections()).toBe(0);
    expect(broker.connectPackets()).toBe(0);
    expect(JSON.stringify(logs)).not.toContain("PRIVATE KEY");
  });

  it("ignores CAs the system trusts: with a pinned CA, one added by NODE_EXTRA_CA_CERTS vouches for nothing", async () => {
    const broker = await tlsBroker(pki.impostor);
    const dbDir = mkdtempSync(join(tmpdir(), "civicnode-tls-db-"));
    cleanups.push(() => rmSync(dbDir, { recursive: true, force: true }));
    const script = `
      import { Collector } from "./dist/hosts/collector/collector.js";
      import { openCollectorDb } from "./dist/hosts/collector/db/open-collector-db.js";
      import { Keyring } from "./dist/hosts/collector/keyring.js";
      import { connectAsync } from "mqtt";
      const url = "mqtts://localhost:" + process.env.PORT;
      // Without a pinned CA, the mqtt package trusts the system's roots, this one included.
      const unpinned = await connectAsync(url, { reconnectPeriod: 0 }).then((client) => client.endAsync(true).then(() => "connected"), (error) => error.code);
      const db = await openCollectorDb({ location: process.env.DB_FILE });
      const collector = new Collector({ brokerUrl: url, keyring: new Keyring(), db, ca: process.env.PINNED_CA });
      const pinned = await collector.start().then(() => "connected", (error) => error.code);
      await collector.stop();
      await db.close();
      console.log(JSON.stringify({ unpinned, pinned }));
    `;
    // Asynchronously: the broker in this process must keep answering while the child runs.
    const { stdout: output } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.otherCaFile, PORT: String(broker.port), PINNED_CA: pki.ca, DB_FILE: join(dbDir, "collector.db") },
    });
    expect(JSON.parse(output.trim())).toEqual({ unpinned: "connected", pinned: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    expect(broker.connectPackets()).toBe(1); // the unpinned client's only
  });

  it("decrypts a street's summaries when the nodes and the collector pin the same CA", async () => {
    const broker = await tlsBroker(pki.server);
    const url = `mqtts://localhost:${broker.port}`;
    const { collector, keyring } = makeCollector(url, pki.ca, ["street-01", "street-02"]);
    const lines: SummaryLine[] = [];
    collector.onSummary((line) => lines.push(line));
    await collector.start();

    const stateDir = mkdtempSync(join(tmpdir(), "civicnode-tls-fleet-"));
    cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }));
    const fleet = new Fleet({
      brokerUrl: url,
      ca: pki.ca,
      devices: ["street-01", "street-02"],
      zone: "demo-street",
      speed: 1200,
      stateDir,
      keyring,
      operator: testOperatorKey(stateDir),
      startWallMs: Date.UTC(2026, 0, 14, 7, 0, 0),
      log: () => {},
    });
    cleanups.push(() => fleet.stop());
    await fleet.start();
    await waitFor(() => ["street-01", "street-02"].every((device) => lines.some((line) => line.device === device)), "a summary from each node", 20_000);
    expect(collector.rejectedTotal).toBe(0);
    expect(broker.handshakeErrors).toEqual([]);
    expect(fleet.members.every(({ transport }) => transport.connected)).toBe(true);
  });
});

describe("npm run collector (the built CLI) with TLS options", () => {
  it.each([
    [["--broker", "mqtts://localhost:8883"], "--broker mqtts://... needs --ca FILE"],
    [["--broker", "mqtt://127.0.0.1:1883", "--ca", "ca.pem"], "--ca needs an mqtts:// broker"],
    [["--broker", "mqtts://localhost:8883", "--ca", "/nonexistent/ca.pem"], "--ca: cannot read CA file /nonexistent/ca.pem (ENOENT)"],
    [["--broker", "mqtts://localhost:8883", "--ca", "package.json"], "the CA is not a PEM certificate"],
  ])("refuses %j with a clear message and exit code 2", (args, mention) => {
    const run = spawnSync(process.execPath, ["dist/hosts/collector/main.js", ...args], { encoding: "utf8", timeout: 20_000 });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(mention);
    expect(run.stdout).toBe("");
  });
});
