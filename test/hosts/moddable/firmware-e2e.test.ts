/**
 * The Moddable firmware's boot path (hosts/moddable/firmware.ts) run on Node, over real TCP: a
 * store written the way `npm run provision` writes a device's files (root key, identity, signed
 * policy, signed disclosure, operator.pub, oversight.pub), the device MQTT client on the ECMA-419
 * socket adapter, the simulated reference board, and a real collector on the embedded broker. The
 * node boots only from its signed policy; its disclosure verifies with an independent COSE
 * implementation; the collector stores its summaries under that policy; a policy update sent with
 * the city's tool is taken, the firmware restarts on it in place and seals under serial 2; and a
 * store whose policy is missing or altered never starts a node.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { Collector } from "../../../hosts/collector/collector.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import type { OperatorKey } from "../../../hosts/collector/operator-key.js";
import { OversightKey } from "../../../hosts/collector/oversight-key.js";
import { PolicyRegistry } from "../../../hosts/collector/policy-registry.js";
import { provisionedPolicyRecords } from "../../../hosts/collector/provisioned-policy.js";
import { provisioningRecords } from "../../../hosts/collector/provisioning-bundle.js";
import { sendPolicyUpdate } from "../../../hosts/collector/update-policy.js";
import { startFirmware, type RunningFirmware } from "../../../hosts/moddable/firmware.js";
import { firmwareSettings } from "../../../hosts/moddable/firmware-settings.js";
import type { SocketCallbacks } from "../../../hosts/moddable/mqtt/socket.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { OsRandom } from "../../../hosts/node/os-random.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { streetBoard } from "../../../hosts/sim/street-board.js";
import { SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import type { Log } from "../../../src/platform.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { Ecma419TcpSocket } from "../../support/ecma419-tcp.js";
import { independentlyVerifiedPayload } from "../../support/independent-cose.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { testOperatorKey } from "../../support/operator-key.js";
import { waitFor } from "../../support/wait-for.js";
import { referencePolicyJson } from "../../src/policy/policy-corpus.js";

const DEVICE = "street-09";
const ZONE = "demo-street";
const POSITION = { latitude: 52.37311, longitude: 4.89224 };
const START = Date.UTC(2026, 4, 11, 8, 0, 0);
/**
 * Simulated milliseconds per real one. The device client's MQTT timers (keepalive, connect timeout:
 * 45 s) run on the node's clock, as on the device, so a real broker's replies must come within
 * 45 s / SPEED real seconds: 2.25 s here, on a loaded machine too.
 */
const SPEED = 20;
/** The reference street's policy on a one-minute window, so a window closes every 3 real seconds. */
function testPolicy() {
  const policy = referencePolicyJson();
  policy.windowSeconds = 60;
  policy.pseudonymEpochSeconds = 60;
  policy.downlink.allowedWindowSeconds = [60];
  return policy;
}
const db = await testCollectorDb();

interface Logged {
  readonly event: string;
  readonly detail: unknown;
}

/** The firmware's host on Node, as main-simulator.ts builds it on Moddable, with virtual time run at SPEED. */
function nodeHost(brokerUrl: string, store: MemoryStore, logs: Logged[]) {
  const clock = new SimClock({ startWallMs: START });
  const realStart = performance.now();
  const pump = setInterval(() => clock.advanceTo((performance.now() - realStart) * SPEED), 5);
  const { port } = new URL(brokerUrl);
  const log: Log = (_level, event, detail) => logs.push({ event, detail });
  const openSocket = (host: string, socketPort: number, callbacks: SocketCallbacks) =>
    new Ecma419TcpSocket({ address: host, port: socketPort, nodelay: true, format: "buffer", onReadable: callbacks.onReadable, onWritable: callbacks.onWritable, onError: callbacks.onError });
  const host = {
    settings: firmwareSettings({ device: "street-01", zone: "unprovisioned", broker: `mqtt://127.0.0.1:${port}`, brokerCa: "", wifiSsid: "", wifiPassword: "", sntp: "", logDebug: false }),
    clock,
    random: new OsRandom(),
    store,
    openSocket,
    log,
    board: (device: string, zone: string) => simulatedReferenceBoard(device, zone, clock, clock).board,
  };
  return { host, clock, stopPump: () => clearInterval(pump) };
}

describe("the firmware on its provisioned store", () => {
  let stateDir: string;
  let broker: EmbeddedBroker;
  let collector: Collector;
  let keyring: Keyring;
  let operator: OperatorKey;
  let oversight: OversightKey;
  let city: MqttClient;
  let firmware: RunningFirmware | undefined;
  let stopPump = () => {};
  let nodeClock: SimClock;
  let store: MemoryStore;
  const logs: Logged[] = [];
  const disclosed: { serial: number; sha256: string; kAnonymity: number }[] = [];

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), "civicnode-firmware-e2e-"));
    keyring = new Keyring();
    keyring.provision(DEVICE, ZONE);
    keyring.markIssued(DEVICE);
    keyring.save(stateDir, localPassphrase(stateDir));
    operator = testOperatorKey(stateDir);
    oversight = OversightKey.loadOrCreate(join(stateDir, "board"), localPassphrase(join(stateDir, "board"))).key;
    // What `npm run provision -- street-09 --policy ... --position ...` writes into the device's store.
    store = new MemoryStore();
    const records = [
      ...provisioningRecords(DEVICE, ZONE, keyring.get(DEVICE)!.rootKey),
      ...provisionedPolicyRecords({ stateDir, identity: { device: DEVICE, zone: ZONE }, position: POSITION, document: testPolicy(), board: streetBoard(), operator, oversightKey: oversight.publicKey, nowSeconds: START / 1000 }).records,
    ];
    store.commit(records.map(({ key, value }) => ({ key, value })));

    broker = await startEmbeddedBroker();
    const policies = new PolicyRegistry(stateDir, operator.publicKey, (device) => keyring.get(device)?.zone);
    collector = new Collector({ brokerUrl: broker.url, keyring, db, operatorKey: operator.publicKey, policies });
    await collector.start();
    city = await connectAsync(broker.url, { clientId: "city" });
    const resident = await connectAsync(broker.url, { clientId: "resident" });
    resident.on("message", (_topic, payload) => {
      const document = JSON.parse(Buffer.from(independentlyVerifiedPayload(new Uint8Array(payload), operator.publicKey)).toString("utf8"));
      const people = document.dataTypes.find((d: { channel: string }) => d.channel === "people");
      disclosed.push({ serial: document.policy.serial, sha256: document.policy.sha256, kAnonymity: people.privacy.kAnonymity });
    });
    await resident.subscribeAsync(`civicnode/${ZONE}/${DEVICE}/disclosure`, { qos: 1 });
    afterAll(() => resident.endAsync(true));

    const node = nodeHost(broker.url, store, logs);
    stopPump = node.stopPump;
    nodeClock = node.clock;
    firmware = startFirmware(node.host);
  });

  afterAll(async () => {
    firmware?.stop();
    stopPump();
    await city?.endAsync(true);
    await collector?.stop();
    await broker?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const eventually = async (condition: () => Promise<boolean>, what: string, timeoutMs: number) => {
    const deadline = performance.now() + timeoutMs;
    while (!(await condition())) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const summariesUnder = async (serial: number) => (await db.summaries({ device: DEVICE, limit: 1000 })).items.filter((s) => s.policy?.serial === serial);

  it("boots from the signed policy, publishes the signed disclosure, and the collector stores its summaries under that policy", async () => {
    expect(firmware).toBeDefined();
    expect(logs.find((l) => l.event === "firmware-started")?.detail).toMatchObject({ device: DEVICE, zone: ZONE, policy: 1 });
    await waitFor(() => disclosed.length >= 1, "the node's disclosure", 20_000);
    expect(disclosed[0]).toMatchObject({ serial: 1, kAnonymity: 3 });
    await eventually(async () => (await summariesUnder(1)).length >= 1, "a stored summary under serial 1", 30_000);
    expect(collector.stats.rejected["unbound-policy"] ?? 0).toBe(0);
  });

  it("takes a policy update from the city's tool, restarts in place on it and seals under serial 2", async () => {
    const stronger = testPolicy();
    stronger.channels[7].privacy.k = 5;
    const sent = await sendPolicyUpdate({ stateDir, device: DEVICE, policy: stronger, keyring, operator, client: city, issuedMs: nodeClock.wallMs(), notify: () => {} });
    expect(sent).toMatchObject({ base: 1, serial: 2, countersigned: false });
    try {
      await waitFor(() => disclosed.some((d) => d.serial === 2), "the disclosure of serial 2", 60_000);
    } catch (error) {
      console.log(JSON.stringify(logs.filter((l) => !/sample|window/.test(l.event)).slice(-30)));
      throw error;
    }
    expect(disclosed.find((d) => d.serial === 2)!.kAnonymity).toBe(5);
    expect(firmware!.restarts).toBe(1);
    expect(firmware!.node!.config.disclosure.policySerial).toBe(2);
    await eventually(async () => (await summariesUnder(2)).length >= 1, "a stored summary under serial 2", 60_000);
    // The restarted node's sealer came back from the store: no counter was used twice.
    expect(collector.stats.rejected["counter-reuse"]).toBe(0);
    expect(collector.stats.alerts["counter-reuse"] + collector.stats.alerts["counter-restart"]).toBe(0);
  }, 180_000);
});

describe("the firmware refuses to start", () => {
  function bootOn(store: MemoryStore) {
    const logs: Logged[] = [];
    const { host, stopPump } = nodeHost("mqtt://127.0.0.1:1", store, logs);
    try {
      return { running: startFirmware(host), logs };
    } finally {
      stopPump();
    }
  }

  async function provisioned(): Promise<{ store: MemoryStore; stateDir: string }> {
    const stateDir = mkdtempSync(join(tmpdir(), "civicnode-firmware-refuse-"));
    const store = new MemoryStore();
    store.commit(provisioningRecords(DEVICE, ZONE, new Uint8Array(32).fill(9)).map(({ key, value }) => ({ key, value })));
    const operator = testOperatorKey(stateDir);
    const { records } = provisionedPolicyRecords({ stateDir, identity: { device: DEVICE, zone: ZONE }, position: POSITION, document: referencePolicyJson(), board: streetBoard(), operator, oversightKey: undefined, nowSeconds: START / 1000 });
    store.commit(records.map(({ key, value }) => ({ key, value })));
    return { store, stateDir };
  }

  it("on a store with a root key and no signed policy (the image carries none)", () => {
    const store = new MemoryStore();
    store.commit(provisioningRecords(DEVICE, ZONE, new Uint8Array(32).fill(9)).map(({ key, value }) => ({ key, value })));
    const { running, logs } = bootOn(store);
    expect(running).toBeUndefined();
    expect(logs.at(-1)).toMatchObject({ event: "policy-refused", detail: { device: DEVICE, failure: "missing" } });
  });

  it("on a signed policy altered in its store, which it leaves as it is", async () => {
    const { store, stateDir } = await provisioned();
    try {
      const signed = store.get(SIGNED_POLICY_STORE_KEY)!;
      const at = Buffer.from(signed).indexOf('"k":3');
      expect(at).toBeGreaterThan(0);
      signed[at + 4] = "1".charCodeAt(0);
      store.commit([{ key: SIGNED_POLICY_STORE_KEY, value: signed }]);
      const { running, logs } = bootOn(store);
      expect(running).toBeUndefined();
      expect(logs.at(-1)).toMatchObject({ event: "policy-refused", detail: { failure: "signature" } });
      expect(store.get(SIGNED_POLICY_STORE_KEY)).toEqual(signed);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("on a policy signed for another device", async () => {
    const { store, stateDir } = await provisioned();
    try {
      store.commit([{ key: "node.device", value: new Uint8Array(Buffer.from("street-10")) }]);
      const { running, logs } = bootOn(store);
      expect(running).toBeUndefined();
      expect(logs.at(-1)).toMatchObject({ event: "policy-refused", detail: { device: "street-10", failure: "foreign" } });
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
