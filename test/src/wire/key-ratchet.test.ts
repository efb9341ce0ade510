import { describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils.js";
import { UplinkSealer, NotProvisionedError, KeyStateCorruptError } from "../../../src/wire/uplink-sealer.js";
import { CHAIN_STORE_KEY, DOWNLINK_STORE_KEY, KEY_ID_STORE_KEY, ROOT_KEY_STORE_KEY, provisioningWrites, storeHoldsKey } from "../../../src/wire/key-ratchet.js";
import { deriveEpochKeys, downlinkKeysFromRoot, epochKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { SEAL_COUNTER_KEY, encodeCounterRecord } from "../../../src/wire/seal-counter.js";
import { decodeKid } from "../../../src/wire/kid.js";
import { openEncrypt0, parseEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { MemoryStore, StoreCommitError } from "../../../hosts/sim/memory-store.js";

const DEVICE = "lamp-3";
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
const AAD = utf8Encode("civicnode/old-town/lamp-3/summary");
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 1, 2, 12, 0, 0);
const text = utf8Encode("a window summary");

function provisioned(): MemoryStore {
  const store = new MemoryStore();
  store.commit(provisioningWrites(ROOT, DEVICE));
  return store;
}

function sealer(store: MemoryStore, options: { maxMessagesPerEpoch?: number; epochSeconds?: number; counterBlock?: number } = {}) {
  const s = new UplinkSealer(store, DEVICE, { counterBlock: options.counterBlock ?? 8, maxMessageBytes: 512, ...options });
  s.boot();
  return s;
}

/** What the collector sees: epoch and counter, and that the root key opens it. */
function open(message: Uint8Array) {
  const envelope = parseEncrypt0(message);
  const kid = decodeKid(envelope.kid)!;
  expect(openEncrypt0(envelope, epochKeysFromRoot(ROOT, DEVICE, kid.epoch), AAD)).toEqual(text);
  return { epoch: kid.epoch, counter: envelope.counter };
}

describe("the forward-secure key ratchet", () => {
  it("provisions itself on the first boot: the root key leaves the store in the same commit", () => {
    const store = provisioned();
    expect(storeHoldsKey(store, ROOT, DEVICE)).toBe(true);
    const s = sealer(store);
    expect(store.get(ROOT_KEY_STORE_KEY)).toBeUndefined();
    expect(store.keys().sort()).toEqual([CHAIN_STORE_KEY, DOWNLINK_STORE_KEY, KEY_ID_STORE_KEY, SEAL_COUNTER_KEY].sort());
    expect(bytesToHex(s.downlinkKeys.key)).toBe(bytesToHex(downlinkKeysFromRoot(ROOT, DEVICE).key));
    expect(open(s.seal(text, AAD, T0))).toEqual({ epoch: 0, counter: 0 });
    expect(storeHoldsKey(store, ROOT, DEVICE)).toBe(true); // the public fingerprint stays
  });

  it("refuses to run unprovisioned, and says so when its key records are corrupt", () => {
    expect(() => sealer(new MemoryStore())).toThrow(NotProvisionedError);
    const store = provisioned();
    sealer(store);
    const chain = store.get(CHAIN_STORE_KEY)!;
    chain[20]! ^= 1;
    store.commit([{ key: CHAIN_STORE_KEY, value: chain }]);
    expect(() => sealer(store)).toThrow(KeyStateCorruptError);
  });

  it("moves to a new epoch every time slot, after a message ceiling and on command; the collector opens them all", () => {
    const store = provisioned();
    const s = sealer(store, { maxMessagesPerEpoch: 5, epochSeconds: 86400 });
    const seen = [];
    for (let i = 0; i < 7; i++) seen.push(open(s.seal(text, AAD, T0 + i * 1000)));
    seen.push(open(s.seal(text, AAD, T0 + DAY)));
    s.rotate(T0 + DAY);
    seen.push(open(s.seal(text, AAD, T0 + DAY + 1000)));
    expect(seen.map((m) => `${m.epoch}:${m.counter}`)).toEqual(["0:0", "0:1", "0:2", "0:3", "0:4", "1:0", "1:1", "2:0", "3:0"]);
    expect(s.stats.rotations).toEqual({ time: 1, messages: 1, command: 1, "counter-lost": 0 });
  });

  it("is forward secure: after a rotation nothing in the store or the sealer derives the previous epoch's key", () => {
    const store = provisioned();
    const s = sealer(store);
    s.seal(text, AAD, T0);
    const oldKeys = epochKeysFromRoot(ROOT, DEVICE, 0);
    s.rotate(T0);
    s.seal(text, AAD, T0 + 1);
    const bytes = store.allBytes();
    // No window of the store is epoch 0's key or IV, nor a chain key that derives them.
    for (let offset = 0; offset + 32 <= bytes.length; offset++) {
      const window = bytes.subarray(offset, offset + 32);
      expect(bytesToHex(window)).not.toBe(bytesToHex(oldKeys.key));
      expect(bytesToHex(deriveEpochKeys(window, DEVICE, 0).key)).not.toBe(bytesToHex(oldKeys.key));
    }
    expect(Buffer.from(bytes).includes(Buffer.from(oldKeys.baseIv))).toBe(false);
    // The root key is gone from the store too (it would derive everything).
    expect(Buffer.from(bytes).includes(Buffer.from(ROOT))).toBe(false);
    // What the sealer still holds opens epoch 1, not epoch 0.
    const after = s.seal(text, AAD, T0 + 2);
    expect(open(after).epoch).toBe(1);
  });

  it("moves to a new epoch, never resets the counter, when the counter record is lost or corrupt", () => {
    const store = provisioned();
    const s = sealer(store);
    const first = [open(s.seal(text, AAD, T0)), open(s.seal(text, AAD, T0))];
    store.commit([{ key: SEAL_COUNTER_KEY, value: undefined }]);
    const lost = sealer(store);
    const second = open(lost.seal(text, AAD, T0));
    const record = store.get(SEAL_COUNTER_KEY)!;
    record[6]! ^= 0x10;
    store.commit([{ key: SEAL_COUNTER_KEY, value: record }]);
    const corrupt = sealer(store);
    const third = open(corrupt.seal(text, AAD, T0));
    expect([...first, second, third].map((m) => `${m.epoch}:${m.counter}`)).toEqual(["0:0", "0:1", "1:0", "2:0"]);
    expect(lost.stats.rotations["counter-lost"]).toBe(1);
  });

  it("resumes above the counter of a node that sealed under epoch 0 before it had the ratchet", () => {
    const store = provisioned();
    store.commit([{ key: SEAL_COUNTER_KEY, value: encodeCounterRecord({ epoch: 0, ceiling: 500 }) }]);
    const s = sealer(store);
    expect(open(s.seal(text, AAD, T0))).toEqual({ epoch: 0, counter: 500 });
  });

  it("never uses a (key, counter) pair twice, whichever store write a power cut hits", () => {
    for (let cutAt = 0; cutAt < 60; cutAt++) {
      const store = provisioned();
      const used = new Set<string>();
      let s: UplinkSealer | undefined;
      let cuts = 0;
      store.failCommitIn(cutAt);
      for (let i = 0; i < 80; i++) {
        const now = T0 + Math.floor(i / 20) * DAY + i * 1000; // a new time slot every 20 messages
        try {
          s ??= sealer(store, { counterBlock: 3, maxMessagesPerEpoch: 7 });
          if (i === 33) s.rotate(now);
          const { epoch, counter } = open(s.seal(text, AAD, now));
          const pair = `${epoch}:${counter}`;
          expect(used.has(pair), `cut at write ${cutAt}: ${pair} reused`).toBe(false);
          used.add(pair);
        } catch (error) {
          expect(error).toBeInstanceOf(StoreCommitError);
          cuts++;
          s = undefined; // power cut: reboot from what the store holds
        }
      }
      expect(cuts).toBeLessThanOrEqual(1);
      expect(used.size).toBeGreaterThan(70);
    }
  });
});
