import { describe, expect, it } from "vitest";
import { ed25519PublicKey, signSign1 } from "../../../src/wire/cose-sign1.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { DisclosureStore, FORGED_ALERT_INTERVAL_MS } from "../../../hosts/collector/disclosure-store.js";
import { Keyring } from "../../../hosts/collector/keyring.js";

const OPERATOR = new Uint8Array(32).fill(5);
const OTHER = new Uint8Array(32).fill(6);
const TOPIC = "civicnode/demo-street/street-01/disclosure";
const SHA = "ab".repeat(32);

function documentOf(extra: Record<string, unknown> = {}): Uint8Array {
  return utf8Encode(JSON.stringify({ format: "civicnode-disclosure", version: 2, device: "street-01", zone: "demo-street", policy: { name: "reference-street", serial: 2, sha256: SHA }, ...extra }));
}

function keyring(): Keyring {
  const ring = new Keyring();
  ring.provision("street-01", "demo-street");
  return ring;
}

describe("the collector's disclosures", () => {
  it("keeps one that verifies under the operator's key, as verified, with the policy it names", async () => {
    const store = new DisclosureStore(keyring(), ed25519PublicKey(OPERATOR));
    expect(store.offer(TOPIC, signSign1(documentOf(), OPERATOR, utf8Encode("op")), 1000)).toBe("kept");
    expect(await store.disclosure("street-01")).toEqual({ document: documentOf(), receivedAtMs: 1000, verified: true, policy: { name: "reference-street", serial: 2, sha256: SHA } });
  });

  it.each([
    ["signed by another key", () => signSign1(documentOf({ purposes: ["forged"] }), OTHER, utf8Encode("op"))],
    ["unsigned JSON", () => documentOf({ purposes: ["forged"] })],
    [
      "a signed one altered",
      () => {
        const signed = signSign1(documentOf(), OPERATOR, utf8Encode("op"));
        signed[signed.length - 80]! ^= 1;
        return signed;
      },
    ],
  ])("refuses a forgery (%s), which never replaces the verified one", async (_, forged) => {
    const store = new DisclosureStore(keyring(), ed25519PublicKey(OPERATOR));
    store.offer(TOPIC, signSign1(documentOf(), OPERATOR, utf8Encode("op")), 1000);
    expect(store.offer(TOPIC, forged(), 2000)).toBe("forged");
    expect(await store.disclosure("street-01")).toMatchObject({ document: documentOf(), verified: true, forgedAtMs: 2000 });
  });

  it("raises the first forgery of a device at once, then one per interval with the count", () => {
    const store = new DisclosureStore(keyring(), ed25519PublicKey(OPERATOR));
    expect(store.forgeryToAlert("street-01", 0)).toBe(1);
    expect(store.forgeryToAlert("street-01", 1000)).toBeUndefined();
    expect(store.forgeryToAlert("street-01", 2000)).toBeUndefined();
    expect(store.forgeryToAlert("street-01", FORGED_ALERT_INTERVAL_MS)).toBe(3);
  });

  it("without an operator key, keeps what was published and never calls it verified", async () => {
    const store = new DisclosureStore(keyring());
    expect(store.offer(TOPIC, signSign1(documentOf(), OTHER, utf8Encode("op")), 1000)).toBe("kept");
    expect(await store.disclosure("street-01")).toMatchObject({ document: documentOf(), verified: false });
  });

  it("refuses a disclosure of another device or zone, or one naming another device", () => {
    const store = new DisclosureStore(keyring(), ed25519PublicKey(OPERATOR));
    expect(store.offer("civicnode/demo-street/street-09/disclosure", signSign1(documentOf(), OPERATOR, utf8Encode("op")), 1)).toBe("unknown-device");
    expect(store.offer("civicnode/harbour/street-01/disclosure", signSign1(documentOf(), OPERATOR, utf8Encode("op")), 1)).toBe("zone-mismatch");
    expect(store.offer(TOPIC, signSign1(documentOf({ device: "street-02" }), OPERATOR, utf8Encode("op")), 1)).toBe("device-mismatch");
  });
});
