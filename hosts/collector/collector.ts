/**
 * The reference collector: subscribes to every node's summaries, verifies and decrypts them, and
 * appends the decoded summaries to a JSON Lines file. Rejected messages are counted by cause and
 * logged without their bytes; nothing the broker sends can stop it.
 *
 * Example:
 *   const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1883", keyring, outputFile: "summaries.jsonl" });
 *   collector.onSummary((s) => console.log(s.device, s.channels));
 *   await collector.start();
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { connect, type MqttClient } from "mqtt";
import type { Log } from "../../src/platform.js";
import type { Keyring } from "./keyring.js";
import { REJECT_CAUSES, SummaryOpener, type DecodedSummary, type OpenResult, type RejectCause } from "./summary-opener.js";

export const SUMMARY_FILTER = "civicnode/+/+/summary";

export interface CollectorOptions {
  readonly brokerUrl: string;
  readonly keyring: Keyring;
  /** JSON Lines output; omitted: summaries are only passed to listeners. */
  readonly outputFile?: string;
  readonly clientId?: string;
  readonly log?: Log;
  /** PEM CA certificate(s) to trust for mqtts:// brokers. */
  readonly ca?: string | Uint8Array;
}

export interface CollectorStats {
  accepted: number;
  rejected: Record<RejectCause, number>;
}

/** A decoded summary as written to the JSON Lines file. */
export interface SummaryLine extends DecodedSummary {
  readonly receivedAt: string;
  readonly windowStartIso: string;
}

export class Collector {
  readonly stats: CollectorStats = { accepted: 0, rejected: Object.fromEntries(REJECT_CAUSES.map((c) => [c, 0])) as Record<RejectCause, number> };
  readonly #options: CollectorOptions;
  readonly #opener: SummaryOpener;
  readonly #log: Log;
  readonly #summaryListeners: Array<(line: SummaryLine) => void> = [];
  readonly #rejectListeners: Array<(cause: RejectCause, topic: string) => void> = [];
  #client: MqttClient | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#opener = new SummaryOpener(options.keyring);
    this.#log = options.log ?? (() => {});
    if (options.outputFile) mkdirSync(dirname(options.outputFile), { recursive: true });
  }

  onSummary(listener: (line: SummaryLine) => void): void {
    this.#summaryListeners.push(listener);
  }

  onReject(listener: (cause: RejectCause, topic: string) => void): void {
    this.#rejectListeners.push(listener);
  }

  get rejectedTotal(): number {
    return REJECT_CAUSES.reduce((sum, cause) => sum + this.stats.rejected[cause], 0);
  }

  /** Connects and subscribes; resolves once the subscription is acknowledged. Reconnects by itself afterwards. */
  start(): Promise<void> {
    const client = connect(this.#options.brokerUrl, {
      clientId: this.#options.clientId ?? `civicnode-collector-${process.pid}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(this.#options.ca ? { ca: Buffer.from(this.#options.ca), rejectUnauthorized: true } : {}),
    });
    this.#client = client;
    client.on("message", (topic, payload) => {
      this.handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    });
    client.on("error", (error) => this.#log("warn", "collector-mqtt-error", { message: error.message }));
    client.on("offline", () => this.#log("warn", "collector-offline"));
    return new Promise((resolve, reject) => {
      const onFirstError = (error: Error) => reject(error);
      client.once("error", onFirstError);
      client.on("connect", () => {
        // Subscribing on every connect restores the subscription after a broker restart.
        client.subscribe(SUMMARY_FILTER, { qos: 1 }, (error) => {
          if (error) {
            this.#log("error", "collector-subscribe-failed", { message: error.message });
            reject(error);
            return;
          }
          client.off("error", onFirstError);
          this.#log("info", "collector-subscribed", { filter: SUMMARY_FILTER });
          resolve();
        });
      });
    });
  }

  /** Verifies one message from the broker; records, counts and reports the outcome. Never throws for bad input. */
  handle(topic: string, payload: Uint8Array): OpenResult {
    let result: OpenResult;
    try {
      result = this.#opener.open(topic, payload);
    } catch (error) {
      // A defect in the opener must not take the collector down; it is counted as malformed input.
      this.#log("error", "collector-open-defect", { message: (error as Error).message });
      result = { ok: false, cause: "malformed", detail: "internal error" };
    }
    if (result.ok) {
      this.stats.accepted++;
      const line: SummaryLine = {
        receivedAt: new Date().toISOString(),
        windowStartIso: new Date(result.summary.windowStart * 1000).toISOString(),
        ...result.summary,
      };
      if (this.#options.outputFile) appendFileSync(this.#options.outputFile, JSON.stringify(line) + "\n");
      for (const listener of this.#summaryListeners) listener(line);
    } else {
      this.stats.rejected[result.cause]++;
      this.#log("warn", "summary-rejected", { cause: result.cause, topic: topic.slice(0, 200), detail: result.detail.slice(0, 200) });
      for (const listener of this.#rejectListeners) listener(result.cause, topic);
    }
    return result;
  }

  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (client) await client.endAsync(true);
  }
}
