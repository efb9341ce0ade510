/**
 * PostgreSQL for the collector's benchmark: the server CIVICNODE_POSTGRES_URL names (CI starts one
 * for its whole run), or else a throwaway one (Debian package `postgresql`): initdb into a
 * temporary folder, loopback only, trust authentication, no fsync (its data dies with the run).
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user the package creates.
 *
 * Every run gets a database of its own (`freshDatabase`), so the engines start equal.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort, waitForPort } from "../../node/tcp-ports.js";

export interface BenchPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres, or the URL given. */
  readonly url: string;
  /** The postmaster's process id when the benchmark started the server (for its CPU time), else undefined. */
  readonly pid: number | undefined;
  /** A new, empty database; `drop()` removes it. */
  freshDatabase(name: string): Promise<{ readonly url: string; drop(): Promise<void> }>;
  /** Stops a server the benchmark started and removes its data; leaves a given one alone. */
  stop(): Promise<void>;
}

/** The server to use: CIVICNODE_POSTGRES_URL's, or a throwaway one started now. */
export async function benchPostgres(): Promise<BenchPostgres> {
  const given = process.env.CIVICNODE_POSTGRES_URL;
  if (given) return serverAt(given, undefined, async () => {});
  return startThrowawayServer();
}

function serverAt(url: string, pid: number | undefined, stop: () => Promise<void>): BenchPostgres {
  return {
    url,
    pid,
    async freshDatabase(name) {
      if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      await admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin(url, `CREATE DATABASE ${name}`);
      const database = new URL(url);
      database.pathname = `/${name}`;
      return { url: database.toString(), drop: () => admin(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
    },
    stop,
  };
}

/** The newest installed server's programs (Debian: /usr/lib/postgresql/<version>/bin). */
function postgresBinaries(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, "bin", "postgres")) && existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a))[0];
  return version === undefined ? undefined : join(root, version, "bin");
}

async function startThrowawayServer(): Promise<BenchPostgres> {
  const bin = postgresBinaries();
  if (!bin) throw new Error("PostgreSQL is not installed (Debian: apt-get install postgresql), and CIVICNODE_POSTGRES_URL is not set");
  const dir = mkdtempSync(join(tmpdir(), "civicnode-bench-postgres-"));
  const data = join(dir, "data");
  let user: { uid: number; gid: number } | undefined;
  if (userInfo().uid === 0) {
    const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    if (uid.status !== 0) throw new Error("the postgres user is missing (apt-get install postgresql creates it)");
    user = { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
    chownSync(dir, user.uid, user.gid);
  }
  const init = spawnSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C"], { encoding: "utf8", cwd: dir, ...user });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const args = ["-D", data, "-p", String(port), "-k", dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
  const child: ChildProcess = spawn(join(bin, "postgres"), args, { stdio: ["ignore", "ignore", "pipe"], cwd: dir, ...user });
  let log = "";
  child.stderr!.on("data", (chunk) => (log = (log + chunk).slice(-4000)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGINT"); // PostgreSQL's fast shutdown
      });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitForPort(port, 30_000);
    await untilAccepting(url);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`postgres did not start: ${(error as Error).message}\n${log}`);
  }
  return serverAt(url, child.pid, stop);
}

/** The server listens a moment before it takes connections (startup, recovery). */
async function untilAccepting(url: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin(url, "SELECT 1");
      return;
    } catch (error) {
      if (attempt >= 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
