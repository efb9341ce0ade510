/**
 * The collector benchmark's section of BENCHMARKS.md: targets with their verdicts and reasons, the
 * rates side by side, and CPU per message by stage. `writeCollectorSection` replaces only this
 * section (from its heading to the next "## " heading or the end), appending it the first time.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CollectorBenchResult, RunId, RunResult } from "./collector-bench.js";
import { BENCH_MAX_INFLIGHT, MOSQUITTO_DEFAULT_INFLIGHT } from "./collector-bench.js";
import { PASSES } from "./stage-costs.js";

export const SECTION_HEADING = "## Collector throughput";

/** Issue 12's targets. */
export const TARGETS = {
  /** One SQLite collector's stored rate, as a share of Mosquitto's raw delivery rate. */
  sqliteShareOfRaw: 0.5,
  /** Three PostgreSQL instances' rate over one's, as a share of 3 ("near-linear"). */
  scalingEfficiency: 0.8,
};

export interface ReportContext {
  readonly command: string;
  readonly cores: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly mosquitto: string;
  readonly commit: string;
  readonly wallSeconds: number;
}

const LABELS: Record<RunId, string> = {
  raw: "Mosquitto → counting subscriber (raw)",
  "sqlite-1": "collector, SQLite",
  "postgres-1": "collector, PostgreSQL, shared group",
  "postgres-3": "collector, PostgreSQL, shared group",
  "sqlite-1-inflight-20": `collector, SQLite, broker at max_inflight_messages ${MOSQUITTO_DEFAULT_INFLIGHT}`,
};

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const micros = (n: number | undefined) => (n === undefined ? "n/a" : n.toFixed(1));
const percent = (n: number) => `${(n * 100).toFixed(0)}%`;

/** CPU per message of every process a run measured (µs). */
function totalMicros(run: RunResult): number {
  return run.consumerMicros + (run.brokerMicros ?? 0) + (run.dbServerMicros ?? 0);
}

export function renderCollectorSection(result: CollectorBenchResult, context: ReportContext): string {
  const m = result.median;
  const raw = m.raw!;
  const sqlite = m["sqlite-1"]!;
  const pg1 = m["postgres-1"]!;
  const pg3 = m["postgres-3"]!;
  const { open, storeSqlite, storePostgres } = result.stages;
  const repeats = Math.max(...(["raw", "sqlite-1", "postgres-1", "postgres-3"] as const).map((id) => result.runs.filter((r) => r.spec.id === id).length));
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);

  push(
    `${SECTION_HEADING} (\`${context.command}\`)`,
    "",
    "The collector verifying, decrypting and storing sealed summaries, against what a real Mosquitto delivers to a subscriber that only counts them, measured side by side in one run on this machine. Wall-clock rates depend on the machine and its load; the CPU per message is steadier.",
    "",
    "```",
    context.command,
    "```",
    "",
    `- commit: ${context.commit}; ${context.node}, ${context.mosquitto}, ${result.environment.postgres} (${result.environment.postgresServer}; fsync off), ${result.environment.sqlite} (better-sqlite3, WAL)`,
    `- machine: ${context.cores} cores (${context.cpuModel}); the broker, the database server and every consumer share them${busyMachine(result.runs)}`,
    `- messages: ${int(result.messages)} sealed summaries from ${result.devices} simulated devices (${int(result.messages / result.devices)} windows each), each ${result.template.sealedBytes} bytes (${result.template.plaintextBytes} bytes of padded SenML/CBOR with ${result.template.records.length + 1} records, taken from a real summary of the reference street node and sealed by each device's UplinkSealer), QoS 1`,
    `- method: \`hosts/collector/bench/\`. Every run has a fresh broker and a fresh database. The consumers (each a process of its own) create persistent sessions and leave; the backlog is published and acknowledged; they come back and take it. A rate is the messages consumed over the time from the first message (raw) or the first transaction (collector) to the last, so the broker's queue never runs dry and the publisher is not measured. Mosquitto has \`max_inflight_messages ${BENCH_MAX_INFLIGHT}\` (twice the collector's batch of 200, as the collector asks of an MQTT 5 broker with Receive Maximum) and a queue large enough for the backlog. Median of ${repeats} runs of each configuration; the run took ${context.wallSeconds.toFixed(0)} s.`,
    "",
  );

  // Targets, and why where missed: from what the runs measured.
  const share = sqlite.rate / raw.rate;
  const shareMet = share >= TARGETS.sqliteShareOfRaw;
  const collectorMicros = sqlite.consumerMicros;
  const neededMicros = 1e6 / (TARGETS.sqliteShareOfRaw * raw.rate);
  const sqliteReason = shareMet
    ? `met: batched transactions of up to 200; ${micros(collectorMicros)} µs of the collector's CPU per message`
    : `missed: at ${percent(TARGETS.sqliteShareOfRaw)} of raw, one event loop would have ${micros(neededMicros)} µs per message; the collector spends ${micros(collectorMicros)} (store alone ${micros(storeSqlite.clientMicros)}, verify and decode ${micros(open.verifyMicros)}, MQTT ${micros(raw.consumerMicros)}), so it tops out near ${int(1e6 / collectorMicros)} msg/s` +
      (sqlite.coresBusy < 0.8 ? `; it kept only ${sqlite.coresBusy.toFixed(2)} cores busy, the rest waiting for the disk's commits or for the CPU others took (${(sqlite.otherCores ?? 0).toFixed(2)} cores)` : "");
  const scaling = pg3.rate / pg1.rate;
  const efficiency = scaling / 3;
  const scalingMet = efficiency >= TARGETS.scalingEfficiency;
  const cpuBound = pg3.coresBusy + (pg3.otherCores ?? 0) >= 0.85 * context.cores;
  const pg3Ceiling = (context.cores * 1e6) / totalMicros(pg3);
  const waiting = pg3.lockWaits?.meanWaiting ?? 0;
  const reasons: string[] = [];
  if (cpuBound) {
    reasons.push(
      `the CPU: three instances, Mosquitto and PostgreSQL need ${micros(totalMicros(pg3))} µs per message together, so ${context.cores} cores carry at most ${int(pg3Ceiling)} msg/s, and ${(pg3.coresBusy + (pg3.otherCores ?? 0)).toFixed(2)} of ${context.cores} were busy (${(pg3.otherCores ?? 0).toFixed(2)} of them with other work)`,
    );
  }
  if (waiting >= 0.3) {
    reasons.push(
      `lock waits: on average ${waiting.toFixed(2)} of the instances' transactions (of ${pg3.lockWaits!.meanActive.toFixed(2)} running) waited for another's row locks. Each batch locks the rows of the devices it holds (up to 200, FOR UPDATE, db/admission.ts), as much as ${percent(Math.min(1, 200 / result.devices))} of this fleet's ${int(result.devices)} devices, and the group hands each device's messages to every instance in turn, so concurrent batches nearly always share devices and commit one after another (a city's fleet, many times larger, shares fewer)`,
    );
  }
  if (!cpuBound && waiting < 0.3) reasons.push(`neither the CPU (${pg3.coresBusy.toFixed(2)} of ${context.cores} cores busy) nor lock waits (${waiting.toFixed(2)}) explain it: see the JSON output`);
  const scalingReason = scalingMet
    ? `met: ${scaling.toFixed(2)}x the rate of one instance`
    : `missed: limited by ${reasons.join("; and ")}. The group split the work evenly (${pg3.perInstance.map(int).join(" / ")} messages)`;
  push(
    "### Targets",
    "",
    "| target | measured | verdict |",
    "|---|---|---|",
    `| one SQLite collector stores at least ${percent(TARGETS.sqliteShareOfRaw)} of Mosquitto's raw rate | ${percent(share)} (${int(sqlite.rate)} of ${int(raw.rate)} msg/s) | ${sqliteReason} |`,
    `| near-linear scaling with instances on PostgreSQL (3 instances at least ${percent(TARGETS.scalingEfficiency)} of 3x one) | ${scaling.toFixed(2)}x one instance (${int(pg3.rate)} vs ${int(pg1.rate)} msg/s: ${percent(efficiency)} of linear) | ${scalingReason} |`,
    "",
  );

  // Rates.
  push(
    `### Rates (median of ${repeats})`,
    "",
    "| consumer | instances | stored / published | msg/s | of raw | consumers' CPU, µs/msg | Mosquitto's CPU, µs/msg | PostgreSQL's CPU, µs/msg | cores busy | other processes, cores | in admitBatch | lock waits |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const id of ["raw", "sqlite-1", "postgres-1", "postgres-3", "sqlite-1-inflight-20"] as const) {
    const run = m[id];
    if (!run) continue;
    const stored = run.spec.consumer === "counting" ? `${int(run.consumed)} counted / ${int(run.published)}` : `${int(run.rows?.messages ?? run.consumed)} / ${int(run.published)}`;
    push(
      `| ${LABELS[id]} | ${run.spec.instances} | ${stored} | ${int(run.rate)} | ${id === "raw" ? "100%" : percent(run.rate / raw.rate)} | ${micros(run.consumerMicros)} | ${micros(run.brokerMicros)} | ${run.spec.engine === "postgres" ? micros(run.dbServerMicros) : "-"} | ${run.coresBusy.toFixed(2)} | ${run.otherCores === undefined ? "n/a" : run.otherCores.toFixed(2)} | ${run.storeBusyShare === undefined ? "-" : percent(run.storeBusyShare)} | ${run.lockWaits === undefined ? "-" : run.lockWaits.meanWaiting.toFixed(2)} |`,
    );
  }
  const inflight20 = m["sqlite-1-inflight-20"];
  push(
    "",
    "Cores busy: the CPU of the consumers, Mosquitto and PostgreSQL per second of the run. Other processes: what the rest of the machine took meanwhile (/proc/stat). In admitBatch: the share of the run each collector spent in the database's admitBatch (storing, and waiting for the server and for locks). Lock waits: the collectors' PostgreSQL transactions waiting on a lock at a time, on average (pg_stat_activity).",
    "",
  );
  if (inflight20) {
    const slower = inflight20.rate < 0.9 * sqlite.rate;
    push(
      `With Mosquitto's default \`max_inflight_messages ${MOSQUITTO_DEFAULT_INFLIGHT}\`, an MQTT 3.1.1 collector (one instance, no group: MQTT 3.1.1 has no Receive Maximum) is handed ${MOSQUITTO_DEFAULT_INFLIGHT} messages at a time, so a transaction holds at most ${MOSQUITTO_DEFAULT_INFLIGHT} (the first waiting up to 10 ms for the others): ${int(inflight20.rate)} msg/s, against ${int(sqlite.rate)} with ${BENCH_MAX_INFLIGHT} in flight. ` +
        (slower
          ? "There the window, not the store, is the limit: a broker serving one MQTT 3.1.1 collector should allow it twice its batch in flight."
          : "No slower here: at this rate the store's CPU, not the broker's window, is the limit."),
      "",
    );
  }
  const clean = result.runs.every((r) => r.spec.consumer === "counting" || (r.rows?.messages === r.published && r.rows.summaries === r.published && r.rejected === 0 && Object.keys(r.notStored).length === 0));
  push(
    clean
      ? `Every collector run stored each of the ${int(result.messages)} messages exactly once (rows counted in the database afterwards), and refused none.`
      : "Some runs did not store every message exactly once: see the stored / published column and the JSON output (`--json`).",
    "",
  );

  // Stages.
  const verifyOnly = Math.max(0, open.verifyMicros - open.decodeMicros);
  const sumSqlite = raw.consumerMicros + open.verifyMicros + storeSqlite.clientMicros;
  const sumPostgres = raw.consumerMicros + open.verifyMicros + storePostgres.clientMicros;
  push(
    "### CPU per message by stage",
    "",
    `Each stage alone over the same messages, in the benchmark's process (process.cpuUsage, user + system, after a warm-up; the least of ${PASSES} passes, since other work on the machine only adds to a pass), beside the whole collector of the rate runs (median run).`,
    "",
    "| stage | µs per message | measured as |",
    "|---|---|---|",
    `| MQTT: receive, parse, acknowledge | ${micros(raw.consumerMicros)} | the counting subscriber's process during the raw run (mqtt.js) |`,
    `| verify and decrypt | ${micros(verifyOnly)} | MessageOpener.verify (${micros(open.verifyMicros)}: topic, COSE envelope, kid, key, ChaCha20-Poly1305 open, then the decoding) minus the decoding |`,
    `| decode | ${micros(open.decodeMicros)} | SenML/CBOR to a summary (readSenmlPack, summaryFromRecords) from the plaintexts |`,
    `| store, SQLite | ${micros(storeSqlite.clientMicros)} | db.admitBatch in batches of 200 into a fresh database (the engine runs in-process) |`,
    `| store, PostgreSQL | ${micros(storePostgres.clientMicros)} + ${micros(storePostgres.serverMicros)} on the server | db.admitBatch in batches of 200 (pg), the collector's process + PostgreSQL's |`,
    `| sum of the stages, SQLite | ${micros(sumSqlite)} | |`,
    `| whole collector, SQLite, 1 instance | ${micros(sqlite.consumerMicros)} | its process in the rate run; ${restOf(sqlite.consumerMicros, sumSqlite)} |`,
    `| sum of the stages, PostgreSQL (collector's process) | ${micros(sumPostgres)} | |`,
    `| whole collector, PostgreSQL, 1 instance | ${micros(pg1.consumerMicros)} | its process in the rate run, plus ${micros(pg1.dbServerMicros)} in PostgreSQL; ${restOf(pg1.consumerMicros, sumPostgres)} |`,
    "",
  );
  return `${lines.join("\n")}\n`;
}

/** Says so when other work took a noticeable share of the machine during the runs (it lowers the rates more than the CPU per message). */
function busyMachine(runs: readonly RunResult[]): string {
  const others = runs.map((r) => r.otherCores).filter((n): n is number => n !== undefined);
  const mean = others.reduce((sum, n) => sum + n, 0) / Math.max(1, others.length);
  if (mean < 0.25) return "";
  return `; other work on the machine took ${mean.toFixed(2)} cores on average during the runs (column "other processes"), so the rates are lower than an idle machine's, the CPU per message much less so`;
}

/** What the whole run costs beyond its stages, or that the difference is within the measurements' noise. */
function restOf(whole: number, stages: number): string {
  const rest = whole - stages;
  if (Math.abs(rest) <= 0.1 * whole) return `the stages account for it within 10% (${micros(rest)})`;
  if (rest > 0) return `the rest (${micros(rest)}) is batching, acknowledgement bookkeeping, statistics, timers and garbage collection`;
  return `less than the sum of the stages alone (${micros(rest)}): each was measured at another moment of the machine's load, in the benchmark's own process`;
}

/** The project's BENCHMARKS.md (dist/hosts/collector/bench/ or hosts/collector/bench/, up to the root). */
function benchmarksFile(): string {
  const here = new URL(".", import.meta.url).pathname;
  const root = here.includes("/dist/hosts/") ? join(here, "../../../..") : join(here, "../../..");
  return join(root, "BENCHMARKS.md");
}

/** Replaces this section of BENCHMARKS.md (or appends it), leaving every other section as it is. */
export function writeCollectorSection(section: string, file = benchmarksFile()): void {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n");
  const start = lines.findIndex((line) => line.startsWith(SECTION_HEADING));
  if (start < 0) {
    writeFileSync(file, `${text.replace(/\n*$/, "")}\n\n${section}`);
    return;
  }
  let end = lines.findIndex((line, i) => i > start && /^## /.test(line));
  if (end < 0) end = lines.length;
  const before = lines.slice(0, start).join("\n").replace(/\n*$/, "");
  const after = lines.slice(end).join("\n");
  writeFileSync(file, `${before}\n\n${section}${after.length > 0 ? `\n${after}` : ""}`);
}
