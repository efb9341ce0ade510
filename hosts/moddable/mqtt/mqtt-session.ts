/**
 * The device's `Transport`: an MQTT 3.1.1 client over an ECMA-419 TCP (or TLS) socket, in portable
 * TypeScript for the Moddable XS engine.
 *
 * It behaves like the Node host's transport (hosts/node/mqtt-transport.ts), which is the reference:
 * one clean session kept up from `start()` to `close()`, reconnects with exponential backoff and
 * jitter, resubscription after every reconnect, keepalive pings and dead-connection detection. It
 * keeps no state across connections: a QoS 1 publish not acknowledged when the connection drops
 * is settled `false`, and the core's outbox sends it again.
 *
 * What differs is what a microcontroller needs. Every buffer is bounded by an option and allocated
 * once: outgoing packets are encoded in place into a fixed send buffer and written as the socket's
 * `onWritable` counts allow; when a packet does not fit, `publish` returns false instead of memory
 * growing. Incoming packets larger than `maxPacketBytes` end the connection before they are
 * buffered. Time comes from the injected `Clock` and `Timers`, jitter from the injected `Random`.
 *
 * Nothing the network does escapes as an exception: socket errors, refusals and malformed packets
 * are logged (never with payload bytes) and lead to a fresh connection. Callbacks of the caller
 * (`onSettled`, `onMessage`, the connection listener) are never called from inside `publish` or
 * `subscribe`, so a caller never sees a message settle before `publish` has returned.
 *
 * The Moddable main passes a factory that builds the real socket, for example:
 *   openSocket: (host, port, callbacks) => new TCP({ address: host, port, nodelay: true, format: "buffer", ...callbacks })
 * (with `embedded:io/socket/tcp`; see socket.ts for what the session relies on).
 */
import type { Clock, Log, LogDetail, PublishOptions, PublishSettled, Random, Timers, TimerHandle, Transport } from "../../../src/platform.js";
import { utf8Length } from "../../../src/wire/utf8.js";
import {
  DEFAULT_MAX_PACKET_BYTES,
  DISCONNECT_PACKET_BYTES,
  MAX_PACKET_ID,
  MAX_REMAINING_LENGTH,
  MIN_MAX_PACKET_BYTES,
  MqttDecoder,
  PINGREQ_PACKET_BYTES,
  PUBACK_PACKET_BYTES,
  SUBACK_FAILURE,
  connectPacketBytes,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  publishPacketBytes,
  subscribePacketBytes,
  type IncomingPacket,
  type IncomingPublish,
} from "./mqtt-codec.js";
import { ReconnectBackoff } from "./reconnect-backoff.js";
import { SendBuffer } from "./send-buffer.js";
import type { OpenSocket, SocketCallbacks, SocketLike } from "./socket.js";
import { isValidTopicFilter, isValidTopicName, topicMatches } from "./topic-filter.js";

export interface DeviceMqttTransportOptions {
  /** The broker's address, passed to `openSocket` as is. */
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  /**
   * MQTT keepalive in whole seconds, 0..65535. Default 30. 0 turns keepalive off, and with it the
   * detection of dead connections: only `connectTimeoutMs` and the socket's own errors are left.
   */
  readonly keepAliveSeconds?: number;
  /** How many publishes may await their PUBACK (QoS 1) or their write (QoS 0) at once. Default 8. */
  readonly maxInFlight?: number;
  /** Largest packet, fixed header included, in either direction. Default 8 KiB. */
  readonly maxPacketBytes?: number;
  /** Bytes of packets that may wait for the socket. Default: one largest packet and room for acknowledgements. */
  readonly sendBufferBytes?: number;
  /** How many `subscribe` calls the transport accepts. Default 8. */
  readonly maxSubscriptions?: number;
  /** How long the TCP (and TLS) connect plus CONNACK may take. Default 1.5 × keepalive, or 30 s without keepalive. */
  readonly connectTimeoutMs?: number;
  readonly reconnect?: {
    /** First reconnect delay. Default 250 ms. */
    readonly initialMs?: number;
    /** The delay doubles after every failed attempt up to this. Default 10,000 ms. */
    readonly maxMs?: number;
  };
  readonly openSocket: OpenSocket;
  readonly timers: Timers;
  readonly clock: Clock;
  /** For the reconnect jitter. */
  readonly random: Random;
  readonly log?: Log;
}

interface Subscription {
  readonly filter: string;
  readonly onMessage: (topic: string, payload: Uint8Array) => void;
  /** The connection this filter was last subscribed on; another one needs a SUBSCRIBE. */
  sentOn: Link | undefined;
}

/** A QoS 0 publish, settled once the socket has taken its bytes. */
interface PendingWrite {
  /** `SendBuffer.appendedTotal` after its packet: written once `consumedTotal` reaches it. */
  readonly end: number;
  readonly settle: PublishSettled;
}

/** One connection attempt; its socket's callbacks act only while it is the current one. */
interface Link {
  socket: SocketLike | undefined;
  /** Bytes the socket takes now, from its last `onWritable` and `write` results. */
  writable: number;
  /** True from the first `onWritable`: the TCP (and TLS) connection is up. */
  established: boolean;
  /** True from a successful CONNACK until the connection is lost. */
  up: boolean;
  /** Its socket failed while the caller of `publish`/`subscribe` was on the stack; ended by a timer. */
  failing: boolean;
  readonly callbacks: SocketCallbacks;
}

/** CONNACK return codes of MQTT 3.1.1 (3.2.2.3), for the log. */
const CONNACK_REFUSALS: Readonly<Record<number, string>> = Object.freeze({
  1: "unacceptable protocol version",
  2: "identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
});
/**
 * Send-buffer bytes a PUBLISH or SUBSCRIBE must leave free, so that the small packets that keep a
 * session alive (PUBACKs for incoming messages, PINGREQ, DISCONNECT) find room even when
 * publishes have filled the buffer.
 */
const CONTROL_RESERVE_BYTES = 4 * PUBACK_PACKET_BYTES + PINGREQ_PACKET_BYTES + DISCONNECT_PACKET_BYTES;
/** Bytes read from the socket at a time into one reused buffer; the decoder keeps what it needs. */
const READ_CHUNK_BYTES = 256;
/** Upper bound for maxInFlight, leaving packet ids free for SUBSCRIBEs. */
const MAX_IN_FLIGHT_LIMIT = 1024;
const MAX_SUBSCRIPTIONS_LIMIT = 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** The largest packet MQTT can express: a Remaining Length of 268,435,455 and its 5 header bytes. */
const MAX_PACKET_BYTES = MAX_REMAINING_LENGTH + 5;
/** Socket events, dispatched through one method so that each is guarded the same way. */
const READABLE = 0;
const WRITABLE = 1;
const ERROR = 2;

export class DeviceMqttTransport implements Transport {
  readonly #host: string;
  readonly #port: number;
  readonly #clientId: string;
  readonly #clientIdBytes: number;
  readonly #keepAliveSeconds: number;
  readonly #keepAliveMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxInFlight: number;
  readonly #maxSubscriptions: number;
  /** Largest PUBLISH accepted: within maxPacketBytes and queueable in an empty send buffer. */
  readonly #maxPublishBytes: number;
  readonly #openSocket: OpenSocket;
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #log: Log;
  readonly #backoff: ReconnectBackoff;
  readonly #sendBuffer: SendBuffer;
  readonly #decoder: MqttDecoder;
  readonly #readChunk = new Uint8Array(READ_CHUNK_BYTES);

  #state: "idle" | "running" | "closed" = "idle";
  /** The current connection (connecting, awaiting CONNACK or up); undefined between attempts. */
  #link: Link | undefined;
  readonly #subscriptions: Subscription[] = [];
  #connectionListener: ((connected: boolean) => void) | undefined;

  /** QoS 1 publishes awaiting PUBACK, by packet id; at most maxInFlight. */
  readonly #awaitingPuback = new Map<number, PublishSettled>();
  /** QoS 0 publishes whose bytes the socket has not taken yet, oldest first; at most maxInFlight. */
  readonly #awaitingWrite: PendingWrite[] = [];
  /** SUBSCRIBEs awaiting SUBACK, by packet id, with their filters (for the log); at most one per subscription. */
  readonly #awaitingSuback = new Map<number, readonly string[]>();
  #lastPacketId = 0;

  #reconnectTimer: TimerHandle | undefined;
  #keepAliveTimer: TimerHandle | undefined;
  #connectStartedAt = 0;
  #lastSentAt = 0;
  #lastReceivedAt = 0;
  #pingOutstanding = false;

  constructor(options: DeviceMqttTransportOptions) {
    if (typeof options.host !== "string" || options.host === "") throw new TypeError("host must be a non-empty string");
    this.#host = options.host;
    this.#port = integerOption("port", options.port, undefined, 1, 0xffff);
    if (typeof options.clientId !== "string" || options.clientId.includes("\u0000")) {
      throw new TypeError("clientId must be a string without NUL");
    }
    this.#clientId = options.clientId;
    this.#clientIdBytes = utf8Length(options.clientId);
    if (this.#clientIdBytes > 0xffff) throw new RangeError("clientId longer than 65,535 UTF-8 bytes");
    this.#keepAliveSeconds = integerOption("keepAliveSeconds", options.keepAliveSeconds, 30, 0, 0xffff);
    this.#keepAliveMs = this.#keepAliveSeconds * 1000;
    this.#connectTimeoutMs = integerOption(
      "connectTimeoutMs",
      options.connectTimeoutMs,
      this.#keepAliveMs > 0 ? this.#keepAliveMs * 1.5 : 30_000,
      1,
      MAX_TIMER_MS,
    );
    this.#maxInFlight = integerOption("maxInFlight", options.maxInFlight, 8, 1, MAX_IN_FLIGHT_LIMIT);
    this.#maxSubscriptions = integerOption("maxSubscriptions", options.maxSubscriptions, 8, 1, MAX_SUBSCRIPTIONS_LIMIT);
    const maxPacketBytes = integerOption(
      "maxPacketBytes",
      options.maxPacketBytes,
      DEFAULT_MAX_PACKET_BYTES,
      MIN_MAX_PACKET_BYTES,
      MAX_PACKET_BYTES,
    );
    const sendBufferBytes = integerOption(
      "sendBufferBytes",
      options.sendBufferBytes,
      maxPacketBytes + CONTROL_RESERVE_BYTES,
      MIN_MAX_PACKET_BYTES,
      MAX_PACKET_BYTES + CONTROL_RESERVE_BYTES,
    );
    // CONNECT is the first thing in an empty buffer on every connection; it must always fit.
    if (connectPacketBytes(this.#clientIdBytes) > Math.min(maxPacketBytes, sendBufferBytes - CONTROL_RESERVE_BYTES)) {
      throw new RangeError("clientId too long for maxPacketBytes / sendBufferBytes");
    }
    this.#maxPublishBytes = Math.min(maxPacketBytes, sendBufferBytes - CONTROL_RESERVE_BYTES);
    const initialMs = integerOption("reconnect.initialMs", options.reconnect?.initialMs, 250, 1, MAX_TIMER_MS);
    const maxMs = integerOption("reconnect.maxMs", options.reconnect?.maxMs, Math.max(10_000, initialMs), initialMs, MAX_TIMER_MS);
    for (const name of ["openSocket", "timers", "clock", "random"] as const) {
      if (options[name] === undefined || options[name] === null) throw new TypeError(`${name} is required`);
    }
    this.#openSocket = options.openSocket;
    this.#timers = options.timers;
    this.#clock = options.clock;
    this.#log = options.log ?? (() => {});
    this.#backoff = new ReconnectBackoff(initialMs, maxMs, options.random);
    this.#sendBuffer = new SendBuffer(sendBufferBytes);
    this.#decoder = new MqttDecoder(maxPacketBytes);
  }

  get connected(): boolean {
    return this.#link?.up === true;
  }

  /** Starts connecting; from now on the transport keeps a session up until `close()`. */
  start(): void {
    if (this.#state === "closed") throw new Error("DeviceMqttTransport: start() after close()");
    if (this.#state === "running") return;
    this.#state = "running";
    this.#connect();
  }

  /**
   * Ends the session for good: sends DISCONNECT when connected and the socket has room for it,
   * closes the socket, cancels any pending reconnect, settles every publish still in flight with
   * `false` and, if a session was up, tells the connection listener `false`. Afterwards the
   * transport holds no socket or timer and cannot be started again.
   */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#clearReconnectTimer();
    const link = this.#link;
    if (link === undefined) return;
    if (link.up && !link.failing) {
      // Best effort: DISCONNECT goes out only behind what is already queued and only if the
      // socket takes it now; a broker that misses it sees a closed connection, which is just as
      // final for a clean session.
      const offset = this.#sendBuffer.reserve(DISCONNECT_PACKET_BYTES);
      if (offset >= 0) encodeDisconnect(this.#sendBuffer.bytes, offset);
      try {
        this.#flush(link);
      } catch {
        // The socket is closed below either way.
      }
    }
    this.#connectionEnded(link, "closed by host");
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean {
    if (!isValidTopicName(topic)) throw new RangeError(`invalid MQTT topic name: ${JSON.stringify(topic)}`);
    const qos = options.qos;
    if (qos !== 0 && qos !== 1) throw new RangeError(`unsupported QoS ${String(qos)}`);
    const topicBytes = utf8Length(topic);
    const size = publishPacketBytes(topicBytes, payload.length, qos);
    if (size > this.#maxPublishBytes) {
      // Not "try again later": this message can never be sent with these options.
      throw new RangeError(`MQTT message of ${size} bytes exceeds the ${this.#maxPublishBytes} bytes allowed`);
    }
    const link = this.#link;
    if (link === undefined || !link.up || link.failing) return false;
    if (qos === 1 ? this.#awaitingPuback.size >= this.#maxInFlight : this.#awaitingWrite.length >= this.#maxInFlight) {
      return false;
    }
    const offset = this.#sendBuffer.reserve(size, CONTROL_RESERVE_BYTES);
    if (offset < 0) {
      this.#log("debug", "mqtt.send_buffer_full", { queued: this.#sendBuffer.queued, needed: size });
      return false;
    }
    // The payload is copied into the send buffer here: the caller may reuse it once we return.
    const packetId = qos === 1 ? this.#allocatePacketId() : 0;
    encodePublish(this.#sendBuffer.bytes, offset, topic, topicBytes, payload, qos, options.retain ?? false, packetId);
    if (qos === 1) this.#awaitingPuback.set(packetId, onSettled);
    else this.#awaitingWrite.push({ end: this.#sendBuffer.appendedTotal, settle: onSettled });
    this.#flushFromCaller(link);
    return true;
  }

  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void {
    if (!isValidTopicFilter(topicFilter)) throw new RangeError(`invalid MQTT topic filter: ${JSON.stringify(topicFilter)}`);
    if (this.#subscriptions.length >= this.#maxSubscriptions) {
      throw new RangeError(`more than maxSubscriptions (${this.#maxSubscriptions}) subscriptions`);
    }
    // After a reconnect all filters go out in one SUBSCRIBE, which must fit in a packet.
    const filters = this.#distinctFilters(topicFilter);
    const filterBytes = filters.reduce((sum, filter) => sum + utf8Length(filter), 0);
    if (subscribePacketBytes(filterBytes, filters.length) > this.#maxPublishBytes) {
      throw new RangeError("the topic filters no longer fit in one SUBSCRIBE of maxPacketBytes");
    }
    this.#subscriptions.push({ filter: topicFilter, onMessage, sentOn: undefined });
    // While disconnected the subscription is only remembered; every CONNACK sends them all.
    const link = this.#link;
    if (link !== undefined && link.up && !link.failing) {
      this.#sendSubscribes(link);
      this.#flushFromCaller(link);
    }
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#connectionListener = listener;
  }

  // --- connection life cycle ---------------------------------------------------------------

  #connect(): void {
    if (this.#state !== "running" || this.#link !== undefined) return;
    this.#log("debug", "mqtt.connecting", { host: this.#host, port: this.#port });
    const link: Link = {
      socket: undefined,
      writable: 0,
      established: false,
      up: false,
      failing: false,
      callbacks: {
        onReadable: (count) => this.#socketEvent(link, READABLE, count),
        onWritable: (count) => this.#socketEvent(link, WRITABLE, count),
        onError: () => this.#socketEvent(link, ERROR, 0),
      },
    };
    this.#link = link;
    // Fresh per connection: nothing half-sent or half-parsed may leak into the next session.
    this.#sendBuffer.clear();
    this.#decoder.reset();
    const offset = this.#sendBuffer.reserve(connectPacketBytes(this.#clientIdBytes));
    encodeConnect(this.#sendBuffer.bytes, offset, this.#clientId, this.#clientIdBytes, this.#keepAliveSeconds);
    const now = this.#clock.monotonicMs();
    this.#connectStartedAt = now;
    this.#lastReceivedAt = now;
    this.#lastSentAt = now;
    this.#pingOutstanding = false;

    let socket: SocketLike;
    try {
      socket = this.#openSocket(this.#host, this.#port, link.callbacks);
    } catch (error) {
      this.#log("warn", "mqtt.socket_error", { during: "open", ...errorDetail(error) });
      this.#link = undefined;
      this.#scheduleReconnect();
      return;
    }
    if (this.#link !== link) {
      // The socket failed (or close() was called) before its constructor returned.
      closeQuietly(socket);
      return;
    }
    link.socket = socket;
    // The watchdog also bounds the TCP connect, the TLS handshake and the wait for CONNACK.
    this.#armKeepAlive();
    // CONNECT waits in the send buffer for the first onWritable, which says the connection is up.
    if (link.writable > 0) this.#socketEvent(link, WRITABLE, link.writable);
  }

  /**
   * Every socket callback comes through here. Events of a connection that is no longer current
   * are ignored; an exception (a socket method throwing, a bug) is logged and ends the connection
   * instead of unwinding into the socket's native code.
   */
  #socketEvent(link: Link, event: number, count: number): void {
    if (link !== this.#link || link.failing) return;
    if (link.socket === undefined) {
      // Reported from inside the socket's constructor: remembered, acted on once it returns.
      if (event === WRITABLE) link.writable = count;
      else if (event === ERROR) this.#connectionEnded(link, "socket error");
      return;
    }
    try {
      if (event === READABLE) this.#onReadable(link, count);
      else if (event === WRITABLE) this.#onWritable(link, count);
      else {
        this.#log("warn", "mqtt.socket_error", { during: link.up ? "session" : link.established ? "connect" : "tcp connect" });
        this.#connectionEnded(link, "socket error");
      }
    } catch (error) {
      if (link !== this.#link) return;
      this.#log("error", "mqtt.socket_failed", errorDetail(error));
      this.#connectionEnded(link, "socket failed");
    }
  }

  /**
   * The single place where a connection ends, whatever the cause. Idempotent: only the first call
   * for the current connection tears down and closes its socket.
   */
  #connectionEnded(link: Link, reason: string): void {
    if (link !== this.#link) return;
    this.#link = undefined;
    const wasUp = link.up;
    link.up = false;
    this.#pingOutstanding = false;
    this.#clearKeepAliveTimer();
    this.#awaitingSuback.clear();
    this.#sendBuffer.clear();
    this.#decoder.reset();
    // After onError the socket is unusable but keeps its native resources until close().
    if (link.socket !== undefined) closeQuietly(link.socket);
    link.socket = undefined;

    // Clean sessions only: nothing sent on this connection can be acknowledged on the next one.
    const unacknowledged = [...this.#awaitingPuback.values()];
    this.#awaitingPuback.clear();
    const unwritten = this.#awaitingWrite.splice(0);

    if (wasUp) {
      this.#log(this.#state === "closed" ? "info" : "warn", "mqtt.disconnected", {
        reason,
        unacknowledged: unacknowledged.length + unwritten.length,
      });
    } else {
      this.#log("debug", "mqtt.connect_failed", { reason });
    }

    // State is final before any callback runs, so a callback that publishes sees `connected`
    // false and one that calls close() stops the reconnect below.
    for (const settle of unacknowledged) this.#callSafely("publish.onSettled", settle, false);
    for (const pending of unwritten) this.#callSafely("publish.onSettled", pending.settle, false);
    if (wasUp) this.#notifyConnection(false);

    if (this.#state === "running") this.#scheduleReconnect();
  }

  /** Ends a connection after a protocol problem; the log says what. */
  #drop(link: Link, event: string, detail: LogDetail, reason: string): void {
    this.#log("warn", event, detail);
    this.#connectionEnded(link, reason);
  }

  #scheduleReconnect(): void {
    if (this.#state !== "running" || this.#reconnectTimer !== undefined) return;
    const delayMs = this.#backoff.next();
    this.#log("info", "mqtt.reconnect_scheduled", { delayMs });
    this.#reconnectTimer = this.#timers.once(() => {
      this.#reconnectTimer = undefined;
      this.#guarded("reconnect", () => this.#connect());
    }, delayMs);
  }

  #clearReconnectTimer(): void {
    if (this.#reconnectTimer !== undefined) this.#timers.clear(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }

  // --- keepalive ---------------------------------------------------------------------------

  /**
   * One timer serves the connect timeout and both halves of the keepalive. It is not moved on
   * every packet: when it fires it checks the timestamps and re-arms for the next deadline.
   *  - before CONNACK: the connection must be up within connectTimeoutMs;
   *  - PINGREQ when nothing was sent for `keepalive`, and also when nothing was received for
   *    `keepalive` (a node that only publishes QoS 0 would otherwise never hear from the broker);
   *  - dead when nothing at all was received for 1.5 × `keepalive`: the broker then had at least
   *    half a keepalive to answer the PINGREQ.
   */
  #armKeepAlive(): void {
    this.#clearKeepAliveTimer();
    const link = this.#link;
    if (link === undefined) return;
    let deadline: number;
    if (!link.up) deadline = this.#connectStartedAt + this.#connectTimeoutMs;
    else if (this.#keepAliveMs === 0) return;
    else {
      deadline = this.#lastReceivedAt + this.#keepAliveMs * 1.5;
      if (!this.#pingOutstanding) {
        deadline = Math.min(deadline, Math.min(this.#lastSentAt, this.#lastReceivedAt) + this.#keepAliveMs);
      }
    }
    const delay = Math.max(1, Math.ceil(deadline - this.#clock.monotonicMs()));
    this.#keepAliveTimer = this.#timers.once(() => this.#guarded("keepalive", () => this.#onKeepAliveTimer()), delay);
  }

  #onKeepAliveTimer(): void {
    this.#keepAliveTimer = undefined;
    const link = this.#link;
    if (link === undefined) return;
    const now = this.#clock.monotonicMs();
    if (!link.up) {
      if (now - this.#connectStartedAt >= this.#connectTimeoutMs) {
        this.#drop(link, "mqtt.connect_timeout", { afterMs: Math.round(now - this.#connectStartedAt) }, "connect timeout");
        return;
      }
    } else if (now - this.#lastReceivedAt >= this.#keepAliveMs * 1.5) {
      this.#drop(link, "mqtt.keepalive_timeout", { silentMs: Math.round(now - this.#lastReceivedAt) }, "keepalive timeout");
      return;
    } else if (
      !this.#pingOutstanding &&
      (now - this.#lastSentAt >= this.#keepAliveMs || now - this.#lastReceivedAt >= this.#keepAliveMs)
    ) {
      // Without room for PINGREQ the next round tries again; silence still ends the connection.
      const offset = this.#sendBuffer.reserve(PINGREQ_PACKET_BYTES);
      if (offset >= 0) {
        encodePingreq(this.#sendBuffer.bytes, offset);
        this.#pingOutstanding = true;
        try {
          this.#flush(link);
        } catch (error) {
          this.#drop(link, "mqtt.socket_failed", errorDetail(error), "socket failed");
          return;
        }
      }
    }
    this.#armKeepAlive();
  }

  #clearKeepAliveTimer(): void {
    if (this.#keepAliveTimer !== undefined) this.#timers.clear(this.#keepAliveTimer);
    this.#keepAliveTimer = undefined;
  }

  // --- bytes in and out --------------------------------------------------------------------

  #onWritable(link: Link, count: number): void {
    link.writable = count;
    link.established = true;
    // QoS 0 publishes whose bytes the socket took before this report are settled: the socket has
    // made progress since. Collected before flushing, which may hand over more bytes.
    const written = this.#sendBuffer.consumedTotal;
    if (link.up) this.#sendSubscribes(link);
    this.#flush(link);
    while (this.#awaitingWrite.length > 0 && this.#awaitingWrite[0]!.end <= written && link === this.#link) {
      this.#callSafely("publish.onSettled", this.#awaitingWrite.shift()!.settle, true);
    }
  }

  /** Hands queued bytes to the socket, as many as its writable count allows. May throw. */
  #flush(link: Link): void {
    const socket = link.socket;
    if (socket === undefined) return;
    while (link.writable > 0 && this.#sendBuffer.queued > 0) {
      const chunk = this.#sendBuffer.peek(link.writable);
      const left = socket.write(chunk);
      this.#sendBuffer.consume(chunk.length);
      link.writable = typeof left === "number" ? left : link.writable - chunk.length;
      this.#lastSentAt = this.#clock.monotonicMs();
    }
  }

  /**
   * `#flush` on behalf of `publish` or `subscribe`. A socket that throws there must not end the
   * connection on the caller's stack, where settling its publishes would tell it about a
   * message before `publish` has even returned: the connection is marked failing and ended from a
   * timer.
   */
  #flushFromCaller(link: Link): void {
    try {
      this.#flush(link);
    } catch (error) {
      link.failing = true;
      this.#log("error", "mqtt.socket_failed", errorDetail(error));
      this.#timers.once(() => this.#guarded("drop", () => this.#connectionEnded(link, "socket failed")), 0);
    }
  }

  #onReadable(link: Link, count: number): void {
    const socket = link.socket!;
    this.#lastReceivedAt = this.#clock.monotonicMs();
    this.#pingOutstanding = false;
    const chunk = this.#readChunk;
    let left = count;
    // Reads everything reported: the socket reports again only when more bytes arrive.
    while (left > 0 && link === this.#link) {
      const want = Math.min(left, chunk.length);
      const got = socket.read(want === chunk.length ? chunk : chunk.subarray(0, want));
      if (typeof got !== "number" || got <= 0) return; // nothing there after all
      left -= got;
      this.#decode(link, chunk, Math.min(got, want));
    }
  }

  #decode(link: Link, bytes: Uint8Array, length: number): void {
    const decoder = this.#decoder;
    let at = 0;
    while (at < length) {
      at = decoder.consume(bytes, at, length);
      const problem = decoder.error;
      if (problem !== undefined) {
        if (decoder.tooLarge) this.#drop(link, "mqtt.packet_too_large", { reason: problem }, "packet too large");
        else this.#drop(link, "mqtt.malformed_packet", { reason: problem }, "malformed packet");
        return;
      }
      const packet = decoder.take();
      if (packet !== undefined) {
        this.#onPacket(link, packet);
        if (link !== this.#link) return; // a handler or a violation ended the connection
      }
    }
  }

  // --- incoming packets --------------------------------------------------------------------

  #onPacket(link: Link, packet: IncomingPacket): void {
    if (!link.up) {
      // 3.2: the first packet from the server must be CONNACK.
      if (packet.kind === "connack") this.#onConnack(link, packet.returnCode);
      else this.#drop(link, "mqtt.protocol_violation", { packet: packet.kind }, "protocol violation");
      return;
    }
    switch (packet.kind) {
      case "puback":
        this.#onPuback(packet.packetId);
        return;
      case "publish":
        this.#onPublish(link, packet);
        return;
      case "suback":
        this.#onSuback(packet.packetId, packet.returnCodes);
        return;
      case "pingresp":
        return; // its arrival already refreshed lastReceivedAt
      default:
        this.#drop(link, "mqtt.protocol_violation", { packet: packet.kind }, "protocol violation");
    }
  }

  #onConnack(link: Link, returnCode: number): void {
    if (returnCode !== 0) {
      // The backoff keeps growing: a broker that refuses us should not be hammered.
      this.#drop(link, "mqtt.refused", { returnCode, reason: CONNACK_REFUSALS[returnCode] ?? "unknown" }, "refused");
      return;
    }
    link.up = true;
    this.#backoff.reset();
    this.#log("info", "mqtt.connected", { host: this.#host, port: this.#port });
    this.#sendSubscribes(link);
    this.#flush(link);
    this.#armKeepAlive(); // now with PINGREQ deadlines
    this.#notifyConnection(true);
  }

  #onPuback(packetId: number): void {
    const settle = this.#awaitingPuback.get(packetId);
    if (settle === undefined) {
      this.#log("debug", "mqtt.unexpected_puback", { packetId });
      return;
    }
    this.#awaitingPuback.delete(packetId);
    this.#callSafely("publish.onSettled", settle, true);
  }

  #onPublish(link: Link, packet: IncomingPublish): void {
    const { topic, payload } = packet;
    // A snapshot: a handler may subscribe while we iterate.
    const matching = this.#subscriptions.filter((s) => topicMatches(s.filter, topic));
    if (matching.length === 0) this.#log("debug", "mqtt.unmatched_message", { topic });
    for (let i = 0; i < matching.length; i++) {
      // Each handler owns what it gets and may keep or change it: all but the last get a copy,
      // taken before that handler runs, and the last the decoder's buffer, which nothing else holds.
      const bytes = i === matching.length - 1 ? payload : payload.slice();
      this.#callSafely2("subscribe.onMessage", matching[i]!.onMessage, topic, bytes);
    }
    // Acknowledged after delivery; a handler that closed the transport leaves nothing to ack on.
    if (packet.qos === 1 && link === this.#link) {
      const offset = this.#sendBuffer.reserve(PUBACK_PACKET_BYTES);
      if (offset < 0) {
        // Only when the broker stopped reading long ago while sending us more: give up on it.
        this.#drop(link, "mqtt.send_buffer_full", { queued: this.#sendBuffer.queued, needed: PUBACK_PACKET_BYTES }, "send buffer full");
        return;
      }
      encodePuback(this.#sendBuffer.bytes, offset, packet.packetId);
      this.#flush(link);
    }
  }

  #onSuback(packetId: number, returnCodes: Uint8Array): void {
    const filters = this.#awaitingSuback.get(packetId);
    if (filters === undefined) return;
    this.#awaitingSuback.delete(packetId);
    filters.forEach((filter, index) => {
      if (returnCodes[index] === SUBACK_FAILURE) this.#log("warn", "mqtt.subscribe_refused", { filter });
      else this.#log("debug", "mqtt.subscribed", { filter });
    });
  }

  // --- outgoing control packets ------------------------------------------------------------

  /**
   * Queues one SUBSCRIBE with every filter not yet subscribed on this connection. When the send
   * buffer has no room, they stay pending and go out on a later `onWritable`.
   */
  #sendSubscribes(link: Link): void {
    // Runs on every onWritable: the common case (nothing pending) must not allocate.
    let anyPending = false;
    for (const subscription of this.#subscriptions) if (subscription.sentOn !== link) anyPending = true;
    if (!anyPending) return;
    const pending = this.#subscriptions.filter((s) => s.sentOn !== link);
    const sent = this.#subscriptions.filter((s) => s.sentOn === link).map((s) => s.filter);
    const filters = [...new Set(pending.map((s) => s.filter))].filter((f) => !sent.includes(f));
    if (filters.length > 0) {
      const filterBytes = filters.reduce((sum, filter) => sum + utf8Length(filter), 0);
      const offset = this.#sendBuffer.reserve(subscribePacketBytes(filterBytes, filters.length), CONTROL_RESERVE_BYTES);
      if (offset < 0) return;
      const packetId = this.#allocatePacketId();
      encodeSubscribe(this.#sendBuffer.bytes, offset, packetId, filters, filterBytes);
      this.#awaitingSuback.set(packetId, filters);
    }
    for (const subscription of pending) subscription.sentOn = link;
  }

  /** The distinct filters of all subscriptions plus `extra`. */
  #distinctFilters(extra: string): string[] {
    const filters = this.#subscriptions.map((s) => s.filter);
    filters.push(extra);
    return [...new Set(filters)];
  }

  /** The next packet id in 1..65535 not awaiting an acknowledgement (2.3.1). */
  #allocatePacketId(): number {
    for (let tries = 0; tries < MAX_PACKET_ID; tries++) {
      this.#lastPacketId = (this.#lastPacketId % MAX_PACKET_ID) + 1;
      const id = this.#lastPacketId;
      if (!this.#awaitingPuback.has(id) && !this.#awaitingSuback.has(id)) return id;
    }
    // Unreachable: maxInFlight and maxSubscriptions are capped far below 65,535.
    throw new Error("DeviceMqttTransport: no free packet id");
  }

  // --- callbacks of the caller ----------------------------------------------------------------

  /**
   * Runs the work of one of our timers. On the device an exception escaping a timer callback is
   * unhandled and aborts the whole node; whatever went wrong, a fresh connection is better.
   */
  #guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (error) {
      this.#log("error", "mqtt.internal_error", { during: what, ...errorDetail(error) });
      const link = this.#link;
      if (link !== undefined) this.#connectionEnded(link, "internal error");
      else this.#scheduleReconnect();
    }
  }

  #notifyConnection(connected: boolean): void {
    const listener = this.#connectionListener;
    if (listener !== undefined) this.#callSafely("onConnectionChange", listener, connected);
  }

  /**
   * Runs a callback of the caller. An exception from it is logged, not rethrown: it would
   * otherwise unwind into the socket's callback and leave the session half torn down.
   */
  #callSafely(name: string, callback: (value: boolean) => void, value: boolean): void {
    try {
      callback(value);
    } catch (error) {
      this.#log("error", "mqtt.callback_threw", { callback: name, ...errorDetail(error) });
    }
  }

  #callSafely2(name: string, callback: (topic: string, payload: Uint8Array) => void, topic: string, payload: Uint8Array): void {
    try {
      callback(topic, payload);
    } catch (error) {
      this.#log("error", "mqtt.callback_threw", { callback: name, ...errorDetail(error) });
    }
  }
}

function closeQuietly(socket: SocketLike): void {
  try {
    socket.close();
  } catch {
    // Closing is the last thing done with a socket; there is nothing left to undo.
  }
}

function integerOption(name: string, value: number | undefined, fallback: number | undefined, min: number, max: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** Log fields of a thrown value: its name and message, never any packet contents. */
function errorDetail(error: unknown): { error: string; message: string } {
  if (error instanceof Error) return { error: error.name, message: error.message.slice(0, 200) };
  return { error: "unknown", message: String(error).slice(0, 200) };
}
