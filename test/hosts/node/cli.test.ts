import { describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring, KEYRING_FILE } from "../../../hosts/collector/keyring.js";
import { LOCAL_PASSPHRASE_FILE } from "../../../hosts/collector/passphrase-source.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { runSimulator, type SimulatorRun } from "../../support/run-simulator.js";
import { stateDbPath, storedInState } from "../../support/state-db.js";
import { sleep, waitFor } from "../../support/wait-for.js";

describe("npm start (the built simulator)", () => {
  it("prints its options with --help and exits 0", async () => {
    const run = await runSimulator(["--help"]);
    expect(run.code).toBe(0);
    for (const option of ["--broker", "--nodes", "--speed", "--windows", "--state", "--db", "--http", "--jsonl", "--help"]) expect(run.stdout).toContain(option);
  });

  it.each([
    [["--nodes", "0"], "--nodes"],
    [["--nodes", "many"], "--nodes"],
    [["--speed", "-5"], "--speed"],
    [["--windows", "1.5"], "--windows"],
    [["--broker", "http://example.org"], "--broker"],
    [["--frobnicate"], "frobnicate"],
    [["--engine", "v8"], "--engine"],
    [["--faults", "often"], "--faults"],
    [["--broker", "mqtts://localhost:8883"], "needs --ca FILE"],
    [["--ca", "ca.pem"], "--ca needs --broker mqtts://"],
    [["--broker", "mqtt://127.0.0.1:1883", "--ca", "ca.pem"], "--ca needs an mqtts:// broker"],
    [["--broker", "mqtts://localhost:8883", "--ca", "/nonexistent/ca.pem"], "--ca: cannot read CA file /nonexistent/ca.pem (ENOENT)"],
    [["--broker", "mqtts://localhost:8883", "--ca", "package.json"], "--ca: CA file package.json: the CA is not a PEM certificate"],
  ])("refuses %j with a clear message and exit code 2", async (args, mention) => {
    const run = await runSimulator(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(mention);
    expect(run.stdout).toBe("");
  });

  it("documents TLS in --help: mqtts:// and --ca", async () => {
    const run = await runSimulator(["--help"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("mqtts://host:port");
    expect(run.stdout).toContain("--ca FILE");
  });

  it("runs a street on the embedded broker, stores into SQLite, exits 0 after N windows, and keeps its keys private", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-"));
    try {
      const exported = join(state, "export", "stored.jsonl");
      const run = await runSimulator(["--nodes", "3", "--speed", "600", "--windows", "2", "--state", state, "--jsonl", exported]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      for (const device of ["street-01", "street-02", "street-03"]) {
        expect(run.stdout.match(new RegExp(`${device}\\s+#\\d+\\s+T -?\\d+(\\.\\d)?°C`, "g"))?.length).toBeGreaterThanOrEqual(2);
      }
      expect(run.stdout).toMatch(/2\/2 windows\/node \| \d+ decrypted, 0 rejected/);
      const keyringPath = join(state, KEYRING_FILE);
      expect(statSync(keyringPath).mode & 0o777).toBe(0o600);
      const keyring = JSON.parse(Keyring.load(state, localPassphrase(state)).serialize());
      expect(Object.keys(keyring.devices)).toEqual(["street-01", "street-02", "street-03"]);
      // A fresh folder and no passphrase given: a local one, said once, never shown.
      const passphraseFile = join(state, LOCAL_PASSPHRASE_FILE);
      expect(statSync(passphraseFile).mode & 0o777).toBe(0o600);
      expect(run.stdout.split("\n").filter((line) => line.includes("a city keeps its passphrase elsewhere, not beside the keyring"))).toEqual([
        `created the passphrase that seals the keys in ${state}: ${passphraseFile} (mode 0600); a city keeps its passphrase elsewhere, not beside the keyring: move it and set CIVICNODE_PASSPHRASE_FILE (docs/keys-at-rest.md)`,
      ]);
      const sealedFile = readFileSync(keyringPath);
      expect(run.stdout).toContain(`collector subscribed; it stores into sqlite ${stateDbPath(state)} and exports to ${exported}`);
      // The JSON Lines export holds what the database holds, one object per line.
      const exportLines = readFileSync(exported, "utf8").trim().split("\n").map((l) => JSON.parse(l));
      const stored = await storedInState(state);
      expect(exportLines.filter((l) => l.kind === "summary").map((l) => `${l.device}/${l.counter}`)).toEqual(stored.summaries.map((s) => `${s.device}/${s.counter}`));
      expect(exportLines.filter((l) => l.kind === "health")).toHaveLength(stored.health.length);
      // No key in what it printed, logged, stored (the database's file, as bytes) or exported.
      const printed = run.stdout + readFileSync(join(state, "simulator.log"), "utf8") + readFileSync(exported, "utf8");
      expect(printed).not.toContain(readFileSync(passphraseFile, "utf8").trim());
      const database = Buffer.concat(["", "-wal"].map((suffix) => stateDbPath(state) + suffix).filter((path) => existsSync(path)).map((path) => readFileSync(path)));
      expect(database.length).toBeGreaterThan(0);
      for (const { rootKey } of Object.values<{ rootKey: string }>(keyring.devices)) {
        expect(printed).not.toContain(rootKey.slice(0, 16));
        expect(printed).not.toContain(Buffer.from(rootKey, "hex").toString("base64").slice(0, 12));
        expect(database.includes(Buffer.from(rootKey, "hex").subarray(0, 8))).toBe(false);
        expect(database.includes(Buffer.from(rootKey.slice(0, 16)))).toBe(false);
        expect(sealedFile.includes(Buffer.from(rootKey, "hex").subarray(0, 8))).toBe(false);
        expect(sealedFile.includes(Buffer.from(rootKey.slice(0, 16)))).toBe(false);
      }

      // A second run resumes: same keys, counters continue, simulated time moves on.
      const again = await runSimulator(["--nodes", "3", "--speed", "600", "--windows", "1", "--state", state]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("using device keys from");
      expect(again.stdout).not.toContain("passphrase"); // the folder has one: nothing to say
      const { summaries } = await storedInState(state);
      const first = summaries.filter((l) => l.device === "street-01");
      expect(first.length).toBeGreaterThanOrEqual(3);
      expect(new Set(first.map((l) => l.counter)).size).toBe(first.length);
      expect(new Set(first.map((l) => l.windowStart)).size).toBe(first.length);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("prints its API's address, and the API answers: the street's nodes for anyone, their stored summaries for staff with the token", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-api-"));
    const child = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/node/main.js", "--nodes", "2", "--speed", "600", "--state", state], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const finished = new Promise<SimulatorRun>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
    try {
      const printed = /collector API on (http:\/\/127\.0\.0\.1:\d+)\/api\/nodes \(staff token in (.+)\)\n/;
      await waitFor(() => printed.test(stdout) || child.exitCode !== null, "the API's address on the console", 30_000);
      const [, base, tokenFile] = printed.exec(stdout) ?? [];
      expect(base, `${stdout}\n${stderr}`).toBeDefined();
      expect(tokenFile).toBe(join(state, "api-token"));
      expect(statSync(tokenFile!).mode & 0o777).toBe(0o600);
      const token = readFileSync(tokenFile!, "utf8").trim();

      // Public: the node list, without a token.
      const nodes = await fetch(`${base}/api/nodes`);
      expect(nodes.status).toBe(200);
      const listed = (await nodes.json()) as { nodes: Array<{ device: string; zone: string }>; cursor: string | null };
      expect(listed.nodes.map(({ device, zone }) => ({ device, zone }))).toEqual([
        { device: "street-01", zone: "demo-street" },
        { device: "street-02", zone: "demo-street" },
      ]);
      expect(listed.cursor).toBeNull();

      // For staff: the summaries, with the token, once the first windows are stored.
      const url = `${base}/api/nodes/street-01/summaries`;
      expect((await fetch(url)).status).toBe(401);
      expect((await fetch(url, { headers: { authorization: "Bearer not-the-token" } })).status).toBe(401);
      type Summaries = { summaries: Array<{ device: string; zone: string; windowSeconds: number; epoch: number; counter: number; statistics: Array<{ channel: string; stat: string; value: number | null; unit: string | null }> }> };
      let page: Summaries = { summaries: [] };
      const deadline = Date.now() + 60_000;
      while (page.summaries.length < 2) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no summaries from the API\n${stdout}\n${stderr}`);
        await sleep(200);
        const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
        expect(response.status).toBe(200);
        page = (await response.json()) as Summaries;
      }
      const stored = (await storedInState(state)).summaries.filter((s) => s.device === "street-01");
      expect(page.summaries.map((s) => s.counter)).toEqual(stored.slice(0, page.summaries.length).map((s) => s.counter));
      for (const summary of page.summaries) {
        expect(summary).toMatchObject({ device: "street-01", zone: "demo-street", windowSeconds: 300, epoch: 0 });
        expect(summary.statistics).toContainEqual(expect.objectContaining({ channel: "temperature", stat: "mean", unit: "Cel" }));
      }
      // The token's path is printed, never its value.
      expect(stdout + stderr + readFileSync(join(state, "simulator.log"), "utf8")).not.toContain(token);

      child.kill("SIGINT");
      const run = await finished;
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stderr).toBe("");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await finished;
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);

  it("runs the street with every node's core in the XS engine (--engine xs)", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-xs-"));
    try {
      const run = await runSimulator(["--engine", "xs", "--nodes", "3", "--speed", "600", "--windows", "2", "--state", state]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("cores in the XS engine");
      for (const device of ["street-01", "street-02", "street-03"]) {
        expect(run.stdout.match(new RegExp(`${device}\\s+#\\d+\\s+T -?\\d+(\\.\\d)?°C`, "g"))?.length).toBeGreaterThanOrEqual(2);
      }
      expect(run.stdout).toMatch(/2\/2 windows\/node \| \d+ decrypted, 0 rejected/);
      expect(readFileSync(join(state, "simulator.log"), "utf8")).toContain('"event":"node-boot"');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
    // Three cores in XS, which runs them about a hundred times slower than V8: 10-15 s on an idle
    // machine, over 30 s on a loaded one (CI, 2026-12-02).
  }, 180_000);

  it("injects faults on request and shows them in the health view and the stored health reports", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-faults-"));
    try {
      const run = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "7", "--faults", "0.1", "--state", state]);
      expect(run.code).toBe(0);
      const reports = (await storedInState(state)).health;
      expect(reports.length).toBeGreaterThanOrEqual(2);
      const drops = reports.flatMap((r) => Object.values(r.sensors).flatMap((s) => Object.entries(s.drops)));
      expect(drops.filter(([cause, n]) => cause !== "not-ready" && n > 0).length).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/health: .*(FAULTY|\+\d+)/);
      expect(readFileSync(join(state, "simulator.log"), "utf8")).toContain('"event":"fault-injected"');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("refuses a state folder below a file (exit 2), and exits 1 naming the path and the cause when it cannot be locked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-cli-"));
    try {
      writeFileSync(join(dir, "a-file"), "");
      const notFolder = await runSimulator(["--windows", "1", "--state", join(dir, "a-file", "state")]);
      expect(notFolder.code).toBe(2);
      expect(notFolder.stderr).toMatch(new RegExp(`^civicnode: --state ${join(dir, "a-file", "state")} cannot be made: ${join(dir, "a-file")} is a file, not a folder`));
      expect(notFolder.stdout).toBe("");

      // A folder this process may not write: read-only for root only as a read-only mount.
      const readOnly = join(dir, "read-only");
      mkdirSync(readOnly, { mode: 0o500 });
      const mounted = process.getuid?.() === 0 && spawnSync("mount", ["-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", readOnly]).status === 0;
      if (process.getuid?.() === 0 && !mounted) return; // root, and no mount allowed: nothing is read-only to it
      try {
        const run = await runSimulator(["--windows", "1", "--state", readOnly]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(new RegExp(`^civicnode: cannot lock ${readOnly}: cannot open ${join(readOnly, "simulator.lock")}: (EROFS|EACCES)`));
      } finally {
        if (mounted) spawnSync("umount", [readOnly]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 with a clear message when the external broker is unreachable", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-"));
    try {
      const run = await runSimulator(["--broker", "mqtt://127.0.0.1:1", "--windows", "1", "--state", state], 40_000);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/civicnode: cannot start the collector on the MQTT broker at mqtt:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
