/**
 * Fuzzing what MQTT brokers send (docs/fuzzing.md): the device client's decoder
 * (hosts/moddable/mqtt/mqtt-codec.ts) in-process, then, over real TCP, the three clients facing a
 * hostile broker that answers CONNECT with CONNACK and then sends the case's bytes (random, valid
 * packet streams, or mutations of them) before closing the connection:
 * - the device client (hosts/moddable/mqtt/mqtt-session.ts) over the ECMA-419 socket adapter;
 * - the simulator's client (hosts/node/mqtt-transport.ts, on mqtt-packet);
 * - the collector's mqtt.js client (hosts/collector/collector.ts).
 *
 * The decoder declares that it never throws, never buffers more than `maxPacketBytes` and always
 * makes progress. The node clients declare that nothing the network does escapes as an exception:
 * they drop the connection (or keep it, for well-formed packets) and connect again, and their
 * defect paths (a handler or socket throwing inside them) stay silent. The collector must not crash
 * the process. An exception that escapes to the event loop fails the case it happened in.
 */
import * as net from "node:net";
import fc from "fast-check";
import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Collector } from "../../hosts/collector/collector.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { MqttDecoder, MIN_MAX_PACKET_BYTES, SUBACK_FAILURE, type IncomingPacket } from "../../hosts/moddable/mqtt/mqtt-codec.js";
import { MqttTransport } from "../../hosts/node/mqtt-transport.js";
import { makeDeviceTransport } from "../hosts/moddable/device-mqtt-harness.js";
import { storedLines, testCollectorDb } from "../support/collector-db.js";
import { cleanups, listen, runCleanups, type LogEntry } from "../support/mqtt-test-brokers.js";
import { waitFor } from "../support/wait-for.js";
import { anyBytes, fuzzAsyncProperty, fuzzProperty, fuzzTestTimeout, mutantsOf } from "../support/fuzz.js";

// --- packets a broker sends -------------------------------------------------------------------------

const topicName = fc.oneof(
  fc.constantFrom("civicnode/demo-street/street-01/cmd", "civicnode/z/d/summary", "a", "a/b/c", "$SYS/x", "/"),
  fc.string({ minLength: 1, maxLength: 30 }).filter((t) => !/[+#\u0000]/.test(t)),
);
const packetId = fc.integer({ min: 1, max: 0xffff });
const brokerPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({ cmd: fc.constant("connack" as const), sessionPresent: fc.boolean(), returnCode: fc.integer({ min: 0, max: 5 }) }),
  fc.record({ cmd: fc.constant("publish" as const), topic: topicName, payload: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)), qos: fc.constant(0 as const), retain: fc.boolean(), dup: fc.constant(false) }),
  fc.record({ cmd: fc.constant("publish" as const), topic: topicName, payload: fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)), qos: fc.constant(1 as const), retain: fc.boolean(), dup: fc.boolean(), messageId: packetId }),
  fc.record({ cmd: fc.constant("puback" as const), messageId: packetId }),
  fc.record({ cmd: fc.constant("suback" as const), messageId: packetId, granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 6 }) }),
  fc.record({ cmd: fc.constant("pingresp" as const) }),
  // What a broker must not send a client: unexpected types the clients have to refuse.
  fc.record({ cmd: fc.constant("pubrel" as const), messageId: packetId }),
  fc.record({ cmd: fc.constant("unsuback" as const), messageId: packetId, granted: fc.constant<number[]>([]) }),
  fc.record({ cmd: fc.constant("pingreq" as const) }),
);
const packetStream = fc.array(brokerPacket, { minLength: 1, maxLength: 8 }).map((packets) => new Uint8Array(Buffer.concat(packets.map((p) => generate(p)))));
/** Random bytes, valid streams, and mutated ones (aiming length edits at the first Remaining Length byte). */
const brokerBytes = fc.oneof(anyBytes(400), packetStream, mutantsOf(packetStream, { lengthFields: () => [1, 2] }).map((m) => m.bytes));
const chunkSizes = fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 6 });

// --- the device client's decoder, in-process -----------------------------------------------------

function checkPacket(packet: IncomingPacket, maxPacketBytes: number): void {
  switch (packet.kind) {
    case "publish":
      expect(packet.topic.length).toBeGreaterThan(0);
      expect(/[+#\u0000]/.test(packet.topic)).toBe(false);
      expect(packet.qos === 0 || packet.qos === 1).toBe(true);
      expect(packet.qos === 1 ? packet.packetId >= 1 && packet.packetId <= 0xffff : packet.packetId === 0).toBe(true);
      // The buffer behind the payload is the packet's own and never larger than the bound.
      expect(packet.payload.buffer.byteLength).toBeLessThanOrEqual(maxPacketBytes);
      break;
    case "suback":
      expect(packet.returnCodes.length).toBeGreaterThan(0);
      for (const code of packet.returnCodes) expect(code <= 2 || code === SUBACK_FAILURE).toBe(true);
      expect(packet.packetId).toBeGreaterThan(0);
      break;
    case "puback":
      expect(packet.packetId).toBeGreaterThan(0);
      break;
    default:
      break;
  }
}

describe("device MQTT decoder under fuzzing (never throws, bounded, always progresses)", () => {
  it("random, valid and mutated broker streams in random chunks", () => {
    const input = fc.tuple(brokerBytes, chunkSizes, fc.integer({ min: MIN_MAX_PACKET_BYTES, max: 1024 }));
    fuzzProperty("mqtt.decoder", 3000, input, ([bytes, sizes, maxPacketBytes]) => {
      const decoder = new MqttDecoder(maxPacketBytes);
      let offset = 0;
      for (let i = 0; offset < bytes.length; i++) {
        const end = Math.min(bytes.length, offset + sizes[i % sizes.length]!);
        let at = offset;
        while (at < end) {
          const next = decoder.consume(bytes, at, end);
          expect(next).toBeGreaterThan(at); // a byte at least, or the rest after an error
          expect(next).toBeLessThanOrEqual(end);
          at = next;
          if (decoder.error !== undefined) {
            expect(at).toBe(end);
            expect(decoder.take()).toBeUndefined();
            // An error ends the stream: whatever follows is swallowed, and the error stays.
            const reason = decoder.error;
            expect(decoder.consume(bytes, 0, bytes.length)).toBe(bytes.length);
            expect(decoder.error).toBe(reason);
            return;
          }
          const packet = decoder.take();
          if (packet) checkPacket(packet, maxPacketBytes);
        }
        offset = end;
      }
    });
  });

  it("a packet announced larger than maxPacketBytes is refused before its body is buffered", () => {
    const announce = fc.tuple(fc.constantFrom(0x30, 0x32, 0x90), fc.integer({ min: 0, max: 268_435_455 }), fc.integer({ min: MIN_MAX_PACKET_BYTES, max: 4096 }));
    fuzzProperty("mqtt.decoder-too-large", 1000, announce, ([first, remaining, maxPacketBytes]) => {
      const length: number[] = [];
      let rest = remaining;
      do {
        let digit = rest % 128;
        rest = Math.floor(rest / 128);
        if (rest > 0) digit |= 0x80;
        length.push(digit);
      } while (rest > 0);
      const header = Uint8Array.of(first, ...length);
      const decoder = new MqttDecoder(maxPacketBytes);
      decoder.consume(header, 0, header.length);
      if (1 + length.length + remaining > maxPacketBytes) {
        expect(decoder.tooLarge).toBe(true);
        expect(decoder.error).toBeDefined();
      } else {
        expect(decoder.tooLarge).toBe(false);
      }
    });
  });
});

// --- a hostile broker over TCP --------------------------------------------------------------------

interface HostileConnection {
  readonly socket: net.Socket;
  /** Packets the client sent on it. */
  readonly packets: Packet[];
}

/**
 * A TCP broker that answers CONNECT with CONNACK (and SUBSCRIBE with SUBACK, so that the collector's
 * start() resolves), and otherwise does what the test says with the connection.
 */
class HostileBroker {
  readonly connections: HostileConnection[] = [];
  #server: net.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const sockets = new Set<net.Socket>();
    this.#server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
      const connection: HostileConnection = { socket, packets: [] };
      this.connections.push(connection);
      const parser = createParser({ protocolVersion: 4 });
      parser.on("packet", (packet: Packet) => {
        connection.packets.push(packet);
        if (socket.destroyed) return;
        if (packet.cmd === "connect") socket.write(generate({ cmd: "connack", returnCode: 0, sessionPresent: false }));
        if (packet.cmd === "subscribe") socket.write(generate({ cmd: "suback", messageId: packet.messageId, granted: packet.subscriptions.map(() => 1) }));
      });
      parser.on("error", () => socket.destroy());
      socket.on("data", (chunk: Buffer) => parser.parse(chunk));
    });
    this.port = await listen(this.#server, 0);
    cleanups.push(async () => {
      const closed = new Promise<void>((resolve) => this.#server!.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    });
  }

  /** Sends `bytes` on the newest connection in `sizes` chunks, then closes its side. */
  async attack(bytes: Uint8Array, sizes: readonly number[]): Promise<void> {
    const { socket } = this.connections.at(-1)!;
    for (let at = 0, i = 0; at < bytes.length && !socket.destroyed; i++) {
      const size = sizes[i % sizes.length]!;
      await new Promise<void>((resolve) => socket.write(bytes.subarray(at, at + size), () => resolve()));
      at += size;
    }
    socket.end();
  }
}

/** Exceptions that reached the event loop while a case ran (they fail that case). */
const escaped: unknown[] = [];
const onEscape = (error: unknown): void => {
  escaped.push(error);
};
beforeAll(() => {
  process.on("uncaughtException", onEscape);
  process.on("unhandledRejection", onEscape);
});
afterAll(() => {
  process.off("uncaughtException", onEscape);
  process.off("unhandledRejection", onEscape);
});
afterEach(runCleanups);

function expectNothingEscaped(): void {
  if (escaped.length > 0) throw new Error(`an exception escaped to the event loop: ${String(escaped.splice(0)[0])}`);
}

/** Log events that mean a client's own code threw while handling the network's input. */
const DEFECTS = ["mqtt.socket_failed", "mqtt.internal_error", "mqtt.callback_threw"];

function expectNoDefects(logs: readonly LogEntry[]): void {
  const defect = logs.find((e) => DEFECTS.includes(e.event));
  if (defect) throw new Error(`client defect: ${defect.event} ${JSON.stringify(defect.detail)}`);
}

/**
 * One case for a client that reconnects by itself: the newest connection is up (CONNACK answered);
 * the broker sends `bytes` and closes; the client must come back on a new connection and be up again.
 */
async function hostileCase(broker: HostileBroker, ups: () => number, bytes: Uint8Array, sizes: readonly number[], logs: readonly LogEntry[]): Promise<void> {
  const connectionsBefore = broker.connections.length;
  const upsBefore = ups();
  await broker.attack(bytes, sizes);
  await waitFor(() => broker.connections.length > connectionsBefore && ups() > upsBefore, "the client to connect again and get its CONNACK", CASE_MS);
  expectNoDefects(logs);
  expectNothingEscaped();
}

/** One hostile case may take a reconnect (backoff up to 50 ms here) and a few localhost round trips. */
const CASE_MS = 10_000;
/** The collectors' database, opened at the top of the file so that it is removed after it. */
const collectorDb = await testCollectorDb();
const CASES = 150;

describe("node MQTT clients against a hostile broker (real TCP)", () => {
  it("the device client drops what it cannot parse, connects again, and never throws", { timeout: fuzzTestTimeout(CASES, 100) }, async () => {
    const broker = new HostileBroker();
    await broker.start();
    const { transport, changes, logs } = makeDeviceTransport(broker.port, { keepAliveSeconds: 0, reconnect: { initialMs: 5, maxMs: 50 } });
    const delivered: Array<{ topic: string; payload: Uint8Array }> = [];
    transport.subscribe("#", (topic, payload) => delivered.push({ topic, payload }));
    transport.start();
    const ups = () => changes.filter((c) => c).length;
    await waitFor(() => ups() === 1, "the first CONNACK", CASE_MS);
    await fuzzAsyncProperty("mqtt.device-client", CASES, CASE_MS, fc.tuple(brokerBytes, chunkSizes), async ([bytes, sizes]) => {
      delivered.length = 0;
      await hostileCase(broker, ups, bytes, sizes, logs);
      for (const message of delivered) {
        expect(message.payload).toBeInstanceOf(Uint8Array);
        expect(message.topic.length).toBeGreaterThan(0);
      }
    });
    expect(transport.connected).toBe(true);
  });

  it("the simulator's client (mqtt-packet) drops what it cannot parse, connects again, and never throws", { timeout: fuzzTestTimeout(CASES, 100) }, async () => {
    const broker = new HostileBroker();
    await broker.start();
    const logs: LogEntry[] = [];
    const changes: boolean[] = [];
    const transport = new MqttTransport({
      url: `mqtt://127.0.0.1:${broker.port}`,
      clientId: "fuzz-node",
      keepaliveSeconds: 0,
      reconnect: { initialMs: 5, maxMs: 50 },
      log: (level, event, detail) => logs.push({ level, event, detail }),
    });
    transport.onConnectionChange((connected) => changes.push(connected));
    cleanups.push(() => transport.close());
    const delivered: Uint8Array[] = [];
    transport.subscribe("#", (_topic, payload) => delivered.push(payload));
    transport.start();
    const ups = () => changes.filter((c) => c).length;
    await waitFor(() => ups() === 1, "the first CONNACK", CASE_MS);
    await fuzzAsyncProperty("mqtt.node-client", CASES, CASE_MS, fc.tuple(brokerBytes, chunkSizes), async ([bytes, sizes]) => {
      delivered.length = 0;
      await hostileCase(broker, ups, bytes, sizes, logs);
      for (const payload of delivered) expect(Buffer.isBuffer(payload)).toBe(false);
    });
    expect(transport.connected).toBe(true);
  });

  it("the collector's mqtt.js client takes whatever the broker sends without crashing the process", { timeout: fuzzTestTimeout(60, 200) }, async () => {
    const broker = new HostileBroker();
    await broker.start();
    const keyring = new Keyring();
    keyring.add("street-01", "demo-street", new Uint8Array(32).fill(7));
    // Summary and health topics, so that PUBLISH packets reach the collector's own handling.
    const collectorBytes = fc.oneof(
      brokerBytes,
      fc
        .array(fc.record({ topic: fc.constantFrom("civicnode/demo-street/street-01/summary", "civicnode/demo-street/street-01/health"), payload: fc.uint8Array({ maxLength: 200 }), qos: fc.constantFrom<0 | 1>(0, 1), messageId: packetId }), { minLength: 1, maxLength: 4 })
        .map((publishes) => new Uint8Array(Buffer.concat(publishes.map((p) => generate({ cmd: "publish", topic: p.topic, payload: Buffer.from(p.payload), qos: p.qos, messageId: p.messageId, retain: false, dup: false }))))),
    );
    let n = 0;
    await fuzzAsyncProperty("mqtt.collector-client", 60, CASE_MS, fc.tuple(collectorBytes, chunkSizes), async ([bytes, sizes]) => {
      const logs: LogEntry[] = [];
      const collector = new Collector({ brokerUrl: `mqtt://127.0.0.1:${broker.port}`, keyring, db: collectorDb, clientId: `fuzz-collector-${++n}`, log: (level, event, detail) => logs.push({ level, event, detail }) });
      try {
        await collector.start();
        await broker.attack(bytes, sizes);
        await waitFor(() => logs.some((e) => e.event === "collector-offline"), "the collector to notice the closed connection", CASE_MS);
      } finally {
        await collector.stop();
      }
      expect(collector.stats.accepted).toBe(0); // nothing here is sealed with the device's key
      expect(collector.stats.store.failures).toBe(0); // whatever a message says, recording its rejection is not a database failure
      expect(logs.some((e) => e.event === "collector-open-defect")).toBe(false);
      expectNothingEscaped();
    });
    const stored = await storedLines(collectorDb);
    expect(stored.summaries.length + stored.health.length).toBe(0);
  });
});
