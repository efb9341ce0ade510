/**
 * The device MQTT client in the XS engine: a scripted session (xs-mqtt-scenario.ts) bundled with
 * esbuild and run by xsnap-worker must write exactly the bytes it writes on Node, log the same
 * events and deliver the same messages.
 */
import { join } from "node:path";
import { buildSync } from "esbuild";
import { describe, expect, it } from "vitest";
import { parser as createParser, type Packet } from "mqtt-packet";

import { projectRoot } from "../../../hosts/xs/bundle.js";
import { XsnapWorker } from "../../../hosts/xs/xsnap-worker.js";
import { runMqttScenario, type ScenarioResult } from "./xs-mqtt-scenario.js";

function packetsOf(hex: string): Packet[] {
  const packets: Packet[] = [];
  const parser = createParser({ protocolVersion: 4 });
  parser.on("packet", (packet: Packet) => packets.push(packet));
  parser.on("error", (error: Error) => {
    throw error;
  });
  parser.parse(Buffer.from(hex, "hex"));
  return packets;
}

describe("DeviceMqttTransport in the XS engine", () => {
  it("runs the scripted session on Node as expected", () => {
    const result = runMqttScenario();
    const [first, second, third] = result.connections.map(packetsOf);
    expect(first!.map((p) => p.cmd)).toEqual(["connect", "subscribe", "publish", "puback", "pingreq", "publish"]);
    expect(first![2]).toMatchObject({ topic: "up/x", qos: 1, messageId: 2 });
    expect([...(first![2] as { payload: Buffer }).payload]).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(first![3]).toMatchObject({ messageId: 0x1234 });
    expect(second!.map((p) => p.cmd)).toEqual(["connect", "subscribe"]);
    expect(third).toEqual([]);
    expect(result.messages).toEqual(["cmd/reboot:07"]);
    expect(result.settled).toEqual([true, false]);
    expect(result.changes).toEqual([true, false, true, false]);
    expect(result.connected).toBe(false);
    expect(result.socketsClosed).toEqual([true, true, true]);
    expect(result.events).toContain("mqtt.packet_too_large");
    expect(result.events.filter((e) => e === "mqtt.reconnect_scheduled")).toHaveLength(2);
  });

  it("behaves identically inside xsnap-worker", async () => {
    const root = projectRoot();
    const bundle = buildSync({
      entryPoints: [join(root, "test", "hosts", "moddable", "xs-mqtt-entry.ts")],
      bundle: true,
      write: false,
      format: "iife",
      platform: "neutral",
      target: "es2022",
      logLevel: "silent",
    });
    const worker = new XsnapWorker({ name: "civicnode-mqtt-test" });
    try {
      await worker.evaluate(bundle.outputFiles[0]!.text);
      const { reply } = await worker.command(new Uint8Array([0]));
      const inXs = JSON.parse(new TextDecoder().decode(reply)) as ScenarioResult;
      expect(inXs).toEqual(runMqttScenario());
    } finally {
      await worker.close();
    }
  });
});
