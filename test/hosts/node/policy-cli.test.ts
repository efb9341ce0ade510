import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { verifySign1 } from "../../../src/wire/cose-sign1.js";
import { readOperatorPublicKey } from "../../../hosts/collector/operator-key.js";
import { flashPath } from "../../../hosts/node/flash-provisioning.js";
import { runSimulator } from "../../support/run-simulator.js";

type Policy = Record<string, any>;

function signedPayload(state: string, device: string): Policy {
  const entries = JSON.parse(readFileSync(flashPath(state, device), "utf8")).entries as Record<string, string>;
  const signed = new Uint8Array(Buffer.from(entries[SIGNED_POLICY_STORE_KEY]!, "base64"));
  return JSON.parse(Buffer.from(verifySign1(signed, readOperatorPublicKey(state)!).payload).toString("utf8"));
}

describe("npm start runs every node on a signed policy.json", () => {
  it("refuses an invalid policy with every error named by path and rule, and exit code 2", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-policy-cli-"));
    try {
      const policy = structuredClone(REFERENCE) as Policy;
      policy.accountable.contact = "(set disclosure.contact)";
      policy.channels[7].privacy.k = 1;
      policy.windowSeconds = 301;
      const file = join(state, "policy.json");
      writeFileSync(file, JSON.stringify(policy));
      const run = await runSimulator(["--policy", file, "--state", join(state, "s"), "--windows", "1"]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`${file}: not a valid policy:`);
      expect(run.stderr).toContain("/accountable/contact: is a placeholder: say who, what or how (placeholder)");
      expect(run.stderr).toContain("/channels/7/privacy/k:");
      expect(run.stderr).toContain("(not)");
      expect(run.stderr).toMatch(/\/windowSeconds: .*\(enum\)/);
      expect(run.stdout).toBe("");
      const mislabelled = structuredClone(REFERENCE) as Policy;
      mislabelled.channels[7] = { ...mislabelled.channels[7], dataType: "activity" };
      delete mislabelled.channels[7].privacy;
      writeFileSync(file, JSON.stringify(mislabelled));
      const counted = await runSimulator(["--policy", file, "--state", join(state, "s"), "--windows", "1"]);
      expect(counted.code).toBe(2);
      expect(counted.stderr).toContain("/channels/7/dataType: ld2410's entries counts people: its dataType is people-count, which needs a privacy treatment (x-counts)");
      writeFileSync(file, "{ not json");
      const garbled = await runSimulator(["--policy", file, "--state", join(state, "s"), "--windows", "1"]);
      expect(garbled.code).toBe(2);
      expect(garbled.stderr).toContain("/: is not JSON");
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("signs the policy for each node; a new policy gets the next serial; a node leaves out what the policy does not name", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-policy-cli-"));
    try {
      const first = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "1", "--state", state]);
      expect(first.code).toBe(0);
      expect(first.stdout).toContain(`every node runs the policy "reference-street"`);
      expect(signedPayload(state, "street-02")).toMatchObject({ format: "civicnode-node-policy", device: "street-02", zone: "demo-street", serial: 1, policy: REFERENCE });
      expect(signedPayload(state, "street-02").position).toEqual({ latitude: 0, longitude: 0.0002246 });

      const quieter = structuredClone(REFERENCE) as Policy;
      quieter.name = "no-bluetooth";
      quieter.channels = quieter.channels.filter((c: Policy) => c.sensor !== "ble");
      const file = join(state, "quieter.json");
      writeFileSync(file, JSON.stringify(quieter));
      // Three windows: what the first run sealed and had not delivered comes first, under the old policy.
      const second = await runSimulator(["--nodes", "2", "--speed", "600", "--windows", "3", "--state", state, "--policy", file]);
      expect(second.code).toBe(0);
      expect(second.stdout).toContain(`every node runs the policy "no-bluetooth"`);
      expect(signedPayload(state, "street-01")).toMatchObject({ serial: 2, policy: { name: "no-bluetooth" } });
      for (const device of ["street-01", "street-02"]) {
        const windows = second.stdout.split("\n").filter((line) => new RegExp(`${device}\\s+#\\d+\\s+T`).test(line));
        expect(windows.at(-1), device).toBeDefined();
        expect(windows.at(-1)).not.toContain("devices");
      }
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("a node whose flash holds an altered policy refuses to start, and the flash is left as it was", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-policy-cli-"));
    try {
      expect((await runSimulator(["--nodes", "1", "--speed", "600", "--windows", "1", "--state", state])).code).toBe(0);
      const path = flashPath(state, "street-01");
      const flash = JSON.parse(readFileSync(path, "utf8"));
      const signed = Buffer.from(flash.entries[SIGNED_POLICY_STORE_KEY], "base64");
      // k = 3 becomes k = 2 in the signed bytes: a weaker policy, without the operator's signature.
      const at = signed.indexOf(Buffer.from('"k":3'));
      expect(at).toBeGreaterThan(0);
      signed[at + 4] = "2".charCodeAt(0);
      flash.entries[SIGNED_POLICY_STORE_KEY] = signed.toString("base64");
      writeFileSync(path, JSON.stringify(flash));
      const before = readFileSync(path, "utf8");
      const run = await runSimulator(["--nodes", "1", "--speed", "600", "--windows", "1", "--state", state]);
      expect(run.code).toBe(1);
      expect(run.stdout + run.stderr).toContain("street-01 refuses to start: its flash holds a policy that does not verify");
      expect(run.stdout + run.stderr).toContain("nothing was written over it");
      expect(readFileSync(path, "utf8")).toBe(before);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});
