/**
 * The device's MQTT transport (over the ECMA-419 socket adapter) against a real Mosquitto broker,
 * reached through a TCP proxy so that tests can restart the broker and silence the route. Skipped
 * with a notice when mosquitto is not installed, required in CI (test/support/mosquitto.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { MqttClient } from "mqtt";
import { connectAsync } from "mqtt";

import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto, type RunningMosquitto } from "../../support/mosquitto.js";
import { startTcpProxy, type TcpProxy } from "../../support/tcp-proxy.js";
import { sleep, waitFor } from "../../support/wait-for.js";
import { bytes, cleanups, ignore, makeDeviceTransport, runCleanups } from "./device-mqtt-harness.js";

const available = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
if (!available) console.warn("mosquitto is not installed: skipping the device MQTT tests against it (CI runs them)");

afterEach(runCleanups);

async function mosquittoBehindProxy(): Promise<{ mosquitto: () => RunningMosquitto; restart: () => Promise<void>; stop: () => Promise<void>; proxy: TcpProxy }> {
  let mosquitto = await startMosquitto();
  const proxy = await startTcpProxy(mosquitto.port);
  cleanups.push(() => mosquitto.stop());
  cleanups.push(() => proxy.close());
  return {
    mosquitto: () => mosquitto,
    proxy,
    stop: async () => {
      await mosquitto.stop();
      proxy.cut();
    },
    restart: async () => {
      mosquitto = await startMosquitto();
      proxy.setTarget(mosquitto.port);
    },
  };
}

async function peer(port: number): Promise<MqttClient> {
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `mosquitto-peer-${port}-${Math.floor(performance.now())}`, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

describe.runIf(available)("DeviceMqttTransport against a real Mosquitto broker", () => {
  it("publishes QoS 1 (acknowledged) and retained messages, subscribes and receives", async () => {
    const { mosquitto, proxy } = await mosquittoBehindProxy();
    const watcher = await peer(mosquitto().port);
    const seen: Array<[string, number[]]> = [];
    watcher.on("message", (topic, payload) => seen.push([topic, [...payload]]));
    await watcher.subscribeAsync("up/#", { qos: 1 });

    const { transport, changes, events } = makeDeviceTransport(proxy.port);
    const commands: Array<[string, number[]]> = [];
    transport.subscribe("down/+/cmd", (topic, payload) => commands.push([topic, [...payload]]));
    transport.start();
    await waitFor(() => transport.connected, "CONNACK from mosquitto");
    expect(changes).toEqual([true]);

    const settled: boolean[] = [];
    expect(transport.publish("up/reading", bytes(1, 2, 3), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    expect(transport.publish("up/status", bytes(4), { qos: 1, retain: true }, (d) => settled.push(d))).toBe(true);
    await waitFor(() => settled.length === 2 && seen.length === 2, "PUBACKs and delivery");
    expect(settled).toEqual([true, true]);
    expect(seen).toEqual([
      ["up/reading", [1, 2, 3]],
      ["up/status", [4]],
    ]);

    // Retained: a late subscriber still gets the status.
    const late = await peer(mosquitto().port);
    const retained: boolean[] = [];
    late.on("message", (_topic, _payload, packet) => retained.push(packet.retain));
    await late.subscribeAsync("up/status", { qos: 1 });
    await waitFor(() => retained.length === 1, "retained status");
    expect(retained).toEqual([true]);

    // Once mosquitto has granted our subscription (SUBACK), commands reach us.
    await waitFor(() => events("mqtt.subscribed").length === 1, "SUBACK");
    await watcher.publishAsync("down/n1/cmd", Buffer.from([9]), { qos: 1 });
    await watcher.publishAsync("down/n1/other", Buffer.from([8]), { qos: 1 });
    await watcher.publishAsync("down/n2/cmd", Buffer.from([7]), { qos: 0 });
    await waitFor(() => commands.length === 2, "commands delivered");
    expect(commands).toEqual([
      ["down/n1/cmd", [9]],
      ["down/n2/cmd", [7]],
    ]);
  });

  it("settles in-flight publishes false when mosquitto dies, reconnects with backoff and resubscribes when it is back", async () => {
    const broker = await mosquittoBehindProxy();
    const { transport, changes, events } = makeDeviceTransport(broker.proxy.port, { reconnect: { initialMs: 20, maxMs: 200 } });
    const commands: string[] = [];
    transport.subscribe("down/#", (topic) => commands.push(topic));
    transport.start();
    await waitFor(() => transport.connected && events("mqtt.subscribed").length === 1, "CONNACK and SUBACK");

    // Silence the route first, so the publishes are surely in flight when the broker dies.
    broker.proxy.silence();
    const settled: boolean[] = [];
    expect(transport.publish("up/a", bytes(1), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    expect(transport.publish("up/b", bytes(2), { qos: 1 }, (d) => settled.push(d))).toBe(true);
    await broker.stop();
    await waitFor(() => changes.length === 2, "loss noticed");
    expect(settled).toEqual([false, false]);
    await waitFor(() => events("mqtt.reconnect_scheduled").length >= 3, "attempts while mosquitto is down");
    const delays = events("mqtt.reconnect_scheduled").map((e) => e.detail?.["delayMs"] as number);
    expect(delays[1]!).toBeGreaterThanOrEqual(20); // the ceiling doubled: 40 ms, at least half of it
    expect(transport.publish("up/c", bytes(3), { qos: 1 }, ignore)).toBe(false);

    broker.proxy.unsilence();
    await broker.restart();
    await waitFor(() => changes.length === 3, "reconnected", 10_000);
    expect(changes).toEqual([true, false, true]);
    // Resubscribed on the new connection: a second SUBACK.
    await waitFor(() => events("mqtt.subscribed").length === 2, "SUBACK after the reconnect");
    const watcher = await peer(broker.mosquitto().port);
    await watcher.publishAsync("down/again", Buffer.from([1]), { qos: 1 });
    await waitFor(() => commands.length === 1, "command after the reconnect");
    expect(commands).toEqual(["down/again"]);
    const after: boolean[] = [];
    expect(transport.publish("up/d", bytes(4), { qos: 1 }, (d) => after.push(d))).toBe(true);
    await waitFor(() => after.length === 1, "PUBACK after the reconnect");
    expect(after).toEqual([true]);
  });

  it("pings a quiet session and declares the connection dead when the route goes silent", async () => {
    const { proxy } = await mosquittoBehindProxy();
    const { transport, changes, events } = makeDeviceTransport(proxy.port, { keepAliveSeconds: 1 });
    transport.start();
    await waitFor(() => transport.connected, "CONNACK");
    // More than two keepalives without traffic: only PINGREQ/PINGRESP keep it up, as without
    // a byte from the broker for 1.5 s the client would declare it dead.
    await sleep(2200);
    expect(changes).toEqual([true]);
    expect(events("mqtt.keepalive_timeout")).toEqual([]);

    proxy.silence();
    await waitFor(() => changes.length === 2, "dead connection detected", 5000);
    expect(events("mqtt.keepalive_timeout")[0]!.detail?.["silentMs"] as number).toBeGreaterThanOrEqual(1500);
    proxy.unsilence();
    await waitFor(() => changes.length === 3, "reconnected", 5000);
    expect(changes).toEqual([true, false, true]);
  });
});
