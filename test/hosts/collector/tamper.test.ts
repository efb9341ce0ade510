/**
 * A tamper campaign against the collector: every bit of sealed messages flipped one at a time,
 * truncations at every length, replays, reorders within and beyond the replay window, cross-device
 * topic swaps and random garbage. Bad input: 100 % rejected, counted by cause, nothing thrown.
 * Good input: 100 % accepted, also late and out of order.
 */
import { describe, expect, it } from "vitest";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener, type OpenResult, type RejectCause } from "../../../hosts/collector/message-opener.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { Prng } from "../../../hosts/sim/prng.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { writeSenmlPack } from "../../../src/wire/senml.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

const ZONE = "old-town";
const T0 = Date.UTC(2026, 9, 1, 8, 0, 0);
const roots = { "lamp-7": new Uint8Array(32).fill(0x37), "lamp-8": new Uint8Array(32).fill(0x38) };
const topicOf = (device: string) => `civicnode/${ZONE}/${device}/summary`;

function keyring(): Keyring {
  const k = new Keyring();
  for (const [device, root] of Object.entries(roots)) k.add(device, ZONE, root, new Date(T0 - 86_400_000).toISOString());
  return k;
}

/** `count` genuine summaries of `device`, as its node seals them. */
function genuine(device: "lamp-7" | "lamp-8", count: number): Uint8Array[] {
  const store = new MemoryStore();
  store.commit(provisioningWrites(roots[device], device));
  const sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: 1024 });
  sealer.boot();
  return Array.from({ length: count }, (_, i) => {
    const writer = new CborWriter(512);
    writeSenmlPack(writer, `${device}/`, T0 / 1000 + i * 300, [
      { name: "window", unit: "s", value: 300 },
      { name: "noise/leq", unit: "dB", value: 52.5 + i / 10 },
    ]);
    return sealer.seal(writer.written(), utf8Encode(topicOf(device)), T0 + i * 300_000);
  });
}

function tally(results: OpenResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.ok ? "accepted" : r.cause] = (counts[r.ok ? "accepted" : r.cause] ?? 0) + 1;
  return counts;
}

describe("the collector under a tamper campaign", () => {
  it("accepts every genuine message once, in any order within the window, and late flushes", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0 });
    const messages = genuine("lamp-7", 120);
    const random = new Prng("order");
    const order = messages.map((_, i) => i).sort(() => random.next() - 0.5);
    const results = order.map((i) => opener.open(topicOf("lamp-7"), messages[i]!));
    expect(tally(results)).toEqual({ accepted: 120 });
    // Byte-identical copies (QoS 1 resends) are authenticated and recognised as such.
    expect(tally(order.map((i) => opener.open(topicOf("lamp-7"), messages[i]!)))).toEqual({ duplicate: 120 });
  });

  it("rejects every single flipped bit, and the forgeries do not block the genuine message afterwards", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0 });
    const [a, b] = genuine("lamp-7", 2);
    const results: OpenResult[] = [];
    for (const message of [a!, b!]) {
      for (let bit = 0; bit < message.length * 8; bit++) {
        const forged = message.slice();
        forged[bit >> 3]! ^= 1 << (bit & 7);
        results.push(opener.open(topicOf("lamp-7"), forged));
      }
    }
    const counts = tally(results);
    expect(counts.accepted).toBeUndefined();
    expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe((a!.length + b!.length) * 8);
    expect(counts.authentication).toBeGreaterThan(a!.length * 8);
    for (const cause of Object.keys(counts)) expect(["authentication", "malformed", "unsupported", "kid-mismatch", "unknown-device", "epoch"]).toContain(cause);
    expect(opener.open(topicOf("lamp-7"), a!).ok).toBe(true);
    expect(opener.open(topicOf("lamp-7"), b!).ok).toBe(true);
  });

  it("rejects every truncation and every extension", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0 });
    const [message] = genuine("lamp-7", 1);
    const results: OpenResult[] = [];
    for (let length = 0; length < message!.length; length++) results.push(opener.open(topicOf("lamp-7"), message!.subarray(0, length)));
    results.push(opener.open(topicOf("lamp-7"), Uint8Array.of(...message!, 0)));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(Object.keys(tally(results)).sort()).toEqual(["malformed"]);
    expect(opener.open(topicOf("lamp-7"), message!).ok).toBe(true);
  });

  it("refuses messages older than the replay window, and beyond it accepts what is new", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0, replayWindow: 64 });
    const messages = genuine("lamp-7", 150); // one key epoch (the day ends after 192 windows)
    expect(opener.open(topicOf("lamp-7"), messages[149]!).ok).toBe(true);
    expect(opener.open(topicOf("lamp-7"), messages[100]!).ok).toBe(true); // late, inside the window
    expect(opener.open(topicOf("lamp-7"), messages[60]!)).toMatchObject({ ok: false, cause: "replay" }); // beyond it
  });

  it("rejects cross-device and cross-zone topic swaps", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0 });
    const [seven] = genuine("lamp-7", 1);
    const [eight] = genuine("lamp-8", 1);
    const results = [
      opener.open(topicOf("lamp-8"), seven!),
      opener.open(topicOf("lamp-7"), eight!),
      opener.open(`civicnode/new-town/lamp-7/summary`, seven!),
      opener.open(`civicnode/${ZONE}/lamp-7/health`, seven!),
      opener.open(`civicnode/${ZONE}/lamp-9/summary`, seven!),
    ];
    expect(results.map((r) => (r.ok ? "accepted" : r.cause))).toEqual(["kid-mismatch", "kid-mismatch", "kid-mismatch", "authentication", "kid-mismatch"]);
    expect(opener.open(topicOf("lamp-7"), seven!).ok).toBe(true);
    expect(opener.open(topicOf("lamp-8"), eight!).ok).toBe(true);
  });

  it("refuses kids that name epochs the device cannot have reached, before deriving any key", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0, epochSlack: 10 });
    const [message] = genuine("lamp-7", 1);
    const kidEpoch = Buffer.from(message!).indexOf(Buffer.from("lamp-7")) + 6; // the u32 after the device id
    const forged = message!.slice();
    forged[kidEpoch] = 0xff; // epoch 0xff000000
    const started = performance.now();
    expect(opener.open(topicOf("lamp-7"), forged)).toMatchObject({ ok: false, cause: "epoch" });
    expect(performance.now() - started).toBeLessThan(1000); // a bound, not a benchmark: 2^32 HKDFs would take hours
  });

  it("never throws and never accepts random garbage", () => {
    const opener = new MessageOpener(keyring(), { now: () => T0 });
    const random = new Prng("garbage");
    const [template] = genuine("lamp-7", 1);
    const results: OpenResult[] = [];
    for (let i = 0; i < 3000; i++) {
      const length = random.int(0, 600);
      const bytes = new Uint8Array(length);
      for (let j = 0; j < length; j++) bytes[j] = random.int(0, 256);
      // A third of them start like a real message, to reach the deeper checks.
      if (i % 3 === 0) bytes.set(template!.subarray(0, Math.min(length, random.int(1, 40))));
      results.push(opener.open(topicOf("lamp-7"), bytes));
    }
    results.push(opener.open(topicOf("lamp-7"), new Uint8Array(5000)));
    const counts = tally(results);
    expect(counts.accepted).toBeUndefined();
    expect(counts.oversized).toBe(1);
    const causes: RejectCause[] = ["malformed", "unsupported", "kid-mismatch", "unknown-device", "epoch", "authentication", "oversized", "replay"];
    for (const cause of Object.keys(counts)) expect(causes).toContain(cause);
    expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(3001);
  });

  it("keeps refusing replays after a collector restart, from its saved windows", () => {
    const first = new MessageOpener(keyring(), { now: () => T0 });
    const messages = genuine("lamp-7", 5);
    for (const m of messages) expect(first.open(topicOf("lamp-7"), m).ok).toBe(true);
    const restarted = new MessageOpener(keyring(), { now: () => T0 });
    restarted.importCounters(first.exportCounters());
    expect(tally(messages.map((m) => restarted.open(topicOf("lamp-7"), m)))).toEqual({ duplicate: 5 });
    const altered = messages.map((m) => {
      const copy = m.slice();
      copy[copy.length - 1]! ^= 0x80; // the tag
      return copy;
    });
    expect(tally(altered.map((m) => restarted.open(topicOf("lamp-7"), m)))).toEqual({ replay: 5 });
  });
});
