import { describe, expect, it } from "vitest";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { nodePolicyPayload, OPERATOR_KEY_STORE_KEY, provisionedPolicy, SIGNED_POLICY_STORE_KEY, SignedPolicyError, type SignedPolicyFailure } from "../../../src/policy/signed-policy.js";
import { nodeConfigFromSignedPolicy } from "../../../src/policy/node-from-policy.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { disclosureDocument } from "../../../src/policy/disclosure.js";
import { ed25519PublicKey, signSign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { streetBoard } from "../../../hosts/sim/street.js";

const OPERATOR = new Uint8Array(32).fill(0x11);
const OTHER = new Uint8Array(32).fill(0x22);
const KID = utf8Encode("op");
const IDENTITY = { device: "street-01", zone: "demo-street" };

function payload(overrides: Record<string, unknown> = {}): Uint8Array {
  return utf8Encode(JSON.stringify({ ...nodePolicyPayload({ ...IDENTITY, serial: 3, issued: 1_790_000_000, position: { latitude: 0, longitude: 0 }, policy: REFERENCE }), ...overrides }));
}

function storeWith(signed: Uint8Array | undefined, withOperatorKey = true): MemoryStore {
  const store = new MemoryStore();
  store.commit([
    { key: SIGNED_POLICY_STORE_KEY, value: signed },
    { key: OPERATOR_KEY_STORE_KEY, value: withOperatorKey ? ed25519PublicKey(OPERATOR) : undefined },
  ]);
  return store;
}

function failure(store: MemoryStore): SignedPolicyFailure | undefined {
  try {
    provisionedPolicy(store, IDENTITY);
    return undefined;
  } catch (error) {
    if (error instanceof SignedPolicyError) return error.failure;
    throw error;
  }
}

describe("a node's signed policy", () => {
  it("opens under the operator's key, with its serial, position and SHA-256 of the signed payload", () => {
    const bytes = payload();
    const signed = provisionedPolicy(storeWith(signSign1(bytes, OPERATOR, KID)), IDENTITY);
    expect(signed).toMatchObject({ serial: 3, issued: 1_790_000_000, position: { latitude: 0, longitude: 0 } });
    expect(signed.policy.name).toBe("reference-street");
    expect(bytesToHex(signed.hash)).toBe(bytesToHex(sha256(bytes)));
  });

  it("puts its serial and hash in the node's configuration and disclosure", () => {
    const signed = provisionedPolicy(storeWith(signSign1(payload(), OPERATOR, KID)), IDENTITY);
    const config = parseNodeConfig(nodeConfigFromSignedPolicy(signed, streetBoard()));
    expect(config.disclosure).toMatchObject({ policy: "reference-street", policySerial: 3, policyHash: bytesToHex(signed.hash) });
    expect(disclosureDocument(config, []).policy).toEqual({ name: "reference-street", serial: 3, sha256: bytesToHex(signed.hash) });
  });

  it.each<[string, () => MemoryStore, SignedPolicyFailure]>([
    ["no policy in the store", () => storeWith(undefined), "missing"],
    ["no operator key in the store", () => storeWith(signSign1(payload(), OPERATOR, KID), false), "missing"],
    ["the policy as plain JSON, unsigned", () => storeWith(payload()), "unsigned"],
    ["a policy signed by another key", () => storeWith(signSign1(payload(), OTHER, KID)), "signature"],
    [
      "a signed policy with one byte changed",
      () => {
        const signed = signSign1(payload(), OPERATOR, KID);
        signed[signed.length - 100]! ^= 0x01;
        return storeWith(signed);
      },
      "signature",
    ],
    ["another node's policy", () => storeWith(signSign1(payload({ device: "street-02" }), OPERATOR, KID)), "foreign"],
    ["another zone's policy", () => storeWith(signSign1(payload({ zone: "harbour" }), OPERATOR, KID)), "foreign"],
    ["a signed policy that breaks a rule", () => storeWith(signSign1(payload({ policy: { ...REFERENCE, windowSeconds: 301 } }), OPERATOR, KID)), "invalid"],
    ["a serial of 0", () => storeWith(signSign1(payload({ serial: 0 }), OPERATOR, KID)), "invalid"],
    ["a position off the globe", () => storeWith(signSign1(payload({ position: { latitude: 91, longitude: 0 } }), OPERATOR, KID)), "invalid"],
    ["a signed payload that is not JSON", () => storeWith(signSign1(utf8Encode("policy"), OPERATOR, KID)), "invalid"],
  ])("refuses %s (%s)", (_, store, expected) => {
    expect(failure(store())).toBe(expected);
  });

  it("names the rule a signed but invalid policy breaks, by its path", () => {
    const store = storeWith(signSign1(payload({ policy: { ...REFERENCE, windowSeconds: 301 } }), OPERATOR, KID));
    expect(() => provisionedPolicy(store, IDENTITY)).toThrow(/^\/policy\/windowSeconds: .*\(enum\)$/);
  });
});
