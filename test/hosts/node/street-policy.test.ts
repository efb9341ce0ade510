import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { provisionedPolicy, SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { installSignedPolicy, PolicyTooLargeError } from "../../../hosts/node/street-policy.js";
import { testOperatorKey } from "../../support/operator-key.js";

const IDENTITY = { device: "street-01", zone: "demo-street" };
const HERE = { latitude: 0, longitude: 0 };

describe("installing a node's signed policy", () => {
  const state = mkdtempSync(join(tmpdir(), "civicnode-street-policy-"));
  const operator = testOperatorKey(state);
  const other = testOperatorKey(join(state, "other"));

  it("signs it once, keeps it while nothing changes, and numbers each change", () => {
    const store = new MemoryStore();
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, operator, 1000)).toEqual({ device: "street-01", outcome: "written", serial: 1 });
    const first = store.get(SIGNED_POLICY_STORE_KEY);
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, operator, 2000)).toEqual({ device: "street-01", outcome: "kept", serial: 1 });
    expect(store.get(SIGNED_POLICY_STORE_KEY)).toEqual(first);
    const changed = { ...REFERENCE, name: "reference-street-b" };
    expect(installSignedPolicy(store, IDENTITY, HERE, changed, operator, 3000)).toMatchObject({ outcome: "written", serial: 2 });
    expect(installSignedPolicy(store, IDENTITY, { latitude: 0, longitude: 0.001 }, changed, operator, 4000)).toMatchObject({ outcome: "written", serial: 3 });
    expect(provisionedPolicy(store, IDENTITY)).toMatchObject({ serial: 3, issued: 4000, position: { latitude: 0, longitude: 0.001 } });
  });

  it("leaves a policy that does not verify where it is (another key's, or altered)", () => {
    const store = new MemoryStore();
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, other, 1000);
    const held = store.get(SIGNED_POLICY_STORE_KEY);
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, operator, 2000)).toMatchObject({ outcome: "unverifiable", why: expect.stringContaining("does not verify") });
    expect(store.get(SIGNED_POLICY_STORE_KEY)).toEqual(held);
  });

  it("refuses a policy too large for the node's store", () => {
    const large = { ...REFERENCE, purposes: Array.from({ length: 8 }, (_, i) => `${i}: ${"a purpose described at great length ".repeat(8)}`.slice(0, 300)), access: Array.from({ length: 8 }, () => ({ who: "w".repeat(300), data: "d".repeat(300) })) };
    expect(() => installSignedPolicy(new MemoryStore(), IDENTITY, HERE, large, operator, 1000)).toThrow(PolicyTooLargeError);
  });

  it("cleans up", () => {
    rmSync(state, { recursive: true, force: true });
  });
});
