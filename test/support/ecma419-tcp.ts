/**
 * A Node `net.Socket` dressed as an ECMA-419 TCP socket (`embedded:io/socket/tcp`, format
 * "buffer"), so that the device's MQTT client runs over real TCP in tests.
 *
 * It reproduces the behaviour of the Moddable SDK's implementations (modules/io/socket/lwip/tcp.c
 * on ESP32, modules/io/socket/lin/tcp.c on the Linux simulator; documentation/io/io.md, "TCP
 * Socket"), strictly where they are strict, so that a client that gets away with something here
 * also gets away with it on the device:
 *  - callbacks run later from the event loop, never inside the constructor, `read` or `write`,
 *    with `this` the socket, in the order writable, readable, error (lin's reportTrigger);
 *  - the first `onWritable(count)` reports the established connection; afterwards `onWritable`
 *    reports room freed as written bytes leave (lwip's tcpSent), with the count now writable;
 *  - `write` before the connection is up throws "not ready" (lwip); a buffer larger than the
 *    writable count throws "would block" and writes nothing (both); after an error it does
 *    nothing (lwip); it returns the count left writable;
 *  - `onReadable(count)` reports all bytes received and not yet read, only when new bytes arrive;
 *    `read(buffer)` fills the whole buffer, throws "invalid" when it is larger than what is
 *    available, returns the number of bytes read, and undefined when nothing is available;
 *    `read(n)` / `read()` return an ArrayBuffer; received bytes beyond `readableBytes` stay in
 *    the kernel until the reader catches up (lin stops reading at its 1,536-byte buffer);
 *  - `onError()` reports a failed connect, a reset and also a clean close by the peer, but only
 *    once everything received before it has been read; after `close()` nothing is called and
 *    every method throws, as on a closed host object.
 */
import * as net from "node:net";

export interface Ecma419TcpOptions {
  /** IPv4 address; `host` is accepted too, as the TLS variant passes it. */
  readonly address?: string;
  readonly host?: string;
  readonly port: number;
  readonly nodelay?: boolean;
  readonly format?: "buffer";
  readonly onReadable?: (this: Ecma419TcpSocket, count: number) => void;
  readonly onWritable?: (this: Ecma419TcpSocket, count: number) => void;
  readonly onError?: (this: Ecma419TcpSocket) => void;
  /** Bytes that may be written before earlier writes have left. Default 1,536, lin's buffer. */
  readonly writableBytes?: number;
  /** Bytes held for the reader before reading from the network pauses. Default 1,536. */
  readonly readableBytes?: number;
}

const DEFAULT_BUFFER_BYTES = 1536;

export class Ecma419TcpSocket {
  readonly #net: net.Socket;
  readonly #options: Ecma419TcpOptions;
  readonly #readableBytes: number;
  #writable = 0;
  #connected = false;
  #errored = false;
  #errorReported = false;
  #closed = false;
  readonly #received: Buffer[] = [];
  #readable = 0;
  /** Notifications waiting for the next turn of the event loop. */
  #pendingWritable = false;
  #pendingReadable = false;
  #pendingError = false;
  #scheduled: NodeJS.Immediate | undefined;

  constructor(options: Ecma419TcpOptions) {
    const address = options.address ?? options.host;
    if (typeof address !== "string") throw new TypeError("address required");
    if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) throw new RangeError("invalid port");
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError("unimplemented");
    this.#options = options;
    this.#readableBytes = options.readableBytes ?? DEFAULT_BUFFER_BYTES;
    const writableBytes = options.writableBytes ?? DEFAULT_BUFFER_BYTES;
    this.#net = net.connect({ host: address, port: options.port, noDelay: options.nodelay ?? false });
    this.#net.on("connect", () => {
      this.#connected = true;
      this.#writable = writableBytes;
      this.#notify("writable");
    });
    this.#net.on("data", (chunk: Buffer) => {
      this.#received.push(chunk);
      this.#readable += chunk.length;
      if (this.#readable >= this.#readableBytes) this.#net.pause();
      this.#notify("readable");
    });
    // A clean close by the peer ('end') is an error too; 'error' and 'close' cover resets and
    // failed connects. Data received before any of them stays readable.
    const fail = (): void => {
      this.#errored = true;
      this.#notify("error");
    };
    this.#net.on("end", fail);
    this.#net.on("error", fail);
    this.#net.on("close", fail);
  }

  get format(): "buffer" {
    this.#checkOpen();
    return "buffer";
  }

  set format(value: string) {
    this.#checkOpen();
    if (value !== "buffer") throw new RangeError("unimplemented");
  }

  read(buffer: ArrayBuffer | ArrayBufferView): number | undefined;
  read(count?: number): ArrayBuffer | undefined;
  read(target?: number | ArrayBuffer | ArrayBufferView): number | ArrayBuffer | undefined {
    this.#checkOpen();
    if (this.#readable === 0) return undefined;
    let out: Uint8Array;
    let result: number | ArrayBuffer;
    if (target === undefined || typeof target === "number") {
      const count = target ?? this.#readable;
      if (!(count > 0) || count > this.#readable) throw new Error("invalid");
      const buffer = new ArrayBuffer(count);
      out = new Uint8Array(buffer);
      result = buffer;
    } else {
      out = ArrayBuffer.isView(target)
        ? new Uint8Array(target.buffer, target.byteOffset, target.byteLength)
        : new Uint8Array(target);
      if (out.length === 0 || out.length > this.#readable) throw new Error("invalid");
      result = out.length;
    }
    let filled = 0;
    while (filled < out.length) {
      const head = this.#received[0]!;
      const take = Math.min(head.length, out.length - filled);
      out.set(head.subarray(0, take), filled);
      filled += take;
      if (take === head.length) this.#received.shift();
      else this.#received[0] = head.subarray(take);
    }
    this.#readable -= out.length;
    if (this.#readable < this.#readableBytes && this.#net.isPaused()) this.#net.resume();
    if (this.#readable === 0 && this.#errored) this.#notify("error");
    return result;
  }

  write(buffer: ArrayBuffer | ArrayBufferView): number | undefined {
    this.#checkOpen();
    if (this.#errored) return undefined;
    if (!this.#connected) throw new Error("not ready");
    const bytes = ArrayBuffer.isView(buffer)
      ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
      : new Uint8Array(buffer);
    const count = bytes.length;
    if (count > this.#writable) throw new Error("would block");
    this.#writable -= count;
    // A copy: the caller may reuse its buffer at once, as the SDK copies (TCP_WRITE_FLAG_COPY).
    this.#net.write(Buffer.from(bytes), () => {
      if (this.#closed) return;
      this.#writable += count;
      this.#notify("writable");
    });
    return this.#writable;
  }

  close(): void {
    this.#checkOpen();
    this.#closed = true;
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#net.destroy();
  }

  /** Bytes the peer sent that are waiting to be read (for tests of the adapter). */
  get bufferedForRead(): number {
    return this.#readable;
  }

  #checkOpen(): void {
    if (this.#closed) throw new TypeError("closed");
  }

  #notify(kind: "writable" | "readable" | "error"): void {
    if (this.#closed) return;
    if (kind === "writable") this.#pendingWritable = true;
    else if (kind === "readable") this.#pendingReadable = true;
    else this.#pendingError = true;
    this.#scheduled ??= setImmediate(() => this.#deliver());
  }

  #deliver(): void {
    this.#scheduled = undefined;
    const { onReadable, onWritable, onError } = this.#options;
    if (this.#pendingWritable) {
      this.#pendingWritable = false;
      if (!this.#errored && this.#writable > 0) onWritable?.call(this, this.#writable);
    }
    if (this.#closed) return;
    if (this.#pendingReadable) {
      this.#pendingReadable = false;
      if (this.#readable > 0) onReadable?.call(this, this.#readable);
    }
    if (this.#closed) return;
    if (this.#pendingError && this.#readable === 0 && !this.#errorReported) {
      this.#pendingError = false;
      this.#errorReported = true;
      onError?.call(this);
    }
  }
}
