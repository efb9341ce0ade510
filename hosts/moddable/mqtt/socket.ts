/**
 * The part of an ECMA-419 TCP socket (`embedded:io/socket/tcp`, or `embedded:io/socket/tcp/tls`
 * over it) that the MQTT session uses, with format "buffer". The Moddable main constructs the real
 * socket in `OpenSocket`; tests adapt a Node socket to the same behaviour.
 *
 * What the session relies on, as the SDK implements it (modules/io/socket/lwip/tcp.c for ESP32,
 * modules/io/socket/lin/tcp.c for the Linux simulator, examples/io/tcp/tlssocket/tlssocket.js):
 *  - callbacks never run inside the constructor or inside `read`/`write`; they are delivered later
 *    from the event loop;
 *  - the first `onWritable(count)` says the connection is established (for TLS: the handshake is
 *    done); later ones say how much may be written now;
 *  - `write(buffer)` throws when the buffer is larger than the writable count and returns the
 *    count left (the TLS socket: an estimate of it);
 *  - `onReadable(count)` reports the bytes available now, and is only repeated when more arrive;
 *    `read(buffer)` fills a buffer of at most that many bytes and returns the count read
 *    (plain TCP throws when the buffer is larger than what is available; TLS reads what it has);
 *    it returns undefined when nothing is available;
 *  - `onError()` reports a failed connect, a reset or the peer's clean close, after the bytes
 *    received before it have been read; the socket is unusable afterwards but still holds its
 *    resources until `close()`;
 *  - after `close()` no callback runs.
 */
export interface SocketCallbacks {
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(): void;
}

export interface SocketLike {
  /** Reads into all of `buffer` (at most the last readable count); returns the number of bytes read. */
  read(buffer: Uint8Array): number | undefined | void;
  /** Writes all of `buffer` (at most the last writable count); returns the writable count left. */
  write(buffer: Uint8Array): number | undefined | void;
  close(): void;
}

/**
 * Opens a connection to `host`:`port` and reports on it through `callbacks`. May throw (no socket,
 * no memory, bad address); connection failures come later through `onError`. The ECMA-419 TCP
 * socket takes only an IP `address`: a factory given a host name resolves it first (with
 * `embedded:network/dns/resolver`) and reports a failed lookup through `onError` too.
 */
export type OpenSocket = (host: string, port: number, callbacks: SocketCallbacks) => SocketLike;
