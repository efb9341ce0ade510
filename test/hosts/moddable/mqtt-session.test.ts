/**
 * The device's MQTT transport over real TCP (through the ECMA-419 socket adapter) against the
 * embedded aedes broker, and against fake brokers that misbehave on purpose. It must behave like
 * the Node host's transport (test/hosts/node/mqtt-transport.test.ts covers the same ground).
 */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { generate } from "mqtt-packet";

import { startEmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { Prng } from "../../../hosts/sim/prng.js";
import { waitFor, sleep } from "../../support/wait-for.js";
import {
  bytes,
  cleanups,
  holdingPubacks,
  ignore,
  listen,
  makeDeviceTransport,
  peerClient,
  runCleanups,
  startBroker,
  startFakeBroker,
} from "./device-mqtt-harness.js";

afterEach(runCleanups);

const connack = (returnCode = 0): Buffer => generate({ cmd: "connack", returnCode, sessionPresent: false });

describe("DeviceMqttTransport against an aedes broker", () => {
  it("connects to the embedded broker, and a QoS 1 publish is acknowledged and reaches another client byte for byte", async () => {
    const embedded = await startEmbeddedBroker();
    cleanups.push(() => embedded.close());
    const peer = await peerClient(embedded.port);
    const received: Array<{ topic: string; payload: Buffer }> = [];
    peer.on("message", (topic, payload) => received.push({ topic, payload }));
    await peer.subscribeAsync("city/node-a/air", { qos: 1 });

    const { transport, changes, events } = makeDeviceTransport(embedded.port);
    expect(transport.connected).toBe(false);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    expect(changes).toEqual([true]);
    expect(events("mqtt.connected")).toHaveLength(1);

    // A view into a larger buffer: exactly the viewed bytes must go out; the buffer may be reused at once.
    const backing = bytes(0xaa, 0x00, 0x01, 0xfe, 0xff, 0x7f, 0xbb);
    const settled: boolean[] = [];
    expect(transport.publish("city/node-a/air", backing.subarray(1, 6), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    backing.fill(0);
    expect(settled).toEqual([]); // never settled from inside publish()
    await waitFor(() => settled.length === 1 && received.length === 1, "PUBACK and delivery");
    expect(settled).toEqual([true]);
    expect(received[0]!.topic).toBe("city/node-a/air");
    expect([...received[0]!.payload]).toEqual([0x00, 0x01, 0xfe, 0xff, 0x7f]);
  });

  it("settles QoS 0 once written and honours retain", async () => {
    const { port } = await startBroker();
    const { transport } = makeDeviceTransport(port);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");

    const settled: boolean[] = [];
    expect(transport.publish("city/node-a/status", bytes(1, 2, 3), { qos: 0, retain: true }, (d) => settled.push(d))).toBe(true);
    expect(settled).toEqual([]);
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

  it("delivers messages matching its filters, nothing else, and acknowledges QoS 1 ones", async () => {
    let acks = 0;
    let clientId = "";
    const subscribedFilters: string[] = [];
    const { port } = await startBroker(0, {}, (broker) => {
      broker.on("ack", (_packet, client) => {
        if (client.id === clientId) acks++;
      });
      broker.on("subscribe", (subscriptions, client) => {
        if (client.id === clientId) subscribedFilters.push(...subscriptions.map((s) => `${s.topic}@${s.qos}`));
      });
    });
    const made = makeDeviceTransport(port);
    clientId = made.clientId;
    const { transport } = made;
    const received: Array<{ topic: string; payload: Uint8Array }> = [];
    // Subscribed before start: sent with the first CONNACK, at QoS 1.
    transport.subscribe("city/+/air", (topic, payload) => received.push({ topic, payload }));
    transport.start();
    await waitFor(() => subscribedFilters.includes("city/+/air@1"), "SUBSCRIBE at the broker");

    const peer = await peerClient(port);
    await peer.publishAsync("city/n1/air", Buffer.from([1]), { qos: 1 });
    await peer.publishAsync("city/n1/noise", Buffer.from([2]), { qos: 1 });
    await peer.publishAsync("city/n1/air/raw", Buffer.from([3]), { qos: 1 });
    await peer.publishAsync("town/n1/air", Buffer.from([4]), { qos: 1 });
    await peer.publishAsync("city/n2/air", Buffer.from([5]), { qos: 1 });
    await waitFor(() => received.length >= 2, "two matching messages");
    await waitFor(() => acks === 2, "PUBACKs for the two QoS 1 deliveries");

    expect(received.map((m) => [m.topic, [...m.payload]])).toEqual([
      ["city/n1/air", [1]],
      ["city/n2/air", [5]],
    ]);
    // Core code gets plain Uint8Arrays, not Node Buffers.
    expect(received[0]!.payload).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(received[0]!.payload)).toBe(false);

    // Subscribing while connected takes effect at once; "#" also matches its parent level. Two
    // handlers of the same message each get their own bytes.
    const second: Uint8Array[] = [];
    transport.subscribe("alerts/#", (topic, payload) => {
      received.push({ topic, payload });
      payload[0] = 99; // must not show in the other handler's copy
    });
    transport.subscribe("alerts", (_topic, payload) => second.push(payload));
    await waitFor(() => subscribedFilters.includes("alerts/#@1") && subscribedFilters.includes("alerts@1"), "later SUBSCRIBEs");
    await peer.publishAsync("alerts", Buffer.from([6]), { qos: 0 });
    await waitFor(() => received.length === 3 && second.length === 1, "message on the parent level");
    expect(received[2]!.topic).toBe("alerts");
    expect([...second[0]!]).toEqual([6]);
    expect(received.map((m) => m.topic)).toEqual(["city/n1/air", "city/n2/air", "alerts"]); // no straggler
  });

  it("refuses publishes while disconnected and beyond maxInFlight", async () => {
    const { options, held } = holdingPubacks();
    const { port } = await startBroker(0, options);
    const { transport } = makeDeviceTransport(port, { maxInFlight: 2 });
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
    // QoS 0 is counted apart from QoS 1.
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

  it("queues bytes the socket cannot take yet, refuses publishes once its send buffer is full, and delivers all it took", async () => {
    const { port } = await startBroker();
    const peer = await peerClient(port);
    const received: Buffer[] = [];
    peer.on("message", (_topic, payload) => received.push(payload));
    await peer.subscribeAsync("bp/#", { qos: 1 });

    // The socket takes 100 bytes at a time; the send buffer holds 300.
    const { transport } = makeDeviceTransport(port, { maxInFlight: 32, sendBufferBytes: 300 }, { writableBytes: 100 });
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");

    const settled: boolean[] = [];
    const accepted: number[] = [];
    let refusedAt = -1;
    for (let i = 0; i < 20 && refusedAt < 0; i++) {
      const payload = new Uint8Array(50).fill(i);
      if (transport.publish(`bp/${i}`, payload, { qos: 1 }, (d) => settled.push(d))) accepted.push(i);
      else refusedAt = i;
    }
    // Packets of 58 bytes: 100 bytes written at once, 300 - 16 reserved for acknowledgements queued.
    expect(accepted).toEqual([0, 1, 2, 3, 4, 5]);
    expect(refusedAt).toBe(6);
    // Larger than the send buffer could ever hold: a programming error, not "try again later".
    expect(() => transport.publish("bp/huge", new Uint8Array(400), { qos: 1 }, ignore)).toThrow(RangeError);

    await waitFor(() => settled.length === accepted.length && received.length === accepted.length, "every accepted message");
    expect(settled.every((d) => d)).toBe(true);
    expect(received.map((p) => [p.length, p[0]])).toEqual(accepted.map((i) => [50, i]));
    // With room again it takes more.
    expect(transport.publish("bp/again", bytes(7), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => settled.length === accepted.length + 1, "the next one");
  });

  it("survives the broker going away mid-flight and restores the session with backoff when it returns", async () => {
    const { options, held } = holdingPubacks();
    const first = await startBroker(0, options);
    const port = first.port;
    const { transport, changes, events, clientId } = makeDeviceTransport(port, { reconnect: { initialMs: 20, maxMs: 80 } });
    const messages: string[] = [];
    transport.subscribe("cmd/#", (topic) => messages.push(topic));
    transport.start();
    await waitFor(() => transport.connected, "first CONNACK");

    const settled: boolean[] = [];
    expect(transport.publish("held/reading", bytes(9), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    expect(transport.publish("held/reading2", bytes(10), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => held.length === 2, "publishes at the broker");

    await first.stop();
    await waitFor(() => changes.length === 2, "loss noticed");
    expect(changes).toEqual([true, false]);
    expect(settled).toEqual([false, false]);
    expect(transport.connected).toBe(false);
    expect(transport.publish("held/reading", bytes(9), { qos: 1 }, ignore)).toBe(false);
    // It keeps trying while nothing listens on the port, with growing, jittered delays.
    await waitFor(() => events("mqtt.socket_error").length >= 4, "refused reconnects");
    const delays = events("mqtt.reconnect_scheduled").map((e) => e.detail?.["delayMs"] as number);
    [20, 40, 80, 80].forEach((ceiling, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
    });

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
    expect(settled).toEqual([false, false]); // settled exactly once each
    // A successful connection resets the backoff.
    expect(transport.publish("held/after", bytes(1), { qos: 1 }, ignore)).toBe(true);
  });

  it("keeps a quiet session up with pings and drops a broker that falls silent", async () => {
    let pings = 0;
    const { port } = await startBroker(0, {}, (broker) => broker.on("ping", () => pings++));
    const healthy = makeDeviceTransport(port, { keepAliveSeconds: 1 });
    healthy.transport.start();

    // Answers CONNECT, then never says anything again.
    const silent = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(connack());
    });
    const deaf = makeDeviceTransport(silent.port, { keepAliveSeconds: 1 });
    deaf.transport.start();

    await waitFor(() => silent.connections() >= 2, "reconnect after the silent broker", 5000);
    expect(deaf.changes.slice(0, 2)).toEqual([true, false]);
    const timeout = deaf.events("mqtt.keepalive_timeout");
    expect(timeout.length).toBeGreaterThanOrEqual(1);
    expect(timeout[0]!.detail?.["silentMs"] as number).toBeGreaterThanOrEqual(1500);
    const first = silent.packets.filter((p) => p.connection === 1);
    expect(first.map((p) => p.cmd)).toEqual(["connect", "pingreq"]);
    expect(first[0]!.packet).toMatchObject({ keepalive: 1, clean: true, clientId: deaf.clientId });
    // The ping comes after a keepalive of silence, not before.
    expect(first[1]!.at - first[0]!.at).toBeGreaterThanOrEqual(950);
    expect(silent.closedByClient()).toBeGreaterThanOrEqual(1);

    // Meanwhile, more than 1.5 s without traffic from the node's side did not cost the healthy session.
    expect(pings).toBeGreaterThanOrEqual(1);
    expect(healthy.changes).toEqual([true]);
    expect(healthy.transport.connected).toBe(true);
  });

  it("gives up on a broker that accepts TCP but never answers CONNECT", async () => {
    const mute = await startFakeBroker(() => {});
    const { transport, events, changes } = makeDeviceTransport(mute.port, { connectTimeoutMs: 200 });
    transport.start();
    await waitFor(() => mute.connections() >= 2, "second attempt");
    expect(events("mqtt.connect_timeout").length).toBeGreaterThanOrEqual(1);
    expect(events("mqtt.connect_timeout")[0]!.detail?.["afterMs"] as number).toBeGreaterThanOrEqual(200);
    expect(mute.closedByClient()).toBeGreaterThanOrEqual(1);
    expect(changes).toEqual([]);
  });
});

describe("DeviceMqttTransport against a misbehaving broker", () => {
  it("logs and retries when the broker answers CONNECT with garbage", async () => {
    const prng = new Prng("garbage");
    // 0x2F announces a CONNACK with reserved flag bits set: malformed whatever follows.
    const garbage = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(Buffer.from([0x2f, ...Array.from({ length: 63 }, () => prng.nextUint32() & 0xff)]));
    });
    const { transport, events, changes } = makeDeviceTransport(garbage.port);
    transport.start();
    await waitFor(() => garbage.connections() >= 3, "retries");
    expect(events("mqtt.malformed_packet")[0]?.detail).toEqual({ reason: "reserved flags set" });
    expect(changes).toEqual([]);
    expect(transport.connected).toBe(false);
    await waitFor(() => garbage.closedByClient() >= 2, "the client closing the connections");
  });

  it("drops the connection on a packet larger than maxPacketBytes without waiting for its body", async () => {
    const big = await startFakeBroker((packet, socket, connection) => {
      if (packet.cmd !== "connect") return;
      socket.write(connack());
      // A PUBLISH announcing 100,000 bytes, of which only the first few are ever sent.
      if (connection === 1) socket.write(Buffer.from([0x30, 0xa0, 0x8d, 0x06, 0x00, 0x01, 0x61, 1, 2, 3]));
    });
    const { transport, events, changes } = makeDeviceTransport(big.port, { maxPacketBytes: 4096 });
    const messages: string[] = [];
    transport.subscribe("#", (topic) => messages.push(topic));
    transport.start();
    await waitFor(() => changes.length >= 3, "dropped and reconnected");
    expect(changes.slice(0, 3)).toEqual([true, false, true]);
    expect(events("mqtt.packet_too_large")[0]?.detail?.["reason"]).toMatch(/exceeds 4096/);
    expect(events("mqtt.disconnected")[0]?.detail).toMatchObject({ reason: "packet too large" });
    expect(big.closedByClient()).toBe(1);
    expect(messages).toEqual([]);
  });

  it("drops the connection when the first packet is not CONNACK", async () => {
    const rude = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(generate({ cmd: "pingresp" }));
    });
    const { transport, events, changes } = makeDeviceTransport(rude.port);
    transport.start();
    await waitFor(() => rude.connections() >= 2, "retry");
    expect(events("mqtt.protocol_violation")[0]?.detail).toEqual({ packet: "pingresp" });
    expect(changes).toEqual([]);
  });

  it("survives random byte streams, cut or closed at random", async () => {
    const prng = new Prng("fuzz");
    const fuzz = await startFakeBroker((packet, socket) => {
      if (packet.cmd !== "connect") return;
      // Half the time a valid CONNACK first, so that the session code sees the garbage too.
      if (prng.nextUint32() & 1) socket.write(connack());
      socket.write(Buffer.from(Array.from({ length: 1 + (prng.nextUint32() % 300) }, () => prng.nextUint32() & 0xff)));
      if (prng.nextUint32() & 1) socket.end();
      else setTimeout(() => socket.destroy(), 5);
    });
    const { transport, changes } = makeDeviceTransport(fuzz.port, { reconnect: { initialMs: 1, maxMs: 4 }, maxPacketBytes: 256 });
    transport.subscribe("#", ignore);
    transport.start();
    await waitFor(() => fuzz.connections() >= 30, "30 attempts", 15_000);
    // Whatever happened, the client is still there and can be closed cleanly.
    transport.close();
    expect(transport.connected).toBe(false);
    expect(changes.filter((c) => c).length).toBe(changes.filter((c) => !c).length);
  });

  it("logs a refusal and retries with growing, jittered delays from its injected randomness", async () => {
    const refusing = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(connack(5));
    });
    const a = makeDeviceTransport(refusing.port, { reconnect: { initialMs: 8, maxMs: 32 } });
    const b = makeDeviceTransport(refusing.port, { reconnect: { initialMs: 8, maxMs: 32 } });
    a.transport.start();
    b.transport.start();
    await waitFor(() => a.events("mqtt.reconnect_scheduled").length >= 5 && b.events("mqtt.reconnect_scheduled").length >= 5, "retries");
    a.transport.close();
    b.transport.close();

    expect(a.events("mqtt.refused")[0]?.detail).toEqual({ returnCode: 5, reason: "not authorized" });
    expect(a.changes).toEqual([]);
    const delays = (client: typeof a): number[] => client.events("mqtt.reconnect_scheduled").map((e) => e.detail?.["delayMs"] as number);
    // Ceilings 8, 16, 32, 32: each delay lies between half the ceiling and the ceiling.
    [8, 16, 32, 32, 32].forEach((ceiling, i) => {
      expect(delays(a)[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays(a)[i]).toBeLessThanOrEqual(ceiling);
    });
    // Differently seeded nodes do not come back in lockstep.
    expect(delays(a).slice(0, 5)).not.toEqual(delays(b).slice(0, 5));
  });

  it("keeps going when a callback of the caller throws", async () => {
    const { port } = await startBroker();
    const { transport, events } = makeDeviceTransport(port);
    const got: string[] = [];
    transport.subscribe("t/#", () => {
      throw new Error("handler bug");
    });
    transport.subscribe("t/x", (topic) => got.push(topic));
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    await waitFor(() => events("mqtt.subscribed").length === 2, "SUBACK for both filters");
    const peer = await peerClient(port);
    await peer.publishAsync("t/x", Buffer.from([1]), { qos: 1 });
    await waitFor(() => got.length === 1, "delivery to the second handler");
    expect(events("mqtt.callback_threw")[0]?.detail).toMatchObject({ callback: "subscribe.onMessage", message: "handler bug" });
    const settled: boolean[] = [];
    transport.publish("t/y", bytes(1), { qos: 1 }, (d) => {
      settled.push(d);
      throw new Error("settle bug");
    });
    await waitFor(() => settled.length === 1, "settled");
    expect(transport.connected).toBe(true);
  });
});

describe("DeviceMqttTransport.close", () => {
  it("sends DISCONNECT, settles in-flight publishes false and leaves no socket or timer behind", async () => {
    const fake = await startFakeBroker((packet, socket) => {
      if (packet.cmd === "connect") socket.write(connack());
      // PUBLISH is never acknowledged.
    });
    const { transport, changes, timers, sockets } = makeDeviceTransport(fake.port);
    transport.subscribe("cmd/#", ignore);
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    const settled: boolean[] = [];
    expect(transport.publish("held/x", bytes(1), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => fake.packets.some((p) => p.cmd === "publish"), "publish at the broker");

    transport.close();
    expect(settled).toEqual([false]);
    expect(changes).toEqual([true, false]);
    expect(transport.connected).toBe(false);
    expect(transport.publish("held/y", bytes(2), { qos: 1 }, ignore)).toBe(false);
    expect(timers.pending).toBe(0);
    expect(sockets).toHaveLength(1);
    expect(() => sockets[0]!.read()).toThrow(/closed/); // closed exactly once, by the transport

    await waitFor(() => fake.packets.some((p) => p.cmd === "disconnect"), "DISCONNECT at the broker");
    expect(fake.packets.map((p) => p.cmd)).toEqual(["connect", "subscribe", "publish", "disconnect"]);
    await sleep(100); // longer than any reconnect delay of these options
    expect(fake.connections()).toBe(1);
    expect(() => transport.start()).toThrow();
  });

  it("stops a client that is still waiting to reconnect", async () => {
    // A port nobody listens on: take a free one and release it.
    const probe = net.createServer();
    const port = await listen(probe, 0);
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const { transport, events, timers } = makeDeviceTransport(port, { reconnect: { initialMs: 5_000, maxMs: 5_000 } });
    transport.start();
    await waitFor(() => events("mqtt.reconnect_scheduled").length === 1, "a scheduled reconnect");
    expect(events("mqtt.socket_error")[0]?.detail).toEqual({ during: "tcp connect" });
    expect(timers.pending).toBe(1);
    transport.close();
    expect(timers.pending).toBe(0);
  });
});

describe("DeviceMqttTransport options", () => {
  const base = {
    host: "127.0.0.1",
    port: 1883,
    clientId: "n",
    openSocket: () => {
      throw new Error("not used");
    },
    timers: { once: () => ({}), repeat: () => ({}), clear: () => {} },
    clock: { monotonicMs: () => 0, wallMs: () => 0, wallSynced: () => false },
    random: { fill: () => {} },
  };

  it("rejects options out of range and topics that are not valid", async () => {
    const { DeviceMqttTransport } = await import("../../../hosts/moddable/mqtt/mqtt-session.js");
    expect(() => new DeviceMqttTransport({ ...base, keepAliveSeconds: 70_000 })).toThrow(RangeError);
    expect(() => new DeviceMqttTransport({ ...base, maxInFlight: 0 })).toThrow(RangeError);
    expect(() => new DeviceMqttTransport({ ...base, port: 0 })).toThrow(RangeError);
    expect(() => new DeviceMqttTransport({ ...base, maxPacketBytes: 100, clientId: "x".repeat(100) })).toThrow(RangeError);
    expect(() => new DeviceMqttTransport({ ...base, reconnect: { initialMs: 100, maxMs: 50 } })).toThrow(RangeError);
    const transport = new DeviceMqttTransport({ ...base, maxSubscriptions: 2 });
    expect(() => transport.publish("a/+", bytes(1), { qos: 1 }, ignore)).toThrow(RangeError);
    expect(() => transport.publish("a", bytes(1), { qos: 2 as 1 }, ignore)).toThrow(RangeError);
    expect(() => transport.subscribe("a/#/b", ignore)).toThrow(RangeError);
    transport.subscribe("a", ignore);
    transport.subscribe("b", ignore);
    expect(() => transport.subscribe("c", ignore)).toThrow(/maxSubscriptions/);
  });

  it("logs and retries when the socket cannot even be constructed", async () => {
    const logs: string[] = [];
    const scheduled: number[] = [];
    const { DeviceMqttTransport } = await import("../../../hosts/moddable/mqtt/mqtt-session.js");
    const transport = new DeviceMqttTransport({
      ...base,
      timers: { once: (_cb, ms) => (scheduled.push(ms), {}), repeat: () => ({}), clear: () => {} },
      log: (_level, event) => logs.push(event),
    });
    transport.start();
    expect(logs).toEqual(["mqtt.connecting", "mqtt.socket_error", "mqtt.reconnect_scheduled"]);
    expect(scheduled).toHaveLength(1);
  });
});
