/**
 * A street for the dashboard's tests: real nodes (the firmware core, CivicNode, on the simulated
 * reference board at a position of its own, its flash in memory, all on one virtual clock) whose
 * published messages are delivered, as the broker would deliver them, to a real collector
 * (Collector.handle) on a real SQLite database; the collector's API with the dashboard on a free
 * port of 127.0.0.1. Everything the page shows is what the nodes sealed and the collector stored.
 *
 * A test moves the clock (`advance`) and may hold back chosen summaries (a window never received:
 * a gap the dashboard must mark as missing), or deliver messages of its own (`deliver`).
 *
 * Example:
 *   const street = await DashboardStreet.start({ devices: ["street-01", "street-02"] });
 *   await street.advance(2 * HOUR_MS);
 *   const page = await browser.context.newPage();
 *   await page.goto(street.api.staffLoginUrl());
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startApi, type ApiServer } from "../../../../hosts/collector/api/api-server.js";
import { API_TOKEN_FILE } from "../../../../hosts/collector/api/api-token.js";
import { Collector } from "../../../../hosts/collector/collector.js";
import type { SqlCollectorDb } from "../../../../hosts/collector/db/sql-collector-db.js";
import { openCollectorDb } from "../../../../hosts/collector/db/open-collector-db.js";
import { Keyring } from "../../../../hosts/collector/keyring.js";
import { buildDashboardAssets, type DashboardAssets } from "../../../../hosts/collector/web/dashboard-bundle.js";
import { dashboardPages } from "../../../../hosts/collector/web/dashboard-pages.js";
import { LoopbackTransport } from "../../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../../hosts/sim/sim-clock.js";
import { streetNodeConfig, streetPosition } from "../../../../hosts/sim/street.js";
import { CivicNode } from "../../../../src/node.js";
import type { LogDetail, LogLevel, Platform } from "../../../../src/platform.js";
import { parseNodeConfig } from "../../../../src/policy/node-config.js";
import { sealCommand } from "../../../../src/uplink/downlink-command.js";
import { provisioningWrites } from "../../../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../../../src/wire/key-schedule.js";

export const ZONE = "demo-street";
export const WINDOW_MS = 300_000;
export const HOUR_MS = 3_600_000;
/** A weekday morning, on a window boundary: the street is busy, so counts are released and suppressed both. */
export const START_MS = Date.UTC(2026, 2, 10, 7, 0, 0);
/** The clock moves in steps of this, delivering what the nodes published after each. */
const STEP_MS = 60_000;

export function rootKeyOf(device: string): Uint8Array {
  let seed = 3;
  for (const c of device) seed = (seed * 29 + c.charCodeAt(0)) & 0xff;
  return Uint8Array.from({ length: 32 }, (_, i) => (seed + i * 13) & 0xff);
}

export interface Published {
  readonly device: string;
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** One real node: the firmware core on the reference board, its flash in memory. */
class StreetNode {
  readonly device: string;
  readonly #clock: SimClock;
  readonly #transport = new LoopbackTransport();
  readonly #node: CivicNode;
  #taken = 0;
  #commands = 0;

  constructor(device: string, clock: SimClock) {
    this.device = device;
    this.#clock = clock;
    const store = new MemoryStore();
    store.commit(provisioningWrites(rootKeyOf(device), device));
    const { board } = simulatedReferenceBoard(device, ZONE, clock, clock);
    const platform: Platform = { clock, timers: clock, random: new SeededRandom(`dashboard/${device}`), store, transport: this.#transport, buses: board, log: () => {} };
    const config = streetNodeConfig(device, ZONE) as { disclosure: Record<string, unknown> };
    config.disclosure.position = streetPosition(device);
    this.#node = new CivicNode(platform, parseNodeConfig(config));
    this.#node.start();
  }

  /** What it published since the last call, in order. */
  take(): Published[] {
    const published = this.#transport.published.slice(this.#taken);
    this.#taken += published.length;
    return published.map((m) => ({ device: this.device, topic: m.topic, payload: m.payload }));
  }

  /** A downlink command sealed as `npm run cmd` seals it, delivered to the node. */
  command(name: "rotate-epoch" | "republish-disclosure"): void {
    const topic = `civicnode/${ZONE}/${this.device}/cmd`;
    const issued = Math.floor(this.#clock.wallMs() / 1000);
    this.#transport.deliver(topic, sealCommand({ name, issued, args: {} }, this.device, topic, downlinkKeysFromRoot(rootKeyOf(this.device), this.device), this.#commands++));
  }

  stop(): void {
    this.#node.stop();
  }
}

export interface DashboardStreetOptions {
  readonly devices: readonly string[];
  /** Messages not to deliver: the n-th (0-based) summary or health report of a device. */
  readonly withhold?: (device: string, kind: "summary" | "health", n: number) => boolean;
  /** Devices in the keyring with their own root keys, not simulated: the test seals their messages. */
  readonly others?: ReadonlyArray<{ readonly device: string; readonly rootKey: Uint8Array }>;
  /** The dashboard's assets, built once for the test file. */
  readonly assets?: Promise<DashboardAssets>;
}

export class DashboardStreet {
  readonly clock = new SimClock({ startWallMs: START_MS });
  readonly keyring = new Keyring();
  readonly log: Array<{ level: LogLevel; event: string; detail: LogDetail | undefined }> = [];
  readonly #options: DashboardStreetOptions;
  readonly #nodes: StreetNode[];
  readonly #counts = new Map<string, number>();
  readonly #dir = mkdtempSync(join(tmpdir(), "civicnode-dashboard-"));
  #db: SqlCollectorDb | undefined;
  #collector: Collector | undefined;
  #api: ApiServer | undefined;
  /** Messages the nodes published and the collector was given, in order. */
  readonly delivered: Published[] = [];

  private constructor(options: DashboardStreetOptions) {
    this.#options = options;
    const provisioned = new Date(START_MS - HOUR_MS).toISOString();
    for (const device of options.devices) this.keyring.add(device, ZONE, rootKeyOf(device), provisioned);
    for (const { device, rootKey } of options.others ?? []) this.keyring.add(device, ZONE, rootKey, provisioned);
    this.#nodes = options.devices.map((device) => new StreetNode(device, this.clock));
  }

  static async start(options: DashboardStreetOptions): Promise<DashboardStreet> {
    const street = new DashboardStreet(options);
    await street.#open();
    return street;
  }

  get db(): SqlCollectorDb {
    return this.#db!;
  }

  get collector(): Collector {
    return this.#collector!;
  }

  get api(): ApiServer {
    return this.#api!;
  }

  get stateDir(): string {
    return this.#dir;
  }

  /** The staff token, as a test reads the file (never printed by the collector). */
  get token(): string {
    return readFileSync(join(this.#dir, API_TOKEN_FILE), "utf8").trim();
  }

  /** GET a staff route with the token. */
  async staff<T>(path: string): Promise<T> {
    const response = await fetch(`${this.api.url}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  /** Moves the clock by `ms`, step by step, delivering what the nodes publish (but what `withhold` keeps back). */
  async advance(ms: number): Promise<void> {
    const end = this.clock.wallMs() + ms;
    while (this.clock.wallMs() < end) {
      this.clock.advanceBy(Math.min(STEP_MS, end - this.clock.wallMs()));
      for (const node of this.#nodes) {
        for (const message of node.take()) {
          const kind = message.topic.endsWith("/summary") ? "summary" : message.topic.endsWith("/health") ? "health" : undefined;
          if (kind !== undefined) {
            const key = `${message.device}/${kind}`;
            const n = this.#counts.get(key) ?? 0;
            this.#counts.set(key, n + 1);
            if (this.#options.withhold?.(message.device, kind, n)) continue;
          }
          await this.deliver(message);
        }
      }
    }
  }

  /** Sends `device` a downlink command; its outcome is in its next health report, its audit entries too. */
  command(device: string, name: "rotate-epoch" | "republish-disclosure"): void {
    this.#nodes.find((n) => n.device === device)!.command(name);
  }

  /** Delivers one message to the collector as the broker would; throws unless it is stored (a disclosure is kept apart). */
  async deliver(message: { readonly topic: string; readonly payload: Uint8Array }): Promise<void> {
    const result = await this.collector.handle(message.topic, message.payload);
    if (!result.ok && !message.topic.endsWith("/disclosure")) throw new Error(`${message.topic}: ${result.cause} ${result.detail}`);
    this.delivered.push({ device: message.topic.split("/")[2] ?? "", topic: message.topic, payload: message.payload });
  }

  async close(): Promise<void> {
    for (const node of this.#nodes) node.stop();
    await this.#api?.close();
    await this.#collector?.stop();
    await this.#db?.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #open(): Promise<void> {
    this.#db = await openCollectorDb({ location: join(this.#dir, "collector.db") });
    // The collector's clock is the street's, 2 s behind the messages (the time they take to arrive).
    const now = () => this.clock.wallMs() + 2000;
    this.#collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: this.keyring, db: this.#db, now, watchEveryMs: 0 });
    await this.#collector.prepare();
    const log = (level: LogLevel, event: string, detail?: LogDetail) => this.log.push({ level, event, detail });
    this.#api = await startApi({
      db: this.#db,
      keyring: this.keyring,
      disclosures: this.#collector.disclosures,
      tokenFile: join(this.#dir, API_TOKEN_FILE),
      now,
      log,
      pages: [dashboardPages({ log, assets: this.#options.assets ?? buildDashboardAssets() })],
    });
  }
}
