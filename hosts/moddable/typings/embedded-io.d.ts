// ECMA-419 IO classes of the Moddable SDK (modules/io), the members civicnode uses.

declare module "embedded:io/i2c" {
  class I2C {
    constructor(options: { data: number; clock: number; hz: number; address: number; port?: number });
    /** Fills `buffer`; throws on NACK. */
    read(buffer: ArrayBufferView | ArrayBuffer, stop?: boolean): number;
    /** Writes all of `buffer`; throws on NACK. */
    write(buffer: ArrayBufferView | ArrayBuffer, stop?: boolean): void;
    // no close(): the SDK's typing has none, though the implementation does (see sdk-close.ts)
  }
  export default I2C;
}

declare module "embedded:io/serial" {
  class Serial {
    constructor(options: {
      receive?: number;
      transmit?: number;
      baud: number;
      port: number;
      format?: "buffer";
      /** Bytes are waiting in the receive FIFO. */
      onReadable?: (this: Serial, count: number) => void;
    });
    /** Reads up to `buffer.byteLength` waiting bytes into it; returns how many, or undefined when none wait. */
    read(buffer: ArrayBufferView | ArrayBuffer): number | undefined;
    write(buffer: ArrayBufferView | ArrayBuffer): void;
    close(): void;
  }
  export default Serial;
}

declare module "embedded:io/analog" {
  class Analog {
    constructor(options: { pin: number; resolution?: number });
    readonly resolution: number;
    read(): number;
    // no close(): the SDK's typing has none, though the implementation does (see sdk-close.ts)
  }
  export default Analog;
}

declare module "embedded:io/digital" {
  class Digital {
    static readonly Input: number;
    static readonly InputPullUp: number;
    static readonly InputPullDown: number;
    static readonly Output: number;
    static readonly Rising: number;
    static readonly Falling: number;
    constructor(options: { pin: number; mode: number; edge?: number; onReadable?: (this: Digital) => void });
    read(): 0 | 1;
    write(value: 0 | 1): void;
    close(): void;
  }
  export default Digital;
}

// The sockets as the SDK types them (typings/embedded_io/socket/tcp.d.ts, tls.d.ts), because a
// Moddable build compiles against those. Where the implementations do more than the typings say,
// the code relies only on what the typings say (see broker-socket.ts).
declare module "embedded:io/socket/tcp" {
  export type Options = ((({ address: string } | { host: string }) & { port: number }) | { from: TCP }) & {
    nodelay?: boolean;
    /** Bytes arrived; read them. */
    onReadable?: (this: TCP, bytes: number) => void;
    /** The connection is open (first call) or room for `bytes` more to write. */
    onWritable?: (this: TCP, bytes: number) => void;
    /** The connection failed or ended; the socket is unusable. */
    onError?: (this: TCP) => void;
    format?: "number" | "buffer";
    target?: any;
  };
  export default class TCP {
    constructor(options: Options);
    readonly remoteAddress: string | undefined;
    readonly remotePort: number | undefined;
    read(byteLength?: number): number | ArrayBuffer;
    /** Typed void by the SDK; the implementations return the count read. */
    read(buffer: ByteBuffer): void;
    write(value: number | ByteBuffer): void;
    close(): void;
    get format(): "number" | "buffer";
    set format(value: "number" | "buffer");
  }
}

declare module "embedded:io/socket/tcp/tls" {
  import { Options as TCPOptions } from "embedded:io/socket/tcp";
  export type Options = TCPOptions & {
    host: string;
    /** TLS settings of the SDK's SSL stack: `certificate` pins a CA (DER); `verify` stays true. */
    secure: Record<string, any>;
  };
  export default class TLSSocket {
    constructor(options: Options);
    close(): undefined;
    read(count: number | ArrayBufferLike): undefined | ArrayBufferLike;
    write(buffer: ArrayBufferLike): number;
    set format(format: string);
    get format(): string;
  }
}
