/**
 * A clean street raises no alert: three simulated nodes (the real core, the Node platform, signed
 * policies and disclosures) over the embedded broker and real TCP, and the collector with the
 * operator's key, its clock on the street's simulated one. Every kind stays at zero, the timed
 * watch included, judged at a moment when every node's outbox was empty (all it had sealed was on
 * its way); then the street stops, and once its newest windows are more than two windows old on
 * that clock, each node is raised silent, once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ALERT_KINDS, type Alert } from "../../hosts/collector/alerts.js";
import { Collector } from "../../hosts/collector/collector.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../hosts/node/embedded-broker.js";
import { Fleet } from "../../hosts/node/fleet.js";
import { testCollectorDb } from "../support/collector-db.js";
import { testOperatorKey } from "../support/operator-key.js";
import { waitFor, waitForQuiet } from "../support/wait-for.js";

const DEVICES = ["street-01", "street-02", "street-03"];
const ZONE = "demo-street";
const WINDOWS = 6;
const WINDOW_MS = 300_000;
const START = Date.UTC(2026, 0, 14, 7, 0, 0);
const db = await testCollectorDb();

describe("alerts in a clean street run", () => {
  let stateDir: string;
  let broker: EmbeddedBroker;
  let collector: Collector;
  let fleet: Fleet | undefined;
  /** The collector's clock: the street's simulated time, or the moment the test holds it at. */
  let heldAtMs: number | undefined;
  /** A moment of the run when every node's outbox was empty. */
  let drainedAtMs = 0;
  const alerts: Alert[] = [];
  const summaries = new Map<string, number>();

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "civicnode-street-alerts-"));
    const keyring = new Keyring();
    for (const device of DEVICES) keyring.provision(device, ZONE);
    const operator = testOperatorKey(stateDir);
    broker = await startEmbeddedBroker();
    // The watch runs on demand here: on its timer it would judge the simulated clock, 1,200 times
    // faster than the messages' way through this machine, by real moments.
    collector = new Collector({ brokerUrl: broker.url, keyring, db, operatorKey: operator.publicKey, now: () => heldAtMs ?? fleet?.wallMs ?? START, watchEveryMs: 0 });
    collector.onAlert((alert) => alerts.push(alert));
    collector.onSummary((line) => summaries.set(line.device, (summaries.get(line.device) ?? 0) + 1));
    await collector.start();
    fleet = new Fleet({ brokerUrl: broker.url, devices: DEVICES, zone: ZONE, speed: 1200, stateDir, keyring, operator, startWallMs: START, log: () => {} });
    await fleet.start();
    await waitFor(() => DEVICES.every((d) => (summaries.get(d) ?? 0) >= WINDOWS), "every node's windows", 30_000);
    // Read in the same turn as the outboxes: nothing the nodes had sealed by then was still with them.
    await waitFor(() => fleet!.nodes.every(({ node }) => node.outbox.depth === 0) && ((drainedAtMs = fleet!.wallMs), true), "every outbox empty at once", 30_000);
    await fleet.stop();
    await waitForQuiet(() => collector.stats.accepted + collector.rejectedTotal, "the broker's last deliveries");
  });

  afterAll(async () => {
    await fleet?.stop();
    await collector?.stop();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("raises none of any kind, and stores every message", async () => {
    expect(collector.stats.healthReports).toBeGreaterThanOrEqual(DEVICES.length);
    expect(collector.rejectedTotal).toBe(0);
    heldAtMs = drainedAtMs;
    expect(await collector.watchNow()).toEqual([]);
    expect(alerts).toEqual([]);
    expect(collector.stats.alerts).toEqual(Object.fromEntries(ALERT_KINDS.map((kind) => [kind, 0])));
    expect((await db.alerts({ limit: 10 })).items).toEqual([]);
  });

  it("raises each node silent, once, when its newest window is more than two windows old", async () => {
    heldAtMs = fleet!.wallMs + 2 * WINDOW_MS + 1000; // the street stopped at fleet.wallMs
    const raised = await collector.watchNow();
    expect(raised.map((a) => [a.kind, a.device])).toEqual(DEVICES.map((device) => ["node-silent", device]));
    expect(await collector.watchNow()).toEqual([]);
    expect(alerts).toEqual(raised);
  });
});
