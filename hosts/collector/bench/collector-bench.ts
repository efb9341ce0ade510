/**
 * The collector's benchmark, all side by side in one run on one real Mosquitto configuration:
 *
 * - raw: Mosquitto delivering sealed summaries (QoS 1) to a subscriber that only counts;
 * - the real Collector (collector.ts) verifying, decrypting and storing them: on SQLite, one
 *   instance; on PostgreSQL, one and three instances of an MQTT 5 shared subscription group;
 * - the collector's stages, each alone over the same messages (stage-costs.ts).
 *
 * How a rate is measured. Each run gets a fresh broker and a fresh database. The consumers (each a
 * process of its own: bench-instance.ts) first create their persistent sessions and leave; the
 * backlog is then published and acknowledged by the broker, which queues it for them (for a group,
 * shared out as it arrives); then they come back together and take it. The rate is the messages
 * consumed over the time from the first message (counting) or first transaction (collector) to the
 * last one: the broker's queue never runs dry, the publisher's CPU is not in it, and every consumer
 * is measured in the same way. CPU per message is each process's own: the consumers'
 * process.cpuUsage, the broker's and PostgreSQL's from /proc (process-cpu.ts).
 *
 * Exactly once is checked on every run: the database holds as many messages and summaries as were
 * published, and the collectors refused none.
 */
import { fork, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import pg from "pg";
import { openCollectorDb } from "../db/open-collector-db.js";
import { BenchFleet, type BenchMessage, type SummaryTemplate } from "./bench-fleet.js";
import { BenchMosquitto } from "./bench-mosquitto.js";
import { benchPostgres, type BenchPostgres } from "./bench-postgres.js";
import type { FromInstance, InstanceConfig, InstanceResult, ToInstance } from "./bench-instance.js";
import { LockWaitSampler, type LockWaits } from "./lock-waits.js";
import { machineBusySeconds, processTreeCpuSeconds } from "./process-cpu.js";
import { publishBacklog } from "./publish-backlog.js";
import { openedMessages, openStageCosts, PASSES, storeStageCost, type OpenStageCosts, type StoreStageCost } from "./stage-costs.js";

/** The broker's in-flight window for MQTT 3.1.1 subscribers: twice the collector's batch, as the collector asks MQTT 5 brokers for (Receive Maximum). */
export const BENCH_MAX_INFLIGHT = 400;
/** Mosquitto's default max_inflight_messages, for the run that shows what it does to one MQTT 3.1.1 collector. */
export const MOSQUITTO_DEFAULT_INFLIGHT = 20;
/** The shared subscription group of the PostgreSQL runs. */
const GROUP = "bench";

export interface CollectorBenchOptions {
  /** Simulated devices; each publishes `windows` summaries. */
  readonly devices: number;
  readonly windows: number;
  /** Rate runs of each configuration; the median is reported. */
  readonly repeats: number;
  /** Also run one SQLite collector against Mosquitto's default in-flight window (20). */
  readonly defaultInflightRun: boolean;
  readonly log?: (line: string) => void;
}

export type RunId = "raw" | "sqlite-1" | "postgres-1" | "postgres-3" | "sqlite-1-inflight-20";

export interface RunSpec {
  readonly id: RunId;
  readonly consumer: "counting" | "collector";
  readonly engine?: "sqlite" | "postgres";
  readonly instances: number;
  readonly group?: string;
  readonly maxInflight: number;
}

export interface RunResult {
  readonly spec: RunSpec;
  readonly published: number;
  /** Counted (raw) or stored (collector), over all instances; and per instance. */
  readonly consumed: number;
  readonly perInstance: readonly number[];
  readonly seconds: number;
  /** Messages per second. */
  readonly rate: number;
  /** The consumers' CPU per message, all instances together (µs). */
  readonly consumerMicros: number;
  /** Mosquitto's CPU per message while it delivered (µs). */
  readonly brokerMicros: number | undefined;
  /** PostgreSQL's CPU per message (µs), when the benchmark started the server. */
  readonly dbServerMicros: number | undefined;
  /** CPU seconds of every process measured, per second of the run: how many cores it kept busy. */
  readonly coresBusy: number;
  /** Cores' worth of CPU that processes outside the benchmark took meanwhile (other work on the machine). */
  readonly otherCores: number | undefined;
  /** The collectors' wall time inside admitBatch, as a share of the run (mean over instances). */
  readonly storeBusyShare: number | undefined;
  /** PostgreSQL runs: how many of the collectors' transactions waited on a lock, on average. */
  readonly lockWaits: LockWaits | undefined;
  /** Rows in the database afterwards (collector runs). */
  readonly rows?: { readonly messages: number; readonly summaries: number };
  /** Outcomes other than "stored", messages refused, warnings logged: none in a clean run. */
  readonly notStored: Readonly<Record<string, number>>;
  readonly rejected: number;
  readonly warnings: readonly string[];
}

export interface CollectorBenchResult {
  readonly template: SummaryTemplate;
  readonly devices: number;
  readonly messages: number;
  readonly runs: readonly RunResult[];
  /** The median run of each configuration (by rate). */
  readonly median: Readonly<Partial<Record<RunId, RunResult>>>;
  readonly stages: {
    readonly open: OpenStageCosts;
    readonly storeSqlite: StoreStageCost;
    readonly storePostgres: StoreStageCost;
  };
  readonly environment: { readonly postgres: string; readonly sqlite: string; readonly postgresServer: "started by the benchmark" | "CIVICNODE_POSTGRES_URL" };
}

export function runSpecs(options: Pick<CollectorBenchOptions, "defaultInflightRun">): RunSpec[] {
  const specs: RunSpec[] = [
    { id: "raw", consumer: "counting", instances: 1, maxInflight: BENCH_MAX_INFLIGHT },
    { id: "sqlite-1", consumer: "collector", engine: "sqlite", instances: 1, maxInflight: BENCH_MAX_INFLIGHT },
    { id: "postgres-1", consumer: "collector", engine: "postgres", instances: 1, group: GROUP, maxInflight: BENCH_MAX_INFLIGHT },
    { id: "postgres-3", consumer: "collector", engine: "postgres", instances: 3, group: GROUP, maxInflight: BENCH_MAX_INFLIGHT },
  ];
  if (options.defaultInflightRun) specs.push({ id: "sqlite-1-inflight-20", consumer: "collector", engine: "sqlite", instances: 1, maxInflight: MOSQUITTO_DEFAULT_INFLIGHT });
  return specs;
}

export async function runCollectorBench(options: CollectorBenchOptions): Promise<CollectorBenchResult> {
  const log = options.log ?? (() => {});
  log(`reference summary and ${options.devices * options.windows} sealed messages of ${options.devices} devices`);
  const fleet = new BenchFleet({ devices: options.devices });
  const messages = fleet.summaries(options.windows);
  const keyring = fleet.keyring();
  const work = mkdtempSync(join(tmpdir(), "civicnode-bench-"));
  const postgres = await benchPostgres();
  let databases = 0;
  const freshPostgres = () => postgres.freshDatabase(`civicnode_bench_${process.pid}_${databases++}`);
  try {
    const runs: RunResult[] = [];
    const specs = runSpecs(options);
    for (let repeat = 1; repeat <= options.repeats; repeat++) {
      for (const spec of specs) {
        if (spec.id === "sqlite-1-inflight-20" && repeat > 1) continue; // one look is enough
        const result = await rateRun(spec, { messages, keyring: keyring.serialize(), work: join(work, `${spec.id}-${repeat}`), postgres, freshPostgres });
        log(`${spec.id} #${repeat}: ${result.consumed}/${result.published} in ${result.seconds.toFixed(2)} s = ${Math.round(result.rate)} msg/s, ${result.consumerMicros.toFixed(1)} µs/msg`);
        runs.push(result);
      }
    }

    log("stages");
    const open = openStageCosts(keyring, messages);
    const opened = openedMessages(keyring, fleet.devices, messages);
    // SQLite's store in PASSES fresh files, the least kept as for the other in-memory stages;
    // PostgreSQL's once (its server's CPU is read from /proc, and a pass costs many seconds).
    let storeSqlite: StoreStageCost | undefined;
    for (let pass = 0; pass < PASSES; pass++) {
      const cost = await storeStageCost(join(work, `stage-${pass}.db`), fleet.devices, opened);
      if (!storeSqlite || cost.clientMicros < storeSqlite.clientMicros) storeSqlite = cost;
    }
    const stageDb = await freshPostgres();
    let storePostgres: StoreStageCost;
    try {
      storePostgres = await storeStageCost(stageDb.url, fleet.devices, opened, postgres.pid);
    } finally {
      await stageDb.drop();
    }

    return {
      template: fleet.template,
      devices: options.devices,
      messages: messages.length,
      runs,
      median: medians(runs),
      stages: { open, storeSqlite: storeSqlite!, storePostgres },
      environment: { postgres: await postgresVersion(postgres.url), sqlite: sqliteVersion(), postgresServer: postgres.pid === undefined ? "CIVICNODE_POSTGRES_URL" : "started by the benchmark" },
    };
  } finally {
    await postgres.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function medians(runs: readonly RunResult[]): Partial<Record<RunId, RunResult>> {
  const byId = new Map<RunId, RunResult[]>();
  for (const run of runs) byId.set(run.spec.id, [...(byId.get(run.spec.id) ?? []), run]);
  const median: Partial<Record<RunId, RunResult>> = {};
  for (const [id, list] of byId) median[id] = [...list].sort((a, b) => a.rate - b.rate)[Math.floor((list.length - 1) / 2)]!;
  return median;
}

interface RunContext {
  readonly messages: readonly BenchMessage[];
  readonly keyring: string;
  readonly work: string;
  readonly postgres: BenchPostgres;
  readonly freshPostgres: () => Promise<{ readonly url: string; drop(): Promise<void> }>;
}

/** Time without any progress after which a run is given up (a consumer stuck, messages lost). */
const STALL_MS = 15_000;

async function rateRun(spec: RunSpec, context: RunContext): Promise<RunResult> {
  const { messages } = context;
  const broker = await BenchMosquitto.start({ maxInflightMessages: spec.maxInflight, maxQueuedMessages: messages.length + 1000 });
  mkdirSync(context.work, { recursive: true });
  let database: { readonly url: string; drop(): Promise<void> } | undefined;
  const instances: Instance[] = [];
  try {
    let location: string | undefined;
    if (spec.consumer === "collector") {
      if (spec.engine === "postgres") database = await context.freshPostgres();
      location = database?.url ?? join(context.work, "collector.db");
      await (await openCollectorDb({ location })).close(); // migrated once, before the instances race for it
    }
    for (let i = 0; i < spec.instances; i++) {
      const clientId = `civicnode-bench-${spec.id}-${i + 1}`;
      const config: InstanceConfig =
        spec.consumer === "counting"
          ? { kind: "counting", brokerUrl: broker.url, clientId }
          : { kind: "collector", brokerUrl: broker.url, clientId, keyring: context.keyring, db: location!, ...(spec.group !== undefined ? { group: spec.group } : {}) };
      instances.push(new Instance(config));
    }
    await Promise.all(instances.map((instance) => instance.prime()));

    await publishBacklog(broker.url, messages);

    const sampler = database ? await LockWaitSampler.start(database.url) : undefined;
    const machine0 = machineBusySeconds();
    const broker0 = processTreeCpuSeconds(broker.pid);
    const server0 = spec.engine === "postgres" && context.postgres.pid !== undefined ? processTreeCpuSeconds(context.postgres.pid) : undefined;
    const wall0 = performance.now();
    for (const instance of instances) instance.go(messages.length, STALL_MS);
    await untilConsumed(instances, messages.length);
    const wallSeconds = (performance.now() - wall0) / 1000;
    const broker1 = processTreeCpuSeconds(broker.pid);
    const server1 = server0 === undefined ? undefined : processTreeCpuSeconds(context.postgres.pid!);
    const machine1 = machineBusySeconds();
    const lockWaits = await sampler?.stop();
    const results = await Promise.all(instances.map((instance) => instance.finish()));

    const consumed = results.reduce((sum, r) => sum + r.consumed, 0);
    const active = results.filter((r) => r.consumed > 0);
    const seconds = active.length === 0 ? 0 : (Math.max(...active.map((r) => r.lastAtMs)) - Math.min(...active.map((r) => r.firstAtMs))) / 1000;
    const consumerCpu = results.reduce((sum, r) => sum + r.cpuMicros, 0) / 1e6;
    const brokerCpu = broker0 === undefined || broker1 === undefined ? undefined : broker1 - broker0;
    const serverCpu = server0 === undefined || server1 === undefined ? undefined : server1 - server0;
    const perMessage = (cpuSeconds: number | undefined) => (cpuSeconds === undefined || consumed === 0 ? undefined : (cpuSeconds * 1e6) / consumed);
    const ours = consumerCpu + (brokerCpu ?? 0) + (serverCpu ?? 0);
    const otherCores = machine0 === undefined || machine1 === undefined || wallSeconds <= 0 ? undefined : Math.max(0, machine1 - machine0 - ours) / wallSeconds;
    const busy = results.filter((r) => r.storeBusyMs !== undefined);
    const storeBusyShare = busy.length === 0 || seconds <= 0 ? undefined : busy.reduce((sum, r) => sum + r.storeBusyMs! / 1000 / seconds, 0) / busy.length;
    const notStored: Record<string, number> = {};
    for (const r of results) for (const [outcome, n] of Object.entries(r.notStored ?? {})) notStored[outcome] = (notStored[outcome] ?? 0) + n;
    return {
      spec,
      published: messages.length,
      consumed,
      perInstance: results.map((r) => r.consumed),
      seconds,
      rate: seconds > 0 ? consumed / seconds : 0,
      consumerMicros: perMessage(consumerCpu) ?? 0,
      brokerMicros: perMessage(brokerCpu),
      dbServerMicros: perMessage(serverCpu),
      coresBusy: seconds > 0 ? ours / seconds : 0,
      otherCores,
      storeBusyShare,
      lockWaits,
      ...(location !== undefined ? { rows: await countRows(location) } : {}),
      notStored,
      rejected: results.reduce((sum, r) => sum + (r.rejected ?? 0), 0),
      warnings: results.flatMap((r) => r.warnings ?? []),
    };
  } finally {
    for (const instance of instances) instance.kill();
    await broker.stop();
    await database?.drop();
  }
}

/** Waits until the instances together have consumed `expected` messages, or nothing moved for STALL_MS. */
async function untilConsumed(instances: readonly Instance[], expected: number): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const stored = instances.reduce((sum, instance) => sum + instance.consumed, 0);
    if (stored >= expected) return;
    if (stored !== last) {
      last = stored;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > STALL_MS) return; // reported as a shortfall
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function countRows(location: string): Promise<{ messages: number; summaries: number }> {
  const sql = "SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM summaries) AS summaries";
  if (!/^postgres(ql)?:\/\//i.test(location)) {
    const db = new Database(location, { readonly: true });
    try {
      const row = db.prepare(sql).get() as { messages: number; summaries: number };
      return { messages: Number(row.messages), summaries: Number(row.summaries) };
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: location });
  await client.connect();
  try {
    const { rows } = await client.query(sql);
    return { messages: Number(rows[0].messages), summaries: Number(rows[0].summaries) };
  } finally {
    await client.end();
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query("SHOW server_version");
    return `PostgreSQL ${String(rows[0].server_version)}`;
  } finally {
    await client.end();
  }
}

function sqliteVersion(): string {
  const db = new Database(":memory:");
  try {
    return `SQLite ${String((db.prepare("SELECT sqlite_version() AS v").get() as { v: string }).v)}`;
  } finally {
    db.close();
  }
}

/** A consumer process (bench-instance.ts), driven over its IPC channel. */
class Instance {
  readonly #child: ChildProcess;
  readonly #config: InstanceConfig;
  #consumed = 0;
  readonly #waiters: Array<{ readonly type: FromInstance["type"]; readonly resolve: (message: FromInstance) => void; readonly reject: (error: Error) => void }> = [];
  #error: Error | undefined;
  #stderr = "";
  /** Settles with the instance's "done", once it was told to go. */
  #done: Promise<FromInstance> | undefined;

  constructor(config: InstanceConfig) {
    this.#config = config;
    this.#child = fork(fileURLToPath(new URL("./bench-instance.js", import.meta.url)), [], { execArgv: ["--enable-source-maps"], stdio: ["ignore", "ignore", "pipe", "ipc"] });
    this.#child.stderr!.on("data", (chunk) => (this.#stderr = (this.#stderr + chunk).slice(-4000)));
    this.#child.on("message", (message: FromInstance) => {
      if (message.type === "progress") {
        this.#consumed = message.consumed;
        return;
      }
      if (message.type === "error") return this.#failAll(new Error(`bench instance ${config.clientId}: ${message.message}`));
      if (message.type === "done") this.#consumed = message.result.consumed;
      const index = this.#waiters.findIndex((w) => w.type === message.type);
      if (index >= 0) this.#waiters.splice(index, 1)[0]!.resolve(message);
    });
    this.#child.on("exit", (code, signal) => {
      if (this.#waiters.length > 0) this.#failAll(new Error(`bench instance ${config.clientId} exited (${code ?? signal})\n${this.#stderr}`));
    });
  }

  get consumed(): number {
    return this.#consumed;
  }

  async prime(): Promise<void> {
    const primed = this.#await("primed");
    this.#send({ type: "prime", config: this.#config });
    await primed;
  }

  go(expected: number, timeoutMs: number): void {
    this.#done = this.#await("done");
    this.#done.catch(() => {}); // awaited in finish()
    this.#send({ type: "go", expected, timeoutMs });
  }

  /** The instance's result: a counting subscriber's when it has counted everything, a collector's once stopped. */
  async finish(): Promise<InstanceResult> {
    if (this.#config.kind === "collector") this.#send({ type: "finish" });
    const done = (await this.#done!) as Extract<FromInstance, { type: "done" }>;
    return done.result;
  }

  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
  }

  #send(message: ToInstance): void {
    if (this.#error) throw this.#error;
    this.#child.send(message);
  }

  #await(type: FromInstance["type"]): Promise<FromInstance> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => this.#waiters.push({ type, resolve, reject }));
  }

  #failAll(error: Error): void {
    this.#error ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
