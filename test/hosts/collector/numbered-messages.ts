/**
 * Messages for the subscribe stage's tests: plain MQTT publishers (mqtt.js, MQTT 3.1.1 like the
 * nodes) sending numbered payloads the size of a sealed summary, a store that records what it is
 * given and answers as the test says, and sessions that are stopped after each test.
 */
import { connectAsync, type MqttClient } from "mqtt";
import { BrokerSession, type BrokerSessionOptions, type BrokerMessage, type Delivery } from "../../../hosts/collector/broker-session.js";
import type { LogDetail, LogLevel } from "../../../src/platform.js";
import { cleanups } from "../../support/mqtt-test-brokers.js";

/** A sealed summary of the simulator's street (COSE_Encrypt0 of its SenML pack), in bytes. */
export const SEALED_SUMMARY_BYTES = 1059;

/** `SEALED_SUMMARY_BYTES` bytes: the number in the first four (big-endian), then a filler that depends on it. */
export function numbered(n: number): Buffer {
  const payload = Buffer.alloc(SEALED_SUMMARY_BYTES);
  payload.writeUInt32BE(n, 0);
  for (let i = 4; i < payload.length; i++) payload[i] = (n * 31 + i * 7) & 0xff;
  return payload;
}

export function numberOf(payload: Uint8Array): number {
  return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).readUInt32BE(0);
}

/** Summaries and, every fifth, a health report, from seven lamps. */
export function topicOf(n: number): string {
  return `civicnode/zone-1/lamp-${n % 7}/${n % 5 === 4 ? "health" : "summary"}`;
}

export const FILTERS = ["civicnode/+/+/summary", "civicnode/+/+/health"] as const;

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

let publishers = 0;

/** A node-like publisher (MQTT 3.1.1, QoS 1), ended after the test. */
export async function publisher(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { clientId: `numbered-publisher-${process.pid}-${++publishers}`, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

/** Publishes `numbers` at QoS 1; resolves once the broker has acknowledged each. */
export async function publish(client: MqttClient, numbers: readonly number[]): Promise<void> {
  for (const n of numbers) await client.publishAsync(topicOf(n), numbered(n), { qos: 1 });
}

/** A store for the session's `deliverBatch`: records every batch, answers with `answer` (default: all stored). */
export class RecordingStore {
  /** Every batch handed over, as message numbers. */
  readonly batches: number[][] = [];
  /** Numbers answered "ack", in order (copies included). */
  readonly stored: number[] = [];
  answer: (numbers: readonly number[]) => Promise<readonly Delivery[]> | readonly Delivery[] = (numbers) => numbers.map(() => "ack" as const);

  readonly deliverBatch = async (messages: readonly BrokerMessage[]): Promise<readonly Delivery[]> => {
    const numbers = messages.map((m) => {
      if (m.topic !== topicOf(numberOf(m.payload))) throw new Error(`message ${numberOf(m.payload)} came on ${m.topic}`);
      return numberOf(m.payload);
    });
    this.batches.push(numbers);
    const answers = await this.answer(numbers);
    numbers.forEach((n, i) => {
      if (answers[i] === "ack") this.stored.push(n);
    });
    return answers;
  };

  /** Every number handed over, copies included. */
  get seen(): number[] {
    return this.batches.flat();
  }
}

export interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail: LogDetail | undefined;
}

/** A session with the tests' defaults (persistent, quick retries), stopped after the test. */
export function session(
  options: Partial<BrokerSessionOptions> & { readonly brokerUrl: string; readonly clientId: string },
  store: RecordingStore,
  logs: LogLine[] = [],
): BrokerSession {
  const s = new BrokerSession(
    {
      persistent: true,
      filters: FILTERS,
      retryMs: { first: 50, max: 200 },
      log: (level, event, detail) => logs.push({ level, event, detail }),
      ...options,
    },
    store,
  );
  cleanups.push(() => s.stop());
  return s;
}

/** Numbers that occur more than once in `numbers`. */
export function repeated(numbers: readonly number[]): number[] {
  const seen = new Set<number>();
  const twice = new Set<number>();
  for (const n of numbers) (seen.has(n) ? twice : seen).add(n);
  return [...twice].sort((a, b) => a - b);
}

export function sorted(numbers: Iterable<number>): number[] {
  return [...numbers].sort((a, b) => a - b);
}
