import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { OversightKey, OversightKeyError, OVERSIGHT_KEY_FILE, OVERSIGHT_PUBLIC_KEY_FILE, readOversightPublicKey } from "../../../hosts/collector/oversight-key.js";
import { PassphraseSource } from "../../../hosts/collector/passphrase-source.js";
import { attachSign1Payload } from "../../../src/wire/cose-sign1-detached.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { independentlyVerifiedPayload } from "../../support/independent-cose.js";
import { localPassphrase } from "../../support/local-passphrase.js";

describe("the oversight key", () => {
  it("is made once, sealed at rest with its public half in the clear, and opened again as the same key", () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-oversight-"));
    try {
      const made = OversightKey.loadOrCreate(dir, localPassphrase(dir));
      expect(made.created).toBe(true);
      expect(readOversightPublicKey(dir)).toEqual(made.key.publicKey);
      expect(readFileSync(join(dir, OVERSIGHT_PUBLIC_KEY_FILE), "utf8")).toBe(`${bytesToHex(made.key.publicKey)}\n`);
      const sealed = readFileSync(join(dir, OVERSIGHT_KEY_FILE), "utf8");
      expect(sealed).toMatch(/^\{"format":"civicnode-secret"/);
      expect(sealed).not.toContain("civicnode-oversight-key");
      const again = OversightKey.loadOrCreate(dir, localPassphrase(dir));
      expect(again.created).toBe(false);
      expect(again.key.publicKey).toEqual(made.key.publicKey);
      expect(() => OversightKey.open(dir, new PassphraseSource(dir, { env: { CIVICNODE_PASSPHRASE: "not the one" }, notify: () => {} }))).toThrow(OversightKeyError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("countersigns with the payload detached: any COSE library verifies it with the payload attached", () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-oversight-"));
    try {
      const { key } = OversightKey.loadOrCreate(dir, localPassphrase(dir));
      const payload = utf8Encode('{"format":"civicnode-node-policy","serial":2}');
      const countersignature = key.countersign(payload);
      expect(independentlyVerifiedPayload(attachSign1Payload(countersignature, payload), key.publicKey)).toEqual(payload);
      key.wipe();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("is not made by open: a folder without one says who holds it", () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-oversight-"));
    try {
      expect(() => OversightKey.open(dir, localPassphrase(dir))).toThrow("the data-ethics board holds it");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
