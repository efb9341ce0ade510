/**
 * What the disclosure store tells the policy check and the public verification beyond the
 * disclosure itself: when a disclosure first arrived (the same document published again keeps that
 * time, or a retained copy redelivered would pass for news and hide a node that seals under an old
 * policy), and that a node's topic carried only forgeries (its verification says "forged", over
 * real HTTP, until a verified disclosure comes).
 */
import { describe, expect, it } from "vitest";
import { DisclosureStore } from "../../../hosts/collector/disclosure-store.js";
import { ed25519PublicKey, signSign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { startTestApi } from "./api/api-fixture.js";
import { OPERATOR, signedDisclosure, signedPolicy } from "./policy-street.js";
import { keyringOf } from "./sealed-messages.js";

const DEVICE = "lamp-1";
const FIRST = signedDisclosure(DEVICE, signedPolicy(DEVICE, 1));
const SECOND = signedDisclosure(DEVICE, signedPolicy(DEVICE, 2));
const FORGED = signSign1(utf8Encode(JSON.stringify({ format: "civicnode-disclosure", version: 2, device: DEVICE, zone: "old-town" })), new Uint8Array(32).fill(3), utf8Encode("op"));

describe("the disclosure store, for the policy check", () => {
  it("keeps the time a document first arrived when it is published again, and takes a new one's", () => {
    const store = new DisclosureStore(keyringOf(DEVICE), ed25519PublicKey(OPERATOR));
    expect(store.offer(FIRST.topic, FIRST.payload, 1000)).toBe("kept");
    expect(store.offer(FIRST.topic, FIRST.payload, 5000)).toBe("kept");
    expect(store.latest(DEVICE)).toMatchObject({ receivedAtMs: 1000, verified: true, policy: { serial: 1 } });
    expect(store.offer(SECOND.topic, SECOND.payload, 9000)).toBe("kept");
    expect(store.latest(DEVICE)).toMatchObject({ receivedAtMs: 9000, policy: { serial: 2 } });
    expect(store.offer(FIRST.topic, FIRST.payload, 12_000)).toBe("kept"); // an older one republished is news again
    expect(store.latest(DEVICE)).toMatchObject({ receivedAtMs: 12_000, policy: { serial: 1 } });
  });

  it("remembers forgeries on a topic with no verified disclosure, until one comes", () => {
    const store = new DisclosureStore(keyringOf(DEVICE), ed25519PublicKey(OPERATOR));
    expect(store.forgedAtMs(DEVICE)).toBeUndefined();
    expect(store.offer(FIRST.topic, FORGED, 1000)).toBe("forged");
    expect(store.latest(DEVICE)).toBeUndefined();
    expect(store.forgedAtMs(DEVICE)).toBe(1000);
    store.offer(FIRST.topic, FIRST.payload, 2000);
    expect(store.forgedAtMs(DEVICE)).toBeUndefined();
    store.offer(FIRST.topic, FORGED, 3000);
    expect(store.forgedAtMs(DEVICE)).toBe(3000);
    expect(store.latest(DEVICE)).toMatchObject({ verified: true, forgedAtMs: 3000 });
  });

  it("gives the public verification absent, forged, then awaiting-summary over HTTP", async () => {
    const db = await testCollectorDb();
    const keyring = keyringOf(DEVICE);
    await db.syncDevices([{ device: DEVICE, zone: "old-town", keyId: "00" }]);
    const store = new DisclosureStore(keyring, ed25519PublicKey(OPERATOR));
    const api = await startTestApi({ db, keyring, disclosures: store });
    try {
      const state = async () => ((await (await api.get(`/api/nodes/${DEVICE}/verification`, { token: null })).json()) as { state: string }).state;
      expect(await state()).toBe("absent");
      store.offer(FIRST.topic, FORGED, 1000);
      expect(await state()).toBe("forged");
      expect((await api.get(`/api/nodes/${DEVICE}/disclosure`, { token: null })).status).toBe(404);
      store.offer(FIRST.topic, FIRST.payload, 2000);
      expect(await state()).toBe("awaiting-summary");
      const disclosure = await api.get(`/api/nodes/${DEVICE}/disclosure`, { token: null });
      expect([disclosure.headers.get("disclosure-verified"), disclosure.headers.get("disclosure-verification")]).toEqual(["true", "awaiting-summary"]);
      expect((await api.get("/api/nodes/lamp-9/verification", { token: null })).status).toBe(404);
    } finally {
      await api.close();
    }
  });
});
