/**
 * The collector keeps a node's summaries as long as the node's signed policy says
 * (retention.summariesDays) and its health reports as long as it says (retention.healthDays), in
 * virtual time: the operator's record decides, a node without a recorded policy keeps the
 * configured days.
 */
import { describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import REFERENCE from "../../../src/policy/reference-street.policy.json" with { type: "json" };
import { nodePolicyPayload } from "../../../src/policy/signed-policy.js";
import { ed25519PublicKey, signSign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { Collector } from "../../../hosts/collector/collector.js";
import { PolicyRegistry, recordSignedPolicy } from "../../../hosts/collector/policy-registry.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { keyringOf, T0, TestNode, WINDOW_S, ZONE } from "./sealed-messages.js";

const OPERATOR = new Uint8Array(32).fill(3);
const DAY_MS = 86_400_000;

describe("retention from the node's signed policy", () => {
  it("deletes a node's summaries after the days its policy promises, and another's after the configured days", async () => {
    const state = mkdtempSync(join(tmpdir(), "civicnode-policy-retention-"));
    const db = await testCollectorDb();
    try {
      const keyring = keyringOf("lamp-1", "lamp-2");
      const payload = utf8Encode(
        JSON.stringify(nodePolicyPayload({ device: "lamp-1", zone: ZONE, serial: 1, issued: T0 / 1000, position: { latitude: 0, longitude: 0 }, policy: { ...REFERENCE, retention: { summariesDays: 2, healthDays: 1 } } })),
      );
      recordSignedPolicy(state, "lamp-1", 1, signSign1(payload, OPERATOR, utf8Encode("op")));
      let now = T0;
      const collector = new Collector({
        brokerUrl: "mqtt://127.0.0.1:1",
        keyring,
        db,
        policies: new PolicyRegistry(state, ed25519PublicKey(OPERATOR), (device) => keyring.get(device)?.zone),
        retention: { summaryDays: 10, healthDays: Infinity, rejectionDays: Infinity },
        now: () => now,
      });
      await collector.prepare();
      const lamp1 = new TestNode("lamp-1", undefined, sha256(payload));
      const lamp2 = new TestNode("lamp-2");
      for (let w = 0; w < 3; w++) {
        for (const message of [lamp1.summary(w), lamp2.summary(w), lamp1.health(w), lamp2.health(w)]) expect(await collector.handle(message.topic, message.payload)).toMatchObject({ ok: true });
      }
      const windowsOf = async (device: string) => (await db.summaries({ device, limit: 10 })).items.length;
      const reportsOf = async (device: string) => (await db.health(device, { limit: 10 })).items.length;
      const windowEnd = (w: number) => T0 + (w + 1) * WINDOW_S * 1000;

      now = windowEnd(0) + 1 * DAY_MS;
      await collector.applyRetention();
      // lamp-1's policy keeps health reports a day; lamp-2 has no policy, and none is configured.
      expect([await reportsOf("lamp-1"), await reportsOf("lamp-2")]).toEqual([2, 3]);
      now = windowEnd(0) + 2 * DAY_MS - 1;
      await collector.applyRetention();
      expect([await windowsOf("lamp-1"), await windowsOf("lamp-2")]).toEqual([3, 3]);
      expect([await reportsOf("lamp-1"), await reportsOf("lamp-2")]).toEqual([0, 3]);
      now = windowEnd(1) + 2 * DAY_MS;
      await collector.applyRetention();
      expect([await windowsOf("lamp-1"), await windowsOf("lamp-2")]).toEqual([1, 3]);
      now = windowEnd(2) + 10 * DAY_MS;
      await collector.applyRetention();
      expect([await windowsOf("lamp-1"), await windowsOf("lamp-2")]).toEqual([0, 0]);
      expect(collector.stats.retained.summaries).toBe(6);
      expect(collector.stats.retained.health).toBe(3);
    } finally {
      await db.close();
      rmSync(state, { recursive: true, force: true });
    }
  });
});
