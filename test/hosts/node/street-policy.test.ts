import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { provisionedPolicy, SIGNED_POLICY_STORE_KEY, type SignedPolicyError } from "../../../src/policy/signed-policy.js";
import { provisionedDisclosure } from "../../../src/policy/signed-disclosure.js";
import { disclosureFor, encodeDisclosure } from "../../../src/policy/disclosure.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy } from "../../../src/policy/node-from-policy.js";
import { chunkedWrites } from "../../../src/store-chunks.js";
import { verifySign1 } from "../../../src/wire/cose-sign1.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { installSignedPolicy, PolicyTooLargeError } from "../../../hosts/node/street-policy.js";
import { OVERSIGHT_KEY_STORE_KEY } from "../../../src/policy/policy-update.js";
import { testOperatorKey } from "../../support/operator-key.js";
import { streetBoard } from "../../../hosts/sim/street.js";

const IDENTITY = { device: "street-01", zone: "demo-street" };
const HERE = { latitude: 0, longitude: 0 };

describe("installing a node's signed policy", () => {
  const state = mkdtempSync(join(tmpdir(), "civicnode-street-policy-"));
  const operator = testOperatorKey(state);
  const other = testOperatorKey(join(state, "other"));

  it("signs it once, keeps it while nothing changes, and numbers each change", () => {
    const store = new MemoryStore();
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 1000)).toEqual({ device: "street-01", outcome: "written", serial: 1, disclosure: "written" });
    const first = store.get(SIGNED_POLICY_STORE_KEY);
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 2000)).toEqual({ device: "street-01", outcome: "kept", serial: 1, disclosure: "kept" });
    expect(store.get(SIGNED_POLICY_STORE_KEY)).toEqual(first);
    const changed = { ...REFERENCE, name: "reference-street-b" };
    expect(installSignedPolicy(store, IDENTITY, HERE, changed, streetBoard(), operator, 3000)).toMatchObject({ outcome: "written", serial: 2 });
    expect(installSignedPolicy(store, IDENTITY, { latitude: 0, longitude: 0.001 }, changed, streetBoard(), operator, 4000)).toMatchObject({ outcome: "written", serial: 3 });
    expect(provisionedPolicy(store, IDENTITY)).toMatchObject({ serial: 3, issued: 4000, position: { latitude: 0, longitude: 0.001 } });
  });

  it("leaves a policy that does not verify where it is (another key's, or altered)", () => {
    const store = new MemoryStore();
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), other, 1000);
    const held = store.get(SIGNED_POLICY_STORE_KEY);
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 2000)).toMatchObject({ outcome: "unverifiable", why: expect.stringContaining("does not verify") });
    expect(store.get(SIGNED_POLICY_STORE_KEY)).toEqual(held);
  });

  it("refuses a policy too large for the node's store", () => {
    const large = { ...REFERENCE, purposes: Array.from({ length: 8 }, (_, i) => `${i}: ${"a purpose described at great length ".repeat(8)}`.slice(0, 300)), access: Array.from({ length: 8 }, () => ({ who: "w".repeat(300), data: "d".repeat(300) })) };
    expect(() => installSignedPolicy(new MemoryStore(), IDENTITY, HERE, large, streetBoard(), operator, 1000)).toThrow(PolicyTooLargeError);
  });

  it("gives the node the oversight key's public half when there is one, and keeps it while the policy is kept", () => {
    const store = new MemoryStore();
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 1000);
    expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toBeUndefined();
    const oversight = new Uint8Array(32).fill(0x0b);
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 2000, oversight)).toMatchObject({ outcome: "kept", serial: 1 });
    expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toEqual(oversight);
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 3000);
    expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toEqual(oversight);
  });

  it("cleans up", () => {
    rmSync(state, { recursive: true, force: true });
  });
});

describe("the signed disclosure a node publishes", () => {
  const state = mkdtempSync(join(tmpdir(), "civicnode-signed-disclosure-"));
  const operator = testOperatorKey(state);

  function bootConfig(store: MemoryStore) {
    return parseNodeConfig(nodeConfigFromSignedPolicy(provisionedPolicy(store, IDENTITY), streetBoard()));
  }

  it("is the operator's signature over exactly the disclosure the node builds", () => {
    const store = new MemoryStore();
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 1000);
    const own = encodeDisclosure(disclosureFor(bootConfig(store)));
    const signed = provisionedDisclosure(store, own);
    expect(verifySign1(signed, operator.publicKey).payload).toEqual(own);
  });

  it("stops the boot when it is missing, damaged or says something else (its signature is for its readers to check)", () => {
    const install = () => {
      const store = new MemoryStore();
      installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 1000);
      return store;
    };
    const own = encodeDisclosure(disclosureFor(bootConfig(install())));
    const failure = (store: MemoryStore, document = own) => {
      try {
        provisionedDisclosure(store, document);
        return undefined;
      } catch (error) {
        return (error as SignedPolicyError).failure;
      }
    };
    const missing = install();
    missing.commit([{ key: "disclosure.0", value: undefined }]);
    expect(failure(missing)).toBe("missing");
    const damaged = install();
    damaged.commit([{ key: "disclosure.1", value: undefined }]);
    expect(failure(damaged)).toBe("disclosure");
    const notCose = install();
    notCose.commit(chunkedWrites("disclosure", own));
    expect(failure(notCose)).toBe("disclosure");
    // Firmware that would describe the node otherwise (here: one more processing sentence).
    const document = JSON.parse(new TextDecoder().decode(own));
    document.processing.push("and one thing more");
    expect(failure(install(), new TextEncoder().encode(JSON.stringify(document)))).toBe("disclosure");
    expect(failure(install())).toBeUndefined();
  });

  it("is signed again, alone, when the node would disclose something else for the same policy", () => {
    const store = new MemoryStore();
    installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 1000);
    store.commit(chunkedWrites("disclosure", operator.sign(new TextEncoder().encode("{}"))));
    expect(installSignedPolicy(store, IDENTITY, HERE, REFERENCE, streetBoard(), operator, 2000)).toEqual({ device: "street-01", outcome: "kept", serial: 1, disclosure: "written" });
    expect(() => provisionedDisclosure(store, encodeDisclosure(disclosureFor(bootConfig(store))))).not.toThrow();
  });

  it("cleans up", () => {
    rmSync(state, { recursive: true, force: true });
  });
});
