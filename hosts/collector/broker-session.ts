/**
 * The collector's subscribe stage: one MQTT connection, QoS 1, a persistent session when the
 * collector keeps what it receives, and a PUBACK only for what it has stored.
 *
 * Two ways to run:
 * - One collector (MQTT 3.1.1; the embedded aedes broker speaks nothing newer): a persistent
 *   session (clean: false) under a client id that stays the same across restarts, so the broker
 *   holds what arrives while the collector is away.
 * - Several collectors in a `group` (MQTT 5, e.g. Mosquitto 2): every filter becomes
 *   `$share/<group>/<filter>` (MQTT 5 §4.8.2), so the broker hands each message to one member of
 *   the group; clean start off and a Session Expiry Interval (§3.1.2.11.2) keep each member's
 *   session, with the messages the broker assigned to it, for `sessionExpirySeconds` after its
 *   connection ends. What a broker does with an absent member's share is docs/collector-instances.md.
 *
 * Messages are handed over in batches (`deliverBatch`, inbound-batches.ts), or one at a time to a
 * `deliver` function. Up to twice a batch may be unacknowledged: MQTT 5's Receive Maximum tells the
 * broker so (§3.1.2.11.3), and with MQTT 3.1.1 mqtt.js is not let to read further until the store
 * catches up. A PUBACK goes out once its message is stored, in the order the messages arrived (MQTT
 * 3.1.1 and MQTT 5 §4.6), on the connection it came on (deferred-puback.ts). When the store says
 * "hold" (it could not take a message), the session stops consuming: the held message and
 * everything after it stay unacknowledged, the connection is ended, and the session connects again
 * after a backoff (doubling from `retryMs.first` to `retryMs.max`); the broker then delivers them
 * again (§4.4), and the store recognises what it had already stored.
 *
 * Example:
 *   const session = new BrokerSession(
 *     { brokerUrl, clientId, persistent: true, group: "city", filters: ["civicnode/+/+/summary"], retryMs: { first: 1000, max: 30_000 }, log },
 *     { deliverBatch: (messages) => store.admitBatch(messages) },
 *   );
 *   await session.start();
 */
import { connect, type IConnackPacket, type IDisconnectPacket, type IPublishPacket, type MqttClient } from "mqtt";
import type { Log } from "../../src/platform.js";
import { connectionOf, passOnWithoutPuback, sendPuback, type Connection, type PassOn } from "./deferred-puback.js";
import { checkLimits, InboundBatches, type BatchLimits, type BrokerMessage, type DeliverBatch, type Delivery } from "./inbound-batches.js";

export type { BatchLimits, BrokerMessage, DeliverBatch, Delivery } from "./inbound-batches.js";

/**
 * How long the broker keeps a group member's session after its connection ends: 7 days. A member
 * that comes back within it misses nothing (Mosquitto keeps assigning it messages meanwhile, and
 * drops its queue when the session expires); a week rides out a restart, an upgrade, a failed one
 * found after a weekend, a host replaced. docs/collector-instances.md says how to retire a member.
 */
export const DEFAULT_SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;

/**
 * Batches for `deliverBatch` by default: a transaction of up to 200 messages, the first waiting up
 * to 10 ms for others. Without a wait, the first message of every burst would go alone (mqtt.js
 * parses a TCP read one packet per tick, and a synchronous store runs at the first).
 */
export const DEFAULT_BATCH: BatchLimits = { max: 200, waitMs: 10 };

/** MQTT 5 Session Expiry Interval: a four-byte integer (§3.1.2.11.2); 0xFFFFFFFF never expires. */
const MAX_SESSION_EXPIRY = 0xffff_ffff;
/** MQTT 5 reason code of a DISCONNECT sent because another connection took the session over (§3.14.2.1). */
const SESSION_TAKEN_OVER = 0x8e;

export interface BrokerSessionOptions {
  readonly brokerUrl: string;
  /** The CA to pin (PEM), for mqtts://. */
  readonly ca?: string;
  /** Names the session: stable across restarts, and different for every member of a group. */
  readonly clientId: string;
  /** clean: false (the broker keeps the session and its messages while the collector is away). */
  readonly persistent: boolean;
  readonly filters: readonly string[];
  readonly retryMs: { readonly first: number; readonly max: number };
  readonly log: Log;
  /** Told when consumption pauses (a held message) and resumes. */
  readonly onPause?: (paused: boolean) => void;
  /** Filters every instance subscribes to on its own, group or not (retained messages: a shared subscription gets none, MQTT 5 §4.8.2). */
  readonly unsharedFilters?: readonly string[];
  /** An MQTT 5 shared subscription group: instances with the same group split the messages. */
  readonly group?: string;
  /** Session Expiry Interval (s) of a persistent session in a group; default DEFAULT_SESSION_EXPIRY_SECONDS. */
  readonly sessionExpirySeconds?: number;
  /** Batch limits; default DEFAULT_BATCH with `deliverBatch`, one message at a time with `deliver`. */
  readonly batch?: BatchLimits;
}

/** Stores one message, synchronously. */
export type DeliverOne = (topic: string, payload: Uint8Array) => Delivery;

/** Stores several messages at once (one transaction); answers per message, in order. */
export interface BatchConsumer {
  readonly deliverBatch: DeliverBatch;
}

export interface BrokerSessionStats {
  /** Messages the broker delivered, copies included. */
  received: number;
  /** PUBACKs sent: messages the broker may forget. */
  acknowledged: number;
  /** Messages left unacknowledged for the broker to deliver again: held, behind a held one, or whose connection ended first. */
  leftToBroker: number;
  /** Connections established (the first and every reconnection). */
  connections: number;
}

/** Where a message is acknowledged: its client and connection, and its packet identifier (none for QoS 0). */
interface Ticket {
  readonly client: MqttClient;
  readonly connection: Connection;
  readonly messageId: number | undefined;
}

export class BrokerSession {
  readonly stats: BrokerSessionStats = { received: 0, acknowledged: 0, leftToBroker: 0, connections: 0 };
  readonly #options: BrokerSessionOptions;
  readonly #protocolVersion: 4 | 5;
  readonly #filters: readonly string[];
  readonly #sessionExpiry: number;
  readonly #batches: InboundBatches<Ticket>;
  /** Messages that may be unacknowledged at once: MQTT 5's Receive Maximum, and the limit on mqtt.js with 3.1.1. */
  readonly #window: number;
  #client: MqttClient | undefined;
  /** mqtt.js's callback for the newest message, kept while the window is full: calling it lets the next one in. */
  #gate: PassOn | undefined;
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #paused = false;
  #stopping = false;
  /** The broker has had a session of ours in this process (a later CONNACK without one means it lost it). */
  #hadSession = false;

  constructor(options: BrokerSessionOptions, consumer: DeliverOne | BatchConsumer) {
    this.#options = options;
    const { group } = options;
    if (group !== undefined) checkGroup(group);
    this.#protocolVersion = group === undefined ? 4 : 5;
    this.#filters = [...options.filters.map((filter) => (group === undefined ? filter : `$share/${group}/${filter}`)), ...(options.unsharedFilters ?? [])];
    this.#sessionExpiry = options.sessionExpirySeconds ?? DEFAULT_SESSION_EXPIRY_SECONDS;
    if (!Number.isInteger(this.#sessionExpiry) || this.#sessionExpiry < 0 || this.#sessionExpiry > MAX_SESSION_EXPIRY) {
      throw new TypeError(`sessionExpirySeconds must be an integer from 0 to ${MAX_SESSION_EXPIRY} (got ${String(options.sessionExpirySeconds)})`);
    }
    const one = typeof consumer === "function";
    const limits = options.batch ?? (one ? { max: 1, waitMs: 0 } : DEFAULT_BATCH);
    checkLimits(limits);
    this.#window = Math.min(0xffff, 2 * limits.max);
    this.#batches = new InboundBatches<Ticket>({
      ...limits,
      deliver: one ? oneAtATime(consumer) : (messages) => consumer.deliverBatch(messages),
      acknowledge: (ticket) => this.#acknowledge(ticket),
      hold: (left) => this.#hold(left),
      settled: () => this.#letNextIn(),
      log: options.log,
    });
    this.#retryMs = options.retryMs.first;
  }

  /** Not consuming: a message is held, and the session waits to connect again. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Connects and subscribes; resolves once the subscription is acknowledged. Reconnects by itself afterwards. */
  start(): Promise<void> {
    const { brokerUrl, ca, clientId, persistent, group, log } = this.#options;
    const filters = this.#filters;
    const v5 = this.#protocolVersion === 5;
    const client = connect(brokerUrl, {
      clientId,
      clean: !persistent,
      protocolVersion: this.#protocolVersion,
      ...(v5 ? { properties: { sessionExpiryInterval: persistent ? this.#sessionExpiry : 0, receiveMaximum: this.#window } } : {}),
      resubscribe: false, // every connect subscribes (below)
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      // mqtt.js hands these to tls.connect, which then trusts only this CA and checks the broker's
      // name (test/hosts/collector/collector-tls.test.ts makes sure).
      ...(ca !== undefined ? { ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {}),
    });
    this.#client = client;
    client.handleMessage = (packet, done) => this.#receive(client, packet, done);
    client.on("error", (error) => {
      const code = (error as { code?: unknown }).code;
      log("warn", "collector-mqtt-error", { ...(code !== undefined ? { code: String(code) } : {}), message: error.message.slice(0, 200) });
    });
    client.on("offline", () => {
      if (!this.#paused) log("warn", "collector-offline"); // a pause is reported as the store failure it is
    });
    client.on("close", () => {
      // What waits for a batch came on the connection that ended: the broker delivers it again.
      this.stats.leftToBroker += this.#batches.forget();
      this.#gate = undefined; // that connection's reader: gone with it
    });
    client.on("disconnect", (packet: IDisconnectPacket) => {
      if (packet.reasonCode === SESSION_TAKEN_OVER) {
        log("error", "collector-session-taken-over", { clientId, action: "another connection uses this client id: give every collector instance its own" });
      } else {
        log("warn", "collector-disconnected-by-broker", { reasonCode: packet.reasonCode ?? 0 });
      }
    });
    return new Promise((resolve, reject) => {
      const onFirstError = (error: Error) => reject(explainRefusal(error, group));
      client.once("error", onFirstError);
      client.on("connect", (connack: IConnackPacket) => {
        this.stats.connections++;
        if (persistent && this.#hadSession && !connack.sessionPresent) {
          log("warn", "collector-session-lost", { clientId, detail: "the broker kept no session for this collector: what it held for it while away is gone" });
        }
        this.#hadSession = persistent;
        // Subscribing on every connect restores the subscription after a broker restart (Mosquitto
        // keeps a session's shared subscriptions only while it runs: docs/collector-instances.md).
        client.subscribe([...filters], { qos: 1 }, (error) => {
          if (error) {
            log("error", "collector-subscribe-failed", { message: error.message });
            reject(error);
            return;
          }
          client.off("error", onFirstError);
          log("info", "collector-subscribed", {
            filters: filters.join(" "),
            clientId,
            session: persistent ? "persistent" : "clean",
            resumed: connack.sessionPresent ? "yes" : "no",
            protocol: v5 ? "mqtt5" : "mqtt3.1.1",
          });
          resolve();
        });
      });
    });
  }

  /**
   * Takes no more messages, lets the batch being stored finish and acknowledges it, then ends the
   * connection. Once it resolves, the consumer is not called again.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#batches.stop();
    const client = this.#client;
    this.#client = undefined;
    this.#gate = undefined;
    if (client) await client.endAsync(true);
  }

  #receive(client: MqttClient, packet: IPublishPacket, done: PassOn): void {
    // A connection being dropped, or one that ended with messages still parsed: the broker delivers them again.
    if (client !== this.#client || this.#paused || this.#stopping || !client.connected) return;
    this.stats.received++;
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload, "utf8") : packet.payload;
    this.#batches.add(
      { topic: packet.topic, payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength) },
      { client, connection: connectionOf(client), messageId: packet.qos > 0 ? packet.messageId : undefined },
    );
    if (this.#batches.size < this.#window) passOnWithoutPuback(done);
    else this.#gate = done; // the window is full: the next message waits for a batch to be answered
  }

  #acknowledge(ticket: Ticket): void {
    this.#retryMs = this.#options.retryMs.first;
    if (ticket.messageId === undefined) return; // QoS 0: nothing to acknowledge
    let sent = false;
    try {
      sent = sendPuback(ticket.client, ticket.connection, ticket.messageId, this.#protocolVersion);
    } catch (error) {
      this.#options.log("warn", "collector-puback-failed", { message: String((error as Error)?.message ?? error).slice(0, 200) });
    }
    if (sent) this.stats.acknowledged++;
    else this.stats.leftToBroker++;
  }

  #letNextIn(): void {
    const gate = this.#gate;
    if (gate === undefined || this.#batches.size >= this.#window) return;
    this.#gate = undefined;
    passOnWithoutPuback(gate);
  }

  #hold(left: number): void {
    this.stats.leftToBroker += left;
    const client = this.#client;
    if (this.#stopping || !client || this.#paused) return; // stop() ends the connection itself
    this.#pause(client);
  }

  /** Stops consuming without acknowledging, and comes back after the backoff. */
  #pause(client: MqttClient): void {
    this.#setPaused(true);
    this.#gate = undefined;
    const delay = this.#retryMs;
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.retryMs.max);
    process.nextTick(() =>
      client.end(true, () => {
        if (client !== this.#client) return; // stopped meanwhile
        this.#retryTimer = setTimeout(() => {
          this.#retryTimer = undefined;
          this.#setPaused(false);
          if (client === this.#client) client.reconnect();
        }, delay);
      }),
    );
  }

  #setPaused(paused: boolean): void {
    this.#paused = paused;
    this.#options.onPause?.(paused);
  }
}

/** A synchronous `deliver` as a batch consumer: in order, and none after the first "hold" (it would be held anyway). */
function oneAtATime(deliver: DeliverOne): DeliverBatch {
  return async (messages) => {
    const answers: Delivery[] = [];
    for (const { topic, payload } of messages) {
      const answer = deliver(topic, payload);
      answers.push(answer);
      if (answer !== "ack") break;
    }
    return answers;
  };
}

/** MQTT 5 §4.8.2: a ShareName is at least one character, without "/", "+" or "#". */
function checkGroup(group: string): void {
  if (typeof group !== "string" || group.length === 0 || /[/+#\u0000]/u.test(group) || Buffer.byteLength(group) > 256) {
    throw new TypeError(`group must be a non-empty name of at most 256 bytes without "/", "+", "#" (got ${JSON.stringify(group)})`);
  }
}

/** A broker that refuses MQTT 5 cannot hold a group: say so rather than "unacceptable protocol version". */
function explainRefusal(error: Error, group: string | undefined): Error {
  const code = (error as { code?: unknown }).code;
  // CONNACK return code 1 of MQTT 3.1.1 (§3.2.2.3), reason code 0x84 of MQTT 5 (§3.2.2.2).
  if (group === undefined || (code !== 1 && code !== 0x84)) return error;
  return new Error(
    `the broker refused MQTT 5, which a shared subscription group ("${group}") needs (the embedded aedes broker speaks MQTT 3.1.1 only): ` +
      `run one collector without a group, or use a broker with MQTT 5 such as Mosquitto 2 (${error.message})`,
  );
}
