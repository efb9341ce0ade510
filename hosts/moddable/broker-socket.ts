/**
 * Opens the connection to the MQTT broker with the ECMA-419 sockets: plain TCP
 * (`embedded:io/socket/tcp`), or TLS over it (`embedded:io/socket/tcp/tls`, the SDK's TLS 1.2
 * stack) when the firmware pins a CA for an mqtts:// broker (docs/tls.md). The TCP socket takes
 * only an IP address: a host name is looked up by DNS first (`Net.resolve`), and a failed look-up
 * is reported like a failed connection, through `onError`, so the session's backoff handles both
 * the same way.
 */
import Net from "net";
import TCP, { type Options as TcpOptions } from "embedded:io/socket/tcp";
// The SDK types this module (typings/embedded_io/socket/tls.d.ts), but a build maps its name to the
// SDK example's JavaScript (manifest.json), which tsc then finds first and reports as untyped.
// @ts-ignore
import TLSSocket from "embedded:io/socket/tcp/tls";
import type { OpenSocket, SocketCallbacks, SocketLike } from "./mqtt/socket.js";

export interface BrokerSocketSettings {
  /** The pinned CA certificate (DER) of an mqtts:// broker; without it, plain TCP. */
  readonly certificate?: ArrayBuffer;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export function brokerSocket(settings: BrokerSocketSettings): OpenSocket {
  const certificate = settings.certificate;
  if (!certificate) {
    return (host, port, callbacks) => resolvedSocket(host, callbacks, (address) => new TCP({ address, port, nodelay: true, format: "buffer", ...handlers(callbacks) }));
  }
  return (host, port, callbacks) => resolvedSocket(host, callbacks, (address) => tlsSocket(address, port, host, certificate, callbacks));
}

/**
 * Bytes of each writable count held back for TLS record overhead. The SDK's TLS socket reserves
 * 32 bytes per record, enough for AES-GCM (29) but not for a CBC suite (header, IV, MAC and
 * padding: up to 69 with SHA-256), and a record larger than the TCP socket's writable count makes
 * its write throw ("would block"). Verified against mosquitto in the Linux simulator.
 */
const TLS_RECORD_RESERVE = 64;

function tlsSocket(address: string, port: number, host: string, certificate: ArrayBuffer, callbacks: SocketCallbacks): SocketLike {
  const reserve = (count: number) => Math.max(0, count - TLS_RECORD_RESERVE);
  const options = {
    address,
    port,
    host, // the server name: sent as SNI and matched against the broker's certificate
    nodelay: true,
    format: "buffer" as const,
    // the TCP socket the TLS socket runs over (not in the SDK's typing; its implementation needs it)
    TCP: { io: GuardedTCP },
    // verify stays at its default (true); only this CA is trusted, as no SDK store is built in
    secure: { certificate },
    onReadable: (count: number) => callbacks.onReadable(count),
    onWritable: (count: number) => callbacks.onWritable(reserve(count)),
    onError: () => callbacks.onError(),
  };
  // Its typing takes only an ArrayBuffer to read into; the implementation takes a view and
  // returns the count read, as SocketLike says (examples/io/tcp/tlssocket/tlssocket.js).
  const socket = new TLSSocket(options) as unknown as SocketLike;
  return {
    read: (buffer) => socket.read(buffer),
    write: (buffer) => {
      const left = socket.write(buffer);
      return typeof left === "number" ? reserve(left) : left;
    },
    close: () => socket.close(),
  };
}

/**
 * The TCP socket under TLS. The TLS socket runs its handshake inside the TCP socket's callbacks,
 * and a broker it must refuse (wrong CA, wrong name, expired) makes the handshake throw there,
 * where nothing would catch it and the firmware would abort. Here it becomes a failed connection.
 */
class GuardedTCP {
  readonly #socket: TCP;

  constructor(options: TcpOptions) {
    const failed = (): void => {
      try {
        options.onError?.call(this.#socket);
      } catch {
        // the TLS socket passes the failure on to the session, which does not throw
      }
    };
    const guard = (callback: ((this: TCP, bytes: number) => void) | undefined) => (bytes: number) => {
      try {
        callback?.call(this.#socket, bytes);
      } catch {
        failed();
      }
    };
    this.#socket = new TCP({ ...options, onReadable: guard(options.onReadable), onWritable: guard(options.onWritable), onError: failed });
  }

  // The TLS layer uses what the implementations return (bytes read, room left to write), which
  // the SDK's typing declares void: pass it through untouched.
  read(buffer: ByteBuffer): void {
    return this.#socket.read(buffer);
  }

  write(buffer: ByteBuffer): void {
    return this.#socket.write(buffer);
  }

  close(): void {
    this.#socket.close();
  }
}

/** The socket's callbacks, forwarded (the session's callbacks are not bound to the socket). */
export function handlers(callbacks: SocketCallbacks) {
  return {
    onReadable: (count: number) => callbacks.onReadable(count),
    onWritable: (count: number) => callbacks.onWritable(count),
    onError: () => callbacks.onError(),
  };
}

/**
 * A socket to `host` once its address is known. Until then, reads and writes find nothing (the
 * session writes only after the first `onWritable`), and `close()` stops the connection from ever
 * being opened.
 */
export function resolvedSocket(host: string, callbacks: SocketCallbacks, open: (address: string) => SocketLike): SocketLike {
  const literal = host === "localhost" ? "127.0.0.1" : host;
  if (IPV4.test(literal)) return open(literal);
  let socket: SocketLike | undefined;
  let closed = false;
  Net.resolve(host, (_name, address) => {
    if (closed) return;
    if (address === undefined) callbacks.onError();
    else socket = open(address);
  });
  return {
    read: (buffer) => socket?.read(buffer),
    write: (buffer) => socket?.write(buffer),
    close: () => {
      closed = true;
      socket?.close();
    },
  };
}
