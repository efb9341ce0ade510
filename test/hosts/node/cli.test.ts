import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runSimulator } from "../../support/run-simulator.js";

describe("npm start (the built simulator)", () => {
  it("prints its options with --help and exits 0", async () => {
    const run = await runSimulator(["--help"]);
    expect(run.code).toBe(0);
    for (const option of ["--broker", "--nodes", "--speed", "--windows", "--state", "--help"]) expect(run.stdout).toContain(option);
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

  it("runs a street on the embedded broker, exits 0 after N windows, and keeps its keys private", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-"));
    try {
      const run = await runSimulator(["--nodes", "3", "--speed", "600", "--windows", "2", "--state", state]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      for (const device of ["street-01", "street-02", "street-03"]) {
        expect(run.stdout.match(new RegExp(`${device}\\s+#\\d+\\s+T -?\\d+(\\.\\d)? °C`, "g"))?.length).toBeGreaterThanOrEqual(2);
      }
      expect(run.stdout).toMatch(/2\/2 windows\/node \| \d+ decrypted, 0 rejected/);
      const keyringPath = join(state, "keyring.json");
      expect(statSync(keyringPath).mode & 0o777).toBe(0o600);
      const keyring = JSON.parse(readFileSync(keyringPath, "utf8"));
      expect(Object.keys(keyring.devices)).toEqual(["street-01", "street-02", "street-03"]);
      const printed = run.stdout + readFileSync(join(state, "simulator.log"), "utf8") + readFileSync(join(state, "summaries.jsonl"), "utf8");
      for (const { rootKey } of Object.values<{ rootKey: string }>(keyring.devices)) {
        expect(printed).not.toContain(rootKey.slice(0, 16));
        expect(printed).not.toContain(Buffer.from(rootKey, "hex").toString("base64").slice(0, 12));
      }

      // A second run resumes: same keys, counters continue, simulated time moves on.
      const again = await runSimulator(["--nodes", "3", "--speed", "600", "--windows", "1", "--state", state]);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain("using device keys from");
      const lines = readFileSync(join(state, "summaries.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      const first = lines.filter((l) => l.device === "street-01");
      expect(first.length).toBeGreaterThanOrEqual(3);
      expect(new Set(first.map((l) => l.counter)).size).toBe(first.length);
      expect(new Set(first.map((l) => l.windowStart)).size).toBe(first.length);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("runs the street with every node's core in the XS engine (--engine xs)", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-xs-"));
    try {
      const run = await runSimulator(["--engine", "xs", "--nodes", "3", "--speed", "600", "--windows", "2", "--state", state]);
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("cores in the XS engine");
      for (const device of ["street-01", "street-02", "street-03"]) {
        expect(run.stdout.match(new RegExp(`${device}\\s+#\\d+\\s+T -?\\d+(\\.\\d)? °C`, "g"))?.length).toBeGreaterThanOrEqual(2);
      }
      expect(run.stdout).toMatch(/2\/2 windows\/node \| \d+ decrypted, 0 rejected/);
      expect(readFileSync(join(state, "simulator.log"), "utf8")).toContain('"event":"node-boot"');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("injects faults on request and shows them in the health view and health.jsonl", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-cli-faults-"));
    try {
      const run = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "7", "--faults", "0.1", "--state", state]);
      expect(run.code).toBe(0);
      const reports = readFileSync(join(state, "health.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
      expect(reports.length).toBeGreaterThanOrEqual(2);
      const drops = reports.flatMap((r) => Object.values<{ drops: Record<string, number> }>(r.sensors).flatMap((s) => Object.entries(s.drops)));
      expect(drops.filter(([cause, n]) => cause !== "not-ready" && n > 0).length).toBeGreaterThan(0);
      expect(run.stdout).toMatch(/health: .*(FAULTY|\+\d+)/);
      expect(readFileSync(join(state, "simulator.log"), "utf8")).toContain('"event":"fault-injected"');
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("exits 1 naming the path and the cause when the state folder cannot be made or locked", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-cli-"));
    try {
      writeFileSync(join(dir, "a-file"), "");
      const notFolder = await runSimulator(["--windows", "1", "--state", join(dir, "a-file", "state")]);
      expect(notFolder.code).toBe(1);
      expect(notFolder.stderr).toMatch(new RegExp(`^civicnode: cannot make the state folder ${join(dir, "a-file", "state")}: ENOTDIR`));
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
      expect(run.stdout).toContain("cannot reach the MQTT broker at mqtt://127.0.0.1:1");
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
