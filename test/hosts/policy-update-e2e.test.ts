/**
 * update-policy end to end over real TCP: the embedded broker, a simulated node (the real core on
 * the Node platform), the collector, and the city's tool (update-policy.ts: it reads the node's
 * retained disclosure to learn what it runs, issues, records and sends the update in chunks). A
 * strengthening is taken with the operator's key: the node restarts on it and its disclosure,
 * checked with an independent COSE implementation, names serial 2; a weakening is refused by the
 * tool without the oversight key, refused by the node with one key, and taken with both; the
 * collector opens the node's messages under each policy and every change is in the audit entries
 * of the node's health reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { bytesToHex } from "@noble/hashes/utils.js";
import { Collector, type HealthLine } from "../../hosts/collector/collector.js";
import { Commander } from "../../hosts/collector/commander.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { OversightKey } from "../../hosts/collector/oversight-key.js";
import { PolicyRegistry } from "../../hosts/collector/policy-registry.js";
import { nodePolicyRecords, runningNodePolicy } from "../../hosts/collector/node-policy-record.js";
import { issuePolicyUpdate, NeedsOversightError } from "../../hosts/collector/policy-update-issuer.js";
import { sendPolicyUpdate } from "../../hosts/collector/update-policy.js";
import type { OperatorKey } from "../../hosts/collector/operator-key.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../hosts/node/embedded-broker.js";
import { Fleet } from "../../hosts/node/fleet.js";
import { streetBoard } from "../../hosts/sim/street.js";
import { decodePolicyUpdate, encodePolicyUpdate } from "../../src/policy/policy-update-bundle.js";
import { testCollectorDb } from "../support/collector-db.js";
import { independentlyVerifiedPayload } from "../support/independent-cose.js";
import { localPassphrase } from "../support/local-passphrase.js";
import { testOperatorKey } from "../support/operator-key.js";
import { waitFor } from "../support/wait-for.js";
import { referencePolicyJson } from "../src/policy/policy-corpus.js";

const DEVICE = "street-04";
const ZONE = "demo-street";
const START = Date.UTC(2026, 4, 11, 8, 0, 0);
const db = await testCollectorDb();

interface Disclosed {
  readonly serial: number;
  readonly sha256: string;
  readonly kAnonymity: number;
}

describe("update-policy end to end over a real broker", () => {
  let stateDir: string;
  let broker: EmbeddedBroker;
  let collector: Collector;
  let fleet: Fleet;
  let city: MqttClient;
  let keyring: Keyring;
  let operator: OperatorKey;
  let oversight: OversightKey;
  const health: HealthLine[] = [];
  const disclosed: Disclosed[] = [];
  const notes: string[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "civicnode-policy-update-"));
    keyring = new Keyring();
    keyring.provision(DEVICE, ZONE);
    keyring.save(stateDir, localPassphrase(stateDir));
    operator = testOperatorKey(stateDir);
    // The board's key, kept apart from the operator's.
    oversight = OversightKey.loadOrCreate(join(stateDir, "board"), localPassphrase(join(stateDir, "board"))).key;
    broker = await startEmbeddedBroker();
    const policies = new PolicyRegistry(stateDir, operator.publicKey, (device) => keyring.get(device)?.zone);
    collector = new Collector({ brokerUrl: broker.url, keyring, db, operatorKey: operator.publicKey, policies });
    collector.onHealth((line) => health.push(line));
    await collector.start();
    city = await connectAsync(broker.url, { clientId: "city-commander" });
    const resident = await connectAsync(broker.url, { clientId: "resident" });
    resident.on("message", (_topic, payload) => {
      // What a resident's own tool sees: cbor2 and node:crypto, under the operator's public key.
      const document = JSON.parse(Buffer.from(independentlyVerifiedPayload(new Uint8Array(payload), operator.publicKey)).toString("utf8"));
      const people = document.dataTypes.find((d: { channel: string }) => d.channel === "people");
      disclosed.push({ serial: document.policy.serial, sha256: document.policy.sha256, kAnonymity: people.privacy.kAnonymity });
    });
    await resident.subscribeAsync(`civicnode/${ZONE}/${DEVICE}/disclosure`, { qos: 1 });
    afterAll(() => resident.endAsync(true));
    fleet = new Fleet({ brokerUrl: broker.url, devices: [DEVICE], zone: ZONE, speed: 600, stateDir, keyring, operator, oversightKey: oversight.publicKey, startWallMs: START, log: () => {} });
    await fleet.start();
    await waitFor(() => disclosed.length >= 1 && health.length >= 1, "a first disclosure and health report", 20_000);
  });

  afterAll(async () => {
    await fleet?.stop();
    await city?.endAsync(true);
    await collector?.stop();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const node = () => fleet.nodes[0]!.node;
  const send = (policy: unknown, withOversight: boolean) =>
    sendPolicyUpdate({ stateDir, device: DEVICE, policy, keyring, operator, oversight: withOversight ? oversight : undefined, client: city, issuedMs: fleet.wallMs, notify: (line) => notes.push(line) });
  const audited = () => health.flatMap((h) => h.audit.map((a) => a.entry));
  const eventually = async (condition: () => Promise<boolean>, what: string) => {
    for (let tries = 0; tries < 300 && !(await condition()); tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    if (!(await condition())) throw new Error(`timed out waiting for ${what}`);
  };
  const summariesUnder = async (serial: number) => (await db.summaries({ device: DEVICE, limit: 1000 })).items.filter((s) => s.policy?.serial === serial);

  it("a strengthening is taken with the operator's key; after its restart the node discloses serial 2 and seals under it", async () => {
    expect(disclosed[0]).toMatchObject({ serial: 1, kAnonymity: 3 });
    const stronger = referencePolicyJson();
    stronger.channels[7].privacy.k = 5;
    const sent = await send(stronger, false);
    expect(sent).toMatchObject({ base: 1, serial: 2, countersigned: false, weakenings: [] });
    expect(sent.commands.length).toBeGreaterThan(15);
    expect(notes).toEqual([]); // the tool found the node's disclosure
    await waitFor(() => disclosed.some((d) => d.serial === 2), "the disclosure of serial 2", 30_000);
    const second = disclosed.find((d) => d.serial === 2)!;
    expect(second.kAnonymity).toBe(5);
    // It names the policy the tool recorded and sent.
    const recorded = nodePolicyRecords(stateDir, { device: DEVICE, zone: ZONE }, operator.publicKey).find((r) => r.serial === 2)!;
    expect(second.sha256).toBe(bytesToHex(recorded.hash));
    expect(node().config.disclosure.policySerial).toBe(2);
    await waitFor(() => audited().includes("policy-updated serial 2"), "the update in a health report", 30_000);
    // The collector opens what the restarted node seals, bound to the new policy.
    await eventually(async () => (await summariesUnder(2)).length >= 1, "a stored summary produced under serial 2");
    // The restart reboots the node's sealer from its flash: no counter, so no nonce, was used twice.
    expect(collector.stats.rejected["counter-reuse"]).toBe(0);
    expect(collector.stats.alerts["counter-reuse"] + collector.stats.alerts["counter-restart"]).toBe(0);
  });

  it("a weakening is refused by the tool without the oversight key, naming what weakens; nothing is sent", async () => {
    const counters = readFileSync(join(stateDir, "downlink.json"), "utf8");
    await expect(send(referencePolicyJson(), false)).rejects.toThrow(NeedsOversightError);
    await expect(send(referencePolicyJson(), false)).rejects.toThrow("/channels/7/privacy/k: channel \"people\" withholds counts below 3 instead of below 5");
    expect(readFileSync(join(stateDir, "downlink.json"), "utf8")).toBe(counters);
  });

  it("a weakening sent with one key anyway is refused by the node, and taken with both keys: serial 3, two keys", async () => {
    const latest = disclosed.at(-1)!;
    const running = runningNodePolicy(stateDir, { device: DEVICE, zone: ZONE }, operator.publicKey, latest);
    expect(running.serial).toBe(2);
    const issued = issuePolicyUpdate({ running, policy: referencePolicyJson(), board: streetBoard(), operator, oversight, nowSeconds: fleet.wallMs / 1000 });
    const oneKey = encodePolicyUpdate({ ...decodePolicyUpdate(issued.update), countersignature: undefined });
    for (const command of new Commander(keyring, stateDir).sealPolicyUpdate(DEVICE, oneKey, fleet.wallMs)) await city.publishAsync(command.topic, Buffer.from(command.payload), { qos: 1 });
    await waitFor(() => audited().includes("policy-refused serial 3 weakens /channels/7/privacy/k"), "the refusal in a health report", 30_000);
    expect(node().config.disclosure.policySerial).toBe(2);

    const sent = await send(referencePolicyJson(), true);
    expect(sent).toMatchObject({ base: 2, serial: 3, countersigned: true });
    expect(sent.weakenings.map((w) => w.pointer)).toEqual(["/channels/7/privacy/k"]);
    await waitFor(() => disclosed.some((d) => d.serial === 3), "the disclosure of serial 3", 30_000);
    expect(disclosed.find((d) => d.serial === 3)!.kAnonymity).toBe(3);
    await waitFor(() => audited().includes("policy-updated serial 3 two keys"), "the two-key update in a health report", 30_000);
    await eventually(async () => (await summariesUnder(3)).length >= 1, "a stored summary produced under serial 3");
    // Each policy change, taken or refused, is in the audit chain the collector checks.
    expect(audited().filter((entry) => entry.startsWith("policy-"))).toEqual(["policy-updated serial 2", "policy-refused serial 3 weakens /channels/7/privacy/k", "policy-updated serial 3 two keys"]);
  });

});
