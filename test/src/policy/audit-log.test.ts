import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { encode as cbor2Encode } from "cbor2";
import { describe, expect, it } from "vitest";
import { AUDIT_CAPACITY, AUDIT_REPORT_ENTRIES, AUDIT_SENT_KEY, AUDIT_STORE_KEY, AuditLog, type AuditReport } from "../../../src/policy/audit-log.js";
import { AuditHasher, genesisHash } from "../../../src/policy/audit-chain.js";
import { auditRecordMaxBytes } from "../../../src/policy/audit-record.js";
import { REFUSALS_STORE_KEY } from "../../../src/policy/audit-refusals.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { crc32 } from "../../../src/wire/crc32.js";
import type { KeyValueStore, StoreWrite } from "../../../src/platform.js";
import { maxOverwriteBytes } from "../../../hosts/moddable/preference-store.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";

const T = 1_780_000_000;

/** The chain as docs/wire-format.md defines it, with Node's SHA-256 and cbor2: none of the node's code. */
function independentHashes(chain: string, entries: ReadonlyArray<{ seq: number; time: number; event: string; detail: string }>, prev = chain + "0".repeat(16)): string[] {
  let previous = Buffer.from(prev, "hex");
  return entries.map(({ seq, time, event, detail }) => {
    previous = createHash("sha256").update(cbor2Encode([seq, new Uint8Array(previous), time, event, detail])).digest().subarray(0, 16);
    return previous.toString("hex");
  });
}

/** A store that counts the commits touching a key. */
class CountingStore implements KeyValueStore {
  readonly inner = new MemoryStore();
  readonly writes = new Map<string, number>();
  get(key: string) {
    return this.inner.get(key);
  }
  keys(prefix: string) {
    return this.inner.keys(prefix);
  }
  commit(writes: readonly StoreWrite[]) {
    this.inner.commit(writes);
    for (const { key } of writes) this.writes.set(key, (this.writes.get(key) ?? 0) + 1);
  }
}

/** A health report as the node makes one: taken, its mark committed (with the outbox record), then reported. */
function report(log: AuditLog, store: KeyValueStore, time: number): AuditReport {
  const taken = log.takeReport(time);
  store.commit([taken.write]);
  log.reported(taken);
  return taken;
}

describe("the audit chain", () => {
  it("hashes the example of docs/wire-format.md", () => {
    const page = readFileSync(new URL("../../../docs/wire-format.md", import.meta.url), "utf8");
    const rows = [...page.matchAll(/^\| (\d) \| `([^`]+)` at (\d+) \| `([0-9a-f]+)` \| `([0-9a-f]{32})` \|$/gm)];
    expect(rows).toHaveLength(3);
    const hasher = new AuditHasher();
    let previous = genesisHash(Uint8Array.from(Buffer.from("0011223344556677", "hex")));
    for (const [, seq, text, time, input, hash] of rows) {
      const space = text!.indexOf(" ");
      const [event, detail] = [text!.slice(0, space), text!.slice(space + 1)];
      expect(Buffer.from(cbor2Encode([Number(seq), previous, Number(time), event, detail])).toString("hex")).toBe(input);
      previous = hasher.hash(Number(seq), previous, Number(time), event, detail);
      expect(Buffer.from(previous).toString("hex")).toBe(hash);
    }
  });

  it("starts with an audit-reset entry and chains every entry to the one before, as the wire format says", () => {
    const log = new AuditLog(new MemoryStore(), new SeededRandom("chain"));
    log.load(T);
    log.append(T + 1, "boot", "epoch 0");
    log.append(T + 2, "command-accepted", "rotate-epoch");
    log.append(0, "epoch-rotated", "command to 1"); // before the clock was set
    const { chain, seq, hash } = log.head;
    expect(chain).toMatch(/^[0-9a-f]{16}$/);
    expect(chain).not.toBe("0".repeat(16));
    expect(log.entries).toEqual([
      { seq: 0, time: T, event: "audit-reset", detail: "no record" },
      { seq: 1, time: T + 1, event: "boot", detail: "epoch 0" },
      { seq: 2, time: T + 2, event: "command-accepted", detail: "rotate-epoch" },
      { seq: 3, time: 0, event: "epoch-rotated", detail: "command to 1" },
    ]);
    expect(seq).toBe(3);
    expect(hash).toBe(independentHashes(chain, log.entries).at(-1));
    const taken = log.takeReport(T + 10);
    expect(taken).toMatchObject({ chain, seq: 3, head: hash, prev: chain + "0".repeat(16), lost: 0, pending: 0 });
  });

  it("keeps its chain across a reboot, and continues it", () => {
    const store = new MemoryStore();
    const first = new AuditLog(store, new SeededRandom("reboot"));
    first.load(T);
    first.append(T, "boot", "epoch 0");
    const rebooted = new AuditLog(store, new SeededRandom("another"));
    rebooted.load(T + 60);
    expect(rebooted.resetReason).toBeUndefined();
    expect(rebooted.head).toEqual(first.head);
    expect(rebooted.entries).toEqual(first.entries);
    rebooted.append(T + 60, "boot", "epoch 0");
    expect(rebooted.head.seq).toBe(2);
    expect(rebooted.head.hash).toBe(independentHashes(first.head.chain, rebooted.entries).at(-1));
  });

  it("never restarts silently: a missing, damaged, unreadable or old record starts a new chain that says why", () => {
    const cases: Array<[string, (store: MemoryStore) => void]> = [
      ["no record", (store) => store.commit([{ key: AUDIT_STORE_KEY, value: undefined }])],
      ["corrupt record", (store) => {
        const record = store.get(AUDIT_STORE_KEY)!;
        record[20]! ^= 0x01;
        store.commit([{ key: AUDIT_STORE_KEY, value: record }]);
      }],
      ["unreadable record", (store) => store.commit([{ key: AUDIT_STORE_KEY, value: withCrc(Uint8Array.of(0x82, 0x02, 0x63)) }])],
      ["record version 1", (store) => {
        const writer = new CborWriter(64);
        writer.array(2).int(1).array(1).array(3).int(T).text("boot").text("epoch 0");
        store.commit([{ key: AUDIT_STORE_KEY, value: withCrc(writer.written()) }]);
      }],
    ];
    for (const [reason, damage] of cases) {
      const store = new MemoryStore();
      const first = new AuditLog(store, new SeededRandom(reason));
      first.load(T);
      first.append(T, "boot", "epoch 0");
      damage(store);
      const second = new AuditLog(store, new SeededRandom(`${reason}/2`));
      second.load(T + 5);
      expect(second.resetReason, reason).toBe(reason);
      expect(second.entries, reason).toEqual([{ seq: 0, time: T + 5, event: "audit-reset", detail: reason }]);
      expect(second.head.chain, reason).not.toBe(first.head.chain);
      // the new chain is in the store at once: a second reboot continues it
      const third = new AuditLog(store);
      third.load(T + 9);
      expect(third.resetReason, reason).toBeUndefined();
      expect(third.head, reason).toEqual(second.head);
    }

    const unreadable = new MemoryStore();
    const failing: KeyValueStore = {
      get: () => {
        throw Object.assign(new Error("read failed"), { code: "EIO" });
      },
      keys: () => [],
      commit: (writes) => unreadable.commit(writes),
    };
    const log = new AuditLog(failing);
    log.load(T);
    expect(log.entries).toEqual([
      { seq: 0, time: T, event: "audit-reset", detail: "store read failed EIO" },
      { seq: 1, time: T, event: "refusals-lost", detail: "store read failed EIO" },
    ]);
  });

  it("starts a new chain when the record is behind what reports carried (it lost entries a report had)", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store, new SeededRandom("behind"));
    log.load(T);
    store.failCommitIn(0);
    log.append(T + 1, "boot", "epoch 0"); // the store refused it: it lives in RAM only
    expect(log.writeFailures).toBe(1);
    report(log, store, T + 900); // ... and a report carried it (its mark reached the store)
    const rebooted = new AuditLog(store, new SeededRandom("behind/2"));
    rebooted.load(T + 1000);
    expect(rebooted.resetReason).toBe("record behind reported 1");
  });

  it("cuts details to 48 printable ASCII characters, floors times, refuses event names that are not words", () => {
    const log = new AuditLog(new MemoryStore());
    log.append(12.9, "command-refused", "x".repeat(100));
    log.append(13, "boot", "é\nok");
    expect(log.entries.slice(1)).toEqual([
      { seq: 1, time: 12, event: "command-refused", detail: "x".repeat(48) },
      { seq: 2, time: 13, event: "boot", detail: "??ok" },
    ]);
    for (const event of ["Boot", "boot now", "", "x".repeat(25), "-boot"]) expect(() => log.append(14, event, "")).toThrow(RangeError);
  });

  it("counts an entry the store could not take, and keeps it for the health report", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store);
    log.load(T);
    store.failCommitIn(0);
    log.append(T + 7, "command-accepted", "rotate-epoch");
    expect(log.writeFailures).toBe(1);
    expect(log.takeReport(T + 900).entries.map((e) => e.event)).toEqual(["audit-reset", "command-accepted"]);
  });

  it("fits its largest record in one NVS commit", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store);
    for (let i = 0; i < AUDIT_CAPACITY + 3; i++) log.append(0xffffffff, "x".repeat(24), "y".repeat(60));
    const record = store.get(AUDIT_STORE_KEY)!;
    expect(record.length).toBeLessThanOrEqual(auditRecordMaxBytes(AUDIT_CAPACITY));
    expect(auditRecordMaxBytes(AUDIT_CAPACITY)).toBeLessThanOrEqual(maxOverwriteBytes(AUDIT_STORE_KEY));
  });
});

describe("what health reports carry of the chain", () => {
  it("hands each entry to one report, the hash before it and the head with it, at most 12 a report", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store, new SeededRandom("reports"));
    log.load(T);
    log.append(T, "boot", "epoch 0");
    const first = report(log, store, T + 900);
    expect(first.entries.map((e) => e.seq)).toEqual([0, 1]);
    const idle = report(log, store, T + 1800);
    expect(idle).toMatchObject({ seq: 1, head: first.head, prev: undefined, entries: [], pending: 0 });
    for (let i = 0; i < 20; i++) log.append(T + 2000 + i, "command-accepted", `set-window ${i}`);
    const busy = report(log, store, T + 2700);
    expect(busy.entries.map((e) => e.seq)).toEqual(Array.from({ length: AUDIT_REPORT_ENTRIES }, (_, i) => 2 + i));
    expect(busy).toMatchObject({ prev: first.head, pending: 20 - AUDIT_REPORT_ENTRIES });
    expect(busy.head).toBe(independentHashes(log.head.chain, busy.entries, first.head).at(-1));
    const rest = report(log, store, T + 3600);
    expect(rest.entries.map((e) => e.seq)).toEqual(Array.from({ length: 20 - AUDIT_REPORT_ENTRIES }, (_, i) => 2 + AUDIT_REPORT_ENTRIES + i));
    expect(rest).toMatchObject({ prev: busy.head, seq: 21, head: log.head.hash, pending: 0 });
  });

  it("carries again what no sealed report carried, after a reboot too; the mark goes with the report's commit", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store, new SeededRandom("mark"));
    log.load(T);
    log.append(T, "boot", "epoch 0");
    const unsealed = log.takeReport(T + 900); // sealing failed: neither its mark nor reported()
    expect(log.takeReport(T + 900).entries).toEqual(unsealed.entries);
    report(log, store, T + 900);
    log.append(T + 1000, "epoch-rotated", "time to 1");
    const queued = log.takeReport(T + 1800);
    log.reported(queued); // sealed and held in RAM (the store refused its commit): the mark did not reach the store
    expect(log.takeReport(T + 2700).entries).toEqual([]);
    const rebooted = new AuditLog(store);
    rebooted.load(T + 3000);
    expect(rebooted.takeReport(T + 3600).entries.map((e) => e.seq)).toEqual([2]); // carried again: it may have died with the RAM

    // Without a readable mark the ring is carried again whole: the collector checks the overlap.
    store.commit([{ key: AUDIT_SENT_KEY, value: Uint8Array.of(1, 2, 3, 4, 5) }]);
    const unmarked = new AuditLog(store);
    unmarked.load(T + 4000);
    expect(unmarked.takeReport(T + 4500)).toMatchObject({ prev: log.head.chain + "0".repeat(16), entries: expect.arrayContaining([expect.objectContaining({ seq: 0 })]) });
  });

  it("keeps 32 entries: evicts what was reported first, and counts what it had to evict unreported", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store, new SeededRandom("evict"));
    log.load(T);
    report(log, store, T);
    for (let i = 0; i < AUDIT_CAPACITY; i++) log.append(T + i, "boot", `epoch ${i}`);
    expect(log.entries[0]!.seq).toBe(1); // the reported reset went first
    expect(log.takeReport(T + 900).lost).toBe(0);
    for (let i = 0; i < 5; i++) log.append(T + 100 + i, "boot", `again ${i}`);
    const taken = report(log, store, T + 900);
    expect(taken.lost).toBe(5);
    expect(taken.entries[0]!.seq).toBe(6); // entries 1..5 were evicted before any report carried them
    const all = [...taken.entries];
    while (log.takeReport(T + 1000).entries.length > 0) all.push(...report(log, store, T + 1000).entries);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: AUDIT_CAPACITY }, (_, i) => 6 + i));
    expect(independentHashes(log.head.chain, all, taken.prev).at(-1)).toBe(log.head.hash);
    const rebooted = new AuditLog(store);
    rebooted.load(T + 2000);
    expect(rebooted.takeReport(T + 2000).lost).toBe(5);
  });
});

describe("refusals", () => {
  it("are tallied by cause, chained once per report, and never push an accepted change out", () => {
    const store = new CountingStore();
    const log = new AuditLog(store, new SeededRandom("flood"));
    log.load(T);
    report(log, store, T);
    for (let i = 0; i < 1000; i++) {
      if (i === 500) log.append(T + i, "command-accepted", "rotate-epoch");
      log.refused(T + i, i % 4 === 0 ? "malformed" : "authentication");
    }
    expect(log.refusals).toEqual([
      { cause: "malformed", count: 250, first: T, last: T + 996 },
      { cause: "authentication", count: 750, first: T + 1, last: T + 999 },
    ]);
    // Written when a cause first appears and at each power of two: 1, 2, 4, ... 128 and 512.
    expect(store.writes.get(REFUSALS_STORE_KEY)).toBe(8 + 10);
    const taken = report(log, store, T + 1800);
    expect(taken.entries.map((e) => `${e.event} ${e.detail}`)).toEqual([
      "command-accepted rotate-epoch",
      `refusals malformed 250 ${T} ${T + 996}`,
      `refusals authentication 750 ${T + 1} ${T + 999}`,
    ]);
    expect(log.refusals).toEqual([]);
    expect(store.get(REFUSALS_STORE_KEY)).toBeUndefined(); // the tally went into the chain in one commit
    expect(report(log, store, T + 2700).entries).toEqual([]);
  });

  it("survive a reboot, counted at least half", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store);
    log.load(T);
    for (let i = 0; i < 100; i++) log.refused(T + i, "replay");
    const rebooted = new AuditLog(store);
    rebooted.load(T + 200);
    expect(rebooted.refusals).toEqual([{ cause: "replay", count: 64, first: T, last: T + 63 }]);
  });

  it("fold into other beyond 11 causes, and a tally that cannot be read is said lost, once", () => {
    const log = new AuditLog(new MemoryStore());
    for (let i = 0; i < 15; i++) log.refused(T, `cause-${i}`);
    log.refused(T, "Not A Cause");
    const counts = log.refusals;
    expect(counts).toHaveLength(12);
    expect(counts.at(-1)).toEqual({ cause: "other", count: 5, first: T, last: T });

    const store = new MemoryStore();
    const first = new AuditLog(store);
    first.refused(T, "replay");
    store.commit([{ key: REFUSALS_STORE_KEY, value: Uint8Array.of(0x82, 0x01, 0x80, 0, 0, 0, 0) }]);
    const second = new AuditLog(store);
    second.load(T + 1);
    expect(second.entries.at(-1)).toMatchObject({ event: "refusals-lost", detail: "corrupt record" });
    const third = new AuditLog(store);
    third.load(T + 2);
    expect(third.entries.filter((e) => e.event === "refusals-lost")).toHaveLength(1);
  });
});

function withCrc(body: Uint8Array): Uint8Array {
  const record = new Uint8Array(body.length + 4);
  record.set(body);
  new DataView(record.buffer).setUint32(body.length, crc32(body));
  return record;
}
