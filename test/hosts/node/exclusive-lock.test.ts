/**
 * The state folder's exclusive lock, with real processes: the kernel's lock holds against another
 * process and another connection of the same one, lets go when its holder dies (kill -9 too), and
 * the error names the holder, or "another process" when its label is missing or stale.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ExclusiveLock, holderPath, LockBusyError, LockError } from "../../../hosts/node/exclusive-lock.js";

const BUILT_LOCK = resolve("dist/hosts/node/exclusive-lock.js");

interface Holder {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the child's exit code once it has ended. */
  readonly exited: Promise<number | null>;
}

/**
 * Another process that takes the lock (as "lock-test-holder") and says "held"; it lets go and
 * exits after `releaseAfterMs`, or when its stdin closes.
 */
async function holdInChild(path: string, releaseAfterMs?: number): Promise<Holder> {
  const script = `
    import { ExclusiveLock } from ${JSON.stringify(BUILT_LOCK)};
    const lock = ExclusiveLock.acquire(${JSON.stringify(path)}, { command: "lock-test-holder" });
    process.stdout.write("held\\n");
    const done = () => { lock.release(); process.exit(0); };
    ${releaseAfterMs === undefined ? "process.stdin.on('end', done); process.stdin.resume();" : `setTimeout(done, ${releaseAfterMs});`}
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "pipe"] });
  const exited = new Promise<number | null>((done) => child.on("exit", (code) => done(code)));
  let out = "";
  let err = "";
  child.stderr!.on("data", (chunk) => (err += chunk));
  await new Promise<void>((ready, fail) => {
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("held\n")) ready();
    });
    void exited.then((code) => fail(new Error(`the holder exited (${code}) before taking the lock: ${err}`)));
  });
  children.push(child);
  return { child, pid: child.pid!, exited };
}

/** Tries the lock once in a fresh process; returns what it printed. */
function tryInChild(path: string): { code: number | null; output: string } {
  const script = `
    import { ExclusiveLock } from ${JSON.stringify(BUILT_LOCK)};
    try { ExclusiveLock.acquire(${JSON.stringify(path)}, { command: "lock-test-try" }).release(); console.log("acquired"); }
    catch (error) { console.log(error.name + ": " + error.message); process.exitCode = 3; }
  `;
  const run = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
  return { code: run.status, output: run.stdout + run.stderr };
}

const children: ChildProcess[] = [];
const dirs: string[] = [];
const mounts: string[] = [];

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-lock-"));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const mount of mounts.splice(0)) spawnSync("umount", [mount]);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("ExclusiveLock", () => {
  it("holds against another process and another connection of this one, and names the holder", async () => {
    const dir = folder();
    const path = join(dir, "simulator.lock");
    const lock = ExclusiveLock.acquire(path, { command: "npm start", subject: dir });
    expect(lock.held).toBe(true);
    const holder = JSON.parse(readFileSync(holderPath(path), "utf8"));
    expect(holder).toMatchObject({ pid: process.pid, command: "npm start" });
    expect(holder.since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    let busy: unknown;
    try {
      ExclusiveLock.acquire(path, { command: "second" });
    } catch (error) {
      busy = error;
    }
    expect(busy).toBeInstanceOf(LockBusyError);
    expect((busy as LockBusyError).holder?.pid).toBe(process.pid);
    expect((busy as Error).message).toBe(`${dir} is in use by PID ${process.pid} (npm start, since ${holder.since}): stop it, or use another --state`);

    // The refused connection closed its file: the kernel's lock must still be ours.
    const other = tryInChild(path);
    expect(other.code).toBe(3);
    expect(other.output).toContain(`LockBusyError: ${dir} is in use by PID ${process.pid} (npm start`);
    lock.release();
  });

  it("release() lets the next one in, removes the holder file and keeps the lock file", () => {
    const path = join(folder(), "collector.lock");
    const lock = ExclusiveLock.acquire(path, { command: "npm run collector" });
    lock.release();
    expect(lock.held).toBe(false);
    expect(existsSync(holderPath(path))).toBe(false);
    expect(existsSync(path)).toBe(true);
    expect(tryInChild(path)).toEqual({ code: 0, output: "acquired\n" });
    lock.release(); // twice is harmless
    ExclusiveLock.acquire(path, { command: "again" }).release();
  });

  it("is free at once when its holder is killed with SIGKILL", async () => {
    const path = join(folder(), "simulator.lock");
    const holder = await holdInChild(path);
    expect(() => ExclusiveLock.acquire(path, { command: "x" })).toThrow(LockBusyError);
    holder.child.kill("SIGKILL");
    await holder.exited;
    expect(existsSync(holderPath(path))).toBe(true); // the dead holder's label stays...
    const lock = ExclusiveLock.acquire(path, { command: "successor" }); // ...but not its lock
    expect(JSON.parse(readFileSync(holderPath(path), "utf8")).pid).toBe(process.pid);
    lock.release();
  });

  it("waits for a holder that lets go within waitMs, and gives up naming it otherwise", async () => {
    const path = join(folder(), "keyring.lock");
    const brief = await holdInChild(path, 300);
    // Far longer than the holder's 300 ms: the wait ends when it lets go, not at the deadline.
    const lock = ExclusiveLock.acquire(path, { command: "waiter", waitMs: 60_000 });
    expect(await brief.exited).toBe(0);
    lock.release();

    const stubborn = await holdInChild(path);
    let busy: unknown;
    try {
      ExclusiveLock.acquire(path, { command: "waiter", waitMs: 200, subject: "the keyring", advice: "try again" });
    } catch (error) {
      busy = error;
    }
    expect(busy).toBeInstanceOf(LockBusyError);
    expect((busy as Error).message).toMatch(new RegExp(`^the keyring is in use by PID ${stubborn.pid} \\(lock-test-holder, since [0-9T:Z-]+\\): try again$`));
  });

  it('says "another process" when the holder file is missing, unreadable or names a dead process', async () => {
    const dir = folder();
    const path = join(dir, "downlink.lock");
    await holdInChild(path);
    const message = () => {
      try {
        ExclusiveLock.acquire(path, { command: "x" }).release();
        return "acquired";
      } catch (error) {
        expect(error).toBeInstanceOf(LockBusyError);
        expect((error as LockBusyError).holder).toBeUndefined();
        return (error as Error).message;
      }
    };
    const expected = `${dir} is in use by another process: stop it, or use another --state`;
    rmSync(holderPath(path));
    expect(message()).toBe(expected);
    writeFileSync(holderPath(path), "{not json");
    expect(message()).toBe(expected);
    writeFileSync(holderPath(path), JSON.stringify({ pid: "4242", command: "npm start", since: "x", host: "y" }));
    expect(message()).toBe(expected);
    // A PID no process has: Linux PIDs stay below 2^22.
    writeFileSync(holderPath(path), JSON.stringify({ pid: 2 ** 22 + 1, command: "npm start", since: "2026-12-01T16:10:00Z", host: (await import("node:os")).hostname() }));
    expect(message()).toBe(expected);
  });

  it("turns a folder it cannot write into a LockError naming the path and the cause", () => {
    const dir = folder();
    writeFileSync(join(dir, "not-a-folder"), "");
    let failure: unknown;
    try {
      ExclusiveLock.acquire(join(dir, "not-a-folder", "simulator.lock"), { command: "x" });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(LockError);
    expect(failure).not.toBeInstanceOf(LockBusyError);
    expect((failure as Error).message).toContain(`cannot open ${join(dir, "not-a-folder", "simulator.lock")}`);
    expect((failure as Error).message).toContain("ENOTDIR");
  });

  const readOnly = readOnlyFolder();
  it.skipIf(readOnly === undefined)("turns a read-only folder into a LockError naming the path and the cause", () => {
    const dir = readOnly!();
    let failure: unknown;
    try {
      ExclusiveLock.acquire(join(dir, "simulator.lock"), { command: "x" });
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(LockError);
    expect((failure as Error).message).toMatch(new RegExp(`^cannot lock ${dir}: cannot open ${join(dir, "simulator.lock")}: .*(EROFS|EACCES)`));
  });
});

/**
 * A maker of read-only folders: a read-only tmpfs for root (whom permissions do not stop), a
 * folder without write permission for anyone else; undefined where root cannot mount.
 */
function readOnlyFolder(): (() => string) | undefined {
  if (process.getuid?.() !== 0) {
    return () => {
      const dir = folder();
      mkdirSync(join(dir, "ro"), { mode: 0o500 });
      return join(dir, "ro");
    };
  }
  const probe = mkdtempSync(join(tmpdir(), "civicnode-lock-probe-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", probe]).status === 0;
  if (mounted) spawnSync("umount", [probe]);
  rmSync(probe, { recursive: true, force: true });
  if (!mounted) return undefined;
  return () => {
    const dir = folder();
    const mount = join(dir, "ro");
    mkdirSync(mount);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", mount]).status !== 0) throw new Error(`cannot mount a read-only tmpfs on ${mount}`);
    mounts.push(mount);
    return mount;
  };
}
