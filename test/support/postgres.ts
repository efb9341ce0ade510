/**
 * PostgreSQL for the storage tests (Debian package `postgresql`). `.ci/run` installs it, starts one
 * server for the whole run and exports its URL as CIVICNODE_POSTGRES_URL, with
 * CIVICNODE_REQUIRE_POSTGRES=1 so that the PostgreSQL tests fail rather than skip in CI. Without a
 * URL, a test file starts a private server of its own when the binaries are installed (a developer
 * running `npx vitest run` on a few files), and otherwise the PostgreSQL tests are skipped with a
 * notice. A test that stops its server or kills its connections always starts a private one.
 *
 * Each test gets a database of its own (`freshDatabase()`), dropped afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort, waitForPort } from "../../hosts/node/tcp-ports.js";

export const POSTGRES_REQUIRED = process.env.CIVICNODE_REQUIRE_POSTGRES === "1";
const SHARED_URL = process.env.CIVICNODE_POSTGRES_URL;

/** The newest installed server's bin folder (/usr/lib/postgresql/<version>/bin), if any. */
export function postgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, "bin", "postgres")) && existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : undefined;
}

/** Whether PostgreSQL tests can run here: a URL given, or a server to start. */
export const POSTGRES_AVAILABLE = SHARED_URL !== undefined || postgresBinaries() !== undefined;

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres: the superuser, trusted on loopback. */
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown: open transactions are rolled back, connections end). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  dispose(): Promise<void>;
}

/**
 * Starts a throwaway server: initdb into a fresh folder, loopback only, trust authentication, no
 * fsync (its data dies with the test). As root, it runs as the `postgres` user (PostgreSQL refuses
 * to run as root). Port 0 picks a free one.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinaries();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  const asRoot = userInfo().uid === 0;
  const dir = mkdtempSync(join(tmpdir(), "civicnode-postgres-"));
  const data = join(dir, "data");
  let user: { uid: number; gid: number } | undefined;
  if (asRoot) {
    const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (uid.status !== 0) throw new Error("the postgres user is missing (apt-get install postgresql creates it)");
    user = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    chownSync(dir, user.uid, user.gid);
  }
  const init = spawnSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"], { encoding: "utf8", cwd: dir, ...user });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const port = await freePort();
  let child: ChildProcess | undefined;
  let log = "";
  const start = async () => {
    const args = ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
    const started = spawn(join(bin, "postgres"), args, { stdio: ["ignore", "ignore", "pipe"], cwd: dir, ...user });
    started.stderr!.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
    child = started;
    await waitForPort(port, 30_000).catch((error) => {
      started.kill("SIGKILL");
      throw new Error(`postgres did not start: ${(error as Error).message}\n${log}`);
    });
    await waitUntilAccepting(`postgres://postgres@127.0.0.1:${port}/postgres`);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null) return resolve();
      running.once("exit", () => resolve());
      running.kill("SIGINT"); // PostgreSQL's fast shutdown
    });
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop,
    start,
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Waits until the server accepts queries (it listens a moment before it takes connections). */
async function waitUntilAccepting(url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("SELECT 1");
      return;
    } catch (error) {
      if (attempt >= 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

let shared: Promise<{ url: string; dispose?: () => Promise<void> }> | undefined;

/** The server this test file uses: CI's, or a private one started once per file (stopped by `releasePostgres`). */
export function sharedPostgres(): Promise<{ url: string }> {
  shared ??= SHARED_URL !== undefined ? Promise.resolve({ url: SHARED_URL }) : startPostgresServer().then((server) => ({ url: server.url, dispose: () => server.dispose() }));
  return shared;
}

/** Stops the private server `sharedPostgres` started, if it did (call in afterAll). */
export async function releasePostgres(): Promise<void> {
  const started = shared;
  shared = undefined;
  await (await started)?.dispose?.();
}

let databases = 0;

/** A new, empty database on the server at `serverUrl`; `drop()` removes it (ending its connections first). */
export async function freshDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `civicnode_test_${process.pid}_${Date.now().toString(36)}_${databases++}`;
  await admin(serverUrl, `CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Ends every other connection to the database at `url` (pg_terminate_backend), as a failover or an administrator would. */
export async function terminateConnections(url: string): Promise<number> {
  const database = new URL(url).pathname.slice(1);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [database]);
    return Number(result.rows[0].n);
  } finally {
    await client.end();
  }
}

async function admin(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
