/**
 * Fuzzing what the node reads back from its store at boot (docs/fuzzing.md): the seal counter
 * (src/wire/seal-counter.ts), the key chain and downlink key records (src/wire/key-ratchet.ts), the
 * privacy budget (src/privacy/privacy-budget.ts), the audit log (src/policy/audit-log.ts), the
 * command replay window (src/uplink/command-receiver.ts), the outbox's queue records and drop totals
 * (src/uplink/queue-record.ts, and the outbox's boot over them), the NVS store's journal
 * (hosts/moddable/preference-store.ts over hosts/sim/emulated-nvs.ts) and the simulator's store
 * file (hosts/node/file-store.ts).
 *
 * A record may hold anything: random bytes, a real record mutated, a real record changed in a way its
 * CRC-32 always detects, or a CRC-valid record with a body that is not what the node writes (a
 * foreign or older writer). Each reader declares what it does with what it cannot read (undefined,
 * "unusable", a KeyStateCorruptError, a counted loss, StoreFileError): nothing else may come out,
 * and a change the CRC detects must never be read as a valid record.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { STORE_KEY_MAX_LENGTH, STORE_VALUE_MAX_BYTES } from "../../src/platform.js";
import { AUDIT_CAPACITY, AUDIT_STORE_KEY, AuditLog } from "../../src/policy/audit-log.js";
import { BUDGET_STORE_KEY, decodeBudgetRecord, PrivacyBudget } from "../../src/privacy/privacy-budget.js";
import { CommandReceiver, COMMAND_REPLAY_STORE_KEY } from "../../src/uplink/command-receiver.js";
import { sealCommand } from "../../src/uplink/downlink-command.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { MAX_COUNTER } from "../../src/wire/cose-encrypt0.js";
import { crc32 } from "../../src/wire/crc32.js";
import {
  CHAIN_STORE_KEY,
  decodeChainRecord,
  DOWNLINK_STORE_KEY,
  encodeChainRecord,
  KeyRatchet,
  KeyStateCorruptError,
  provisioningWrites,
} from "../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../src/wire/key-schedule.js";
import { decodeCounterRecord, encodeCounterRecord, SEAL_COUNTER_KEY, SealCounter } from "../../src/wire/seal-counter.js";
import { UplinkSealer } from "../../src/wire/uplink-sealer.js";
import { Outbox } from "../../src/uplink/outbox.js";
import { decodeDropTotals, decodeQueueRecord, encodeDropTotals, encodeQueueRecord, queueKey, sequenceOfKey, type QueuedKind } from "../../src/uplink/queue-record.js";
import { LoopbackTransport } from "../../hosts/sim/loopback-transport.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { JOURNAL_KEY, PreferenceStore } from "../../hosts/moddable/preference-store.js";
import { FileStore, StoreFileError } from "../../hosts/node/file-store.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { EmulatedNvs } from "../../hosts/sim/emulated-nvs.js";
import { anyBytes, crcDetectable, expectOnly, fuzzProperty, mutantsOf, textOf } from "../support/fuzz.js";

const DEVICE = "street-01";
const ROOT = new Uint8Array(32).fill(0x5c);
const START = Date.UTC(2026, 6, 15, 6, 0, 0);

/** `body` followed by its CRC-32, big-endian: the framing of the budget, audit and replay records. */
function withCrc(body: Uint8Array): Uint8Array {
  const record = new Uint8Array(body.length + 4);
  record.set(body);
  new DataView(record.buffer).setUint32(body.length, crc32(body));
  return record;
}

/** A record's body changed and its CRC made right again: what a foreign or older writer could leave. */
const recrcd = (valid: fc.Arbitrary<Uint8Array>) =>
  mutantsOf(valid.map((record) => record.subarray(0, record.length - 4))).map((m) => withCrc(m.bytes));

/** Any of: random bytes, a mutated real record, a CRC-valid foreign body. */
const anyRecord = (valid: fc.Arbitrary<Uint8Array>) => fc.oneof(anyBytes(120), mutantsOf(valid).map((m) => m.bytes), recrcd(valid)).map(present);

/** A record is never empty (the store reads an empty commit as a deletion): an empty input becomes one zero byte. */
function present(record: Uint8Array): Uint8Array {
  return record.length > 0 ? record : Uint8Array.of(0);
}

const u32 = fc.nat({ max: 0xffffffff });

// --- seal counter ---------------------------------------------------------------------------------

const counterRecord = fc.tuple(u32, fc.integer({ min: 0, max: MAX_COUNTER + 1 })).map(([epoch, ceiling]) => encodeCounterRecord({ epoch, ceiling }));

describe("seal counter record under fuzzing", () => {
  it("decodes to undefined or to a state within the counter space, never throws", () => {
    fuzzProperty("store.counter-decode", 3000, fc.oneof(anyBytes(40), mutantsOf(counterRecord).map((m) => m.bytes)), (record) => {
      const state = decodeCounterRecord(record);
      if (state === undefined) return;
      expect(record.length).toBe(20);
      expect(Number.isInteger(state.epoch) && state.epoch >= 0 && state.epoch <= 0xffffffff).toBe(true);
      expect(Number.isInteger(state.ceiling) && state.ceiling >= 0 && state.ceiling <= MAX_COUNTER + 1).toBe(true);
    });
  });

  it("a change the CRC detects is never read as a counter", () => {
    fuzzProperty("store.counter-crc", 3000, fc.tuple(counterRecord, crcDetectable), ([record, change]) => {
      expect(decodeCounterRecord(change(record))).toBeUndefined();
      const store = new MemoryStore();
      store.commit([{ key: SEAL_COUNTER_KEY, value: change(record) }]);
      expect(new SealCounter(store, 32).load(decodeCounterRecord(record)!.epoch)).toBe("unusable");
    });
  });

  it("a sealer whose counter record was corrupted moves to a new epoch at boot, never reuses a counter", () => {
    fuzzProperty("store.counter-sealer", 300, fc.tuple(fc.oneof(crcDetectable.map((c) => ({ change: c, random: undefined })), anyBytes(40).map((r) => ({ change: undefined, random: r }))), fc.integer({ min: 0, max: 40 })), ([corruption, sealed]) => {
      const store = new MemoryStore();
      store.commit(provisioningWrites(ROOT, DEVICE));
      const first = new UplinkSealer(store, DEVICE, { counterBlock: 8, maxMessageBytes: 512 });
      first.boot();
      for (let i = 0; i < sealed; i++) first.seal(Uint8Array.of(i), utf8Encode("t"), START);
      const before = { epoch: first.epoch, next: first.nextCounter };
      const record = store.get(SEAL_COUNTER_KEY)!;
      const corrupted = present(corruption.change ? corruption.change(record) : corruption.random!);
      store.commit([{ key: SEAL_COUNTER_KEY, value: corrupted }]);
      const again = new UplinkSealer(store, DEVICE, { counterBlock: 8, maxMessageBytes: 512 });
      again.boot();
      const state = decodeCounterRecord(corrupted);
      if (state === undefined || state.epoch !== before.epoch) expect(again.epoch).toBe(before.epoch + 1);
      else expect(again.nextCounter).toBe(state.ceiling); // an intact record of this epoch (random bytes cannot forge one in practice)
      expect(again.epoch > before.epoch || again.nextCounter >= before.next).toBe(true);
    });
  });
});

// --- key chain and downlink key -------------------------------------------------------------------

const chainRecord = fc.tuple(u32, u32, fc.uint8Array({ minLength: 32, maxLength: 32 })).map(([epoch, period, chain]) => encodeChainRecord(epoch, period, chain));

/** A provisioned store after its first boot: real chain and downlink records. */
function bootedStore(): MemoryStore {
  const store = new MemoryStore();
  store.commit(provisioningWrites(ROOT, DEVICE));
  new KeyRatchet(store, DEVICE).boot(() => []);
  return store;
}
const BOOTED = bootedStore();
const REAL_CHAIN = BOOTED.get(CHAIN_STORE_KEY)!;
const REAL_DOWNLINK = BOOTED.get(DOWNLINK_STORE_KEY)!;

describe("key records under fuzzing", () => {
  it("decodeChainRecord: undefined or a 32-byte chain key, never throws; CRC-detectable changes refused", () => {
    fuzzProperty("store.chain-decode", 3000, fc.oneof(anyBytes(80), mutantsOf(chainRecord).map((m) => m.bytes)), (record) => {
      const decoded = decodeChainRecord(record);
      if (decoded) expect(decoded.chain.length).toBe(32);
    });
    fuzzProperty("store.chain-crc", 2000, fc.tuple(chainRecord, crcDetectable), ([record, change]) => {
      expect(decodeChainRecord(change(record))).toBeUndefined();
    });
  });

  it("KeyRatchet.boot over corrupt chain or downlink records: loaded, or KeyStateCorruptError", () => {
    const corrupt = (real: Uint8Array) => fc.oneof(anyBytes(80), mutantsOf(fc.constant(real)).map((m) => m.bytes), crcDetectable.map((change) => change(real))).map(present);
    fuzzProperty("store.ratchet-boot", 1500, fc.tuple(fc.option(corrupt(REAL_CHAIN)), fc.option(corrupt(REAL_DOWNLINK))), ([chain, downlink]) => {
      const store = new MemoryStore();
      store.commit([
        { key: CHAIN_STORE_KEY, value: chain ?? REAL_CHAIN },
        { key: DOWNLINK_STORE_KEY, value: downlink ?? REAL_DOWNLINK },
      ]);
      const outcome = expectOnly([KeyStateCorruptError], () => new KeyRatchet(store, DEVICE).boot(() => []));
      const intact = (bytes: Uint8Array | undefined, real: Uint8Array) => bytes !== undefined && bytes.length === real.length && bytes.every((b, i) => b === real[i]);
      if (intact(store.get(CHAIN_STORE_KEY), REAL_CHAIN) && intact(store.get(DOWNLINK_STORE_KEY), REAL_DOWNLINK)) expect(outcome).toBe("loaded");
      else if (decodeChainRecord(store.get(CHAIN_STORE_KEY)!) === undefined) expect(outcome).toBeUndefined(); // refused, never "loaded"
    });
  });
});

// --- privacy budget -------------------------------------------------------------------------------

const CHANNELS = [
  { name: "entries", dailyMicro: 288_000_000, costMicro: 1_000_000 },
  { name: "devices", dailyMicro: 100_000_000, costMicro: 500_000 },
];

/** Real records: a budget that spent some releases on some day. */
const budgetRecord = fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 1 << 20 })).map(([a, b, day]) => {
  const store = new MemoryStore();
  const budget = new PrivacyBudget(store, CHANNELS);
  const wall = day * 86_400_000;
  for (let i = 0; i < a; i++) budget.spend(0, wall);
  for (let i = 0; i < b; i++) budget.spend(1, wall);
  budget.spend(0, wall);
  return store.get(BUDGET_STORE_KEY)!;
});

describe("privacy budget record under fuzzing", () => {
  it("decodeBudgetRecord never throws; load() never throws and never hands out more than the cap", () => {
    fuzzProperty("store.budget", 2000, anyRecord(budgetRecord), (record) => {
      const decoded = decodeBudgetRecord(record);
      if (decoded) expect(decoded.reserved.size * 3).toBeLessThanOrEqual(record.length);
      const store = new MemoryStore();
      store.commit([{ key: BUDGET_STORE_KEY, value: record }]);
      const budget = new PrivacyBudget(store, CHANNELS);
      budget.load();
      if (decoded === undefined) {
        // Unreadable: the day it is first used on stays silent.
        expect(budget.remainingMicro(0, START)).toBe(0);
        expect(budget.spend(0, START)).toBe("exhausted");
      }
    });
  });

  it("a change the CRC detects makes the record unreadable: the channel stays silent that day", () => {
    fuzzProperty("store.budget-crc", 1500, fc.tuple(budgetRecord, crcDetectable), ([record, change]) => {
      const changed = change(record);
      expect(decodeBudgetRecord(changed)).toBeUndefined();
      const store = new MemoryStore();
      store.commit([{ key: BUDGET_STORE_KEY, value: changed }]);
      const budget = new PrivacyBudget(store, CHANNELS);
      budget.load();
      expect(budget.spend(1, START)).toBe("exhausted");
    });
  });

  // Found by this fuzzing (fixed in decodeBudgetRecord): the decoder checked the record's CRC and
  // shape but not its numbers, so a CRC-valid record from another writer with a negative
  // reservation left more than the daily cap to spend (a reservation of -1e9 micro-ε on a channel of
  // 288 releases a day gave it 1,288), and NaN, fractions or an infinite day were taken as well.
  it("a CRC-valid record with numbers the node never writes is unreadable: the day stays silent, never overspent", () => {
    const odd = fc.oneof(fc.constantFrom(-1e9, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY), fc.double({ max: -1 }));
    fuzzProperty("store.budget-numbers", 100, fc.tuple(odd, fc.boolean()), ([value, inDay]) => {
      const today = PrivacyBudget.dayOf(START);
      const writer = new CborWriter(256);
      writer.array(3).int(1);
      if (inDay) writer.number(value);
      else writer.int(today);
      writer.array(1).array(2).text("entries").number(inDay ? 0 : value);
      const record = withCrc(writer.written().slice());
      expect(decodeBudgetRecord(record)).toBeUndefined();
      const store = new MemoryStore();
      store.commit([{ key: BUDGET_STORE_KEY, value: record }]);
      const budget = new PrivacyBudget(store, CHANNELS);
      budget.load();
      expect(budget.remainingMicro(0, START)).toBe(0);
    });
  });
});

// --- audit log ------------------------------------------------------------------------------------

const auditRecord = fc.array(fc.tuple(fc.nat(), fc.constantFrom("boot", "command-accepted", "epoch-rotated"), fc.string({ maxLength: 50 })), { maxLength: AUDIT_CAPACITY + 4 }).map((entries) => {
  const store = new MemoryStore();
  const log = new AuditLog(store);
  for (const [time, event, detail] of entries) log.append(time, event, detail);
  if (entries.length === 0) log.append(0, "boot", "");
  return store.get(AUDIT_STORE_KEY)!;
});

describe("audit log record under fuzzing", () => {
  it("load() never throws and keeps at most its capacity of well-typed entries", () => {
    fuzzProperty("store.audit", 2000, anyRecord(auditRecord), (record) => {
      const store = new MemoryStore();
      store.commit([{ key: AUDIT_STORE_KEY, value: record }]);
      const log = new AuditLog(store);
      try {
        log.load();
      } catch (error) {
        throw new Error(`AuditLog.load threw ${(error as Error).name}`, { cause: error });
      }
      expect(log.entries.length).toBeLessThanOrEqual(AUDIT_CAPACITY);
      for (const entry of log.entries) {
        expect(typeof entry.time).toBe("number");
        expect(typeof entry.event).toBe("string");
        expect(typeof entry.detail).toBe("string");
      }
      // Read as a chain, or a new chain that says why: never an empty or silent start.
      if (log.resetReason !== undefined) expect(log.entries[0]).toEqual({ seq: 0, time: 0, event: "audit-reset", detail: log.resetReason });
      const seqs = log.entries.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      log.append(1, "boot", "after load"); // the log still works
      expect(log.entries.at(-1)!.detail).toBe("after load");
      expect(log.entries.at(-1)!.seq).toBe(seqs.at(-1)! + 1);
    });
  });

  it("a change the CRC detects is not loaded", () => {
    fuzzProperty("store.audit-crc", 1000, fc.tuple(auditRecord, crcDetectable), ([record, change]) => {
      const store = new MemoryStore();
      store.commit([{ key: AUDIT_STORE_KEY, value: change(record) }]);
      const log = new AuditLog(store);
      log.load();
      expect(log.entries).toEqual([{ seq: 0, time: 0, event: "audit-reset", detail: "corrupt record" }]);
    });
  });
});

// --- command replay window ------------------------------------------------------------------------

const CMD_TOPIC = `civicnode/demo-street/${DEVICE}/cmd`;
const NOW_S = START / 1000;

function commandReceiver(store: MemoryStore) {
  const clock = new SimClock({ startWallMs: START });
  const audit = new AuditLog(store);
  const keys = downlinkKeysFromRoot(ROOT, DEVICE);
  const receiver = new CommandReceiver(store, DEVICE, CMD_TOPIC, () => keys, clock, audit, () => "accepted");
  return { receiver, audit };
}

const command = (issued: number, counter: number) => sealCommand({ name: "republish-disclosure", issued, args: {} }, DEVICE, CMD_TOPIC, downlinkKeysFromRoot(ROOT, DEVICE), counter);

/** Real replay records: a receiver that accepted some commands. */
const replayRecord = fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { minLength: 1, maxLength: 10 }).map((counters) => {
  const store = new MemoryStore();
  const { receiver } = commandReceiver(store);
  for (const counter of counters) receiver.receive(command(NOW_S, counter));
  return store.get(COMMAND_REPLAY_STORE_KEY)!;
});

describe("command replay record under fuzzing", () => {
  it("load() never throws; an unreadable record means only commands issued from now on run", () => {
    fuzzProperty("store.cmd-replay", 1000, fc.tuple(fc.oneof(anyRecord(replayRecord), fc.tuple(replayRecord, crcDetectable).map(([r, c]) => c(r))), fc.nat({ max: 1000 })), ([record, counter]) => {
      const store = new MemoryStore();
      store.commit([{ key: COMMAND_REPLAY_STORE_KEY, value: record }]);
      const { receiver, audit } = commandReceiver(store);
      try {
        receiver.load();
      } catch (error) {
        throw new Error(`CommandReceiver.load threw ${(error as Error).name}`, { cause: error });
      }
      const intact = record.length > 4 && new DataView(record.buffer, record.byteOffset).getUint32(record.length - 4) === crc32(record, 0, record.length - 4);
      const lost = audit.entries.some((e) => e.event === "command-history-lost");
      if (!intact) {
        expect(lost).toBe(true);
        expect(receiver.receive(command(NOW_S - 60, 5000 + counter))).toBe("replay"); // issued before the loss
        expect(receiver.receive(command(NOW_S + 5, 6000 + counter))).toBe("accepted");
      }
      expect(receiver.receive(Uint8Array.of(0xd0, 0x83))).toBe("malformed"); // and it keeps working
    });
  });
});

// --- the NVS store's journal ----------------------------------------------------------------------

const NS = "civicnode";
const storeKey = fc.stringMatching(/^[a-z0-9._-]{1,15}$/);
const journalWrites = fc.array(fc.tuple(storeKey, fc.option(fc.uint8Array({ minLength: 1, maxLength: 60 }), { nil: undefined })), { minLength: 1, maxLength: 6 });

/** A journal in the documented format (preference-store.ts), written independently of the store's encoder. */
function journal(writes: ReadonlyArray<readonly [string, Uint8Array | undefined]>): Uint8Array {
  const parts: number[] = [0x43, 0x4a, 1, 0, writes.length >> 8, writes.length & 0xff];
  for (const [key, value] of writes) {
    parts.push(key.length, ...[...key].map((c) => c.charCodeAt(0)));
    if (value === undefined) parts.push(0xff, 0xff);
    else parts.push(value.length >> 8, value.length & 0xff, ...value);
  }
  return withCrc(Uint8Array.from(parts));
}

/** The writes an intact version-1 journal holds, by the documented format; undefined otherwise. */
function documentedWrites(bytes: Uint8Array): Array<[string, Uint8Array | undefined]> | undefined {
  if (bytes.length < 10 || bytes.length > STORE_VALUE_MAX_BYTES || bytes[0] !== 0x43 || bytes[1] !== 0x4a || bytes[2] !== 1 || bytes[3] !== 0) return undefined;
  const end = bytes.length - 4;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(end) !== crc32(bytes, 0, end)) return undefined;
  const count = view.getUint16(4);
  const writes: Array<[string, Uint8Array | undefined]> = [];
  let at = 6;
  for (let n = 0; n < count; n++) {
    if (at + 1 > end) return undefined;
    const k = bytes[at++]!;
    if (k < 1 || k > STORE_KEY_MAX_LENGTH || at + k + 2 > end) return undefined;
    const key = String.fromCharCode(...bytes.subarray(at, at + k));
    if (!/^[a-z0-9._-]+$/.test(key)) return undefined;
    at += k;
    const length = view.getUint16(at);
    at += 2;
    if (length === 0xffff) writes.push([key, undefined]);
    else {
      if (length === 0 || at + length > end) return undefined;
      writes.push([key, bytes.slice(at, at + length)]);
      at += length;
    }
  }
  return count > 0 && at === end ? writes : undefined;
}

describe("NVS store journal under fuzzing", () => {
  const blob = fc.oneof(
    anyBytes(200),
    mutantsOf(journalWrites.map(journal)).map((m) => m.bytes),
    recrcd(journalWrites.map(journal)),
    fc.tuple(journalWrites.map(journal), crcDetectable).map(([j, change]) => change(j)),
    journalWrites.map(journal),
  );

  it("recovery replays exactly an intact journal and discards anything else, never throwing", () => {
    fuzzProperty("store.nvs-journal", 1500, fc.tuple(blob, fc.boolean()), ([bytes, asString]) => {
      const nvs = new EmulatedNvs();
      nvs.writeBlob(NS, "keep", Uint8Array.of(7));
      if (asString) nvs.writeString(NS, JOURNAL_KEY, textOf(bytes));
      else nvs.writeBlob(NS, JOURNAL_KEY, bytes);
      let store: PreferenceStore;
      try {
        store = new PreferenceStore(nvs.preference, NS);
      } catch (error) {
        throw new Error(`PreferenceStore recovery threw ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
      }
      const writes = asString ? undefined : documentedWrites(bytes);
      expect(store.recovery).toBe(writes === undefined ? "discarded" : "replayed");
      expect(nvs.item(NS, JOURNAL_KEY)).toBeUndefined();
      const expected = new Map<string, Uint8Array | undefined>([["keep", Uint8Array.of(7)]]);
      for (const [key, value] of writes ?? []) expected.set(key, value);
      for (const [key, value] of expected) expect(store.get(key)).toEqual(value);
      expect(nvs.keys(NS).sort()).toEqual([...expected].filter(([, v]) => v !== undefined).map(([k]) => k).sort());
    });
  });
});

// --- the simulator's store file -------------------------------------------------------------------

const directory = mkdtempSync(join(tmpdir(), "civicnode-fuzz-store-"));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const storeFile = fc
  .array(fc.tuple(storeKey, fc.uint8Array({ minLength: 1, maxLength: 40 })), { maxLength: 5 })
  .map((entries) => utf8Encode(JSON.stringify({ format: "civicnode-store", version: 1, entries: Object.fromEntries(entries.map(([k, v]) => [k, Buffer.from(v).toString("base64")])) }) + "\n"));

describe("store file under fuzzing (StoreFileError only)", () => {
  it("random, mutated and odd JSON files", () => {
    const content = fc.oneof(
      anyBytes(300),
      mutantsOf(storeFile).map((m) => m.bytes),
      fc.jsonValue({ maxDepth: 3 }).map((v) => utf8Encode(JSON.stringify(v) ?? "")),
      fc.record({ format: fc.constant("civicnode-store"), version: fc.constantFrom(1, 2, "1"), entries: fc.jsonValue({ maxDepth: 2 }) }).map((v) => utf8Encode(JSON.stringify(v))),
    );
    const path = join(directory, "store.json");
    fuzzProperty("store.file", 1000, content, (bytes) => {
      writeFileSync(path, bytes);
      const store = expectOnly([StoreFileError], () => new FileStore(path));
      if (!store) return;
      // Nothing beyond what the file held: base64 takes at least 4 characters per 3 bytes.
      let total = 0;
      for (const key of store.keys("")) total += store.get(key)!.length;
      expect(total).toBeLessThanOrEqual(bytes.length);
    });
  });
});

// --- outbox queue records -------------------------------------------------------------------------

const queued = fc.record({
  sequence: fc.oneof(fc.nat({ max: 40 }), u32),
  kind: fc.constantFrom<QueuedKind>("summary", "health"),
  timeS: fc.nat({ max: 0xffffffff }),
  topic: fc.oneof(fc.constantFrom(`civicnode/demo-street/${DEVICE}/summary`, `civicnode/demo-street/${DEVICE}/health`), fc.string({ minLength: 1, maxLength: 60 })),
  payload: fc.uint8Array({ minLength: 1, maxLength: 300 }),
});
const queueRecord = queued.map((record) => ({ record, bytes: encodeQueueRecord(record) }));

describe("outbox queue records under fuzzing", () => {
  it("decodeQueueRecord: a record of the sequence asked for, or undefined; never throws", () => {
    const input = fc.tuple(fc.oneof(anyRecord(queueRecord.map((q) => q.bytes)), queueRecord.map((q) => q.bytes)), fc.oneof(fc.nat({ max: 40 }), u32));
    fuzzProperty("store.queue-decode", 3000, input, ([bytes, sequence]) => {
      const record = decodeQueueRecord(bytes, sequence);
      if (record === undefined) return;
      expect(record.sequence).toBe(sequence);
      expect(record.topic.length).toBeGreaterThan(0);
      expect(utf8Encode(record.topic).length + record.payload.length).toBeLessThan(bytes.length);
      // An intact record is exactly what its encoder writes for what it holds.
      expect([...encodeQueueRecord(record)]).toEqual([...bytes]);
    });
  });

  it("a change the CRC detects is never read as a record; the drop totals alike", () => {
    fuzzProperty("store.queue-crc", 2000, fc.tuple(queueRecord, crcDetectable), ([{ record, bytes }, change]) => {
      expect(decodeQueueRecord(bytes, record.sequence)).toBeDefined();
      expect(decodeQueueRecord(change(bytes), record.sequence)).toBeUndefined();
    });
    const totals = fc.tuple(u32, u32).map(([full, corrupt]) => encodeDropTotals({ full, corrupt }));
    fuzzProperty("store.queue-totals", 2000, fc.oneof(anyBytes(40), fc.tuple(totals, crcDetectable).map(([t, change]) => change(t))), (bytes) => {
      const decoded = decodeDropTotals(bytes);
      if (decoded) expect([...encodeDropTotals(decoded)]).toEqual([...bytes]);
    });
  });

  it("at boot the outbox skips, deletes and counts every unreadable record and sends the others in order", () => {
    // Records 0..n-1 as the outbox writes them; some replaced by what a store could hold instead.
    const damage = fc.oneof(
      crcDetectable.map((change) => (bytes: Uint8Array) => change(bytes)),
      anyBytes(80).map((junk) => () => present(junk)),
      queued.map((other) => () => encodeQueueRecord({ ...other, sequence: 0xffffffff })), // intact, but another key's
    );
    const layout = fc.array(fc.tuple(queued, fc.option(damage, { nil: undefined })), { minLength: 1, maxLength: 12 });
    const strayKeys = fc.array(fc.constantFrom("ob.", "ob.zz", "ob.0000000g", "ob.000000001"), { maxLength: 2 });
    fuzzProperty("store.queue-boot", 300, fc.tuple(layout, strayKeys), ([records, strays]) => {
      const store = new MemoryStore();
      const intact: number[] = [];
      records.forEach(([message, damaged], sequence) => {
        const bytes = encodeQueueRecord({ ...message, sequence });
        store.commit([{ key: queueKey(sequence), value: damaged ? damaged(bytes) : bytes }]);
        if (!damaged) intact.push(sequence);
      });
      for (const key of new Set(strays)) store.commit([{ key, value: Uint8Array.of(1, 2, 3) }]);
      const corrupt = records.length - intact.length + new Set(strays).size;
      const transport = new LoopbackTransport();
      const outbox = new Outbox(store, transport, () => {}, { capacity: 64, budgetBytes: 1 << 20, ramBytes: 1 << 16, maxInFlight: 16 });
      try {
        outbox.load();
        outbox.pump();
      } catch (error) {
        throw new Error(`Outbox boot threw ${(error as Error).name}: ${(error as Error).message}`, { cause: error });
      }
      expect(outbox.stats.droppedCorrupt).toBe(corrupt);
      expect(transport.published.map((m) => [...m.payload])).toEqual(intact.map((sequence) => [...records[sequence]![0].payload]));
      const left = store.keys("ob.");
      for (const key of left) expect(decodeQueueRecord(store.get(key)!, sequenceOfKey(key) ?? -1)).toBeDefined();
    });
  });
});
