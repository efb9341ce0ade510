/**
 * Runs one scenario of the fault campaign: a seeded street of real nodes (the firmware core on the
 * simulated board, flash in files) publishing through a link that can fail to a real broker (aedes
 * in this process, or a Mosquitto process), and the real collector storing what it opens. The
 * scenario breaks things on the simulated clock; then the street is brought back, drained, and
 * every sealed message is accounted for:
 *
 *   produced  what the nodes sealed (their log: one `message-sealed` per message)
 *   delivered what the collector stored (its summaries and health files)
 *   dropped   what an outbox dropped and counted (its log), and whether the node's last health
 *             report carried the count
 *   lost      produced, neither delivered nor dropped: must be 0
 * and every (key, nonce) pair any node sealed under is checked for reuse (nonce-ledger.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogDetail, LogLevel } from "../../../src/platform.js";
import { Collector } from "../../collector/collector.js";
import { Keyring } from "../../collector/keyring.js";
import { Prng, SeededRandom } from "../../sim/prng.js";
import { SimClock } from "../../sim/sim-clock.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../embedded-broker.js";
import { CampaignNode } from "./campaign-node.js";
import { FaultyDb } from "./faulty-db.js";
import { openCollectorDb } from "../../collector/db/open-collector-db.js";
import { storedLines } from "../../collector/db/stored-lines.js";
import { LinkProxy } from "./link-proxy.js";
import { MosquittoBroker } from "./mosquitto-broker.js";
import { NonceLedger } from "./nonce-ledger.js";
import type { BrokerKind, FaultControls, Scenario } from "./scenarios.js";

/** The street's clock starts on a window boundary, shortly before a UTC midnight. */
const START_WALL_MS = Date.UTC(2026, 10, 30, 22, 0, 0);
const HOUR_MS = 3_600_000;
const ZONE = "faults";
/** Simulated time after the faults during which the street runs healthy, so queues drain and health reports carry the final counts. */
const DRAIN_HOURS = 1;
/** Real time without any progress (queues shrinking, messages stored) after which the drain gives up. */
const STALL_MS = 30_000;
/** Real milliseconds between clock steps; each step moves at most `speed` x this much simulated time. */
const STEP_MS = 20;

export interface CampaignRunOptions {
  readonly broker: BrokerKind;
  readonly nodes: number;
  /** Simulated milliseconds per real millisecond. */
  readonly speed: number;
  readonly seed: string;
  /** Keep the scenario's state folder (for a look after a failure). */
  readonly keep?: boolean;
  /** Told of each log line (warnings and errors of the street), for a progress view. */
  readonly onLog?: (level: LogLevel, event: string, detail?: LogDetail) => void;
  /**
   * For the campaign's own tests only: breaks the nodes on purpose, to show that the table sees
   * what it claims to. "forget-queue": every boot starts with an empty outbox, as when the queue
   * lived in RAM; "reuse-key": the first node's flash is lost at its second boot and provisioned
   * again with the same root key, as the simulator once did.
   */
  readonly sabotage?: "forget-queue" | "reuse-key";
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly broker: BrokerKind;
  readonly nodes: number;
  readonly simulatedHours: number;
  readonly windowsProduced: number;
  readonly summariesDelivered: number;
  readonly healthDelivered: number;
  /** Rows the collector stored twice (by device, epoch and counter, or by device and window). */
  readonly duplicatesStored: number;
  /** Produced, neither delivered nor dropped with a count: must be 0. */
  readonly lostUncounted: number;
  /** Messages held in RAM because the flash refused them, lost at a power cut (counted apart: nothing can count them on the node). */
  readonly lostFromRam: number;
  readonly droppedCounted: number;
  /** Drops the node counted that its last delivered health report does not carry: must be 0. */
  readonly dropsUnreported: number;
  readonly nonceReuses: number;
  readonly noncePairs: number;
  /** Exceptions that escaped the core, the collector or the process: must be 0. */
  readonly crashes: number;
  readonly peakQueueBytes: number;
  readonly powerCuts: number;
  readonly cutsMidWrite: number;
  /** Copies the collector recognised and dropped (QoS 1 resends, records sent again after reboots). */
  readonly copiesDropped: number;
  readonly realSeconds: number;
  /** Where the scenario's files are (when kept), for a look after a failure. */
  readonly stateDir: string | undefined;
  /** The first problems found, in words. */
  readonly problems: readonly string[];
}

interface LogEvent {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail: LogDetail;
}

type Broker = { readonly url: string; readonly port: number; restart?: () => Promise<void>; stop(): Promise<void> };

export async function runScenario(scenario: Scenario, options: CampaignRunOptions): Promise<ScenarioResult> {
  const began = Date.now();
  const dir = mkdtempSync(join(tmpdir(), `civicnode-faults-${scenario.name}-${options.broker}-`));
  const random = new Prng(`${options.seed}/${scenario.name}`);
  const devices = Array.from({ length: options.nodes }, (_, i) => `node-${String(i + 1).padStart(2, "0")}`);
  const keyring = new Keyring();
  for (const device of devices) {
    const key = new Uint8Array(32);
    new SeededRandom(random.fork(`key/${device}`)).fill(key);
    keyring.add(device, ZONE, key, new Date(START_WALL_MS - HOUR_MS).toISOString());
  }
  const events: LogEvent[] = [];
  let crashes = 0;
  const problems: string[] = [];
  const log = (level: LogLevel, event: string, detail: LogDetail = {}) => {
    events.push({ level, event, detail });
    if (level !== "debug" && level !== "info") options.onLog?.(level, event, detail);
    if (event === "collector-open-defect" || event === "collector-batch-defect" || event === "timer-callback-failed") {
      crashes++;
      problems.push(`${event}: ${JSON.stringify(detail)}`);
    }
  };
  const onProcessError = (error: unknown) => {
    crashes++;
    problems.push(`uncaught: ${(error as Error).stack ?? String(error)}`);
  };
  process.on("uncaughtException", onProcessError);
  process.on("unhandledRejection", onProcessError);

  // Mosquitto runs as its own user: its persistence folder must not sit in this private one.
  const brokerDir = options.broker === "mosquitto" ? mkdtempSync(join(tmpdir(), "civicnode-faults-mosquitto-")) : undefined;
  const broker: Broker = brokerDir ? await MosquittoBroker.start(brokerDir) : await embedded();
  const link = await LinkProxy.start(broker.port);
  const clock = new SimClock({
    startWallMs: START_WALL_MS,
    onError: (error) => log("error", "timer-callback-failed", { message: (error as Error).message, stack: ((error as Error).stack ?? "").slice(0, 500) }),
  });
  const database = await openCollectorDb({ location: join(dir, "collector.db"), log });
  const disk = new FaultyDb(database);
  const newCollector = () => new Collector({ brokerUrl: broker.url, keyring, clientId: "civicnode-campaign-collector", db: disk.db, log });
  let collector: Collector | undefined = newCollector();
  await collector.start();
  const ledger = new NonceLedger();
  const nodes = new Map(
    devices.map((device, index) => [
      device,
      new CampaignNode({
        device,
        zone: ZONE,
        rootKey: keyring.get(device)!.rootKey,
        stateDir: dir,
        brokerUrl: link.url,
        clock,
        ledger,
        faultHours: scenario.sensorFaultHours,
        seed: options.seed,
        // Half the street on the simulator's file flash, half on emulated ESP32 NVS.
        flash: index % 2 === 0 ? "file" : "nvs",
        sabotage: options.sabotage === "reuse-key" && index > 0 ? undefined : options.sabotage,
        log,
      }),
    ]),
  );
  for (const node of nodes.values()) node.powerOn();

  // The scenario's faults, on the simulated clock.
  const pending: Array<Promise<unknown>> = [];
  const track = (work: Promise<unknown>) => pending.push(work.catch((error) => problems.push(`fault action failed: ${(error as Error).message}`)));
  const controls: FaultControls = {
    random: random.fork("plan"),
    devices,
    at: (hour, action) => {
      clock.once(() => {
        const result = action();
        if (result instanceof Promise) track(result);
      }, Math.max(1, hour * HOUR_MS));
    },
    linkDown: () => link.down(),
    linkUp: () => link.up(),
    powerCut: (device, midWrite) => {
      const node = nodes.get(device)!;
      if (!midWrite) node.cutPower();
      else node.cutPowerInWrite(random.chance(0.5), random.int(0, 6));
    },
    powerOn: (device) => nodes.get(device)!.powerOn(),
    jumpClock: (deltaMs) => clock.setWall(clock.wallMs() + deltaMs),
    failNodeDisk: (device, code) => nodes.get(device)!.failDisk(code),
    failCollectorDisk: (code) => disk.fail(code),
    restartCollector: (awayHours) => {
      const stopping = collector;
      collector = undefined;
      track(
        (async () => {
          await stopping?.stop();
          // Back after `awayHours` of simulated time, whatever the pace of the simulation.
          const backAt = clock.monotonicMs() + awayHours * HOUR_MS;
          while (clock.monotonicMs() < backAt) await sleep(STEP_MS);
          collector = newCollector();
          await collector.start();
        })(),
      );
    },
    restartBroker: async () => {
      if (broker.restart) await broker.restart();
    },
  };
  scenario.plan(controls);

  const sample = () => {
    for (const node of nodes.values()) node.sample();
  };
  const endOfFaults = scenario.hours * HOUR_MS;
  await runClock(clock, endOfFaults, options.speed, sample);

  // The street comes back: link up, disks healthy, every node powered, the collector running.
  await Promise.all(pending);
  link.up();
  disk.fail(undefined);
  for (const node of nodes.values()) {
    node.cancelPendingCut();
    node.failDisk(undefined);
    node.powerOn();
  }
  if (!collector) {
    collector = newCollector();
    await collector.start();
  }
  await runClock(clock, endOfFaults + DRAIN_HOURS * HOUR_MS, options.speed, sample);
  // No new windows from here: wait until every queue is empty and the collector has stored what arrived.
  await settle(() => [...nodes.values()].reduce((sum, node) => sum + node.queued, 0), () => collector!.stats.accepted + collector!.rejectedTotal);
  const copiesDropped = (collector.stats.rejected as Record<string, number>).duplicate ?? 0;
  for (const node of nodes.values()) await node.close();
  await collector.stop();
  const stored = await storedLines(database);
  await database.close();
  await link.close();
  await broker.stop();
  if (brokerDir) rmSync(brokerDir, { recursive: true, force: true });
  process.off("uncaughtException", onProcessError);
  process.off("unhandledRejection", onProcessError);

  const result = account(scenario, options, devices, events, stored, ledger, nodes, crashes, copiesDropped, problems);
  if (!options.keep && result.problems.length === 0) rmSync(dir, { recursive: true, force: true });
  return { ...result, realSeconds: Math.round((Date.now() - began) / 100) / 10, stateDir: options.keep || result.problems.length > 0 ? dir : undefined };
}

async function embedded(): Promise<Broker> {
  const broker: EmbeddedBroker = await startEmbeddedBroker();
  return { url: broker.url, port: broker.port, stop: () => broker.close() };
}

/** Advances `clock` to `targetMs` at `speed`, letting the network run between steps. */
async function runClock(clock: SimClock, targetMs: number, speed: number, onStep: () => void): Promise<void> {
  while (clock.monotonicMs() < targetMs) {
    const stepStarted = Date.now();
    clock.advanceTo(Math.min(targetMs, clock.monotonicMs() + speed * STEP_MS));
    onStep();
    await sleep(Math.max(1, STEP_MS - (Date.now() - stepStarted)));
  }
}

/** Waits until `queued()` is 0 and `stored()` has stopped moving; fails only after STALL_MS without any progress. */
async function settle(queued: () => number, stored: () => number): Promise<void> {
  let lastQueued = queued();
  let lastStored = stored();
  let lastProgress = Date.now();
  let quietSince = Date.now();
  for (;;) {
    await sleep(100);
    const q = queued();
    const s = stored();
    if (q !== lastQueued || s !== lastStored) {
      lastProgress = Date.now();
      if (s !== lastStored) quietSince = Date.now();
      lastQueued = q;
      lastStored = s;
    }
    if (q === 0 && Date.now() - quietSince >= 1000) return;
    if (Date.now() - lastProgress > STALL_MS) throw new Error(`the street did not drain: ${q} message(s) still queued, no progress for ${STALL_MS / 1000} s`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface StoredLine {
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  readonly windowStart?: number;
  readonly windowSeconds?: number;
  readonly time?: number;
  readonly node?: Record<string, number>;
}

function readLines(path: string): StoredLine[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as StoredLine);
}

/** Every sealed message of the run, matched with what the collector stored and what the outboxes dropped. */
function account(
  scenario: Scenario,
  options: CampaignRunOptions,
  devices: readonly string[],
  events: readonly LogEvent[],
  stored: { readonly summaries: readonly StoredLine[]; readonly health: readonly StoredLine[] },
  ledger: NonceLedger,
  nodes: ReadonlyMap<string, CampaignNode>,
  crashes: number,
  copiesDropped: number,
  problems: string[],
): Omit<ScenarioResult, "realSeconds" | "stateDir"> {
  const { summaries, health } = stored;
  // Stored twice: the same message (device, epoch, counter), or two summaries of one window.
  const byMessage = new Set<string>();
  const byWindow = new Set<string>();
  let duplicatesStored = 0;
  for (const line of [...summaries, ...health]) {
    const key = `${line.device}/${line.epoch}/${line.counter}`;
    if (byMessage.has(key)) duplicatesStored++;
    byMessage.add(key);
  }
  for (const line of summaries) {
    const key = `${line.device}/${line.windowStart}`;
    if (byWindow.has(key)) duplicatesStored++;
    byWindow.add(key);
  }
  // A message is named by its device, kind and time: a summary by its window's end, a report by
  // its time (the window mark makes both unique per node).
  const delivered = new Set<string>([
    ...summaries.map((s) => `${s.device}/summary/${s.windowStart! + s.windowSeconds!}`),
    ...health.map((h) => `${h.device}/health/${h.time}`),
  ]);
  const produced = new Map<string, string>(); // id -> where the outbox kept it
  const dropped = new Set<string>();
  const dropCounts = new Map<string, number>();
  let corrupt = 0;
  let windowsProduced = 0;
  for (const { event, detail } of events) {
    const device = String(detail.device);
    if (event === "message-sealed") {
      const kind = String(detail.topic).endsWith("/summary") ? "summary" : "health";
      if (kind === "summary") windowsProduced++;
      produced.set(`${device}/${kind}/${detail.about}`, String(detail.kept));
    } else if (event === "outbox-dropped") {
      dropCounts.set(device, (dropCounts.get(device) ?? 0) + (typeof detail.count === "number" ? detail.count : 1));
      if (detail.kind !== undefined) dropped.add(`${device}/${detail.kind}/${detail.time}`);
    } else if (event === "outbox-record-corrupt") corrupt++;
  }
  const windows = new Set([...produced.keys(), ...delivered].filter((id) => id.includes("/summary/")));
  windowsProduced = windows.size;
  let lostFromRam = 0;
  let missing = 0;
  const missingExamples: string[] = [];
  for (const [id, kept] of produced) {
    if (delivered.has(id) || dropped.has(id)) continue;
    if (kept === "ram") lostFromRam++;
    else {
      missing++;
      if (missingExamples.length < 5) missingExamples.push(id);
    }
  }
  // Corrupt records are counted drops whose message cannot be named.
  const lostUncounted = Math.max(0, missing - corrupt);
  if (lostUncounted > 0) problems.push(`${lostUncounted} message(s) lost without a counted drop, e.g. ${missingExamples.join(", ")}`);
  // The last health report each node delivered must carry every drop it counted.
  let dropsUnreported = 0;
  for (const device of devices) {
    const reports = health.filter((h) => h.device === device).sort((a, b) => a.time! - b.time!);
    const last = reports.at(-1)?.node ?? {};
    const reported = (last.dropped ?? 0) + (last.droppedCorrupt ?? 0);
    const counted = dropCounts.get(device) ?? 0;
    if (reported < counted) {
      dropsUnreported += counted - reported;
      problems.push(`${device}: counted ${counted} drop(s), its last health report says ${reported}`);
    }
  }
  for (const reuse of ledger.reuses.slice(0, 5)) problems.push(`nonce reuse: ${reuse.device} epoch ${reuse.epoch} counter ${reuse.counter}`);
  if (duplicatesStored > 0) problems.push(`${duplicatesStored} row(s) stored twice`);
  let droppedCounted = 0;
  for (const count of dropCounts.values()) droppedCounted += count;
  const all = [...nodes.values()];
  return {
    scenario: scenario.name,
    broker: options.broker,
    nodes: devices.length,
    simulatedHours: scenario.hours + DRAIN_HOURS,
    windowsProduced,
    summariesDelivered: summaries.length,
    healthDelivered: health.length,
    duplicatesStored,
    lostUncounted,
    lostFromRam,
    droppedCounted,
    dropsUnreported,
    nonceReuses: ledger.reuses.length,
    noncePairs: ledger.pairs,
    crashes,
    peakQueueBytes: Math.max(0, ...all.map((node) => node.peakQueueBytes)),
    powerCuts: all.reduce((sum, node) => sum + node.powerCuts, 0),
    cutsMidWrite: all.reduce((sum, node) => sum + node.cutsMidWrite, 0),
    copiesDropped,
    problems,
  };
}
