/**
 * A scripted MQTT session for the device transport, portable so that it runs unchanged in Node and
 * in the XS engine (xsnap-worker): an in-memory socket with ECMA-419 TCP semantics plays the
 * broker byte by byte, and virtual time (SimClock) drives the keepalive and the reconnect. The
 * result (every byte the client wrote, its log, settlements, messages) must be identical on both.
 */
import { DeviceMqttTransport } from "../../../hosts/moddable/mqtt/mqtt-session.js";
import type { SocketCallbacks, SocketLike } from "../../../hosts/moddable/mqtt/socket.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";

/** One connection as the broker sees it: what the client wrote, and a way to answer. */
class ScriptedSocket implements SocketLike {
  readonly written: number[] = [];
  readonly #inbox: number[] = [];
  #writable = 0;
  closed = false;

  constructor(readonly callbacks: SocketCallbacks) {}

  read(buffer: Uint8Array): number | undefined {
    if (this.closed) throw new TypeError("closed");
    if (this.#inbox.length === 0) return undefined;
    if (buffer.length > this.#inbox.length) throw new Error("invalid");
    buffer.set(this.#inbox.splice(0, buffer.length));
    return buffer.length;
  }

  write(buffer: Uint8Array): number {
    if (this.closed) throw new TypeError("closed");
    if (buffer.length > this.#writable) throw new Error("would block");
    this.#writable -= buffer.length;
    for (const byte of buffer) this.written.push(byte);
    return this.#writable;
  }

  close(): void {
    if (this.closed) throw new TypeError("closed");
    this.closed = true;
  }

  /** Room for `count` bytes (the first call: the connection is up). */
  writableNow(count: number): void {
    this.#writable = count;
    this.callbacks.onWritable(count);
  }

  deliver(bytes: readonly number[]): void {
    for (const byte of bytes) this.#inbox.push(byte);
    this.callbacks.onReadable(this.#inbox.length);
  }
}

export interface ScenarioResult {
  /** Hex of every byte the client wrote, per connection. */
  readonly connections: string[];
  readonly events: string[];
  readonly settled: boolean[];
  readonly messages: string[];
  readonly changes: boolean[];
  readonly connected: boolean;
  readonly socketsClosed: boolean[];
}

const hex = (bytes: readonly number[]): string => bytes.map((b) => (b < 16 ? "0" : "") + b.toString(16)).join("");

export function runMqttScenario(): ScenarioResult {
  const clock = new SimClock({ startWallMs: 0 });
  const sockets: ScriptedSocket[] = [];
  const events: string[] = [];
  const settled: boolean[] = [];
  const messages: string[] = [];
  const changes: boolean[] = [];
  const transport = new DeviceMqttTransport({
    host: "192.0.2.1",
    port: 1883,
    clientId: "civicnode-xs",
    keepAliveSeconds: 10,
    maxPacketBytes: 256,
    reconnect: { initialMs: 100, maxMs: 1000 },
    openSocket: (_host, _port, callbacks) => {
      const socket = new ScriptedSocket(callbacks);
      sockets.push(socket);
      return socket;
    },
    timers: clock,
    clock,
    random: new SeededRandom("xs-mqtt"),
    log: (_level, event) => events.push(event),
  });
  transport.onConnectionChange((connected) => changes.push(connected));
  transport.subscribe("cmd/#", (topic, payload) => messages.push(`${topic}:${hex([...payload])}`));
  transport.start();

  const first = sockets[0]!;
  first.writableNow(16); // CONNECT (26 bytes) goes out in two pieces
  first.writableNow(64);
  first.deliver([0x20, 0x02, 0x00, 0x00]); // CONNACK
  first.deliver([0x90, 0x03, 0x00, 0x01, 0x01]); // SUBACK for packet 1
  const payload = new Uint8Array(100);
  for (let i = 0; i < payload.length; i++) payload[i] = i;
  transport.publish("up/x", payload, { qos: 1 }, (d) => settled.push(d)); // packet 2, 108 bytes
  first.writableNow(64);
  first.writableNow(64);
  first.deliver([0x40, 0x02, 0x00]); // PUBACK for packet 2, split
  first.deliver([0x02]);
  first.deliver([0x32, 0x0f, 0x00, 0x0a, ...[..."cmd/reboot"].map((c) => c.charCodeAt(0)), 0x12]); // QoS 1 PUBLISH, split
  first.deliver([0x34, 0x07]);
  clock.advanceBy(10_000); // a keepalive of silence: PINGREQ
  first.deliver([0xd0, 0x00]); // PINGRESP
  transport.publish("up/y", new Uint8Array([1]), { qos: 1 }, (d) => settled.push(d));
  first.callbacks.onError(); // the connection drops: up/y settles false
  clock.advanceBy(1000); // the reconnect

  const second = sockets[1]!;
  second.writableNow(1536);
  second.deliver([0x20, 0x02, 0x00, 0x00, 0xd0]); // CONNACK, then the start of a PINGRESP
  second.deliver([0x00, 0x30, 0xff, 0x7f]); // its end, then a PUBLISH announcing 16,383 bytes: too large
  clock.advanceBy(2000);
  transport.close();

  return {
    connections: sockets.map((s) => hex(s.written)),
    events,
    settled,
    messages,
    changes,
    connected: transport.connected,
    socketsClosed: sockets.map((s) => s.closed),
  };
}
