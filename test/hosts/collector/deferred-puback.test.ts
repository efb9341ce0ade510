/**
 * What hosts/collector/deferred-puback.ts relies on in mqtt.js, watched on the wire with a broker
 * of our own (mqtt-packet over TCP) for MQTT 3.1.1 and MQTT 5: a `handleMessage` callback given an
 * error sends no PUBACK, raises no error, and lets the next message in; the PUBACK written later
 * goes out as a proper packet, and never on a connection other than the message's own. If a new
 * mqtt.js changes any of it, this fails before a collector acknowledges what it has not stored.
 */
import * as net from "node:net";
import { connect, type MqttClient } from "mqtt";
import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { afterEach, describe, expect, it } from "vitest";
import { connectionOf, passOnWithoutPuback, sendPuback } from "../../../hosts/collector/deferred-puback.js";
import { cleanups, listen, runCleanups } from "../../support/mqtt-test-brokers.js";
import { waitFor } from "../../support/wait-for.js";

interface FakeBroker {
  readonly port: number;
  /** What the client sent, by connection (1, 2, ...). */
  readonly received: Array<{ readonly connection: number; readonly packet: Packet }>;
  /** Closes the newest connection from the broker's side. */
  drop(): void;
}

/** Answers CONNECT and SUBSCRIBE, then sends `publishes` QoS 1 messages (ids 1..n) on every connection. */
async function fakeBroker(protocolVersion: 4 | 5, publishes: number): Promise<FakeBroker> {
  const received: FakeBroker["received"] = [];
  const sockets: net.Socket[] = [];
  let connections = 0;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.push(socket);
    socket.on("error", () => {});
    const parser = createParser({ protocolVersion });
    const send = (packet: Packet) => socket.write(generate(packet, { protocolVersion }));
    parser.on("packet", (packet: Packet) => {
      received.push({ connection, packet });
      if (packet.cmd === "connect") {
        send(protocolVersion === 5 ? { cmd: "connack", sessionPresent: false, reasonCode: 0 } : { cmd: "connack", sessionPresent: false, returnCode: 0 });
      } else if (packet.cmd === "subscribe") {
        send({ cmd: "suback", messageId: packet.messageId!, granted: [1] });
        for (let id = 1; id <= publishes; id++) {
          send({ cmd: "publish", topic: "civicnode/z/d/summary", payload: Buffer.alloc(1059, id), qos: 1, messageId: id, dup: false, retain: false });
        }
      }
    });
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
  });
  const port = await listen(server, 0);
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { port, received, drop: () => sockets[sockets.length - 1]?.destroy() };
}

function sentOn(broker: FakeBroker, connection: number): Packet[] {
  return broker.received.filter((r) => r.connection === connection).map((r) => r.packet);
}

function client(port: number, protocolVersion: 4 | 5, reconnectPeriod: number): { client: MqttClient; errors: Error[] } {
  const errors: Error[] = [];
  const c = connect(`mqtt://127.0.0.1:${port}`, { clientId: `deferred-puback-${protocolVersion}`, protocolVersion, clean: false, reconnectPeriod });
  c.on("error", (error) => errors.push(error));
  c.on("connect", () => c.subscribe("civicnode/+/+/summary", { qos: 1 }));
  cleanups.push(() => c.endAsync(true));
  return { client: c, errors };
}

describe("deferred PUBACKs on mqtt.js", () => {
  afterEach(runCleanups);

  for (const protocolVersion of [4, 5] as const) {
    describe(`MQTT ${protocolVersion === 5 ? "5" : "3.1.1"}`, () => {
      it("hands over every message without a PUBACK, and sends the one written later", async () => {
        const broker = await fakeBroker(protocolVersion, 3);
        const { client: c, errors } = client(broker.port, protocolVersion, 0);
        const arrived: number[] = [];
        c.handleMessage = (packet, done) => {
          arrived.push(packet.messageId!);
          passOnWithoutPuback(done);
        };
        await waitFor(() => arrived.length === 3, "three messages, none acknowledged");
        expect(arrived).toEqual([1, 2, 3]);

        expect(sendPuback(c, connectionOf(c), 1, protocolVersion)).toBe(true);
        await c.endAsync(); // a DISCONNECT after everything the client wrote
        await waitFor(() => sentOn(broker, 1).some((p) => p.cmd === "disconnect"), "the DISCONNECT");

        const sent = sentOn(broker, 1);
        // mqtt.js sent no PUBACK of its own: it would stand before ours.
        expect(sent.map((p) => p.cmd)).toEqual(["connect", "subscribe", "puback", "disconnect"]);
        expect(sent[2]).toMatchObject({ cmd: "puback", messageId: 1 });
        if (protocolVersion === 5) expect((sent[2] as { reasonCode?: number }).reasonCode ?? 0).toBe(0);
        expect(errors).toEqual([]);
      });

      it("writes no PUBACK on a later connection for a message of an earlier one", async () => {
        const broker = await fakeBroker(protocolVersion, 1);
        const { client: c } = client(broker.port, protocolVersion, 20);
        const arrivals: Array<{ connection: ReturnType<typeof connectionOf>; id: number }> = [];
        c.handleMessage = (packet, done) => {
          arrivals.push({ connection: connectionOf(c), id: packet.messageId! });
          passOnWithoutPuback(done);
        };
        await waitFor(() => arrivals.length === 1, "the message on the first connection");
        broker.drop();
        await waitFor(() => arrivals.length === 2, "the message again on the second connection", 10_000);
        expect(arrivals[1]!.connection).not.toBe(arrivals[0]!.connection);

        expect(sendPuback(c, arrivals[0]!.connection, arrivals[0]!.id, protocolVersion)).toBe(false);
        expect(sendPuback(c, arrivals[1]!.connection, arrivals[1]!.id, protocolVersion)).toBe(true);
        await c.endAsync();
        await waitFor(() => sentOn(broker, 2).some((p) => p.cmd === "disconnect"), "the DISCONNECT");
        expect(sentOn(broker, 1).filter((p) => p.cmd === "puback")).toEqual([]);
        expect(sentOn(broker, 2).map((p) => p.cmd)).toEqual(["connect", "subscribe", "puback", "disconnect"]);
      });
    });
  }
});
