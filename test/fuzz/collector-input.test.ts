/**
 * Fuzzing what the collector takes from outside (docs/fuzzing.md): every message the broker delivers,
 * through MessageOpener.open(topic, payload) (hosts/collector/message-opener.ts), and the keyring file
 * (Keyring.parse, hosts/collector/keyring.ts).
 *
 * Messages: random topics and payloads; real sealed summaries and health reports (made by the node's
 * own UplinkSealer from a provisioned store) mutated; and authentic messages whose plaintext is
 * anything at all, as a node with a bug, or a stolen key, could seal. The opener declares that it
 * never throws and rejects with a cause from REJECT_CAUSES; an altered message is never accepted as
 * anything but the message that was sealed, and a copy of an accepted one is never accepted again.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Keyring, KeyringError } from "../../hosts/collector/keyring.js";
import { MessageOpener, REJECT_CAUSES, type OpenResult } from "../../hosts/collector/message-opener.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../src/wire/key-ratchet.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../src/wire/senml.js";
import { UplinkSealer } from "../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { anyBytes, applyMutations, expectOnly, fuzzProperty, mutantsOf, mutation, textOf } from "../support/fuzz.js";

const DEVICE = "lamp-7";
const ZONE = "old-town";
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
const SUMMARY_TOPIC = `civicnode/${ZONE}/${DEVICE}/summary`;
const HEALTH_TOPIC = `civicnode/${ZONE}/${DEVICE}/health`;
const WALL_MS = Date.UTC(2026, 6, 15, 12, 0, 0);
const NOW = () => WALL_MS + 3_600_000;

function keyring(): Keyring {
  const ring = new Keyring();
  ring.add(DEVICE, ZONE, ROOT, new Date(WALL_MS - 86_400_000).toISOString());
  ring.add("lamp-8", ZONE, ROOT.map((b) => b ^ 0x5a), new Date(WALL_MS).toISOString());
  return ring;
}

function opener(): MessageOpener {
  return new MessageOpener(keyring(), { now: NOW });
}

/** Seals `plaintext` for `topic` as the node does: a provisioned store, the node's sealer, `rotations` epochs on. */
function sealAsNode(plaintext: Uint8Array, topic: string, rotations: number, counterSkip: number): Uint8Array {
  const store = new MemoryStore();
  store.commit(provisioningWrites(ROOT, DEVICE));
  const sealer = new UplinkSealer(store, DEVICE, { counterBlock: 16, maxMessageBytes: 4096 });
  sealer.boot();
  for (let i = 0; i < rotations; i++) sealer.rotate(WALL_MS);
  for (let i = 0; i < counterSkip; i++) sealer.seal(Uint8Array.of(0x80), utf8Encode(topic), WALL_MS);
  return sealer.seal(plaintext, utf8Encode(topic), WALL_MS);
}

function pack(records: readonly SenmlRecordOut[], baseTime = 1_784_000_000, padTo = 0): Uint8Array {
  const writer = new CborWriter(4096);
  writeSenmlPack(writer, `${DEVICE}/`, baseTime, records, padTo);
  return writer.written().slice();
}

const channel = fc.constantFrom("temperature", "humidity", "co2", "pm2_5", "noise", "entries", "devices");
const stat = fc.constantFrom("count", "mean", "min", "max", "leq", "l10", "l90", "sum", "distinct", "status");
const summaryRecords: fc.Arbitrary<SenmlRecordOut[]> = fc
  .array(
    fc.oneof(
      fc.record({ channel, stat, value: fc.double({ noNaN: true, noDefaultInfinity: true }) }).map(({ channel, stat, value }) => ({ name: `${channel}/${stat}`, unit: "Cel", value })),
      fc.record({ channel, status: fc.constantFrom("missing", "suppressed", "budget-exhausted") }).map(({ channel, status }) => ({ name: `${channel}/status`, status })),
    ),
    { maxLength: 10 },
  )
  .map((records) => [{ name: "window", unit: "s", value: 300 }, ...records]);
const healthRecords: fc.Arbitrary<SenmlRecordOut[]> = fc.array(
  fc.oneof(
    fc.constantFrom("uptime", "queue", "dropped", "delivered").map((name) => ({ name, value: 12 })),
    fc.tuple(fc.constantFrom("climate", "air", "pm"), fc.constantFrom("readings", "faults")).map(([sensor, what]) => ({ name: `${sensor}/${what}`, value: 3 })),
    fc.constantFrom("climate", "air").map((sensor) => ({ name: `${sensor}/status`, status: "ok" })),
    fc.constantFrom("checksum", "bus").map((cause) => ({ name: `climate/drops/${cause}`, value: 1 })),
    fc.constant({ name: "audit", status: "boot" }),
  ),
  { minLength: 1, maxLength: 8 },
);

/** A genuine message as the node seals it: summary or health, any epoch and counter. */
const genuine = fc
  .record({
    health: fc.boolean(),
    summary: summaryRecords,
    report: healthRecords,
    pad: fc.boolean(),
    rotations: fc.integer({ min: 0, max: 3 }),
    counterSkip: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ health, summary, report, pad, rotations, counterSkip }) => {
    const topic = health ? HEALTH_TOPIC : SUMMARY_TOPIC;
    const plaintext = health ? pack(report) : pack(summary, 1_784_000_000, pad ? 600 : 0);
    return { topic, bytes: sealAsNode(plaintext, topic, rotations, counterSkip) };
  });

const topics = fc.oneof(
  fc.constantFrom(SUMMARY_TOPIC, HEALTH_TOPIC, `civicnode/${ZONE}/${DEVICE}/cmd`, `civicnode/other/${DEVICE}/summary`, `civicnode/${ZONE}/lamp-8/summary`, `civicnode/${ZONE}/nobody/health`, "civicnode/+/#", ""),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
);

/** Opening never throws; a rejection names a declared cause. */
function openChecked(o: MessageOpener, topic: string, payload: Uint8Array): OpenResult {
  let result: OpenResult;
  try {
    result = o.open(topic, payload);
  } catch (error) {
    throw new Error(`MessageOpener.open threw ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
  }
  if (!result.ok) expect(REJECT_CAUSES).toContain(result.cause);
  return result;
}

function content(result: OpenResult): unknown {
  if (!result.ok) return result.cause;
  return result.kind === "summary" ? result.summary : result.health;
}

describe("MessageOpener under fuzzing (never throws, rejects with a declared cause)", () => {
  it("random topics and payloads", () => {
    fuzzProperty("opener.random", 2000, fc.tuple(topics, fc.oneof(anyBytes(700), fc.constant(new Uint8Array(5000)))), ([topic, payload]) => {
      const result = openChecked(opener(), topic, payload);
      expect(result.ok).toBe(false);
    });
  });

  it("mutated real messages: accepted only as one of the messages that were sealed, and never twice", () => {
    const input = fc.tuple(genuine, genuine, fc.array(mutation, { maxLength: 3 }), fc.oneof(fc.constant(undefined), topics));
    fuzzProperty("opener.mutated", 800, input, ([a, b, mutations, otherTopic]) => {
      const topic = otherTopic ?? a.topic;
      const bytes = applyMutations(a.bytes, mutations, b.bytes);
      const o = opener();
      const result = openChecked(o, topic, bytes);
      if (!result.ok) return;
      // Accepted: it must be what a fresh collector makes of one of the genuine messages under that topic.
      const candidates = [a.bytes, b.bytes].map((genuineBytes) => openChecked(opener(), topic, genuineBytes)).filter((r) => r.ok);
      expect(candidates.map(content)).toContainEqual(content(result));
      // The same message again is a copy, not a new one.
      expect(openChecked(o, topic, bytes).ok).toBe(false);
    });
  });

  it("mutations of one genuine message under its own topic never open to other contents", () => {
    fuzzProperty("opener.mutated-own-topic", 800, fc.tuple(genuine, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })), ([message, edits]) => {
      const expected = content(openChecked(opener(), message.topic, message.bytes));
      const bytes = message.bytes.slice();
      for (const [at, xor] of edits) bytes[at % bytes.length]! ^= xor;
      const result = openChecked(opener(), message.topic, bytes);
      if (result.ok) expect(content(result)).toEqual(expected);
    });
  });

  it("authentic messages with any plaintext: accepted or rejected as payload, Object.prototype untouched", () => {
    // Names of Object.prototype members get a property of their own, below.
    const segment = fc.oneof(fc.stringMatching(/^[a-z0-9_-]{1,8}$/).filter((s) => !(s in Object.prototype)), fc.constantFrom("window", "pad", "status", "drops", "audit", "budget", "commands"));
    const name = fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/"));
    const record: fc.Arbitrary<SenmlRecordOut> = fc.oneof(
      fc.record({ name, unit: fc.option(fc.constantFrom("s", "Cel", ""), { nil: undefined }), value: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
      fc.record({ name, status: fc.string({ maxLength: 10 }) }),
    );
    const plaintext = fc.oneof(
      fc.array(record, { minLength: 1, maxLength: 10 }).map((records) => pack(records, 1_784_000_000)),
      anyBytes(300),
      mutantsOf(summaryRecords.map((records) => pack(records))).map((m) => m.bytes),
    );
    fuzzProperty("opener.authentic-plaintext", 800, fc.tuple(plaintext, fc.boolean()), ([bytes, health]) => {
      const topic = health ? HEALTH_TOPIC : SUMMARY_TOPIC;
      const before = Object.getOwnPropertyNames(Object.prototype).length;
      const result = openChecked(opener(), topic, sealAsNode(bytes, topic, 0, 0));
      if (!result.ok) expect(result.cause).toBe("payload");
      expect(Object.getOwnPropertyNames(Object.prototype).length).toBe(before);
    });
  });

  // Found by this fuzzing: hosts/collector/decoded-messages.ts grouped records into plain objects
  // keyed by channel and sensor names taken from the plaintext, so a name like "__proto__" or
  // "constructor" selected Object.prototype or Object itself: an authentic message (a buggy node, a
  // stolen key) then added properties to every object of the collector, and "toString/name" or
  // "constructor/drops/x" made open() throw a TypeError. The groups are null-prototype objects now.
  it("authentic messages whose channel or sensor names are Object.prototype members neither throw nor pollute", () => {
    const member = fc.constantFrom("__proto__", "constructor", "toString", "hasOwnProperty", "valueOf");
    const summary = fc.tuple(member, fc.constantFrom("polluted", "name", "status", "unit")).map(([m, s]) => ({
      topic: SUMMARY_TOPIC,
      records: [{ name: "window", unit: "s", value: 300 }, s === "status" ? { name: `${m}/${s}`, status: "x" } : { name: `${m}/${s}`, value: 7 }],
    }));
    const health = fc.tuple(member, fc.constantFrom("status", "readings", "drops/x")).map(([m, s]) => ({
      topic: HEALTH_TOPIC,
      records: [s === "status" ? { name: `${m}/${s}`, status: "ok" } : { name: `${m}/${s}`, value: 7 }],
    }));
    fuzzProperty("opener.prototype-names", 50, fc.oneof(summary, health), ({ topic, records }) => {
      const probe = {} as Record<string, unknown>;
      try {
        openChecked(opener(), topic, sealAsNode(pack(records as SenmlRecordOut[]), topic, 0, 0));
        expect(probe["polluted"]).toBeUndefined();
        expect(probe["status"]).toBeUndefined();
        expect((Object as unknown as Record<string, unknown>)["status"]).toBeUndefined();
      } finally {
        for (const key of ["polluted", "status", "unit", "readings", "drops"]) {
          delete (Object.prototype as Record<string, unknown>)[key];
          delete (Object as unknown as Record<string, unknown>)[key];
        }
      }
    });
  });
});

// --- keyring file ---------------------------------------------------------------------------------

const validKeyringText = fc
  .array(fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}$/), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,8}$/), fc.uint8Array({ minLength: 32, maxLength: 32 })), { maxLength: 4 })
  .map((devices) => {
    const ring = new Keyring();
    for (const [device, zone, key] of devices) ring.add(device, zone, key, "2026-07-01T00:00:00.000Z");
    return ring.serialize();
  });

describe("Keyring.parse under fuzzing (KeyringError only)", () => {
  it("random text, random JSON and mutated keyrings", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      fc.record({ format: fc.constant("civicnode-keyring"), version: fc.constantFrom(1, "1", 2), devices: fc.jsonValue({ maxDepth: 3 }) }).map((v) => JSON.stringify(v)),
      mutantsOf(validKeyringText.map(utf8Encode)).map((m) => textOf(m.bytes)),
    );
    fuzzProperty("keyring.parse", 2000, text, (document) => {
      const ring = expectOnly([KeyringError], () => Keyring.parse(document));
      if (!ring) return;
      expect(ring.devices.length).toBeLessThanOrEqual(document.length / 10);
      for (const device of ring.devices) {
        const entry = ring.get(device)!;
        expect(entry.rootKey.length).toBe(32);
        expect(device).toMatch(/^[a-z0-9][a-z0-9-]{0,31}$/);
        expect(entry.zone).toMatch(/^[a-z0-9][a-z0-9-]{0,31}$/);
      }
    });
  });
});
