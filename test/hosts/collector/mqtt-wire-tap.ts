/**
 * A TCP relay between an MQTT client and a real broker that reads both directions: every packet,
 * parsed with mqtt-packet, with the connection it came on. Tests see from it which PUBACKs left
 * the client, for which PUBLISH, and when, and make the client's connections fail: `cut()` ends
 * them as a killed process or a lost route would, and `refuse(true)` turns new ones away until
 * `refuse(false)`.
 */
import * as net from "node:net";
import { parser as createParser, type IPublishPacket, type Packet } from "mqtt-packet";
import { cleanups } from "../../support/mqtt-test-brokers.js";

export interface TappedPacket {
  /** 1 for the first connection through the tap, 2 for the next, ... */
  readonly connection: number;
  readonly packet: Packet;
}

export interface WireTap {
  readonly port: number;
  readonly url: string;
  /** What the client sent, in order. */
  readonly sent: TappedPacket[];
  /** What the broker sent, in order. */
  readonly received: TappedPacket[];
  /** Connections accepted and relayed so far. */
  connections(): number;
  /** PUBACK packet identifiers the client sent on `connection`, in order. */
  pubacks(connection: number): number[];
  /** The PUBLISH packets the broker sent on `connection`, in order. */
  publishes(connection: number): IPublishPacket[];
  /** Destroys every open connection in both directions. */
  cut(): void;
  /** While true, new connections are closed at once. */
  refuse(refusing: boolean): void;
}

/** Relays 127.0.0.1:<tap.port> to 127.0.0.1:`brokerPort`, parsing the client's side as MQTT `protocolVersion`; closed by runCleanups. */
export async function startWireTap(brokerPort: number, protocolVersion: 4 | 5): Promise<WireTap> {
  const sent: TappedPacket[] = [];
  const received: TappedPacket[] = [];
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let accepted = 0;
  let refusing = false;
  const server = net.createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const connection = ++accepted;
    const upstream = net.connect({ host: "127.0.0.1", port: brokerPort });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    const fromClient = createParser({ protocolVersion });
    fromClient.on("packet", (packet: Packet) => sent.push({ connection, packet }));
    fromClient.on("error", end);
    const fromBroker = createParser({ protocolVersion });
    fromBroker.on("packet", (packet: Packet) => received.push({ connection, packet }));
    fromBroker.on("error", end);
    client.on("data", (chunk: Buffer) => {
      fromClient.parse(chunk);
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      fromBroker.parse(chunk);
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  cleanups.push(async () => {
    cut();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    sent,
    received,
    connections: () => accepted,
    pubacks: (connection) =>
      sent.filter((t) => t.connection === connection && t.packet.cmd === "puback").map((t) => (t.packet as { messageId: number }).messageId),
    publishes: (connection) =>
      received.filter((t) => t.connection === connection && t.packet.cmd === "publish").map((t) => t.packet as IPublishPacket),
    cut,
    refuse: (value) => (refusing = value),
  };
}
