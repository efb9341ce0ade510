/**
 * Brokers for the MQTT clients' tests (the Node host's and the device's): a real aedes broker,
 * a fake one that misbehaves on purpose, and an independent peer client. Everything a test starts
 * is undone after it (`cleanups`, run by `runCleanups` in each file's afterEach).
 */
import * as net from "node:net";
import { performance } from "node:perf_hooks";
import { Aedes, type AedesOptions } from "aedes";
import { connectAsync, type MqttClient } from "mqtt";
import { parser as createParser, type Packet } from "mqtt-packet";
import type { LogDetail, LogLevel } from "../../src/platform.js";

/** Undone after every test (each test file registers `runCleanups` with afterEach), last first. */
export const cleanups: Array<() => Promise<unknown> | unknown> = [];

export async function runCleanups(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!();
}

export function listen(server: net.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
  });
}

export interface TestBroker {
  readonly broker: Aedes;
  readonly port: number;
  /** The broker vanishes: the listener closes and every connection is cut. */
  stop(): Promise<void>;
}

/** A real aedes broker on 127.0.0.1; `setup` runs before it accepts connections. */
export async function startBroker(
  port = 0,
  options: AedesOptions = {},
  setup: (broker: Aedes) => void = () => {},
): Promise<TestBroker> {
  const broker = await Aedes.createBroker(options);
  setup(broker);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    broker.handle(socket);
  });
  const actualPort = await listen(server, port);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await serverClosed;
  };
  cleanups.push(stop);
  return { broker, port: actualPort, stop };
}

/** Aedes options that withhold the PUBACK of every publish to `held/...` until released. */
export function holdingPubacks(): { options: AedesOptions; held: Array<() => void> } {
  const held: Array<() => void> = [];
  return {
    held,
    options: {
      authorizePublish: (_client, packet, callback) => {
        if (packet.topic.startsWith("held/")) held.push(() => callback(null));
        else callback(null);
      },
    },
  };
}

export interface FakeBroker {
  readonly port: number;
  /** Connections accepted so far. */
  connections(): number;
  /** Connections the client has closed (or reset) so far. */
  closedByClient(): number;
  /** Every packet the client sent, with the connection it came on and when. */
  readonly packets: Array<{ readonly connection: number; readonly cmd: string; readonly at: number; readonly packet: Packet }>;
}

/**
 * A raw TCP server standing in for a broker: it parses what the client sends and answers through
 * `reply`, which may write anything at all to the socket.
 */
export async function startFakeBroker(reply: (packet: Packet, socket: net.Socket, connection: number) => void): Promise<FakeBroker> {
  let connections = 0;
  let closedByClient = 0;
  const packets: Array<{ connection: number; cmd: string; at: number; packet: Packet }> = [];
  const sockets = new Set<net.Socket>();
  let closing = false;
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => {
      sockets.delete(socket);
      if (!closing) closedByClient++;
    });
    socket.on("error", () => {});
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (packet: Packet) => {
      packets.push({ connection, cmd: packet.cmd, at: performance.now(), packet });
      if (!socket.destroyed) reply(packet, socket, connection);
    });
    parser.on("error", () => socket.destroy());
    socket.on("data", (chunk: Buffer) => parser.parse(chunk));
  });
  const port = await listen(server, 0);
  cleanups.push(async () => {
    closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  });
  return { port, connections: () => connections, closedByClient: () => closedByClient, packets };
}

export interface LogEntry {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail: LogDetail | undefined;
}

let peerCounter = 0;

/** An independent client (the `mqtt` package) to check what really went over the broker. */
export async function peerClient(port: number): Promise<MqttClient> {
  const peer = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    clientId: `peer-${++peerCounter}`,
    reconnectPeriod: 0,
  });
  cleanups.push(() => peer.endAsync(true));
  return peer;
}

export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
export const ignore = (): void => {};
