import * as net from "node:net";
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { generate } from "mqtt-packet";

import { MqttTransport, type MqttTransportOptions } from "../../../hosts/node/mqtt-transport.js";
import { isValidTopicFilter, isValidTopicName, topicMatches } from "../../../hosts/node/topic-match.js";
import { waitFor, sleep } from "../../support/wait-for.js";
import {
  bytes,
  cleanups,
  holdingPubacks,
  ignore,
  listen,
  peerClient,
  runCleanups,
  startBroker,
  startFakeBroker,
  type LogEntry,
} from "../../support/mqtt-test-brokers.js";

// --- harness ---------------------------------------------------------------------------------

afterEach(runCleanups);

let clientCounter = 0;

/** A transport with fast reconnects, recording its log and its connection changes. Not started. */
function makeTransport(port: number, options: Partial<MqttTransportOptions> = {}) {
  const logs: LogEntry[] = [];
  const changes: boolean[] = [];
  const clientId = `node-${++clientCounter}`;
  const transport = new MqttTransport({
    url: `mqtt://127.0.0.1:${port}`,
    clientId,
    reconnect: { initialMs: 10, maxMs: 50 },
    log: (level, event, detail) => logs.push({ level, event, detail }),
    ...options,
  });
  transport.onConnectionChange((connected) => changes.push(connected));
  cleanups.push(() => transport.close());
  return { transport, logs, changes, clientId };
}

// --- tests -----------------------------------------------------------------------------------

describe("topic matching", () => {
  it("matches + as one level and # as any number of trailing levels", () => {
    expect(topicMatches("city/+/air", "city/n1/air")).toBe(true);
    expect(topicMatches("city/+/air", "city//air")).toBe(true);
    expect(topicMatches("city/+/air", "city/n1/noise")).toBe(false);
    expect(topicMatches("city/+/air", "city/n1/air/raw")).toBe(false);
    expect(topicMatches("city/+/air", "city/air")).toBe(false);
    expect(topicMatches("city/#", "city")).toBe(true);
    expect(topicMatches("city/#", "city/n1/air")).toBe(true);
    expect(topicMatches("city/#", "town/n1")).toBe(false);
    expect(topicMatches("#", "a/b/c")).toBe(true);
    expect(topicMatches("+/+", "/a")).toBe(true);
    expect(topicMatches("+", "/a")).toBe(false);
    expect(topicMatches("a/b", "a/b")).toBe(true);
    expect(topicMatches("a/b", "a/b/")).toBe(false);
  });

  it("keeps $ topics away from filters that start with a wildcard", () => {
    expect(topicMatches("#", "$SYS/broker/uptime")).toBe(false);
    expect(topicMatches("+/broker/uptime", "$SYS/broker/uptime")).toBe(false);
    expect(topicMatches("$SYS/#", "$SYS/broker/uptime")).toBe(true);
  });

  it("validates names and filters", () => {
    expect(isValidTopicName("city/n1/air")).toBe(true);
    expect(isValidTopicName("")).toBe(false);
    expect(isValidTopicName("city/+/air")).toBe(false);
    expect(isValidTopicName("city/#")).toBe(false);
    expect(isValidTopicFilter("city/+/air")).toBe(true);
    expect(isValidTopicFilter("#")).toBe(true);
    expect(isValidTopicFilter("city/#/air")).toBe(false);
    expect(isValidTopicFilter("city/n+/air")).toBe(false);
    expect(isValidTopicFilter("city/a#")).toBe(false);
    expect(isValidTopicFilter("")).toBe(false);
  });
});

describe("MqttTransport against an aedes broker", () => {
  it("connects, and a QoS 1 publish is acknowledged and reaches another client byte for byte", async () => {
    const { port } = await startBroker();
    const peer = await peerClient(port);
    const received: Array<{ topic: string; payload: Buffer }> = [];
    peer.on("message", (topic, payload) => received.push({ topic, payload }));
    await peer.subscribeAsync("city/node-a/air", { qos: 1 });

    const { transport, changes } = makeTransport(port);
    expect(transport.connected).toBe(false);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    expect(changes).toEqual([true]);

    // A view into a larger buffer: exactly the viewed bytes must go out.
    const backing = bytes(0xaa, 0x00, 0x01, 0xfe, 0xff, 0x7f, 0xbb);
    const settled: boolean[] = [];
    expect(transport.publish("city/node-a/air", backing.subarray(1, 6), { qos: 1 }, (d) => settled.push(d))).toBe(
      true,
    );
    await waitFor(() => settled.length === 1 && received.length === 1, "PUBACK and delivery");
    expect(settled).toEqual([true]);
    expect(received[0]!.topic).toBe("city/node-a/air");
    expect([...received[0]!.payload]).toEqual([0x00, 0x01, 0xfe, 0xff, 0x7f]);
  });

  it("settles QoS 0 once written and honours retain", async () => {
    const { port } = await startBroker();
    const { transport } = makeTransport(port);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");

    const settled: boolean[] = [];
    expect(transport.publish("city/node-a/status", bytes(1, 2, 3), { qos: 0, retain: true }, (d) => settled.push(d))).toBe(
      true,
    );
    await waitFor(() => settled.length === 1, "QoS 0 write");
    expect(settled).toEqual([true]);

    // A client that subscribes only now still gets the message: the broker kept it as retained.
    const peer = await peerClient(port);
    const retained: Array<{ payload: number[]; retain: boolean }> = [];
    peer.on("message", (_topic, payload, packet) => retained.push({ payload: [...payload], retain: packet.retain }));
    await peer.subscribeAsync("city/node-a/status", { qos: 0 });
    await waitFor(() => retained.length === 1, "retained message");
    expect(retained).toEqual([{ payload: [1, 2, 3], retain: true }]);
  });

  it("delivers messages matching a + filter, nothing else, and acknowledges them", async () => {
    let acks = 0;
    let clientId = "";
    const subscribedFilters: string[] = [];
    const { port } = await startBroker(0, {}, (broker) => {
      broker.on("ack", (_packet, client) => {
        if (client.id === clientId) acks++;
      });
      broker.on("subscribe", (subscriptions, client) => {
        if (client.id === clientId) subscribedFilters.push(...subscriptions.map((s) => s.topic));
      });
    });
    const made = makeTransport(port);
    clientId = made.clientId;
    const { transport } = made;
    const received: Array<{ topic: string; payload: Uint8Array }> = [];
    // Subscribed before start: sent with the first CONNACK.
    transport.subscribe("city/+/air", (topic, payload) => received.push({ topic, payload }));
    transport.start();
    await waitFor(() => subscribedFilters.includes("city/+/air"), "SUBSCRIBE at the broker");

    const peer = await peerClient(port);
    await peer.publishAsync("city/n1/air", Buffer.from([1]), { qos: 1 });
    await peer.publishAsync("city/n1/noise", Buffer.from([2]), { qos: 1 });
    await peer.publishAsync("city/n1/air/raw", Buffer.from([3]), { qos: 1 });
    await peer.publishAsync("town/n1/air", Buffer.from([4]), { qos: 1 });
    await peer.publishAsync("city/n2/air", Buffer.from([5]), { qos: 1 });
    await waitFor(() => received.length >= 2, "two matching messages");
    await sleep(50); // room for a wrongly delivered straggler to show up

    expect(received.map((m) => [m.topic, [...m.payload]])).toEqual([
      ["city/n1/air", [1]],
      ["city/n2/air", [5]],
    ]);
    // Core code gets plain Uint8Arrays, not Node Buffers.
    expect(received[0]!.payload).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(received[0]!.payload)).toBe(false);
    await waitFor(() => acks === 2, "PUBACKs for the two QoS 1 deliveries");

    // Subscribing while connected takes effect at once; "#" also matches its parent level.
    transport.subscribe("alerts/#", (topic, payload) => received.push({ topic, payload }));
    await waitFor(() => subscribedFilters.includes("alerts/#"), "second SUBSCRIBE");
    await peer.publishAsync("alerts", Buffer.from([6]), { qos: 0 });
    await waitFor(() => received.length === 3, "message on the parent level");
    expect(received[2]!.topic).toBe("alerts");
  });

  it("refuses publishes while disconnected and beyond maxInFlight", async () => {
    const { options, held } = holdingPubacks();
    const { port } = await startBroker(0, options);
    const { transport } = makeTransport(port, { maxInFlight: 2 });
    const settled: Array<[string, boolean]> = [];
    const record = (name: string) => (delivered: boolean) => settled.push([name, delivered]);

    expect(transport.publish("held/a", bytes(1), { qos: 1 }, record("early"))).toBe(false);
    expect(transport.publish("free/a", bytes(1), { qos: 0 }, record("early0"))).toBe(false);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");

    expect(transport.publish("held/1", bytes(1), { qos: 1 }, record("1"))).toBe(true);
    expect(transport.publish("held/2", bytes(2), { qos: 1 }, record("2"))).toBe(true);
    await waitFor(() => held.length === 2, "both publishes at the broker");
    expect(transport.publish("held/3", bytes(3), { qos: 1 }, record("3"))).toBe(false);
    // The cap is on QoS 1 only.
    expect(transport.publish("free/0", bytes(0), { qos: 0 }, record("0"))).toBe(true);
    await waitFor(() => settled.length === 1, "QoS 0 write");
    expect(settled).toEqual([["0", true]]);

    held[0]!(); // the broker acknowledges the first one: a slot frees up
    await waitFor(() => settled.length === 2, "first PUBACK");
    expect(transport.publish("held/3", bytes(3), { qos: 1 }, record("3"))).toBe(true);
    await waitFor(() => held.length === 3, "third publish at the broker");
    held[1]!();
    held[2]!();
    await waitFor(() => settled.length === 4, "remaining PUBACKs");
    expect(settled).toEqual([
      ["0", true],
      ["1", true],
      ["2", true],
      ["3", true],
    ]);
  });

  it("survives the broker going away and restores the session when it returns", async () => {
    const { options, held } = holdingPubacks();
    const first = await startBroker(0, options);
    const port = first.port;
    const { transport, changes, logs, clientId } = makeTransport(port);
    const messages: string[] = [];
    transport.subscribe("cmd/#", (topic) => messages.push(topic));
    transport.start();
    await waitFor(() => transport.connected, "first CONNACK");

    const settled: boolean[] = [];
    expect(transport.publish("held/reading", bytes(9), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => held.length === 1, "publish at the broker");

    await first.stop();
    await waitFor(() => changes.length === 2, "loss noticed");
    expect(changes).toEqual([true, false]);
    expect(settled).toEqual([false]);
    expect(transport.connected).toBe(false);
    expect(transport.publish("held/reading", bytes(9), { qos: 1 }, ignore)).toBe(false);
    // It keeps trying while nothing listens on the port.
    await waitFor(
      () => logs.filter((e) => e.event === "mqtt.socket_error" && e.detail?.["code"] === "ECONNREFUSED").length >= 2,
      "refused reconnects",
    );

    let resubscribed = false;
    const second = await startBroker(port, {}, (broker) => {
      broker.on("subscribe", (subscriptions, client) => {
        if (client.id === clientId && subscriptions.some((s) => s.topic === "cmd/#")) resubscribed = true;
      });
    });
    await waitFor(() => changes.length === 3, "reconnect");
    expect(changes).toEqual([true, false, true]);
    await waitFor(() => resubscribed, "subscription restored");

    const peer = await peerClient(second.port);
    await peer.publishAsync("cmd/reboot", Buffer.from("now"), { qos: 1 });
    await waitFor(() => messages.length === 1, "message after reconnect");
    expect(messages).toEqual(["cmd/reboot"]);
    expect(settled).toEqual([false]); // settled exactly once
  });

  it("keeps a quiet session up with pings and drops a broker that falls silent", async () => {
    let pings = 0;
    const { port } = await startBroker(0, {}, (broker) => broker.on("ping", () => pings++));
    const healthy = makeTransport(port, { keepaliveSeconds: 1 });
    healthy.transport.start();

    // Answers CONNECT, then never says anything again.
    const silent = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(generate({ cmd: "connack", returnCode: 0, sessionPresent: false }));
    });
    const deaf = makeTransport(silent.port, { keepaliveSeconds: 1 });
    deaf.transport.start();

    await waitFor(() => silent.connections() >= 2, "reconnect after the silent broker", 4000);
    expect(deaf.changes.slice(0, 2)).toEqual([true, false]);
    expect(deaf.logs.some((e) => e.event === "mqtt.keepalive_timeout")).toBe(true);
    const first = silent.packets.filter((p) => p.connection === 1);
    expect(first.map((p) => p.cmd)).toEqual(["connect", "pingreq"]);
    const pingAfterMs = first[1]!.at - first[0]!.at;
    expect(pingAfterMs).toBeGreaterThanOrEqual(950);
    expect(pingAfterMs).toBeLessThan(1400);

    // Meanwhile, >1.5 s of silence from the node's side did not cost the healthy session.
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(healthy.changes).toEqual([true]);
    expect(healthy.transport.connected).toBe(true);
  });
});

describe("MqttTransport against a misbehaving broker", () => {
  it("logs and retries when the broker answers CONNECT with garbage", async () => {
    // 0x2F announces a CONNACK with reserved flag bits set: malformed whatever follows.
    const garbage = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(Buffer.concat([Buffer.from([0x2f]), randomBytes(63)]));
    });
    const { transport, logs, changes } = makeTransport(garbage.port);
    transport.start();
    await waitFor(() => garbage.connections() >= 3, "retries");
    expect(logs.some((e) => e.event === "mqtt.malformed_packet")).toBe(true);
    expect(changes).toEqual([]);
    expect(transport.connected).toBe(false);
  });

  it("survives random byte streams", async () => {
    const fuzz = await startFakeBroker((packet, socket) => {
      if (packet.cmd !== "connect") return;
      socket.write(randomBytes(1 + Math.floor(Math.random() * 300)));
      if (Math.random() < 0.5) socket.end();
      else setTimeout(() => socket.destroy(), 5);
    });
    const { transport } = makeTransport(fuzz.port, { reconnect: { initialMs: 1, maxMs: 4 } });
    transport.start();
    await waitFor(() => fuzz.connections() >= 30, "30 attempts");
    // Whatever happened, the client is still there and can be closed cleanly.
    await transport.close();
    expect(transport.connected).toBe(false);
  });

  it("logs a refusal and retries with growing, jittered delays", async () => {
    const refusing = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(generate({ cmd: "connack", returnCode: 5, sessionPresent: false }));
    });
    const { transport, logs, changes } = makeTransport(refusing.port, { reconnect: { initialMs: 8, maxMs: 32 } });
    transport.start();
    await waitFor(() => refusing.connections() >= 5, "retries");
    await transport.close();

    const refusal = logs.find((e) => e.event === "mqtt.refused");
    expect(refusal?.detail?.["returnCode"]).toBe(5);
    expect(changes).toEqual([]);
    const delays = logs.filter((e) => e.event === "mqtt.reconnect_scheduled").map((e) => e.detail?.["delayMs"] as number);
    // Ceilings 8, 16, 32, 32: each delay lies between half the ceiling and the ceiling.
    const ceilings = [8, 16, 32, 32];
    ceilings.forEach((ceiling, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
    });
  });
});

describe("MqttTransport.close", () => {
  it("sends DISCONNECT, settles in-flight publishes false and leaves no handle behind", async () => {
    const { options, held } = holdingPubacks();
    let connectionsSeen = 0;
    const { port } = await startBroker(0, options, (broker) => broker.on("client", () => connectionsSeen++));
    const baseline = handleCounts();

    const sockets: net.Socket[] = [];
    const { transport, changes } = makeTransport(port, {
      connectSocket: (host, socketPort) => {
        const socket = net.connect({ host, port: socketPort });
        sockets.push(socket);
        return socket;
      },
    });
    transport.subscribe("cmd/#", ignore);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    const settled: boolean[] = [];
    expect(transport.publish("held/x", bytes(1), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => held.length === 1, "publish at the broker");

    await transport.close();
    expect(settled).toEqual([false]);
    expect(changes).toEqual([true, false]);
    expect(transport.connected).toBe(false);
    expect(transport.publish("held/y", bytes(2), { qos: 1 }, ignore)).toBe(false);
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.destroyed).toBe(true);

    await sleep(100); // longer than any reconnect delay of these options
    expect(connectionsSeen).toBe(1);
    await waitFor(() => atMost(handleCounts(), baseline), "handles back to the baseline");
  });

  it("sends DISCONNECT before closing the socket", async () => {
    const fake = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(generate({ cmd: "connack", returnCode: 0, sessionPresent: false }));
    });
    const { transport } = makeTransport(fake.port);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    await transport.close();
    await waitFor(() => fake.packets.length === 2, "DISCONNECT at the broker");
    expect(fake.packets.map((p) => p.cmd)).toEqual(["connect", "disconnect"]);
  });

  it("stops a client that is still waiting to reconnect", async () => {
    // A port nobody listens on: take a free one and release it.
    const probe = net.createServer();
    const port = await listen(probe, 0);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const baseline = handleCounts();
    const { transport, logs } = makeTransport(port, { reconnect: { initialMs: 5_000, maxMs: 5_000 } });
    transport.start();
    await waitFor(() => logs.some((e) => e.event === "mqtt.reconnect_scheduled"), "a scheduled reconnect");
    expect(handleCounts().get("Timeout") ?? 0).toBeGreaterThan(baseline.get("Timeout") ?? 0);

    await transport.close();
    expect(atMost(handleCounts(), baseline)).toBe(true);
    expect(() => transport.start()).toThrow();
  });
});

/**
 * Counts of the process's ref'd timers and sockets, the handles that would keep it alive. Other
 * parts of a test (a previous test's sockets still closing, aedes' own timers) come and go, so
 * tests check that the counts are back to at most their value before the client existed.
 */
function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === "Timeout" || kind === "TCPSocketWrap") counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

function atMost(counts: Map<string, number>, baseline: Map<string, number>): boolean {
  return ["Timeout", "TCPSocketWrap"].every((kind) => (counts.get(kind) ?? 0) <= (baseline.get(kind) ?? 0));
}
