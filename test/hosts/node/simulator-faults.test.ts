/**
 * `npm start` as a user runs it, broken as a street breaks it: killed with SIGKILL (a power cut)
 * while its broker is away, killed again and again (its clock then resumes from an old save), its
 * state folder full or read-only. The built simulator runs as a child process against a broker in
 * this test, so the broker can vanish and come back.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { canMountTmpfs, mountSmallTmpfs, TMPFS_REQUIRED, type SmallTmpfs } from "../../support/small-tmpfs.js";
import { sleep, waitFor } from "../../support/wait-for.js";

interface Child {
  readonly process: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
}

const children: Child[] = [];
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.process.exitCode === null) child.process.kill("SIGKILL");
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function startSimulator(args: readonly string[]): Child {
  const process_ = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/node/main.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const child: Child = {
    process: process_,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => process_.once("exit", (code) => resolve(code))),
  };
  process_.stdout!.on("data", (chunk) => (child.stdout += chunk));
  process_.stderr!.on("data", (chunk) => (child.stderr += chunk));
  children.push(child);
  return child;
}

interface Line {
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  readonly windowStart: number;
  readonly windowSeconds: number;
}

function jsonLines<T>(path: string): T[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as T);
}

interface LogLine {
  readonly event: string;
  readonly device?: string;
  readonly topic?: string;
  readonly about?: number;
  readonly kept?: string;
}

/** The summaries the nodes sealed and kept on flash, from the simulator's log: "device/window end". */
function sealedSummaries(stateDir: string, fromByte = 0): string[] {
  const text = readFileSync(join(stateDir, "simulator.log"), "utf8").slice(fromByte);
  return text
    .split("\n")
    .filter((line) => line.includes('"message-sealed"'))
    .map((line) => {
      try {
        return JSON.parse(line) as LogLine;
      } catch {
        return undefined; // the last line of a killed process may be torn
      }
    })
    .filter((line): line is LogLine => line !== undefined && String(line.topic).endsWith("/summary") && line.kept === "stored")
    .map((line) => `${line.device}/${line.about}`);
}

function stored(stateDir: string): Line[] {
  return jsonLines<Line>(join(stateDir, "summaries.jsonl"));
}

function expectEachWindowOnce(lines: readonly Line[]): void {
  const windows = lines.map((line) => `${line.device}/${line.windowStart}`);
  expect(new Set(windows).size, "a window stored twice").toBe(windows.length);
  const messages = lines.map((line) => `${line.device}/${line.epoch}/${line.counter}`);
  expect(new Set(messages).size, "a message stored twice").toBe(messages.length);
  const byDevice = new Map<string, Line[]>();
  for (const line of lines) byDevice.set(line.device, [...(byDevice.get(line.device) ?? []), line]);
  for (const [device, mine] of byDevice) {
    const sorted = [...mine].sort((a, b) => a.windowStart - b.windowStart);
    for (let i = 1; i < sorted.length; i++) {
      expect(sorted[i]!.windowStart, `${device}: windows overlap`).toBeGreaterThanOrEqual(sorted[i - 1]!.windowStart + sorted[i - 1]!.windowSeconds);
    }
  }
}

function mountCommand(args: readonly string[]): void {
  const result = spawnSync("mount", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`mount ${args.join(" ")} failed: ${result.stderr}`);
}

async function brokerOn(port = 0): Promise<EmbeddedBroker> {
  const broker = await startEmbeddedBroker(port);
  cleanups.push(() => broker.close());
  return broker;
}

function stateFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-sim-faults-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe("npm start killed while its broker is away (finding 3)", () => {
  it("delivers after the restart every summary its nodes had queued on flash", { timeout: 180_000 }, async () => {
    const stateDir = stateFolder();
    let broker = await brokerOn();
    const port = broker.port;
    const args = ["--broker", `mqtt://127.0.0.1:${port}`, "--state", stateDir, "--nodes", "2", "--speed", "600", "--faults", "0"];
    const first = startSimulator(args);
    await waitFor(() => stored(stateDir).length >= 4, `summaries before the outage\n${first.stdout}${first.stderr}`, 60_000, 100);
    await broker.close();
    // While the broker is away the nodes seal on, into their outboxes.
    const sealedBefore = sealedSummaries(stateDir).length;
    await waitFor(() => sealedSummaries(stateDir).length >= sealedBefore + 8, "summaries sealed during the outage", 60_000, 100);
    first.process.kill("SIGKILL");
    await first.exited;
    const sealed = sealedSummaries(stateDir);
    const missing = () => {
      const have = new Set(stored(stateDir).map((line) => `${line.device}/${line.windowStart + line.windowSeconds}`));
      return sealed.filter((id) => !have.has(id));
    };
    expect(missing().length, "summaries the collector did not get before the kill").toBeGreaterThanOrEqual(8);

    broker = await brokerOn(port);
    const second = startSimulator([...args, "--windows", "2"]);
    await waitFor(() => missing().length === 0, `the queued summaries, after the restart (missing ${missing().join(", ")})\n${second.stdout}${second.stderr}`, 90_000, 200);
    expect(await second.exited).toBe(0);
    expectEachWindowOnce(stored(stateDir));
  });
});

describe("npm start killed again and again (finding 5)", () => {
  it("never seals a window twice, whatever its saved clock says, and the collector stores each window once", { timeout: 180_000 }, async () => {
    const stateDir = stateFolder();
    const broker = await brokerOn();
    const args = ["--broker", `mqtt://127.0.0.1:${broker.port}`, "--state", stateDir, "--nodes", "3", "--speed", "1200", "--faults", "0"];
    for (let run = 0; run < 4; run++) {
      const child = startSimulator(args);
      const before = stored(stateDir).length;
      await waitFor(() => stored(stateDir).length >= before + 3, `summaries of run ${run}\n${child.stdout}${child.stderr}`, 60_000, 50);
      // Killed between two saves of simulator.json (every 5 s, 100 simulated minutes at 1200x).
      await sleep(1500);
      child.process.kill("SIGKILL");
      await child.exited;
    }
    const last = startSimulator([...args, "--windows", "2"]);
    expect(await last.exited, `${last.stdout}${last.stderr}`).toBe(0);
    const lines = stored(stateDir);
    expect(lines.length).toBeGreaterThan(12);
    expectEachWindowOnce(lines);
    const alerts = jsonLines<{ kind: string }>(join(stateDir, "alerts.jsonl"));
    expect(alerts.filter((alert) => alert.kind === "window-conflict" || alert.kind === "counter-reuse")).toEqual([]);
  });
});

describe.skipIf(!TMPFS_REQUIRED && !canMountTmpfs())("npm start on a full and on a read-only state folder (finding 4)", () => {
  it("keeps running, says so on its status line, recovers, and leaves nothing half-written", { timeout: 180_000 }, async () => {
    const disk: SmallTmpfs = mountSmallTmpfs(8 * 1024 * 1024);
    cleanups.push(() => disk.unmount());
    const stateDir = disk.dir;
    const broker = await brokerOn();
    const child = startSimulator(["--broker", `mqtt://127.0.0.1:${broker.port}`, "--state", stateDir, "--nodes", "2", "--speed", "600", "--faults", "0", "--windows", "1000"]);
    await waitFor(() => stored(stateDir).length >= 2, `summaries before the disk fills\n${child.stdout}${child.stderr}`, 60_000, 100);

    disk.fill();
    await waitFor(() => /STORE FAILING: street-0\d ENOSPC/.test(child.stdout), `the status line saying the flash is full\n${child.stdout}`, 60_000, 100);
    await waitFor(() => /COLLECTOR CANNOT STORE: ENOSPC/.test(child.stdout), `the status line saying the collector cannot store\n${child.stdout}`, 60_000, 100);
    expect(child.stdout).toMatch(/cannot write the log file .* \(ENOSPC\)/);
    const linesWhileFull = stored(stateDir).length;
    disk.free();
    await waitFor(() => stored(stateDir).length >= linesWhileFull + 4, `summaries after the disk has room again\n${child.stdout}`, 60_000, 100);

    // One node's flash goes read-only (a read-only bind mount over its folder: the rest of the
    // folder stays writable, and files open elsewhere do not stop it).
    const nodeDir = join(stateDir, "nodes", "street-01");
    mountCommand(["--bind", nodeDir, nodeDir]);
    cleanups.push(() => void spawnSync("umount", [nodeDir]));
    mountCommand(["-o", "remount,bind,ro", nodeDir]);
    const beforeReadOnly = child.stdout.length;
    await waitFor(() => /STORE FAILING: street-01 EROFS/.test(child.stdout.slice(beforeReadOnly)), `the status line saying street-01's flash is read-only\n${child.stdout}`, 60_000, 100);
    expect(spawnSync("umount", [nodeDir]).status).toBe(0);
    const linesBack = stored(stateDir).length;
    await waitFor(() => stored(stateDir).length >= linesBack + 4, `summaries after the folder is writable again\n${child.stdout}`, 60_000, 100);

    child.process.kill("SIGINT");
    expect(await child.exited, `${child.stdout}\n${child.stderr}`).toBe(0);
    expect(child.stderr).not.toMatch(/Error|at .*\.js:\d+/);
    // Every line of every file the collector wrote is whole, and no temporary is left over.
    for (const file of ["summaries.jsonl", "health.jsonl", "alerts.jsonl"]) jsonLines(join(stateDir, file));
    const leftovers = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? leftovers(join(dir, name)) : /\.tmp-\d+$/.test(name) ? [join(dir, name)] : []));
    expect(leftovers(stateDir)).toEqual([]);
    expectEachWindowOnce(stored(stateDir));
  });
});
