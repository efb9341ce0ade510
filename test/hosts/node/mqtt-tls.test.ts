/**
 * The node's MQTT transport over TLS (mqtts://) with a pinned CA, against a real aedes broker
 * behind a real TLS listener, with certificates made by the openssl tool for this run.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import * as net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Aedes } from "aedes";
import { connectAsync, type MqttClient } from "mqtt";

import { MqttTransport, type MqttTransportOptions } from "../../../hosts/node/mqtt-transport.js";
import { makeTestPki, type TestCertificate, type TestPki } from "../../support/test-pki.js";
import { startTlsBroker, type TlsTestBroker } from "../../support/tls-broker.js";
import { waitFor, sleep } from "../../support/wait-for.js";
import { cleanups, runCleanups, type LogEntry } from "../../support/mqtt-test-brokers.js";

// --- harness ---------------------------------------------------------------------------------

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});
afterAll(() => pki?.remove());

afterEach(runCleanups);

async function tlsBroker(certificate: TestCertificate, port = 0): Promise<TlsTestBroker> {
  const broker = await startTlsBroker(certificate, port);
  cleanups.push(() => broker.stop());
  return broker;
}

let clientCounter = 0;

/** An mqtts transport pinning the test CA, with fast reconnects, recording log and connection changes. */
function makeTransport(url: string, options: Partial<MqttTransportOptions> = {}) {
  const logs: LogEntry[] = [];
  const changes: boolean[] = [];
  const clientId = `tls-node-${++clientCounter}`;
  const transport = new MqttTransport({
    url,
    clientId,
    tls: { ca: pki.ca },
    reconnect: { initialMs: 10, maxMs: 50 },
    log: (level, event, detail) => logs.push({ level, event, detail }),
    ...options,
  });
  transport.onConnectionChange((connected) => changes.push(connected));
  cleanups.push(() => transport.close());
  return { transport, logs, changes, clientId };
}

/** An independent subscriber (the `mqtt` package, pinning the same CA). */
async function peerClient(port: number): Promise<MqttClient> {
  const peer = await connectAsync(`mqtts://localhost:${port}`, {
    clientId: `tls-peer-${++clientCounter}`,
    reconnectPeriod: 0,
    ca: pki.ca,
    rejectUnauthorized: true,
  });
  cleanups.push(() => peer.endAsync(true));
  return peer;
}

/**
 * A TCP relay in front of `targetPort` that records every byte the client sends, to see what
 * really goes over the wire.
 */
async function recordingRelay(targetPort: number): Promise<{ port: number; sent: () => Buffer[] }> {
  const chunks: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const mine: Buffer[] = [];
    chunks.push(mine);
    const upstream = net.connect(targetPort, "127.0.0.1");
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk: Buffer) => mine.push(Buffer.from(chunk)));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
  cleanups.push(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return { port, sent: () => chunks.map((connection) => Buffer.concat(connection)) };
}

/** The first byte of a TLS handshake record, which every TLS connection starts with. */
const TLS_HANDSHAKE_RECORD = 0x16;
const ignore = (): void => {};

const rejections = (logs: readonly LogEntry[]) => logs.filter((entry) => entry.event === "mqtt.tls_certificate_rejected");

// --- tests -----------------------------------------------------------------------------------

describe("MqttTransport over TLS: options", () => {
  it("refuses mqtts:// without a CA to pin, and TLS options on a plaintext URL", () => {
    expect(() => new MqttTransport({ url: "mqtts://localhost:8883", clientId: "a" })).toThrow(/mqtts:\/\/ needs tls\.ca/);
    expect(() => new MqttTransport({ url: "mqtts://localhost", clientId: "a", tls: {} as never })).toThrow(/tls\.ca is required/);
    expect(() => new MqttTransport({ url: "mqtt://localhost:1883", clientId: "a", tls: { ca: pki.ca } })).toThrow(/plaintext mqtt:\/\//);
    expect(
      () => new MqttTransport({ url: "mqtts://localhost", clientId: "a", tls: { ca: pki.ca }, connectSocket: (h, p) => net.connect(p, h) }),
    ).toThrow(/connectSocket must not be given/);
  });

  it("refuses to turn verification off, and a CA that is not a PEM certificate", () => {
    const url = "mqtts://localhost";
    expect(() => new MqttTransport({ url, clientId: "a", tls: { ca: pki.ca, rejectUnauthorized: false as unknown as true } })).toThrow(
      /rejectUnauthorized can only be true/,
    );
    expect(() => new MqttTransport({ url, clientId: "a", tls: { ca: "not a certificate" } })).toThrow(/not a PEM certificate/);
    expect(() => new MqttTransport({ url, clientId: "a", tls: { ca: new Uint8Array([0x30, 0x82, 0x01]) } })).toThrow(/not a PEM certificate/);
    // A private key handed over by mistake is refused, and the message does not quote it.
    let message = "";
    try {
      new MqttTransport({ url, clientId: "a", tls: { ca: pki.ca + pki.server.key } });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/holds a private key/);
    expect(message).not.toContain(pki.server.key.split("\n")[1]!);
    expect(() => new MqttTransport({ url, clientId: "a", tls: { ca: pki.ca, servername: "" } })).toThrow(/servername/);
  });

  it("defaults to port 8883 for mqtts:// and accepts the CA as bytes", async () => {
    const { transport, logs } = makeTransport("mqtts://127.0.0.1", { tls: { ca: new TextEncoder().encode(pki.ca) } });
    transport.start();
    await waitFor(() => logs.some((entry) => entry.event === "mqtt.connecting"), "a connection attempt");
    expect(logs.find((entry) => entry.event === "mqtt.connecting")?.detail).toMatchObject({ host: "127.0.0.1", port: 8883, tls: true });
  });
});

describe("MqttTransport over TLS against an aedes broker", () => {
  it.each([
    ["localhost", "by host name (SNI and DNS name checked)"],
    ["127.0.0.1", "by IP address (no SNI, IP address checked)"],
  ])("connects to %s %s, and a QoS 1 publish is acknowledged and delivered", async (host) => {
    const broker = await tlsBroker(pki.server);
    const peer = await peerClient(broker.port);
    const received: Array<{ topic: string; payload: number[] }> = [];
    peer.on("message", (topic, payload) => received.push({ topic, payload: [...payload] }));
    await peer.subscribeAsync("city/tls/air", { qos: 1 });

    const { transport, changes, logs } = makeTransport(`mqtts://${host}:${broker.port}`);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK over TLS");
    expect(changes).toEqual([true]);
    expect(logs.find((entry) => entry.event === "mqtt.connecting")?.detail).toMatchObject({ tls: true });

    const settled: boolean[] = [];
    expect(transport.publish("city/tls/air", new Uint8Array([1, 2, 3, 0xff]), { qos: 1 }, (done) => settled.push(done))).toBe(true);
    await waitFor(() => settled.length === 1 && received.length === 1, "PUBACK and delivery");
    expect(settled).toEqual([true]);
    expect(received).toEqual([{ topic: "city/tls/air", payload: [1, 2, 3, 0xff] }]);
    expect(rejections(logs)).toEqual([]);
  });

  it("sends nothing in the clear: the wire carries TLS records, never the client id, topic or payload", async () => {
    const broker = await tlsBroker(pki.server);
    const relay = await recordingRelay(broker.port);
    const { transport, clientId } = makeTransport(`mqtts://localhost:${relay.port}`);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK through the relay");
    const settled: boolean[] = [];
    const payload = new TextEncoder().encode("a-recognisable-payload");
    transport.publish("city/secret-topic/air", payload, { qos: 1 }, (done) => settled.push(done));
    await waitFor(() => settled.length === 1, "PUBACK");
    expect(settled).toEqual([true]);

    const sent = relay.sent();
    expect(sent.length).toBe(1);
    expect(sent[0]![0]).toBe(TLS_HANDSHAKE_RECORD);
    for (const clear of [clientId, "MQTT", "secret-topic", "a-recognisable-payload"]) expect(sent[0]!.includes(clear)).toBe(false);
  });

  it.each<[string, (pki: TestPki) => TestCertificate, string, RegExp]>([
    ["issued by another CA (an impostor)", (p) => p.impostor, "UNABLE_TO_VERIFY_LEAF_SIGNATURE", /not issued by the pinned CA/],
    ["issued for another host name", (p) => p.wrongName, "ERR_TLS_CERT_ALTNAME_INVALID", /not issued for this host name/],
    ["expired", (p) => p.expired, "CERT_HAS_EXPIRED", /expired/],
  ])("refuses a broker certificate %s: logs why, keeps retrying, never connects", async (_what, pick, code, problem) => {
    const broker = await tlsBroker(pick(pki));
    const { transport, changes, logs } = makeTransport(`mqtts://localhost:${broker.port}`);
    transport.start();
    await waitFor(() => rejections(logs).length >= 3, "three refused handshakes");
    expect(broker.tcpConnections()).toBeGreaterThanOrEqual(3);
    expect(transport.connected).toBe(false);
    expect(changes).toEqual([]);
    expect(broker.secureConnections()).toBe(0);
    expect(broker.connectPackets()).toBe(0);
    expect(transport.publish("city/tls/air", new Uint8Array([1]), { qos: 1 }, ignore)).toBe(false);

    const rejection = rejections(logs)[0]!;
    expect(rejection.level).toBe("error");
    expect(rejection.detail).toMatchObject({ host: "localhost", port: broker.port, expectedName: "localhost", code });
    expect(String(rejection.detail?.problem)).toMatch(problem);
    // Each refusal leads to the usual backoff, never to a crash or a plaintext attempt.
    expect(logs.filter((entry) => entry.event === "mqtt.reconnect_scheduled").length).toBeGreaterThanOrEqual(3);
    const logged = JSON.stringify(logs);
    expect(logged).not.toContain("PRIVATE KEY");
    expect(logged).not.toContain(pki.ca.split("\n")[1]!);
  });

  it("trusts only the pinned CA: pinning another CA refuses the proper broker", async () => {
    const broker = await tlsBroker(pki.server);
    const { transport, logs, changes } = makeTransport(`mqtts://localhost:${broker.port}`, { tls: { ca: pki.otherCa } });
    transport.start();
    await waitFor(() => rejections(logs).length >= 2, "refused handshakes");
    expect(changes).toEqual([]);
    expect(broker.connectPackets()).toBe(0);
    expect(rejections(logs)[0]!.detail).toMatchObject({ code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
  });

  it("checks tls.servername instead of the URL's host when given", async () => {
    const broker = await tlsBroker(pki.server);
    // 127.0.0.1 is in the certificate, but the name we insist on is not: refused.
    const wrong = makeTransport(`mqtts://127.0.0.1:${broker.port}`, { tls: { ca: pki.ca, servername: "elsewhere.invalid" } });
    wrong.transport.start();
    await waitFor(() => rejections(wrong.logs).length >= 2, "refused handshakes");
    expect(rejections(wrong.logs)[0]!.detail).toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID", expectedName: "elsewhere.invalid" });
    expect(wrong.changes).toEqual([]);

    // The IP address of a broker whose certificate names it: accepted.
    const right = makeTransport(`mqtts://127.0.0.1:${broker.port}`, { tls: { ca: pki.ca, servername: "localhost" } });
    right.transport.start();
    await waitFor(() => right.transport.connected, "CONNACK with servername");

    // An IP address as servername: checked against the certificate's IP addresses, sent without SNI.
    const byIp = makeTransport(`mqtts://localhost:${broker.port}`, { tls: { ca: pki.ca, servername: "127.0.0.1" } });
    byIp.transport.start();
    await waitFor(() => byIp.transport.connected, "CONNACK with an IP servername");
    const wrongIp = makeTransport(`mqtts://localhost:${broker.port}`, { tls: { ca: pki.ca, servername: "127.0.0.2" } });
    wrongIp.transport.start();
    await waitFor(() => rejections(wrongIp.logs).length >= 2, "refused handshakes for another IP");
    expect(rejections(wrongIp.logs)[0]!.detail).toMatchObject({ code: "ERR_TLS_CERT_ALTNAME_INVALID", expectedName: "127.0.0.2" });
  });

  it("never falls back to plaintext: against a plaintext broker it sends only a TLS handshake and never connects", async () => {
    let connects = 0;
    const plainBroker = await Aedes.createBroker({
      preConnect: (_client, _packet, callback) => {
        connects++;
        callback(null, true);
      },
    });
    const sockets = new Set<net.Socket>();
    const received: Buffer[] = [];
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.once("data", (chunk: Buffer) => received.push(Buffer.from(chunk)));
      plainBroker.handle(socket);
    });
    const port = await new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port)));
    cleanups.push(async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => plainBroker.close(() => resolve()));
      await closed;
    });

    const { transport, logs, changes, clientId } = makeTransport(`mqtts://localhost:${port}`);
    transport.start();
    await waitFor(() => received.length >= 3, "three connection attempts");
    await waitFor(() => logs.filter((entry) => entry.event === "mqtt.tls_handshake_failed").length >= 3, "three failed handshakes");
    expect(changes).toEqual([]);
    expect(transport.connected).toBe(false);
    expect(connects).toBe(0);
    for (const first of received) {
      expect(first[0]).toBe(TLS_HANDSHAKE_RECORD);
      expect(first.includes(clientId)).toBe(false);
    }
  });

  it("keeps retrying after a refusal and connects once the broker presents a proper certificate", async () => {
    const impostor = await tlsBroker(pki.impostor);
    const port = impostor.port;
    const { transport, logs, changes } = makeTransport(`mqtts://localhost:${port}`);
    transport.start();
    await waitFor(() => rejections(logs).length >= 2, "refused handshakes");
    await impostor.stop();

    await tlsBroker(pki.server, port);
    await waitFor(() => transport.connected, "CONNACK from the proper broker");
    expect(changes).toEqual([true]);
  });
});

describe("pinning", () => {
  it("ignores CAs the system trusts: a CA added with NODE_EXTRA_CA_CERTS vouches for nothing", async () => {
    // The impostor's CA becomes a trusted root for the whole process, as a public CA would be.
    const broker = await tlsBroker(pki.impostor);
    const script = `
      import * as tls from "node:tls";
      import { MqttTransport } from "./dist/hosts/node/mqtt-transport.js";
      const port = Number(process.env.PORT);
      const trustedBySystem = await new Promise((resolve) => {
        const socket = tls.connect({ host: "localhost", port, servername: "localhost" }, () => { resolve(socket.authorized); socket.destroy(); });
        socket.on("error", (error) => resolve(error.code));
      });
      const rejected = [];
      const transport = new MqttTransport({
        url: "mqtts://localhost:" + port, clientId: "pinning", tls: { ca: process.env.PINNED_CA },
        reconnect: { initialMs: 10, maxMs: 20 },
        log: (level, event, detail) => { if (event === "mqtt.tls_certificate_rejected") rejected.push(detail.code); },
      });
      transport.start();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const connected = transport.connected;
      await transport.close();
      console.log(JSON.stringify({ trustedBySystem, connected, rejected: rejected.length, code: rejected[0] }));
    `;
    // Asynchronously: the broker in this process must keep answering while the child runs.
    const { stdout: output } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 20_000,
      env: { ...process.env, NODE_EXTRA_CA_CERTS: pki.otherCaFile, PORT: String(broker.port), PINNED_CA: pki.ca },
    });
    const result = JSON.parse(output.trim()) as { trustedBySystem: unknown; connected: boolean; rejected: number; code: string };
    expect(result.trustedBySystem).toBe(true);
    expect(result.connected).toBe(false);
    expect(result.rejected).toBeGreaterThanOrEqual(2);
    expect(result.code).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE");
    expect(broker.connectPackets()).toBe(0);
  });
});
