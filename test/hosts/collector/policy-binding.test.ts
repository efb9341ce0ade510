import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { nodePolicyPayload } from "../../../src/policy/signed-policy.js";
import { ed25519PublicKey, signSign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { PolicyRegistry, POLICIES_FOLDER, recordSignedPolicy } from "../../../hosts/collector/policy-registry.js";
import { keyringOf, TestNode, ZONE } from "./sealed-messages.js";

const OPERATOR = new Uint8Array(32).fill(9);
const DEVICE = "lamp-1";

function signedPolicy(serial: number, name = "old-town", device = DEVICE): { signed: Uint8Array; hash: Uint8Array } {
  const payload = utf8Encode(JSON.stringify(nodePolicyPayload({ device, zone: ZONE, serial, issued: 1_790_000_000, position: { latitude: 0, longitude: 0 }, policy: { ...REFERENCE, name } })));
  return { signed: signSign1(payload, OPERATOR, utf8Encode("op")), hash: sha256(payload) };
}

function withRegistry(test: (state: string, registry: () => PolicyRegistry) => void): void {
  const state = mkdtempSync(join(tmpdir(), "civicnode-policy-binding-"));
  const keyring = keyringOf(DEVICE);
  try {
    test(state, () => new PolicyRegistry(state, ed25519PublicKey(OPERATOR), (device) => keyring.get(device)?.zone));
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

describe("a message is bound to its node's signed policy", () => {
  it("opens under a recorded policy and says which; one bound to another policy, or to none, is refused", () => {
    withRegistry((state, registry) => {
      const first = signedPolicy(1);
      recordSignedPolicy(state, DEVICE, 1, first.signed);
      const opener = new MessageOpener(keyringOf(DEVICE), { policies: registry() });
      const bound = opener.verify(...asArgs(new TestNode(DEVICE, undefined, first.hash).summary(0)));
      expect(bound).toMatchObject({ ok: true, policy: { serial: 1, hashHex: bytesToHex(first.hash), name: "old-town", from: "record" } });
      expect(opener.verify(...asArgs(new TestNode(DEVICE, undefined, signedPolicy(7, "elsewhere").hash).summary(1)))).toMatchObject({ ok: false, cause: "authentication" });
      expect(opener.verify(...asArgs(new TestNode(DEVICE).summary(2)))).toMatchObject({ ok: false, cause: "unbound-policy" });
    });
  });

  it("finds a policy recorded after it started (a node updated meanwhile), and keeps the older one for late messages", () => {
    withRegistry((state, registry) => {
      recordSignedPolicy(state, DEVICE, 1, signedPolicy(1).signed);
      const opener = new MessageOpener(keyringOf(DEVICE), { policies: registry(), now: (() => { let t = Date.now(); return () => (t += 2000); })() });
      const second = signedPolicy(2, "old-town-b");
      recordSignedPolicy(state, DEVICE, 2, second.signed);
      expect(opener.verify(...asArgs(new TestNode(DEVICE, undefined, second.hash).summary(0)))).toMatchObject({ ok: true, policy: { serial: 2 } });
      expect(opener.verify(...asArgs(new TestNode(DEVICE, undefined, signedPolicy(1).hash).summary(1)))).toMatchObject({ ok: true, policy: { serial: 1 } });
    });
  });

  it("believes no file that does not verify under the operator's key, is another device's, or is misnamed", () => {
    withRegistry((state, registry) => {
      recordSignedPolicy(state, DEVICE, 1, signSign1(utf8Encode("{}"), new Uint8Array(32).fill(1), utf8Encode("x")));
      recordSignedPolicy(state, DEVICE, 2, signedPolicy(2, "old-town", "lamp-2").signed);
      writeFileSync(join(state, POLICIES_FOLDER, DEVICE, "3.cose"), signedPolicy(4).signed);
      const loaded = registry();
      expect(loaded.policiesOf(DEVICE)).toEqual([]);
      expect(loaded.ignored).toBe(3);
    });
  });

  it("without a record, a node without a signed policy is opened bound to its topic only", () => {
    const opener = new MessageOpener(keyringOf(DEVICE));
    const opened = opener.verify(...asArgs(new TestNode(DEVICE).summary(0)));
    expect(opened.ok).toBe(true);
    expect(opened.ok && opened.policy).toBeFalsy();
  });
});

function asArgs(message: { topic: string; payload: Uint8Array }): [string, Uint8Array] {
  return [message.topic, message.payload];
}

describe("the store records the policy each summary was produced under", () => {
  it("keeps its serial and hash with the summary, and none for a node without a policy", async () => {
    const { testCollectorDb } = await import("../../support/collector-db.js");
    const { Collector } = await import("../../../hosts/collector/collector.js");
    const state = mkdtempSync(join(tmpdir(), "civicnode-produced-under-"));
    const db = await testCollectorDb();
    try {
      const keyring = keyringOf(DEVICE, "lamp-2");
      const policy = signedPolicy(3);
      recordSignedPolicy(state, DEVICE, 3, policy.signed);
      const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring, db, policies: new PolicyRegistry(state, ed25519PublicKey(OPERATOR), (d) => keyring.get(d)?.zone) });
      await collector.prepare();
      for (const message of [new TestNode(DEVICE, undefined, policy.hash).summary(0), new TestNode("lamp-2").summary(0)]) {
        expect(await collector.handle(message.topic, message.payload)).toMatchObject({ ok: true });
      }
      const stored = (await db.summaries({ limit: 10 })).items;
      expect(stored.find((s) => s.device === DEVICE)?.policy).toEqual({ serial: 3, sha256: bytesToHex(policy.hash) });
      expect(stored.find((s) => s.device === "lamp-2")?.policy).toBeUndefined();
    } finally {
      await db.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
