/**
 * One consumer of the collector's benchmark, in a process of its own (forked by collector-bench.ts,
 * talking over the IPC channel), so that each has a core's worth of event loop and its CPU is its
 * own: either the counting subscriber (the broker's raw rate) or a real Collector on SQLite or
 * PostgreSQL, alone or as one member of a shared subscription group.
 *
 *   parent: prime  -> instance: subscribes (persistent session), leaves; "primed"
 *   parent publishes the backlog (the broker queues it for the session)
 *   parent: go     -> instance: comes back and consumes; "progress" as it stores
 *   parent: finish -> instance: stops, "done" with its times and counts, exits
 *
 * (The counting subscriber knows how many to expect and answers "done" by itself.)
 */
import type { Log, LogLevel } from "../../../src/platform.js";
import { Collector, SUMMARY_FILTER } from "../collector.js";
import { openCollectorDb } from "../db/open-collector-db.js";
import { Keyring } from "../keyring.js";
import { CountingSubscriber } from "./counting-subscriber.js";
import { emptyStoreTimes, timedDb } from "./timed-db.js";

export type InstanceConfig =
  | { readonly kind: "counting"; readonly brokerUrl: string; readonly clientId: string }
  | {
      readonly kind: "collector";
      readonly brokerUrl: string;
      readonly clientId: string;
      /** The keyring, serialized (Keyring.serialize). */
      readonly keyring: string;
      /** An SQLite path or a postgres:// URL. */
      readonly db: string;
      readonly group?: string;
    };

export type ToInstance =
  | { readonly type: "prime"; readonly config: InstanceConfig }
  | { readonly type: "go"; readonly expected: number; readonly timeoutMs: number }
  | { readonly type: "finish" };

export interface InstanceResult {
  /** Messages counted (counting subscriber) or stored (collector). */
  readonly consumed: number;
  /** First message (counting) or first batch handed to the database (collector), and the last; ms, performance.timeOrigin + now. */
  readonly firstAtMs: number;
  readonly lastAtMs: number;
  /** CPU (user + system, µs) of this process from "go" to its last message. */
  readonly cpuMicros: number;
  /** Collector only: what the database said other than "stored", messages the opener refused, transactions, and warnings logged. */
  readonly notStored?: Readonly<Record<string, number>>;
  readonly rejected?: number;
  readonly batches?: number;
  /** Collector only: wall time inside the database's admitBatch (ms). */
  readonly storeBusyMs?: number;
  readonly warnings?: readonly string[];
}

export type FromInstance =
  | { readonly type: "primed" }
  | { readonly type: "progress"; readonly consumed: number }
  | { readonly type: "done"; readonly result: InstanceResult }
  | { readonly type: "error"; readonly message: string };

const PROGRESS_EVERY_MS = 50;

function send(message: FromInstance): Promise<void> {
  return new Promise((resolve) => process.send!(message, undefined, {}, () => resolve()));
}

async function fail(error: unknown): Promise<never> {
  await send({ type: "error", message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
}

async function runCounting(config: Extract<InstanceConfig, { kind: "counting" }>, next: () => Promise<ToInstance>): Promise<void> {
  const subscriber = new CountingSubscriber({ brokerUrl: config.brokerUrl, clientId: config.clientId, filter: SUMMARY_FILTER });
  await subscriber.prime();
  await send({ type: "primed" });
  const go = await next();
  if (go.type !== "go") throw new Error(`expected go, got ${go.type}`);
  const drained = await subscriber.drain(go.expected, go.timeoutMs);
  await send({ type: "done", result: { consumed: drained.received, firstAtMs: drained.firstAtMs, lastAtMs: drained.lastAtMs, cpuMicros: drained.cpuMicros } });
}

async function runCollector(config: Extract<InstanceConfig, { kind: "collector" }>, next: () => Promise<ToInstance>): Promise<void> {
  const keyring = Keyring.parse(config.keyring);
  const warnings: string[] = [];
  const log: Log = (level: LogLevel, event: string) => {
    if ((level === "warn" || level === "error") && warnings.length < 20) warnings.push(`${level} ${event}`);
  };
  const db = await openCollectorDb({ location: config.db });
  const times = emptyStoreTimes();
  const options = { brokerUrl: config.brokerUrl, keyring, db: timedDb(db, times), clientId: config.clientId, log, ...(config.group !== undefined ? { group: config.group } : {}) };

  // The session and its subscription, then away: the broker queues the backlog for it.
  const first = new Collector(options);
  await first.start();
  await first.stop();
  await send({ type: "primed" });

  const go = await next();
  if (go.type !== "go") throw new Error(`expected go, got ${go.type}`);
  const cpu0 = process.cpuUsage();
  const collector = new Collector(options);
  await collector.start();
  let reported = -1;
  const progress = setInterval(() => {
    if (times.stored === reported) return;
    reported = times.stored;
    void send({ type: "progress", consumed: times.stored });
  }, PROGRESS_EVERY_MS);
  const finish = await next();
  clearInterval(progress);
  if (finish.type !== "finish") throw new Error(`expected finish, got ${finish.type}`);
  await collector.stop();
  await db.close();
  const cpu = times.cpuAtLastCommit ? { user: times.cpuAtLastCommit.user - cpu0.user, system: times.cpuAtLastCommit.system - cpu0.system } : { user: 0, system: 0 };
  await send({
    type: "done",
    result: {
      consumed: times.stored,
      firstAtMs: times.firstBatchAtMs ?? 0,
      lastAtMs: times.lastCommitAtMs ?? 0,
      cpuMicros: cpu.user + cpu.system,
      notStored: times.others,
      rejected: collector.rejectedTotal,
      batches: times.batches,
      storeBusyMs: times.busyMs,
      warnings,
    },
  });
}

function main(): void {
  if (!process.send) {
    process.stderr.write("bench-instance runs as a child of the collector benchmark (npm run bench:collector)\n");
    process.exit(2);
  }
  const inbox: ToInstance[] = [];
  let waiting: ((message: ToInstance) => void) | undefined;
  process.on("message", (message: ToInstance) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve(message);
    } else inbox.push(message);
  });
  const next = (): Promise<ToInstance> => (inbox.length > 0 ? Promise.resolve(inbox.shift()!) : new Promise((resolve) => (waiting = resolve)));
  // The parent going away (a failed run) ends the instance too.
  process.on("disconnect", () => process.exit(0));
  void next()
    .then(async (prime) => {
      if (prime.type !== "prime") throw new Error(`expected prime, got ${prime.type}`);
      if (prime.config.kind === "counting") await runCounting(prime.config, next);
      else await runCollector(prime.config, next);
      process.disconnect();
    })
    .catch(fail);
}

main();
