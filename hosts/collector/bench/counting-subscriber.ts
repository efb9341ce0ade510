/**
 * The benchmark's yardstick: an MQTT subscriber that only counts what the broker delivers (QoS 1,
 * mqtt.js acknowledging each message as it is parsed), so its rate is what the broker and one
 * client's receive/parse/acknowledge path can do with nothing stored.
 *
 * Like a collector, it keeps a persistent session (clean: false, MQTT 3.1.1) under a fixed client
 * id: `prime()` subscribes and leaves, the broker queues what is published meanwhile, and `drain()`
 * comes back and takes the backlog, exactly as the collector is measured.
 */
import { connect, type MqttClient } from "mqtt";

export interface CountingSubscriberOptions {
  readonly brokerUrl: string;
  readonly clientId: string;
  readonly filter: string;
}

export interface DrainResult {
  readonly received: number;
  /** When the first and the last message arrived (ms on the shared time base: performance.timeOrigin + now). */
  readonly firstAtMs: number;
  readonly lastAtMs: number;
  /** CPU (user + system, µs) from `drain()` to the last message. */
  readonly cpuMicros: number;
}

export class CountingSubscriber {
  readonly #options: CountingSubscriberOptions;

  constructor(options: CountingSubscriberOptions) {
    this.#options = options;
  }

  /** Creates the session and its subscription, then disconnects: the broker queues for it from now on. */
  async prime(): Promise<void> {
    const client = await this.#connect();
    await client.subscribeAsync(this.#options.filter, { qos: 1 });
    await client.endAsync();
  }

  /** Comes back and counts until `expected` messages arrived (rejects after `timeoutMs` without one). */
  drain(expected: number, timeoutMs: number): Promise<DrainResult> {
    const cpu0 = process.cpuUsage();
    return new Promise((resolve, reject) => {
      let received = 0;
      let firstAtMs = 0;
      let idle: NodeJS.Timeout | undefined;
      const client = connect(this.#options.brokerUrl, { clientId: this.#options.clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
      const quiet = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          client.end(true);
          reject(new Error(`the counting subscriber got ${received} of ${expected} messages, then nothing for ${timeoutMs} ms`));
        }, timeoutMs);
      };
      quiet();
      client.on("error", (error) => {
        clearTimeout(idle);
        reject(error);
      });
      client.on("message", () => {
        const now = performance.timeOrigin + performance.now();
        if (received === 0) firstAtMs = now;
        if (++received % 256 === 0) quiet();
        if (received !== expected) return;
        const cpu = process.cpuUsage(cpu0);
        clearTimeout(idle);
        // The last PUBACK goes out as the handler returns; leave after it.
        setImmediate(() => client.end(false, () => resolve({ received, firstAtMs, lastAtMs: now, cpuMicros: cpu.user + cpu.system })));
      });
    });
  }

  #connect(): Promise<MqttClient> {
    const client = connect(this.#options.brokerUrl, { clientId: this.#options.clientId, clean: false, protocolVersion: 4, reconnectPeriod: 0 });
    return new Promise((resolve, reject) => {
      client.once("connect", () => resolve(client));
      client.once("error", reject);
    });
  }
}
