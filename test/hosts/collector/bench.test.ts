/**
 * `npm run bench:collector` in a tiny mode (300 messages, one run of each configuration), as built
 * (dist/), on a real Mosquitto and PostgreSQL: it produces every figure of its BENCHMARKS.md
 * section, and every collector run stored exactly the messages published. Behaviour only: no
 * figure is compared with a speed.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CollectorBenchResult, RunId } from "../../../hosts/collector/bench/collector-bench.js";
import { writeCollectorSection } from "../../../hosts/collector/bench/bench-report.js";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED } from "../../support/mosquitto.js";
import { POSTGRES_AVAILABLE, POSTGRES_REQUIRED } from "../../support/postgres.js";

const DEVICES = 20;
const WINDOWS = 15;
const PUBLISHED = DEVICES * WINDOWS;
const RUNS: readonly RunId[] = ["raw", "sqlite-1", "postgres-1", "postgres-3", "sqlite-1-inflight-20"];

const runnable = (MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED) && (POSTGRES_AVAILABLE || POSTGRES_REQUIRED);
if (!runnable) console.warn("mosquitto or PostgreSQL is not installed: skipping the collector benchmark's test (CI runs it)");

const dir = mkdtempSync(join(tmpdir(), "civicnode-bench-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runBench(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/collector/bench/main.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const positive = (n: number | undefined) => typeof n === "number" && Number.isFinite(n) && n > 0;

describe.skipIf(!runnable)("npm run bench:collector (tiny)", () => {
  // Seven brokers, five databases, nine consumer processes and the stages: a few seconds of work
  // idle, many times that on a loaded 2-core machine.
  it("measures every configuration and stage, and every collector stores each published message once", { timeout: 300_000 }, async () => {
    const json = join(dir, "bench.json");
    const { code, stdout, stderr } = await runBench(["--devices", String(DEVICES), "--windows", String(WINDOWS), "--repeats", "1", "--json", json, "--no-write"]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(readFileSync(json, "utf8")) as CollectorBenchResult;

    expect(result.messages).toBe(PUBLISHED);
    expect(result.runs.map((r) => r.spec.id)).toEqual(RUNS);
    for (const run of result.runs) {
      expect(run.published, run.spec.id).toBe(PUBLISHED);
      expect(run.consumed, run.spec.id).toBe(PUBLISHED);
      expect(positive(run.rate) && positive(run.seconds) && positive(run.consumerMicros), run.spec.id).toBe(true);
      expect(run.brokerMicros, run.spec.id).toBeGreaterThanOrEqual(0);
      if (run.spec.consumer === "collector") {
        // Exactly once: the rows in the database, counted afterwards.
        expect(run.rows, run.spec.id).toEqual({ messages: PUBLISHED, summaries: PUBLISHED });
        expect(run.rejected, run.spec.id).toBe(0);
        expect(run.notStored, run.spec.id).toEqual({});
      }
      if (run.spec.engine === "postgres") expect(run.lockWaits?.samples, run.spec.id).toBeGreaterThan(0);
    }
    // The shared subscription gave each of the three instances a part.
    const three = result.runs.find((r) => r.spec.id === "postgres-3")!;
    expect(three.perInstance).toHaveLength(3);
    for (const part of three.perInstance) expect(part).toBeGreaterThan(0);

    const { open, storeSqlite, storePostgres } = result.stages;
    for (const figure of [open.verifyMicros, open.decodeMicros, storeSqlite.clientMicros, storePostgres.clientMicros]) expect(positive(figure)).toBe(true);
    expect(storeSqlite.stored).toBe(PUBLISHED);
    expect(storePostgres.stored).toBe(PUBLISHED);
    // Sized from a real sealed summary of the reference node.
    expect(result.template.sealedBytes).toBeGreaterThan(result.template.plaintextBytes);
    expect(result.template.records.length).toBeGreaterThan(10);

    // The section it prints: targets with verdicts, every configuration's row, every stage.
    expect(stdout).toMatch(/^## Collector throughput \(`npm run bench:collector`\)/);
    expect(stdout).toMatch(/\| one SQLite collector stores at least 50% .*\| (met|missed)/);
    expect(stdout).toMatch(/\| near-linear scaling with instances on PostgreSQL .*\| (met|missed)/);
    for (const row of ["counting subscriber (raw)", "collector, SQLite | 1", "PostgreSQL, shared group | 1", "PostgreSQL, shared group | 3", "max_inflight_messages 20"]) expect(stdout).toContain(row);
    for (const stage of ["MQTT: receive, parse, acknowledge", "verify and decrypt", "| decode", "store, SQLite", "store, PostgreSQL", "whole collector, SQLite"]) expect(stdout).toContain(stage);
    expect(stdout).toContain(`each of the ${PUBLISHED} messages exactly once`);
    expect(stdout).not.toMatch(/NaN|undefined|Infinity/);
  });
});

describe("the benchmark's section of BENCHMARKS.md", () => {
  it("is appended once, then replaced in place, leaving the sections around it as they were", () => {
    const file = join(dir, "BENCHMARKS.md");
    writeFileSync(file, "# Benchmarks\n\n## Targets\n\nxs figures\n");
    writeCollectorSection("## Collector throughput (`npm run bench:collector`)\n\nfirst\n", file);
    expect(readFileSync(file, "utf8")).toBe("# Benchmarks\n\n## Targets\n\nxs figures\n\n## Collector throughput (`npm run bench:collector`)\n\nfirst\n");
    writeFileSync(file, `${readFileSync(file, "utf8")}\n## Later section\n\nkept\n`);
    writeCollectorSection("## Collector throughput (`npm run bench:collector`)\n\nsecond\n\n### Rates\n\nrows\n", file);
    expect(readFileSync(file, "utf8")).toBe(
      "# Benchmarks\n\n## Targets\n\nxs figures\n\n## Collector throughput (`npm run bench:collector`)\n\nsecond\n\n### Rates\n\nrows\n\n## Later section\n\nkept\n",
    );
  });
});
