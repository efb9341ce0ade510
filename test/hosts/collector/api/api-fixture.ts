/**
 * A street for the API's tests: nodes that seal what a real node seals (the node's UplinkSealer,
 * SenML and CBOR code), a collector's opener that verifies and decrypts it, and the collector's
 * SQLite database that admits it, so every answer of the API comes from genuine messages stored
 * by the real store. The API then runs on a free port and is asked over real HTTP (fetch).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApi, type ApiOptions, type ApiServer } from "../../../../hosts/collector/api/api-server.js";
import { API_TOKEN_FILE } from "../../../../hosts/collector/api/api-token.js";
import { openedMessageOf, type CollectorDb, type DeviceKey } from "../../../../hosts/collector/db/collector-db.js";
import { Keyring } from "../../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../../hosts/collector/message-opener.js";
import { MemoryStore } from "../../../../hosts/sim/memory-store.js";
import type { LogDetail, LogLevel } from "../../../../src/platform.js";
import { CborWriter } from "../../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../../src/wire/key-ratchet.js";
import { keyIdFromRoot } from "../../../../src/wire/key-schedule.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../../../src/wire/senml.js";
import { UplinkSealer } from "../../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";

/** The first window's start, Unix s (2026-10-01T08:00:00Z). */
export const T0_S = Date.UTC(2026, 9, 1, 8, 0, 0) / 1000;
export const WINDOW_S = 300;

export function rootKeyOf(device: string): Uint8Array {
  let seed = 7;
  for (const c of device) seed = (seed * 33 + c.charCodeAt(0)) & 0xff;
  return Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 11) & 0xff);
}

/** A node's sealing side, with its own flash (MemoryStore) provisioned from its root key. */
export class SealingNode {
  readonly device: string;
  readonly zone: string;
  readonly #sealer: UplinkSealer;

  constructor(device: string, zone: string) {
    this.device = device;
    this.zone = zone;
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKeyOf(device), device));
    this.#sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: 1024 });
    this.#sealer.boot();
  }

  /** The summary of the window starting at `windowStart` (Unix s), with `records` after its window record. */
  summary(windowStart: number, records: readonly SenmlRecordOut[], windowSeconds = WINDOW_S): { topic: string; payload: Uint8Array } {
    return this.#seal("summary", windowStart, [{ name: "window", unit: "s", value: windowSeconds }, ...records], windowStart + windowSeconds);
  }

  health(time: number, records: readonly SenmlRecordOut[]): { topic: string; payload: Uint8Array } {
    return this.#seal("health", time, records, time);
  }

  #seal(kind: "summary" | "health", baseTime: number, records: readonly SenmlRecordOut[], wallS: number) {
    const topic = `civicnode/${this.zone}/${this.device}/${kind}`;
    const writer = new CborWriter(1024);
    writeSenmlPack(writer, `${this.device}/`, baseTime, [...records]);
    return { topic, payload: this.#sealer.seal(writer.written(), utf8Encode(topic), wallS * 1000) };
  }
}

/** A summary of a street node: numbers with units, a count without, and each status. */
export function streetRecords(window: number): SenmlRecordOut[] {
  return [
    { name: "noise/count", value: 300 },
    { name: "noise/leq", unit: "dB", value: 50 + window },
    { name: "temperature/mean", unit: "Cel", value: 12.5 },
    { name: "people/sum", status: window % 2 === 0 ? "suppressed" : undefined, value: window % 2 === 0 ? undefined : 7 },
    { name: "devices/distinct", status: "budget-exhausted" },
    { name: "pm2_5/status", status: "missing" },
  ];
}

export function healthRecords(uptime: number): SenmlRecordOut[] {
  return [
    { name: "uptime", unit: "s", value: uptime },
    { name: "queue", value: 0 },
    { name: "dropped", value: 2 },
    { name: "sht4x/status", status: "ok" },
    { name: "sht4x/readings", value: 99 },
    { name: "sht4x/drops/checksum", value: 1 },
    { name: "budget/people", value: 3.5 },
    { name: "commands/accepted", value: 1 },
    { name: "audit", status: "boot epoch 0", time: -10 },
  ];
}

/** The keyring's devices, opened as the collector opens them and admitted to the database. */
export class Street {
  readonly keyring = new Keyring();
  readonly devices: readonly DeviceKey[];
  readonly #opener: MessageOpener;
  readonly #db: CollectorDb;

  constructor(db: CollectorDb, nodes: ReadonlyArray<{ device: string; zone: string }>, nowMs: () => number) {
    this.#db = db;
    for (const { device, zone } of nodes) this.keyring.add(device, zone, rootKeyOf(device), new Date((T0_S - 86_400) * 1000).toISOString());
    this.devices = nodes.map(({ device, zone }) => ({ device, zone, keyId: Buffer.from(keyIdFromRoot(rootKeyOf(device), device)).toString("hex") }));
    this.#opener = new MessageOpener(this.keyring, { now: nowMs });
  }

  /** Records the keyring's devices in the database, as the collector does at its start. */
  async sync(): Promise<void> {
    await this.#db.syncDevices(this.devices);
  }

  /** Verifies, decrypts and admits one message; throws unless it is stored. */
  async admit(message: { topic: string; payload: Uint8Array }, receivedAtMs: number): Promise<void> {
    const result = this.#opener.verify(message.topic, message.payload);
    if (!result.ok) throw new Error(`the opener rejected a test message: ${result.cause} ${result.detail}`);
    const keyId = this.devices.find((d) => d.device === result.use.device)!.keyId;
    const outcome = await this.#db.admit(openedMessageOf(result, message.topic, message.payload, keyId, receivedAtMs));
    if (outcome.outcome !== "stored") throw new Error(`the store did not store a test message: ${JSON.stringify(outcome)}`);
  }
}

export interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail: LogDetail | undefined;
}

/** The API on a free port of 127.0.0.1 over `db`, its token read from the file it made, its log kept. */
export async function startTestApi(options: Omit<ApiOptions, "tokenFile" | "log"> & { readonly stateDir?: string }) {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "civicnode-api-"));
  const log: LogLine[] = [];
  const api: ApiServer = await startApi({ ...options, tokenFile: join(stateDir, API_TOKEN_FILE), log: (level, event, detail) => log.push({ level, event, detail }) });
  const token = readFileSync(api.tokenFile, "utf8").trim();
  return {
    api,
    token,
    log,
    stateDir,
    /** GET `path` as staff (the token), or as anyone (`token: null`), with extra headers. */
    get: (path: string, { token: bearer = token, headers = {} }: { token?: string | null; headers?: Record<string, string> } = {}) =>
      fetch(`${api.url}${path}`, { headers: { ...(bearer === null ? {} : { authorization: `Bearer ${bearer}` }), ...headers } }),
    async close() {
      await api.close();
      if (options.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
