/**
 * Shared pieces of the device MQTT client's tests: the client itself over the ECMA-419 socket
 * adapter with real timers, and (re-exported) the brokers and peer client of
 * test/support/mqtt-test-brokers.ts. Everything a test starts is undone after it (`cleanups`).
 */

import { DeviceMqttTransport, type DeviceMqttTransportOptions } from "../../../hosts/moddable/mqtt/mqtt-session.js";
import type { SocketCallbacks } from "../../../hosts/moddable/mqtt/socket.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import { Ecma419TcpSocket, type Ecma419TcpOptions } from "../../support/ecma419-tcp.js";
import { RealTimers, realClock } from "../../support/real-time.js";

export {
  bytes,
  cleanups,
  holdingPubacks,
  ignore,
  listen,
  peerClient,
  runCleanups,
  startBroker,
  startFakeBroker,
  type FakeBroker,
  type LogEntry,
  type TestBroker,
} from "../../support/mqtt-test-brokers.js";
import { cleanups, type LogEntry } from "../../support/mqtt-test-brokers.js";

let clientCounter = 0;

export interface DeviceClient {
  readonly transport: DeviceMqttTransport;
  readonly logs: LogEntry[];
  readonly changes: boolean[];
  readonly clientId: string;
  readonly timers: RealTimers;
  /** Every socket the transport opened, in order. */
  readonly sockets: Ecma419TcpSocket[];
  events(name: string): LogEntry[];
}

/**
 * The device transport over the ECMA-419 adapter, with fast reconnects, real timers and a seeded
 * jitter source, recording its log and its connection changes. Not started.
 */
export function makeDeviceTransport(
  port: number,
  options: Partial<DeviceMqttTransportOptions> = {},
  socketOptions: Partial<Ecma419TcpOptions> = {},
): DeviceClient {
  const logs: LogEntry[] = [];
  const changes: boolean[] = [];
  const clientId = `device-${++clientCounter}`;
  const timers = new RealTimers();
  const sockets: Ecma419TcpSocket[] = [];
  const openSocket = (host: string, socketPort: number, callbacks: SocketCallbacks): Ecma419TcpSocket => {
    const socket = new Ecma419TcpSocket({
      address: host,
      port: socketPort,
      nodelay: true,
      format: "buffer",
      onReadable: callbacks.onReadable,
      onWritable: callbacks.onWritable,
      onError: callbacks.onError,
      ...socketOptions,
    });
    sockets.push(socket);
    return socket;
  };
  const transport = new DeviceMqttTransport({
    host: "127.0.0.1",
    port,
    clientId,
    reconnect: { initialMs: 10, maxMs: 50 },
    openSocket,
    timers,
    clock: realClock,
    random: new SeededRandom(`jitter-${clientId}`),
    log: (level, event, detail) => logs.push({ level, event, detail }),
    ...options,
  });
  transport.onConnectionChange((connected) => changes.push(connected));
  cleanups.push(() => transport.close());
  return { transport, logs, changes, clientId, timers, sockets, events: (name) => logs.filter((e) => e.event === name) };
}
