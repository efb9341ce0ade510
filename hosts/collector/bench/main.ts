/**
 * `npm run bench:collector`: the collector's throughput against Mosquitto's raw delivery rate, on
 * SQLite and on PostgreSQL with one and three instances, and its CPU per message by stage
 * (collector-bench.ts); writes its section of BENCHMARKS.md and prints it.
 *
 *   npm run bench:collector                       # the full run (a few minutes)
 *   npm run bench:collector -- --devices 20 --windows 10 --repeats 1 --json out.json --no-write
 *
 * PostgreSQL: the server CIVICNODE_POSTGRES_URL names, or a throwaway one started here.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { MOSQUITTO_BINARY } from "../../node/faults/mosquitto-broker.js";
import { parseCommandLine } from "../../node/command-line.js";
import { runCollectorBench } from "./collector-bench.js";
import { renderCollectorSection, writeCollectorSection, type ReportContext } from "./bench-report.js";

const USAGE = "usage: bench:collector [--devices N] [--windows N] [--repeats N] [--no-default-inflight-run] [--json FILE] [--no-write]";

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseCommandLine(process.argv.slice(2), {
      devices: { type: "string", default: "1000" },
      windows: { type: "string", default: "10" },
      repeats: { type: "string", default: "3" },
      "no-default-inflight-run": { type: "boolean", default: false },
      json: { type: "string" },
      "no-write": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const count = (name: "devices" | "windows" | "repeats", max: number): number => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1 || n > max) {
      process.stderr.write(`--${name} must be an integer from 1 to ${max} (got ${values[name]})\n${USAGE}\n`);
      process.exit(2);
    }
    return n;
  };
  const options = {
    devices: count("devices", 9999),
    windows: count("windows", 10_000),
    repeats: count("repeats", 9),
    defaultInflightRun: !values["no-default-inflight-run"],
    log: (line: string) => process.stderr.write(`bench:collector: ${line}\n`),
  };
  const started = performance.now();
  const result = await runCollectorBench(options);
  const context: ReportContext = {
    command: "npm run bench:collector",
    cores: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: `Node.js ${process.version}`,
    mosquitto: mosquittoVersion(),
    commit: commit(),
    wallSeconds: (performance.now() - started) / 1000,
  };
  if (values.json !== undefined) writeFileSync(values.json, `${JSON.stringify({ ...result, context }, null, 2)}\n`);
  const section = renderCollectorSection(result, context);
  if (!values["no-write"]) writeCollectorSection(section);
  process.stdout.write(section);
}

function mosquittoVersion(): string {
  const help = spawnSync(MOSQUITTO_BINARY ?? "mosquitto", ["-h"], { encoding: "utf8" });
  return /mosquitto version (\S+)/.exec(`${help.stdout}${help.stderr}`)?.[1]?.replace(/^/, "Mosquitto ") ?? "Mosquitto (version unknown)";
}

/** The commit measured, as the other benchmark names it. */
function commit(): string {
  const head = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" });
  if (head.status !== 0) return "unknown";
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { encoding: "utf8" }).stdout.trim() !== "";
  return `${head.stdout.trim()}${dirty ? " with uncommitted changes" : ""}`;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:collector: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
