/**
 * One sealer per state folder (issue 11, finding 1): two `npm start` on one folder sealed the
 * same (device, epoch, counter) twice. The built tools, as real processes: a second simulator or
 * collector on a folder in use is refused with the holder's PID while the first goes on; a holder
 * killed with SIGKILL leaves no stale lock; two command tools never share a downlink counter.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring, KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { startEmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { DOWNLINK_LOCK_FILE, ExclusiveLock, holderPath, SIMULATOR_LOCK_FILE } from "../../../hosts/node/exclusive-lock.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runBuiltScript, runSimulator, type SimulatorRun } from "../../support/run-simulator.js";
import { storedInState, waitForStored } from "../../support/state-db.js";

interface RunningSimulator {
  readonly pid: number;
  signal(name: NodeJS.Signals): void;
  readonly finished: Promise<SimulatorRun>;
}

const running: RunningSimulator[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const simulator of running.splice(0)) {
    simulator.signal("SIGKILL");
    await simulator.finished;
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function stateFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-exclusive-"));
  dirs.push(dir);
  return dir;
}

/** `npm start` (the built simulator) as a process this test can signal. */
function startSimulator(args: readonly string[]): RunningSimulator {
  const child = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/node/main.js", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const finished = new Promise<SimulatorRun>((done) => child.on("close", (code) => done({ code, stdout, stderr })));
  const simulator = { pid: child.pid!, signal: (name: NodeJS.Signals) => void child.kill(name), finished };
  running.push(simulator);
  return simulator;
}

async function summaries(state: string): Promise<Array<{ device: string; epoch: number; counter: number }>> {
  return (await storedInState(state)).summaries;
}

describe("one simulator, one collector per state folder", () => {
  it("refuses a second npm start and a second collector, naming the first one's PID, while the first goes on sealing", async () => {
    const state = stateFolder();
    const first = startSimulator(["--nodes", "2", "--speed", "600", "--state", state]);
    await waitForStored(state, (stored) => stored.summaries.length >= 2, "the first simulator's summaries", 60_000);
    const keyring = readFileSync(join(state, KEYRING_FILE), "utf8");

    const second = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "1", "--state", state]);
    expect(second.code).toBe(1);
    expect(second.stdout).toBe("");
    expect(second.stderr).toMatch(new RegExp(`^civicnode: ${state} is in use by PID ${first.pid} \\(npm start, since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\): stop it, or use another --state\\n$`));
    expect(readFileSync(join(state, KEYRING_FILE), "utf8")).toBe(keyring);

    const collector = await runBuiltScript("hosts/collector/main.js", ["--broker", "mqtt://127.0.0.1:1", "--state", state]);
    expect(collector.code).toBe(1);
    expect(collector.stderr).toContain(`collector: ${state} is in use by PID ${first.pid} (npm start, since `);

    const sealed = (await summaries(state)).length;
    await waitForStored(state, (stored) => stored.summaries.length >= sealed + 2, "the first simulator to go on", 60_000);
    first.signal("SIGINT");
    const run = await first.finished;
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\d+ decrypted, 0 rejected/);
    const triples = (await summaries(state)).map(({ device, epoch, counter }) => `${device}/${epoch}/${counter}`);
    expect(new Set(triples).size).toBe(triples.length);
    expect(existsSync(holderPath(join(state, SIMULATOR_LOCK_FILE)))).toBe(false); // a clean stop removes its label
  }, 150_000);

  it("starts at once after the holder was killed with SIGKILL", async () => {
    const state = stateFolder();
    const first = startSimulator(["--nodes", "2", "--speed", "600", "--state", state]);
    await waitForStored(state, (stored) => stored.summaries.length >= 1, "the first simulator's summaries", 60_000);
    first.signal("SIGKILL");
    expect((await first.finished).code).toBe(null);
    expect(JSON.parse(readFileSync(holderPath(join(state, SIMULATOR_LOCK_FILE)), "utf8")).pid).toBe(first.pid); // its stale label

    const next = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "1", "--state", state]);
    expect(next.stderr).toBe("");
    expect(next.code).toBe(0);
  }, 150_000);
});

describe("npm run cmd: one downlink counter at a time", () => {
  it("gives four command tools started together four different counters, and waits out no holder forever", async () => {
    const state = stateFolder();
    const keyring = new Keyring();
    keyring.provision("street-01", "demo-street");
    keyring.save(state, localPassphrase(state));
    const broker = await startEmbeddedBroker();
    try {
      const cmd = () => runBuiltScript("hosts/collector/cmd.js", ["street-01", "republish-disclosure", "--broker", broker.url, "--state", state]);
      const runs = await Promise.all([cmd(), cmd(), cmd(), cmd()]);
      for (const run of runs) {
        expect(run.stderr).toBe("");
        expect(run.code).toBe(0);
      }
      const counters = runs.map((run) => Number(/\(counter (\d+),/.exec(run.stdout)?.[1])).sort();
      expect(counters).toEqual([0, 1, 2, 3]);
      expect(JSON.parse(readFileSync(join(state, "downlink.json"), "utf8")).counters).toEqual({ "street-01": 4 });

      // A holder that does not let go within the tool's wait (this test process) is named.
      const before = readFileSync(join(state, "downlink.json"), "utf8");
      const lock = ExclusiveLock.acquire(join(state, DOWNLINK_LOCK_FILE), { command: "a test" });
      try {
        const blocked = await cmd();
        expect(blocked.code).toBe(1);
        expect(blocked.stderr).toMatch(new RegExp(`^cmd: ${join(state, "downlink.json")} is in use by PID ${process.pid} \\(a test, since [0-9T:Z-]+\\): try again once it has finished\\n$`));
        expect(readFileSync(join(state, "downlink.json"), "utf8")).toBe(before);
      } finally {
        lock.release();
      }
    } finally {
      await broker.close();
    }
  }, 90_000);
});
