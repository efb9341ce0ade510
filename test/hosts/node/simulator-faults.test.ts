/**
 * `npm start` as a user runs it, broken as a street breaks it: killed with SIGKILL (a power cut)
 * while its broker is away, killed again and again (its clock then resumes from an old save), its
 * state folder full or read-only. The built simulator runs as a child process against a broker in
 * this test, so the broker can vanish and come back. What the collector stored is read from its
 * database in the state folder (collector.db), while it runs.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { canMountTmpfs, mountSmallTmpfs, TMPFS_REQUIRED, type SmallTmpfs } from "../../support/small-tmpfs.js";
import { alertsInState, stateDbPath, storedInState, waitForStored } from "../../support/state-db.js";
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

async function stored(stateDir: string): Promise<Line[]> {
  return (await storedInState(stateDir)).summaries;
}

/** Waits until the collector has stored `count` summaries (or more). */
async function storedAtLeast(stateDir: string, count: number, what: string, child: Child, timeoutMs = 60_000, pollMs = 100): Promise<void> {
  await waitForStored(stateDir, ({ summaries }) => summaries.length >= count, what, timeoutMs, pollMs, () => `${child.stdout}${child.stderr}`);
}

/** The sealed summaries ("device/window end") the collector has not stored. */
function notStored(sealed: readonly string[], lines: readonly Line[]): string[] {
  const have = new Set(lines.map((line) => `${line.device}/${line.windowStart + line.windowSeconds}`));
  return sealed.filter((id) => !have.has(id));
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
    await storedAtLeast(stateDir, 4, "summaries before the outage", first);
    await broker.close();
    // While the broker is away the nodes seal on, into their outboxes.
    const sealedBefore = sealedSummaries(stateDir).length;
    await waitFor(() => sealedSummaries(stateDir).length >= sealedBefore + 8, "summaries sealed during the outage", 60_000, 100);
    first.process.kill("SIGKILL");
    await first.exited;
    const sealed = sealedSummaries(stateDir);
    expect(notStored(sealed, await stored(stateDir)).length, "summaries the collector did not get before the kill").toBeGreaterThanOrEqual(8);

    broker = await brokerOn(port);
    const second = startSimulator([...args, "--windows", "2"]);
    let lastRead: Line[] = [];
    const missing = () => `missing ${notStored(sealed, lastRead).join(", ")}\n${second.stdout}${second.stderr}`;
    await waitForStored(stateDir, ({ summaries }) => notStored(sealed, (lastRead = summaries)).length === 0, "the queued summaries, after the restart", 90_000, 200, missing);
    expect(await second.exited).toBe(0);
    expectEachWindowOnce(await stored(stateDir));
  });
});

describe("npm start killed again and again (finding 5)", () => {
  it("never seals a window twice, whatever its saved clock says, and the collector stores each window once", { timeout: 180_000 }, async () => {
    const stateDir = stateFolder();
    const broker = await brokerOn();
    const args = ["--broker", `mqtt://127.0.0.1:${broker.port}`, "--state", stateDir, "--nodes", "3", "--speed", "1200", "--faults", "0"];
    for (let run = 0; run < 4; run++) {
      const child = startSimulator(args);
      const before = (await stored(stateDir)).length;
      await storedAtLeast(stateDir, before + 3, `summaries of run ${run}`, child, 60_000, 50);
      // Killed between two saves of simulator.json (every 5 s, 100 simulated minutes at 1200x).
      await sleep(1500);
      child.process.kill("SIGKILL");
      await child.exited;
    }
    const last = startSimulator([...args, "--windows", "2"]);
    expect(await last.exited, `${last.stdout}${last.stderr}`).toBe(0);
    const lines = await stored(stateDir);
    expect(lines.length).toBeGreaterThan(12);
    expectEachWindowOnce(lines);
    const alerts = await alertsInState(stateDir);
    expect(alerts.filter((alert) => alert.kind === "window-conflict" || alert.kind === "counter-reuse")).toEqual([]);
  });
});

describe.skipIf(!TMPFS_REQUIRED && !canMountTmpfs())("npm start on a full and on a read-only state folder (finding 4)", () => {
  it("keeps running, says so on its status line, recovers, loses nothing it could not store, and leaves nothing half-written", { timeout: 180_000 }, async () => {
    const disk: SmallTmpfs = mountSmallTmpfs(8 * 1024 * 1024);
    cleanups.push(() => disk.unmount());
    const stateDir = disk.dir;
    const broker = await brokerOn();
    const child = startSimulator(["--broker", `mqtt://127.0.0.1:${broker.port}`, "--state", stateDir, "--nodes", "2", "--speed", "600", "--faults", "0", "--windows", "1000"]);
    await storedAtLeast(stateDir, 2, "summaries before the disk fills", child);

    disk.fill();
    await waitFor(() => /STORE FAILING: street-0\d ENOSPC/.test(child.stdout), `the status line saying the flash is full\n${child.stdout}`, 60_000, 100);
    // The database refuses its commits (SQLITE_FULL): the collector holds the batch, unacknowledged, for the broker to deliver again.
    await waitFor(() => /COLLECTOR CANNOT STORE: disk-full/.test(child.stdout), `the status line saying the collector cannot store\n${child.stdout}`, 60_000, 100);
    expect(child.stdout).toMatch(/cannot write the log file .* \(ENOSPC\)/);
    const linesWhileFull = (await stored(stateDir)).length;
    disk.free();
    // What the nodes had sealed and kept on flash by now (as far as their log could say so) reaches the database.
    const sealedByNow = sealedSummaries(stateDir);
    await storedAtLeast(stateDir, linesWhileFull + 4, "summaries after the disk has room again", child);
    await waitForStored(stateDir, ({ summaries }) => notStored(sealedByNow, summaries).length === 0, "every summary sealed before the disk had room again", 60_000, 200, () => child.stdout);

    // One node's flash goes read-only (a read-only bind mount over its folder: the rest of the
    // folder stays writable, and files open elsewhere do not stop it).
    const nodeDir = join(stateDir, "nodes", "street-01");
    mountCommand(["--bind", nodeDir, nodeDir]);
    cleanups.push(() => void spawnSync("umount", [nodeDir]));
    mountCommand(["-o", "remount,bind,ro", nodeDir]);
    const beforeReadOnly = child.stdout.length;
    await waitFor(() => /STORE FAILING: street-01 EROFS/.test(child.stdout.slice(beforeReadOnly)), `the status line saying street-01's flash is read-only\n${child.stdout}`, 60_000, 100);
    expect(spawnSync("umount", [nodeDir]).status).toBe(0);
    const linesBack = (await stored(stateDir)).length;
    await storedAtLeast(stateDir, linesBack + 4, "summaries after the folder is writable again", child);

    // The whole state folder goes read-only (a read-only bind mount over it): every flash, the log
    // and simulator.json refuse their writes. The collector's database was opened before, and its
    // open files take writes still (SQLite keeps collector.db and its WAL open), so nothing is read
    // from it until the folder is writable again.
    mountCommand(["--bind", stateDir, stateDir]);
    cleanups.push(() => void spawnSync("umount", [stateDir]));
    mountCommand(["-o", "remount,bind,ro", stateDir]);
    const beforeFolderReadOnly = child.stdout.length;
    await waitFor(() => /STORE FAILING: street-01 EROFS, street-02 EROFS/.test(child.stdout.slice(beforeFolderReadOnly)), `the status line saying both flashes are read-only\n${child.stdout}`, 60_000, 100);
    await waitFor(() => /cannot write the log file .* \(EROFS\)/.test(child.stdout.slice(beforeFolderReadOnly)), `the console saying the log is read-only\n${child.stdout}`, 60_000, 100);
    expect(child.process.exitCode).toBeNull();
    expect(spawnSync("umount", [stateDir]).status).toBe(0);
    const linesWritable = (await stored(stateDir)).length;
    await storedAtLeast(stateDir, linesWritable + 4, "summaries after the whole folder is writable again", child);

    child.process.kill("SIGINT");
    expect(await child.exited, `${child.stdout}\n${child.stderr}`).toBe(0);
    expect(child.stderr).not.toMatch(/Error|at .*\.js:\d+/);
    // The database is whole (SQLite's own check, and every row decodes), it says what happened, and no temporary is left over.
    const database = new Database(stateDbPath(stateDir), { readonly: true });
    try {
      expect(database.pragma("integrity_check", { simple: true })).toBe("ok");
    } finally {
      database.close();
    }
    const kinds = (await alertsInState(stateDir)).map((alert) => alert.kind);
    expect(kinds).toContain("store-failed");
    expect(kinds).toContain("store-recovered");
    const leftovers = (dir: string): string[] =>
      readdirSync(dir).flatMap((name) => (statSync(join(dir, name)).isDirectory() ? leftovers(join(dir, name)) : /\.tmp-\d+$/.test(name) ? [join(dir, name)] : []));
    expect(leftovers(stateDir)).toEqual([]);
    expectEachWindowOnce(await stored(stateDir));
  });
});
