/**
 * The collector's subscribe stage: one MQTT connection, QoS 1, in a persistent session (clean:
 * false, a client id that stays the same across restarts) when the collector keeps files, so that
 * the broker holds what arrives while it is away.
 *
 * A message is acknowledged only when `deliver` says it is done with it (stored, or rejected with
 * nothing to store). mqtt.js sends the PUBACK of a QoS 1 message when `handleMessage` calls back
 * (mqtt/build/lib/handlers/publish.js) and hands over the next message only then. When `deliver`
 * says "hold" (its disk refused the write), the session ends the connection without the PUBACK, so
 * that the broker keeps that message and everything after it, and connects again after a backoff
 * (doubling from `retryMs.first` to `retryMs.max`); the broker then delivers them again.
 */
import { connect, type IPublishPacket, type MqttClient } from "mqtt";
import type { Log } from "../../src/platform.js";

export interface BrokerSessionOptions {
  readonly brokerUrl: string;
  /** The CA to pin (PEM), for mqtts://. */
  readonly ca?: string;
  readonly clientId: string;
  /** clean: false (the broker keeps the session and its messages while the collector is away). */
  readonly persistent: boolean;
  readonly filters: readonly string[];
  readonly retryMs: { readonly first: number; readonly max: number };
  readonly log: Log;
  /** Told when consumption pauses (a held message) and resumes. */
  readonly onPause?: (paused: boolean) => void;
}

/** What became of a message: "ack" to acknowledge it, "hold" to have the broker deliver it again later. */
export type Delivery = "ack" | "hold";

export class BrokerSession {
  readonly #options: BrokerSessionOptions;
  readonly #deliver: (topic: string, payload: Uint8Array) => Delivery;
  #client: MqttClient | undefined;
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #paused = false;

  constructor(options: BrokerSessionOptions, deliver: (topic: string, payload: Uint8Array) => Delivery) {
    this.#options = options;
    this.#deliver = deliver;
    this.#retryMs = options.retryMs.first;
  }

  /** Not consuming: a message is held, and the session waits to connect again. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Connects and subscribes; resolves once the subscription is acknowledged. Reconnects by itself afterwards. */
  start(): Promise<void> {
    const { brokerUrl, ca, clientId, persistent, filters, log } = this.#options;
    const client = connect(brokerUrl, {
      clientId,
      clean: !persistent,
      resubscribe: false, // every connect subscribes (below)
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      // mqtt.js hands these to tls.connect, which then trusts only this CA and checks the broker's
      // name (test/hosts/collector/collector-tls.test.ts makes sure).
      ...(ca !== undefined ? { ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {}),
    });
    this.#client = client;
    client.handleMessage = (packet, done) => this.#consume(client, packet, done);
    client.on("error", (error) => {
      const code = (error as { code?: unknown }).code;
      log("warn", "collector-mqtt-error", { ...(code !== undefined ? { code: String(code) } : {}), message: error.message.slice(0, 200) });
    });
    client.on("offline", () => {
      if (!this.#paused) log("warn", "collector-offline"); // a pause is reported as the store failure it is
    });
    return new Promise((resolve, reject) => {
      const onFirstError = (error: Error) => reject(error);
      client.once("error", onFirstError);
      client.on("connect", () => {
        // Subscribing on every connect restores the subscription after a broker restart.
        client.subscribe([...filters], { qos: 1 }, (error) => {
          if (error) {
            log("error", "collector-subscribe-failed", { message: error.message });
            reject(error);
            return;
          }
          client.off("error", onFirstError);
          log("info", "collector-subscribed", { filters: filters.join(" "), clientId, session: persistent ? "persistent" : "clean" });
          resolve();
        });
      });
    });
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (client) await client.endAsync(true);
  }

  #consume(client: MqttClient, packet: IPublishPacket, done: (error?: Error) => void): void {
    if (client !== this.#client || this.#paused) return; // being dropped: the broker delivers it again
    const payload = typeof packet.payload === "string" ? Buffer.from(packet.payload, "utf8") : packet.payload;
    if (this.#deliver(packet.topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength)) === "hold") {
      this.#pause(client);
      return;
    }
    this.#retryMs = this.#options.retryMs.first;
    done();
  }

  /** Stops consuming without acknowledging, and comes back after the backoff. */
  #pause(client: MqttClient): void {
    this.#setPaused(true);
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
