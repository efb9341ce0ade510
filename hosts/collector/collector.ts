/**
 * The reference collector: subscribes to every node's summaries and health reports, verifies and
 * decrypts them, and appends the decoded messages to JSON Lines files. Rejected messages are
 * counted by cause and logged without their bytes; nothing the broker sends can stop it.
 *
 * Example:
 *   const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1883", keyring, outputFile: "summaries.jsonl" });
 *   collector.onSummary((s) => console.log(s.device, s.channels));
 *   await collector.start();
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { connect, type MqttClient } from "mqtt";
import type { Log } from "../../src/platform.js";
import type { Keyring } from "./keyring.js";
import { pinnedCaPem } from "../node/pinned-ca.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { keyIdFromRoot } from "../../src/wire/key-schedule.js";
import { REJECT_CAUSES, MessageOpener, type DecodedHealth, type DecodedSummary, type OpenResult, type RejectCause } from "./message-opener.js";

export const SUMMARY_FILTER = "civicnode/+/+/summary";
export const HEALTH_FILTER = "civicnode/+/+/health";

export interface CollectorOptions {
  readonly brokerUrl: string;
  readonly keyring: Keyring;
  /** JSON Lines output of summaries; omitted: summaries are only passed to listeners. */
  readonly outputFile?: string;
  /** JSON Lines output of health reports. */
  readonly healthFile?: string;
  /**
   * Where the replay windows are kept across restarts (written a moment after each accepted
   * message, and on stop). Without it, a restarted collector would accept a replay once.
   */
  readonly stateFile?: string;
  readonly clientId?: string;
  readonly log?: Log;
  /**
   * PEM CA certificate(s): required with an mqtts:// broker, and the only CA trusted for its
   * certificate (pinned; the system's public roots are not used). Refused with mqtt://.
   */
  readonly ca?: string | Uint8Array;
}

export interface CollectorStats {
  /** Messages accepted: summaries and health reports. */
  accepted: number;
  summaries: number;
  healthReports: number;
  rejected: Record<RejectCause, number>;
}

/** A decoded health report as written to its JSON Lines file. */
export interface HealthLine extends DecodedHealth {
  readonly receivedAt: string;
  readonly timeIso: string;
}

/** A decoded summary as written to the JSON Lines file. */
export interface SummaryLine extends DecodedSummary {
  readonly receivedAt: string;
  readonly windowStartIso: string;
}

export class Collector {
  readonly stats: CollectorStats = {
    accepted: 0,
    summaries: 0,
    healthReports: 0,
    rejected: Object.fromEntries(REJECT_CAUSES.map((c) => [c, 0])) as Record<RejectCause, number>,
  };
  readonly #options: CollectorOptions;
  readonly #opener: MessageOpener;
  readonly #log: Log;
  readonly #summaryListeners: Array<(line: SummaryLine) => void> = [];
  readonly #healthListeners: Array<(line: HealthLine) => void> = [];
  readonly #rejectListeners: Array<(cause: RejectCause, topic: string) => void> = [];
  #client: MqttClient | undefined;
  /** The pinned CA, PEM, for an mqtts:// broker. */
  readonly #ca: string | undefined;

  constructor(options: CollectorOptions) {
    this.#options = options;
    this.#opener = new MessageOpener(options.keyring);
    this.#log = options.log ?? (() => {});
    this.#ca = brokerCa(options.brokerUrl, options.ca);
    if (options.stateFile && existsSync(options.stateFile)) this.#loadState(options.stateFile);
    for (const file of [options.outputFile, options.healthFile]) if (file) mkdirSync(dirname(file), { recursive: true });
  }

  onSummary(listener: (line: SummaryLine) => void): void {
    this.#summaryListeners.push(listener);
  }

  onHealth(listener: (line: HealthLine) => void): void {
    this.#healthListeners.push(listener);
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
      // mqtt.js hands these to tls.connect, which then trusts only this CA and checks the broker's
      // name (test/hosts/collector/collector-tls.test.ts makes sure).
      ...(this.#ca !== undefined ? { ca: this.#ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {}),
    });
    this.#client = client;
    client.on("message", (topic, payload) => {
      this.handle(topic, new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
    });
    client.on("error", (error) => {
      const code = (error as { code?: unknown }).code;
      this.#log("warn", "collector-mqtt-error", { ...(code !== undefined ? { code: String(code) } : {}), message: error.message.slice(0, 200) });
    });
    client.on("offline", () => this.#log("warn", "collector-offline"));
    return new Promise((resolve, reject) => {
      const onFirstError = (error: Error) => reject(error);
      client.once("error", onFirstError);
      client.on("connect", () => {
        // Subscribing on every connect restores the subscription after a broker restart.
        client.subscribe([SUMMARY_FILTER, HEALTH_FILTER], { qos: 1 }, (error) => {
          if (error) {
            this.#log("error", "collector-subscribe-failed", { message: error.message });
            reject(error);
            return;
          }
          client.off("error", onFirstError);
          this.#log("info", "collector-subscribed", { filters: `${SUMMARY_FILTER} ${HEALTH_FILTER}` });
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
    if (result.ok) this.#scheduleSave();
    if (result.ok && result.kind === "summary") {
      this.stats.accepted++;
      this.stats.summaries++;
      const line: SummaryLine = {
        receivedAt: new Date().toISOString(),
        windowStartIso: new Date(result.summary.windowStart * 1000).toISOString(),
        ...result.summary,
      };
      if (this.#options.outputFile) appendFileSync(this.#options.outputFile, JSON.stringify(line) + "\n");
      for (const listener of this.#summaryListeners) listener(line);
    } else if (result.ok) {
      this.stats.accepted++;
      this.stats.healthReports++;
      const line: HealthLine = { receivedAt: new Date().toISOString(), timeIso: new Date(result.health.time * 1000).toISOString(), ...result.health };
      if (this.#options.healthFile) appendFileSync(this.#options.healthFile, JSON.stringify(line) + "\n");
      for (const listener of this.#healthListeners) listener(line);
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
    if (this.#saveTimer) clearTimeout(this.#saveTimer);
    this.#saveState();
  }

  #saveTimer: NodeJS.Timeout | undefined;

  #scheduleSave(): void {
    if (!this.#options.stateFile || this.#saveTimer) return;
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = undefined;
      this.#saveState();
    }, 200);
  }

  #saveState(): void {
    const file = this.#options.stateFile;
    if (!file) return;
    const state = this.#opener.exportReplayState();
    const replay = Object.fromEntries([...state].map(([key, bytes]) => [key, Buffer.from(bytes).toString("hex")]));
    // The key each device's windows belong to: a device provisioned again starts its counters over.
    const keys: Record<string, string> = {};
    for (const key of state.keys()) {
      const device = key.slice(0, key.lastIndexOf("/"));
      const id = this.#keyIdHex(device);
      if (id) keys[device] = id;
    }
    try {
      writeFileAtomic(file, JSON.stringify({ format: "civicnode-collector-state", version: 1, replay, keys }) + "\n", 0o600);
    } catch (error) {
      this.#log("error", "collector-state-not-saved", { message: (error as Error).message });
    }
  }

  /** Key ids by device and root key, derived once each (every save names them). */
  readonly #keyIds = new WeakMap<Uint8Array, string>();

  /** The public fingerprint of the device's key in the keyring, hex; undefined for an unknown device. */
  #keyIdHex(device: string): string | undefined {
    const entry = this.#options.keyring.get(device);
    if (!entry) return undefined;
    let id = this.#keyIds.get(entry.rootKey);
    if (id === undefined) {
      id = Buffer.from(keyIdFromRoot(entry.rootKey, device)).toString("hex");
      this.#keyIds.set(entry.rootKey, id);
    }
    return id;
  }

  #loadState(file: string): void {
    try {
      const document = JSON.parse(readFileSync(file, "utf8")) as { format?: unknown; replay?: Record<string, unknown>; keys?: Record<string, unknown> };
      if (document.format !== "civicnode-collector-state" || typeof document.replay !== "object" || document.replay === null) throw new Error("not a collector state file");
      const savedKeys = typeof document.keys === "object" && document.keys !== null ? document.keys : {};
      const reset = new Set<string>();
      const state = new Map<string, Uint8Array>();
      for (const [key, hex] of Object.entries(document.replay)) {
        if (typeof hex !== "string" || !/^([0-9a-f]{2})+$/.test(hex)) continue;
        const device = key.slice(0, key.lastIndexOf("/"));
        const saved = savedKeys[device];
        // Windows of a key the keyring no longer holds: the device was provisioned again, and its
        // new key's counters start over. They cannot replay anything sealed under the old key.
        if (typeof saved === "string" && saved !== this.#keyIdHex(device)) {
          reset.add(device);
          continue;
        }
        state.set(key, new Uint8Array(Buffer.from(hex, "hex")));
      }
      for (const device of reset) this.#log("info", "replay-state-reset", { device, reason: "the keyring holds a new key for this device" });
      this.#opener.importReplayState(state);
    } catch (error) {
      // Without its windows the collector would accept each old message once more: say so loudly.
      this.#log("error", "collector-state-unreadable", { file, message: (error as Error).message });
    }
  }
}

/** The CA to pin for the broker: required with mqtts://, refused with mqtt:// (no silent plaintext). */
function brokerCa(brokerUrl: string, ca: string | Uint8Array | undefined): string | undefined {
  const secure = /^mqtts:/i.test(brokerUrl);
  if (secure && ca === undefined) throw new TypeError("an mqtts:// broker needs the CA certificate to pin (ca)");
  if (!secure && ca !== undefined) throw new TypeError("a CA was given for a plaintext broker URL; use mqtts://");
  return ca === undefined ? undefined : pinnedCaPem(ca);
}
