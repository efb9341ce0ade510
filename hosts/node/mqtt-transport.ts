/**
 * The Node host's `Transport`: an MQTT 3.1.1 client over a TCP socket, built on `mqtt-packet`.
 *
 * It keeps one clean session to the broker up for as long as it is started: it reconnects with
 * exponential backoff and jitter, resubscribes after every reconnect and detects dead connections
 * with the MQTT keepalive. It deliberately keeps no state across connections: a QoS 1 publish that
 * was not acknowledged when the connection dropped is settled `false`, and the caller (the node's
 * outbox) decides whether and when to send it again.
 *
 * Nothing the network does escapes as an exception: socket errors, refusals and malformed packets
 * are logged (never with payload bytes) and lead to a fresh connection.
 *
 * `mqtts://` runs the same session over TLS (1.2 or newer) and trusts only the CA given in
 * `tls.ca` (pinned), never the system's roots. A certificate that does not verify is logged and the connection retried
 * with backoff, like any other failure; there is no fallback to plaintext and no way to turn
 * verification off.
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { performance } from "node:perf_hooks";
import { generate, parser as createParser, type Packet } from "mqtt-packet";

import type { Log, PublishOptions, PublishSettled, Transport } from "../../src/platform.js";
import { pinnedCaPem } from "./pinned-ca.js";
import { isValidTopicFilter, isValidTopicName, topicMatches } from "./topic-match.js";

export interface MqttTransportOptions {
  /**
   * The broker: `mqtt://host[:port]` (TCP, port 1883 when omitted) or `mqtts://host[:port]`
   * (TLS, port 8883 when omitted; needs `tls`).
   */
  readonly url: string;
  readonly clientId: string;
  /**
   * MQTT keepalive in whole seconds, 1..65535. Default 30. 0 turns keepalive off, and with it the
   * detection of dead connections and of a broker that never answers CONNECT: only TCP is left.
   */
  readonly keepaliveSeconds?: number;
  /** How many QoS 1 messages may await their PUBACK at once; `publish` returns false beyond. Default 8. */
  readonly maxInFlight?: number;
  readonly reconnect?: {
    /** First reconnect delay. Default 250 ms. */
    readonly initialMs?: number;
    /** The delay doubles after every failed attempt up to this. Default 10,000 ms. */
    readonly maxMs?: number;
  };
  /**
   * Opens the byte stream to the broker. Default `net.connect` for `mqtt://`; for `mqtts://` the
   * transport opens its own verified TLS socket from `tls`, and this option must not be given.
   */
  readonly connectSocket?: (host: string, port: number) => net.Socket;
  /** TLS settings; required with `mqtts://`, refused with `mqtt://`. */
  readonly tls?: MqttTlsOptions;
  readonly log?: Log;
}

export interface MqttTlsOptions {
  /**
   * The CA certificate(s), PEM: the only CA trusted to vouch for the broker (pinned). The
   * system's public roots are not used.
   */
  readonly ca: string | Uint8Array;
  /**
   * The name the broker's certificate must be issued for, also sent as SNI. Default: the URL's
   * host. An IP address is checked against the certificate's IP addresses and sent without SNI.
   */
  readonly servername?: string;
  /** Certificates are always verified; only `true` is accepted here. */
  readonly rejectUnauthorized?: true;
}

interface Subscription {
  readonly filter: string;
  readonly onMessage: (topic: string, payload: Uint8Array) => void;
}

const DEFAULT_PORT = 1883;
const DEFAULT_TLS_PORT = 8883;
/**
 * Why a broker's certificate was refused, by the code Node.js gives the verification error, for
 * a log line that says what to fix.
 */
const CERTIFICATE_PROBLEMS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "not issued by the pinned CA",
  UNABLE_TO_GET_ISSUER_CERT: "not issued by the pinned CA",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "not issued by the pinned CA",
  SELF_SIGNED_CERT_IN_CHAIN: "not issued by the pinned CA",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed, and not the pinned CA",
  CERT_SIGNATURE_FAILURE: "its signature does not verify",
  CERT_UNTRUSTED: "not trusted",
  CERT_REJECTED: "rejected",
  INVALID_CA: "its chain holds a certificate that may not issue certificates",
  INVALID_PURPOSE: "not meant for a TLS server",
  PATH_LENGTH_EXCEEDED: "its chain is too long",
  CERT_CHAIN_TOO_LONG: "its chain is too long",
  ERR_TLS_CERT_ALTNAME_INVALID: "not issued for this host name",
  HOSTNAME_MISMATCH: "not issued for this host name",
  IP_ADDRESS_MISMATCH: "not issued for this IP address",
  CERT_HAS_EXPIRED: "expired (or the node's clock is wrong)",
  CERT_NOT_YET_VALID: "not valid yet (or the node's clock is wrong)",
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "its validity dates are malformed",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "its validity dates are malformed",
  CERT_REVOKED: "revoked",
};
/** CONNACK return codes of MQTT 3.1.1 (3.2.2.3), for the log. */
const CONNACK_REFUSALS: Readonly<Record<number, string>> = {
  1: "unacceptable protocol version",
  2: "identifier rejected",
  3: "server unavailable",
  4: "bad user name or password",
  5: "not authorized",
};
/** SUBACK return code for a refused filter (3.9.3). */
const SUBACK_FAILURE = 0x80;
/**
 * Bytes the parser may hold while waiting for the rest of a packet. A street node only receives
 * small commands; a broker announcing a huge packet is broken or hostile, and without this cap the
 * parser would buffer whatever arrives until the keepalive gives up.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** How long close() lets the DISCONNECT packet drain before destroying the socket anyway. */
const CLOSE_DRAIN_MS = 1000;
/** Upper bound for maxInFlight, leaving packet ids free for SUBSCRIBEs. */
const MAX_IN_FLIGHT_LIMIT = 32768;

export class MqttTransport implements Transport {
  private readonly host: string;
  private readonly port: number;
  private readonly clientId: string;
  private readonly keepaliveSeconds: number;
  private readonly keepaliveMs: number;
  private readonly maxInFlight: number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly openSocket: (host: string, port: number) => net.Socket;
  /** For `mqtts://`: the name the broker's certificate is checked against. */
  private readonly tlsName: string | undefined;
  private readonly log: Log;

  private state: "idle" | "running" | "closed" = "idle";
  /** The current connection (connecting, awaiting CONNACK or established); undefined between attempts. */
  private socket: net.Socket | undefined;
  /** True from a successful CONNACK until the connection is lost. */
  private sessionUp = false;
  private readonly subscriptions: Subscription[] = [];
  private connectionListener: ((connected: boolean) => void) | undefined;

  /** QoS 1 publishes awaiting PUBACK, by packet id. */
  private readonly awaitingPuback = new Map<number, PublishSettled>();
  /** QoS 0 publishes whose bytes the socket has not flushed yet. */
  private readonly awaitingWrite = new Set<(written: boolean) => void>();
  /** SUBSCRIBEs awaiting SUBACK, by packet id, with the filters they carry (for the log). */
  private readonly awaitingSuback = new Map<number, readonly string[]>();
  private lastPacketId = 0;

  private backoffAttempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastSentAt = 0;
  private lastReceivedAt = 0;
  private pingOutstanding = false;

  constructor(options: MqttTransportOptions) {
    const { secure, host, port } = parseBrokerUrl(options.url);
    this.host = host;
    this.port = port;
    if (typeof options.clientId !== "string") throw new TypeError("clientId must be a string");
    this.clientId = options.clientId;
    this.keepaliveSeconds = integerOption("keepaliveSeconds", options.keepaliveSeconds, 30, 0, 0xffff);
    this.keepaliveMs = this.keepaliveSeconds * 1000;
    this.maxInFlight = integerOption("maxInFlight", options.maxInFlight, 8, 1, MAX_IN_FLIGHT_LIMIT);
    this.initialBackoffMs = integerOption("reconnect.initialMs", options.reconnect?.initialMs, 250, 1, 2 ** 31 - 1);
    this.maxBackoffMs = integerOption(
      "reconnect.maxMs",
      options.reconnect?.maxMs,
      Math.max(10_000, this.initialBackoffMs),
      this.initialBackoffMs,
      2 ** 31 - 1,
    );
    if (secure) {
      if (options.tls === undefined) {
        throw new TypeError("mqtts:// needs tls.ca: the CA certificate to pin (there is no fallback to the system's CAs)");
      }
      if (options.connectSocket !== undefined) throw new TypeError("mqtts:// opens its own TLS socket; connectSocket must not be given");
      const { name, connect } = tlsConnector(host, options.tls);
      this.tlsName = name;
      this.openSocket = connect;
    } else {
      if (options.tls !== undefined) throw new TypeError("tls options given for a plaintext mqtt:// URL; use mqtts://");
      this.openSocket = options.connectSocket ?? ((h, p) => net.connect({ host: h, port: p }));
    }
    this.log = options.log ?? (() => {});
  }

  get connected(): boolean {
    return this.sessionUp;
  }

  /** Starts connecting; from now on the transport keeps a session up until `close()`. */
  start(): void {
    if (this.state === "closed") throw new Error("MqttTransport: start() after close()");
    if (this.state === "running") return;
    this.state = "running";
    this.connect();
  }

  /**
   * Ends the session for good: sends DISCONNECT when connected, destroys the socket, cancels any
   * pending reconnect, settles every publish still in flight with `false` and, if a session was
   * up, tells the connection listener `false`. Resolves once the socket is closed; afterwards the
   * transport holds no handle that keeps the process alive and cannot be started again.
   */
  close(): Promise<void> {
    if (this.state === "closed") return Promise.resolve();
    this.state = "closed";
    this.clearReconnectTimer();
    const socket = this.socket;
    if (socket === undefined) return Promise.resolve();
    const wasUp = this.sessionUp;
    this.connectionEnded(socket, "closed by host");

    return new Promise<void>((resolve) => {
      if (socket.closed) {
        resolve();
        return;
      }
      // Unref'd: the socket itself keeps the process alive until it is gone, so the timer
      // never needs to.
      const forceClose = setTimeout(() => socket.destroy(), CLOSE_DRAIN_MS).unref();
      socket.once("close", () => {
        clearTimeout(forceClose);
        resolve();
      });
      if (wasUp && socket.writable) {
        // Destroy only once DISCONNECT has reached the kernel, so the broker sees a clean end of
        // the session rather than a lost connection.
        socket.write(generate({ cmd: "disconnect" }), () => socket.destroy());
      } else {
        socket.destroy();
      }
    });
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean {
    if (!isValidTopicName(topic)) throw new RangeError(`invalid MQTT topic name: ${JSON.stringify(topic)}`);
    if (options.qos !== 0 && options.qos !== 1) throw new RangeError(`unsupported QoS ${String(options.qos)}`);
    const socket = this.socket;
    if (!this.sessionUp || socket === undefined) return false;
    if (options.qos === 1 && this.awaitingPuback.size >= this.maxInFlight) return false;

    // A view, not a copy: generate() copies the payload into the packet it builds, so the caller
    // may reuse its buffer as soon as publish() returns.
    const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const retain = options.retain ?? false;

    if (options.qos === 1) {
      const messageId = this.allocatePacketId();
      this.awaitingPuback.set(messageId, onSettled);
      this.send(socket, { cmd: "publish", topic, payload: body, qos: 1, retain, dup: false, messageId });
      return true;
    }

    // QoS 0 has no acknowledgement: "settled" means the socket took the bytes. If the connection
    // drops first, connectionEnded() settles it false; whichever comes first wins.
    const settle = (written: boolean): void => {
      if (this.awaitingWrite.delete(settle)) this.callSafely("publish.onSettled", () => onSettled(written));
    };
    this.awaitingWrite.add(settle);
    this.send(socket, { cmd: "publish", topic, payload: body, qos: 0, retain, dup: false }, (error) =>
      settle(error == null),
    );
    return true;
  }

  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void {
    if (!isValidTopicFilter(topicFilter)) {
      throw new RangeError(`invalid MQTT topic filter: ${JSON.stringify(topicFilter)}`);
    }
    this.subscriptions.push({ filter: topicFilter, onMessage });
    // While disconnected the subscription is only remembered; every CONNACK sends them all.
    if (this.sessionUp && this.socket !== undefined) this.sendSubscribe(this.socket, [topicFilter]);
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.connectionListener = listener;
  }

  // --- connection life cycle ---------------------------------------------------------------

  private connect(): void {
    if (this.state !== "running" || this.socket !== undefined) return;
    this.log("debug", "mqtt.connecting", { host: this.host, port: this.port, tls: this.tlsName !== undefined });

    let socket: net.Socket;
    try {
      socket = this.openSocket(this.host, this.port);
    } catch (error) {
      this.log("warn", "mqtt.socket_error", errorDetail(error));
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;

    // A fresh parser per connection: a half-parsed packet must not leak into the next session.
    const parser = createParser({ protocolVersion: 4 });
    parser.on("packet", (packet: Packet) => this.onPacket(socket, packet));
    parser.on("error", (error: unknown) => {
      if (socket !== this.socket) return;
      this.log("warn", "mqtt.malformed_packet", errorDetail(error));
      this.dropConnection(socket, "malformed packet");
    });

    socket.on("data", (chunk: Buffer) => {
      if (socket !== this.socket) return;
      this.lastReceivedAt = performance.now();
      this.pingOutstanding = false;
      let buffered: number;
      try {
        buffered = parser.parse(chunk);
      } catch (error) {
        // mqtt-packet reports bad input through 'error'; this only guards against it throwing
        // instead, which would otherwise escape from the socket's event and crash the process.
        if (socket !== this.socket) return;
        this.log("warn", "mqtt.malformed_packet", errorDetail(error));
        this.dropConnection(socket, "malformed packet");
        return;
      }
      if (socket === this.socket && buffered > MAX_BUFFERED_BYTES) {
        this.log("warn", "mqtt.packet_too_large", { buffered });
        this.dropConnection(socket, "packet too large");
      }
    });
    // An error between TCP connect and the end of the TLS handshake is a TLS failure.
    let tcpConnected = false;
    let tlsEstablished = false;
    socket.once("connect", () => (tcpConnected = true));
    socket.once("secureConnect", () => (tlsEstablished = true));
    // Never removed: a socket may still report an error after we gave up on it, and an
    // 'error' event without a listener would crash the process.
    socket.on("error", (error) => {
      if (this.tlsName !== undefined && tcpConnected && !tlsEstablished) this.logTlsFailure(error);
      else this.log("warn", "mqtt.socket_error", errorDetail(error));
    });
    socket.on("close", () => this.connectionEnded(socket, "socket closed"));
    socket.setNoDelay(true); // small packets, latency matters more than Nagle's batching

    // Written straight away rather than on 'connect': a connecting socket queues writes, and this
    // way a TLS socket (whose ready event is 'secureConnect') works unchanged. A TLS socket holds
    // the bytes until its handshake and certificate check have succeeded and drops them if either
    // fails: an impostor broker never receives our CONNECT (test/hosts/node/mqtt-tls.test.ts).
    const now = performance.now();
    this.lastReceivedAt = now;
    this.pingOutstanding = false;
    this.send(socket, {
      cmd: "connect",
      protocolId: "MQTT",
      protocolVersion: 4,
      clean: true,
      clientId: this.clientId,
      keepalive: this.keepaliveSeconds,
    });
    // The keepalive watchdog also bounds the wait for the TCP handshake and the CONNACK.
    this.armKeepalive();
  }

  /**
   * A TLS handshake that failed. Node.js has already destroyed the socket, before a single byte of
   * MQTT went out, and its 'close' event leads to the usual reconnect with backoff.
   */
  private logTlsFailure(error: unknown): void {
    const detail = errorDetail(error);
    const problem = CERTIFICATE_PROBLEMS[detail.code];
    if (problem !== undefined) {
      this.log("error", "mqtt.tls_certificate_rejected", {
        host: this.host,
        port: this.port,
        expectedName: this.tlsName!,
        problem: `the broker's certificate is ${problem}`,
        ...detail,
      });
    } else {
      this.log("warn", "mqtt.tls_handshake_failed", { host: this.host, port: this.port, ...detail });
    }
  }

  /** Gives up on `socket`: cleans up now, then destroys it (its 'close' event is then ignored). */
  private dropConnection(socket: net.Socket, reason: string): void {
    this.connectionEnded(socket, reason);
    socket.destroy();
  }

  /**
   * The single place where a connection ends, whatever the cause. Idempotent per socket: the
   * first call for the current socket tears down, later ones (e.g. its 'close' event) do nothing.
   */
  private connectionEnded(socket: net.Socket, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    const wasUp = this.sessionUp;
    this.sessionUp = false;
    this.pingOutstanding = false;
    this.clearKeepaliveTimer();
    this.awaitingSuback.clear();

    // Clean sessions only: nothing sent on this connection can be acknowledged on the next one.
    const unacknowledged = [...this.awaitingPuback.values()];
    this.awaitingPuback.clear();
    const unwritten = [...this.awaitingWrite];

    if (wasUp) {
      this.log(this.state === "closed" ? "info" : "warn", "mqtt.disconnected", {
        reason,
        unacknowledged: unacknowledged.length + unwritten.length,
      });
    } else {
      this.log("debug", "mqtt.connect_failed", { reason });
    }

    // State is final before any callback runs, so a callback that publishes sees `connected`
    // false and one that calls close() stops the reconnect below.
    for (const settle of unacknowledged) this.callSafely("publish.onSettled", () => settle(false));
    for (const settle of unwritten) settle(false);
    if (wasUp) this.notifyConnection(false);

    if (this.state === "running") this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state !== "running" || this.reconnectTimer !== undefined) return;
    const ceiling = Math.min(this.maxBackoffMs, this.initialBackoffMs * 2 ** this.backoffAttempt);
    if (ceiling < this.maxBackoffMs) this.backoffAttempt++;
    // "Equal jitter": half the delay fixed, half random, so a street full of nodes that lost the
    // same broker at the same moment does not come back in lockstep.
    const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
    this.log("info", "mqtt.reconnect_scheduled", { delayMs });
    // Not unref'd: while started, a node waiting for its broker must keep running. close()
    // clears it.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delayMs);
  }

  private clearReconnectTimer(): void {
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
  }

  // --- keepalive ---------------------------------------------------------------------------

  /**
   * One timer serves both halves of the keepalive. It is not moved on every packet: when it fires
   * it checks the timestamps and re-arms for the next deadline.
   *  - PINGREQ when nothing was sent for `keepalive`, and also when nothing was received for
   *    `keepalive` (a node that only publishes QoS 0 would otherwise never hear from the broker);
   *  - dead when nothing at all was received for 1.5 × `keepalive`: the broker then had at least
   *    half a keepalive to answer the PINGREQ.
   */
  private armKeepalive(): void {
    this.clearKeepaliveTimer();
    if (this.keepaliveMs === 0 || this.socket === undefined) return;
    let deadline = this.lastReceivedAt + this.keepaliveMs * 1.5;
    if (this.sessionUp && !this.pingOutstanding) {
      deadline = Math.min(deadline, Math.min(this.lastSentAt, this.lastReceivedAt) + this.keepaliveMs);
    }
    const delay = Math.max(1, Math.ceil(deadline - performance.now()));
    // Unref'd: while a connection exists its socket keeps the process alive anyway.
    this.keepaliveTimer = setTimeout(() => this.onKeepaliveTimer(), delay).unref();
  }

  private onKeepaliveTimer(): void {
    this.keepaliveTimer = undefined;
    const socket = this.socket;
    if (socket === undefined) return;
    const now = performance.now();
    if (now - this.lastReceivedAt >= this.keepaliveMs * 1.5) {
      this.log("warn", "mqtt.keepalive_timeout", { silentMs: Math.round(now - this.lastReceivedAt) });
      this.dropConnection(socket, "keepalive timeout");
      return;
    }
    if (
      this.sessionUp &&
      !this.pingOutstanding &&
      (now - this.lastSentAt >= this.keepaliveMs || now - this.lastReceivedAt >= this.keepaliveMs)
    ) {
      this.pingOutstanding = true;
      this.send(socket, { cmd: "pingreq" });
    }
    this.armKeepalive();
  }

  private clearKeepaliveTimer(): void {
    if (this.keepaliveTimer !== undefined) clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  // --- incoming packets --------------------------------------------------------------------

  private onPacket(socket: net.Socket, packet: Packet): void {
    // The parser may still emit packets from a chunk after a callback ended this connection.
    if (socket !== this.socket) return;
    if (!this.sessionUp) {
      // 3.2: the first packet from the server must be CONNACK.
      if (packet.cmd === "connack") this.onConnack(socket, packet.returnCode ?? 0);
      else this.protocolViolation(socket, packet.cmd);
      return;
    }
    switch (packet.cmd) {
      case "puback":
        this.onPuback(packet.messageId);
        return;
      case "publish":
        this.onPublish(socket, packet.topic, packet.payload, packet.qos, packet.messageId);
        return;
      case "suback":
        this.onSuback(packet.messageId, packet.granted);
        return;
      case "pingresp":
        return; // its arrival already refreshed lastReceivedAt
      default:
        this.protocolViolation(socket, packet.cmd);
    }
  }

  private onConnack(socket: net.Socket, returnCode: number): void {
    if (returnCode !== 0) {
      this.log("warn", "mqtt.refused", {
        returnCode,
        reason: CONNACK_REFUSALS[returnCode] ?? "unknown",
      });
      this.dropConnection(socket, "refused");
      return;
    }
    this.sessionUp = true;
    this.backoffAttempt = 0;
    this.log("info", "mqtt.connected", { host: this.host, port: this.port });
    const filters = [...new Set(this.subscriptions.map((s) => s.filter))];
    if (filters.length > 0) this.sendSubscribe(socket, filters);
    this.armKeepalive(); // now with PINGREQ deadlines
    this.notifyConnection(true);
  }

  private onPuback(messageId: number | undefined): void {
    const settle = messageId === undefined ? undefined : this.awaitingPuback.get(messageId);
    if (settle === undefined) {
      this.log("debug", "mqtt.unexpected_puback", { messageId: messageId ?? -1 });
      return;
    }
    this.awaitingPuback.delete(messageId!);
    this.callSafely("publish.onSettled", () => settle(true));
  }

  private onPublish(
    socket: net.Socket,
    topic: string,
    payload: string | Buffer,
    qos: number,
    messageId: number | undefined,
  ): void {
    if (qos === 2) {
      // We subscribe with QoS 1, so the broker must not send QoS 2 (3.8.4).
      this.protocolViolation(socket, "publish qos 2");
      return;
    }
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    let delivered = false;
    // A snapshot: a handler may subscribe again while we iterate.
    for (const subscription of [...this.subscriptions]) {
      if (!topicMatches(subscription.filter, topic)) continue;
      delivered = true;
      // Each handler gets its own plain Uint8Array (not a Buffer, so core code cannot come to
      // rely on Node's Buffer methods), which it owns and may keep.
      const copy = new Uint8Array(bytes);
      this.callSafely("subscribe.onMessage", () => subscription.onMessage(topic, copy));
    }
    if (!delivered) this.log("debug", "mqtt.unmatched_message", { topic });
    // Acknowledge after delivery; a handler that closed the transport leaves nothing to ack on.
    if (qos === 1 && messageId !== undefined && socket === this.socket) {
      this.send(socket, { cmd: "puback", messageId });
    }
  }

  private onSuback(messageId: number | undefined, granted: readonly unknown[]): void {
    const filters = messageId === undefined ? undefined : this.awaitingSuback.get(messageId);
    if (filters === undefined) return;
    this.awaitingSuback.delete(messageId!);
    filters.forEach((filter, index) => {
      if (granted[index] === SUBACK_FAILURE) this.log("warn", "mqtt.subscribe_refused", { filter });
      else this.log("debug", "mqtt.subscribed", { filter });
    });
  }

  private protocolViolation(socket: net.Socket, what: string): void {
    this.log("warn", "mqtt.protocol_violation", { packet: what });
    this.dropConnection(socket, "protocol violation");
  }

  // --- outgoing packets --------------------------------------------------------------------

  private send(socket: net.Socket, packet: Packet, callback?: (error?: Error | null) => void): void {
    const bytes = generate(packet);
    this.lastSentAt = performance.now();
    socket.write(bytes, callback);
  }

  private sendSubscribe(socket: net.Socket, filters: readonly string[]): void {
    const messageId = this.allocatePacketId();
    this.awaitingSuback.set(messageId, filters);
    this.send(socket, {
      cmd: "subscribe",
      messageId,
      subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })),
    });
  }

  /** The next packet id in 1..65535 not awaiting an acknowledgement (2.3.1). */
  private allocatePacketId(): number {
    for (let tries = 0; tries < 0xffff; tries++) {
      this.lastPacketId = (this.lastPacketId % 0xffff) + 1;
      const id = this.lastPacketId;
      if (!this.awaitingPuback.has(id) && !this.awaitingSuback.has(id)) return id;
    }
    // Unreachable: maxInFlight is capped well below 65,535 and SUBACKs are few.
    throw new Error("MqttTransport: no free packet id");
  }

  // --- callbacks -----------------------------------------------------------------------------

  private notifyConnection(connected: boolean): void {
    const listener = this.connectionListener;
    if (listener !== undefined) this.callSafely("onConnectionChange", () => listener(connected));
  }

  /**
   * Runs a callback of the caller. An exception from it is logged, not rethrown: it would
   * otherwise unwind through the socket or parser event and leave the session half torn down.
   */
  private callSafely(callback: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.log("error", "mqtt.callback_threw", { callback, ...errorDetail(error) });
    }
  }
}

function parseBrokerUrl(url: string): { secure: boolean; host: string; port: number } {
  const parsed = new URL(url); // throws TypeError on a malformed URL
  if (parsed.protocol !== "mqtt:" && parsed.protocol !== "mqtts:") {
    throw new RangeError(`unsupported broker URL scheme ${JSON.stringify(parsed.protocol)}, expected mqtt: or mqtts:`);
  }
  const secure = parsed.protocol === "mqtts:";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1"); // IPv6 literals come bracketed
  if (host === "") throw new RangeError(`broker URL without host: ${JSON.stringify(url)}`);
  const port = parsed.port === "" ? (secure ? DEFAULT_TLS_PORT : DEFAULT_PORT) : Number(parsed.port);
  return { secure, host, port };
}

/**
 * Checks the TLS options and returns the function that opens a verified TLS connection: the
 * pinned CA as the only trust anchor, the broker's name checked, TLS 1.2 or newer.
 */
function tlsConnector(
  host: string,
  options: MqttTlsOptions,
): { name: string; connect: (host: string, port: number) => net.Socket } {
  if (typeof options !== "object" || options === null) throw new TypeError("tls must be an object with a ca");
  if (options.rejectUnauthorized !== undefined && options.rejectUnauthorized !== true) {
    throw new RangeError("tls.rejectUnauthorized can only be true: the broker's certificate is always verified");
  }
  if (options.ca === undefined) throw new TypeError("tls.ca is required: the CA certificate to pin");
  const ca = pinnedCaPem(options.ca);
  if (options.servername !== undefined && (typeof options.servername !== "string" || options.servername === "")) {
    throw new TypeError("tls.servername must be a non-empty string");
  }
  const name = options.servername ?? host;
  // RFC 6066 allows only host names in SNI. An IP address is still verified: against the host by
  // Node.js itself, or, when it was given as servername, explicitly.
  const sni = net.isIP(name) === 0 ? name : undefined;
  const checkName = sni === undefined && name !== host;
  const connect = (h: string, p: number): net.Socket =>
    tls.connect({
      host: h,
      port: p,
      ca,
      ...(sni !== undefined ? { servername: sni } : {}),
      ...(checkName ? { checkServerIdentity: (_: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(name, cert) } : {}),
      rejectUnauthorized: true,
      minVersion: "TLSv1.2",
    });
  return { name, connect };
}

function integerOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

/** Log fields of a thrown value: its code and message, never any packet contents. */
function errorDetail(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { code: typeof code === "string" ? code : error.name, message: error.message.slice(0, 200) };
  }
  return { code: "unknown", message: String(error).slice(0, 200) };
}
