/**
 * Downlink end to end over real TCP: the embedded broker, a simulated node (the real core on the
 * Node platform), the collector, and the city's commander sealing commands with the keyring. A
 * valid command runs once; its replay, a forgery and one outside the policy are refused, counted,
 * audited, and reported to the collector in the node's health reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { Collector, type HealthLine, type SummaryLine } from "../../hosts/collector/collector.js";
import { Commander } from "../../hosts/collector/commander.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { localPassphrase } from "../support/local-passphrase.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../hosts/node/embedded-broker.js";
import { Fleet } from "../../hosts/node/fleet.js";
import { testCollectorDb } from "../support/collector-db.js";
import { testOperatorKey } from "../support/operator-key.js";
import { independentlyVerifiedPayload } from "../support/independent-cose.js";
import type { Alert } from "../../hosts/collector/alerts.js";
import { coarsePosition } from "../../src/policy/coarse-position.js";
import { streetPosition } from "../../hosts/sim/street.js";
import { waitFor } from "../support/wait-for.js";

const DEVICE = "street-07";
const ZONE = "demo-street";
const START = Date.UTC(2026, 3, 20, 8, 0, 0);
/** Opened at the top of the file, so that it is removed after it (testCollectorDb's own afterAll). */
const db = await testCollectorDb();

describe("downlink commands end to end over a real broker", () => {
  let stateDir: string;
  let broker: EmbeddedBroker;
  let collector: Collector;
  let fleet: Fleet;
  let city: MqttClient;
  let commander: Commander;
  const summaries: SummaryLine[] = [];
  const health: HealthLine[] = [];
  const disclosures: Uint8Array[] = [];
  let operatorKey: Uint8Array;
  const alerts: Alert[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "civicnode-downlink-"));
    const keyring = new Keyring();
    keyring.provision(DEVICE, ZONE);
    keyring.save(stateDir, localPassphrase(stateDir));
    commander = new Commander(Keyring.load(stateDir, localPassphrase(stateDir)), stateDir);
    broker = await startEmbeddedBroker();
    const operator = testOperatorKey(stateDir);
    operatorKey = operator.publicKey;
    collector = new Collector({ brokerUrl: broker.url, keyring, db, operatorKey });
    collector.onAlert((alert) => alerts.push(alert));
    collector.onSummary((line) => summaries.push(line));
    collector.onHealth((line) => health.push(line));
    await collector.start();
    city = await connectAsync(broker.url, { clientId: "city-commander" });
    city.on("message", (topic, payload) => {
      if (topic.endsWith("/disclosure")) disclosures.push(new Uint8Array(payload));
    });
    await city.subscribeAsync(`civicnode/${ZONE}/${DEVICE}/disclosure`, { qos: 1 });
    fleet = new Fleet({ brokerUrl: broker.url, devices: [DEVICE], zone: ZONE, speed: 600, stateDir, keyring, operator, startWallMs: START, log: () => {} });
    await fleet.start();
    await waitFor(() => summaries.length >= 1, "a first summary", 20_000);
  });

  afterAll(async () => {
    await fleet?.stop();
    await city?.endAsync(true);
    await collector?.stop();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const node = () => fleet.nodes[0]!.node;
  const send = async (name: string, args: Record<string, number | string> = {}) => {
    const sealed = commander.seal(DEVICE, name, args, fleet.wallMs);
    await city.publishAsync(sealed.topic, Buffer.from(sealed.payload), { qos: 1 });
    return sealed;
  };

  it("publishes the disclosure signed by the operator, retained, at boot and again on request; anyone verifies it with an independent COSE implementation", async () => {
    await waitFor(() => disclosures.length >= 1, "the boot disclosure", 10_000);
    const document = JSON.parse(Buffer.from(independentlyVerifiedPayload(disclosures[0]!, operatorKey)).toString("utf8"));
    expect(document).toMatchObject({ format: "civicnode-disclosure", version: 2, device: DEVICE, zone: ZONE, policy: { name: "reference-street", serial: 1 } });
    expect(document.policy.sha256).toMatch(/^[0-9a-f]{64}$/);
    // The position is the grid cell's centre at the policy's 100 m, not the node's own.
    expect(document.location).toEqual({ ...coarsePosition(streetPosition(DEVICE), 100), precisionMeters: 100 });
    expect(document.location).not.toMatchObject(streetPosition(DEVICE));
    const forged = disclosures[0]!.slice();
    forged[forged.length - 70]! ^= 0x01; // a byte of the payload's end
    expect(() => independentlyVerifiedPayload(forged, operatorKey)).toThrow("does not verify");
    await send("republish-disclosure");
    await waitFor(() => disclosures.length >= 2, "the republished disclosure", 10_000);
    expect(disclosures[1]).toEqual(disclosures[0]);
    // a late subscriber gets it from the broker (retained)
    const late = await connectAsync(broker.url, { clientId: "resident" });
    const got = new Promise<Uint8Array>((resolve) => late.on("message", (_t, payload) => resolve(new Uint8Array(payload))));
    await late.subscribeAsync(`civicnode/${ZONE}/${DEVICE}/disclosure`, { qos: 1 });
    expect(JSON.parse(Buffer.from(independentlyVerifiedPayload(await got, operatorKey)).toString("utf8")).device).toBe(DEVICE);
    expect(alerts.filter((a) => a.kind === "disclosure-forged")).toEqual([]);
    await late.endAsync(true);
  });

  it("rotates the key epoch once on command; a replay of the command is refused", async () => {
    expect(summaries.every((s) => s.epoch === 0)).toBe(true);
    const accepted = node().commands.counts.accepted;
    const sealed = await send("rotate-epoch");
    await waitFor(() => node().commands.counts.accepted === accepted + 1, "the rotation", 10_000);
    expect(node().epoch).toBe(1);
    await waitFor(() => summaries.some((s) => s.epoch === 1), "a summary sealed in epoch 1", 20_000);
    // the collector followed the node to epoch 1, counters start again at 0 there
    const first = summaries.find((s) => s.epoch === 1)!;
    expect(first.counter).toBeLessThan(5);

    const replays = node().commands.counts.replay;
    await city.publishAsync(sealed.topic, Buffer.from(sealed.payload), { qos: 1 });
    await waitFor(() => node().commands.counts.replay === replays + 1, "the replay to be refused", 10_000);
    expect(node().epoch).toBe(1);
    expect(node().audit.entries.map((e) => `${e.event} ${e.detail}`)).toEqual(
      expect.arrayContaining(["command-accepted rotate-epoch", "epoch-rotated command to 1"]),
    );
    // A replay is what anyone on the broker can send: tallied by cause, not an entry of its own.
    expect(node().audit.refusals).toEqual(expect.arrayContaining([expect.objectContaining({ cause: "replay" })]));
  });

  it("refuses a forged command and one outside the policy's bounds, and reports them in health", async () => {
    const forgedBefore = node().commands.counts.authentication;
    const boundsBefore = node().commands.counts.bounds;
    const sealed = commander.seal(DEVICE, "set-window", { seconds: 300 }, fleet.wallMs);
    const forged = sealed.payload.slice();
    forged[forged.length - 3]! ^= 0x01; // inside the tag
    await city.publishAsync(sealed.topic, Buffer.from(forged), { qos: 1 });
    await send("set-window", { seconds: 900 }); // the policy allows only 300
    await send("set-interval", { sensor: "climate", seconds: 0.5 }); // faster than configured: never
    await waitFor(() => node().commands.counts.authentication === forgedBefore + 1 && node().commands.counts.bounds === boundsBefore + 2, "the refusals", 10_000);
    expect(node().windowSeconds).toBe(300);

    const reports = health.length;
    await waitFor(() => health.length > reports && health.at(-1)!.commands.bounds === boundsBefore + 2, "a health report with the refusals", 30_000);
    const report = health.at(-1)!;
    expect(report.commands.authentication).toBe(forgedBefore + 1);
    expect(report.epoch).toBe(1);
    const audited = health.flatMap((h) => h.audit.map((a) => a.entry));
    expect(audited).toEqual(expect.arrayContaining([expect.stringMatching(/^refusals authentication \d+ /), "command-refused bounds set-window", "command-accepted rotate-epoch"]));
  });

  it("raises a disclosure forged on the broker as an alert, keeps serving the verified one, and the node's own comes back on request", async () => {
    const topic = `civicnode/${ZONE}/${DEVICE}/disclosure`;
    const verified = await collector.disclosures.disclosure(DEVICE);
    expect(verified?.verified).toBe(true);
    const forged = JSON.stringify({ format: "civicnode-disclosure", version: 2, device: DEVICE, zone: ZONE, purposes: ["nothing to see"] });
    await city.publishAsync(topic, forged, { qos: 1, retain: true });
    await waitFor(() => alerts.some((a) => a.kind === "disclosure-forged" && a.device === DEVICE), "the forgery's alert", 10_000);
    expect(await collector.disclosures.disclosure(DEVICE)).toMatchObject({ document: verified!.document, verified: true, forgedAtMs: expect.any(Number) });
    const count = disclosures.length;
    await send("republish-disclosure");
    await waitFor(() => disclosures.length > count && independentlyVerifiedPayload(disclosures.at(-1)!, operatorKey).length > 0, "the node's disclosure again", 10_000);
  });

  it("keeps the commander's counter in its state file", () => {
    const state = JSON.parse(readFileSync(join(stateDir, "downlink.json"), "utf8"));
    expect(state.counters[DEVICE]).toBe(6); // six commands sealed, numbers 0-5: the next is 6
  });
});

