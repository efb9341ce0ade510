import { describe, expect, it } from "vitest";
import {
  JOURNAL_KEY,
  JOURNAL_MAX_BYTES,
  JOURNAL_SEGMENT_PREFIX,
  JOURNAL_SEGMENTS_MAX,
  journalSegmentKey,
  PreferenceCommitError,
  PreferenceStore,
  StoreFormatError,
  journalBytes,
  maxOverwriteBytes,
  type PreferenceRecovery,
} from "../../../hosts/moddable/preference-store.js";
import { StoreLimitError } from "../../../src/store-contract.js";
import { Prng } from "../../../hosts/sim/prng.js";
import type { KeyValueStore, StoreWrite } from "../../../src/platform.js";
import { AuditLog, AUDIT_CAPACITY, AUDIT_STORE_KEY } from "../../../src/policy/audit-log.js";
import { openEncrypt0, parseEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { crc32 } from "../../../src/wire/crc32.js";
import { CHAIN_STORE_KEY, encodeChainRecord, provisioningWrites, ROOT_KEY_STORE_KEY } from "../../../src/wire/key-ratchet.js";
import { epochKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { decodeKid } from "../../../src/wire/kid.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { EmulatedNvs, PowerCut } from "../../../hosts/sim/emulated-nvs.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { STORE_VALUE_MAX_BYTES } from "../../../src/platform.js";
import { chunkedWrites, CHUNKS_MAX } from "../../../src/store-chunks.js";
import { disclosureFor, encodeDisclosure } from "../../../src/policy/disclosure.js";
import { applyPolicyUpdate } from "../../../src/policy/policy-update.js";
import { POLICY_UPDATE_MAX_BYTES } from "../../../src/policy/policy-update-bundle.js";
import { provisionedDisclosure, SIGNED_DISCLOSURE_STORE_KEY } from "../../../src/policy/signed-disclosure.js";
import { SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { bootConfig, policyUpdateKeys, provision, updateFor } from "../../support/policy-updates.js";
import { changeDocuments, STRENGTHENINGS } from "../../src/policy/policy-change-corpus.js";
import { referencePolicyJson } from "../../src/policy/policy-corpus.js";

const NS = "civicnode";
const hex = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes).toString("hex"));
const filled = (length: number, byte: number) => new Uint8Array(length).fill(byte);

function boot(nvs: EmulatedNvs): PreferenceStore {
  return new PreferenceStore(nvs.preference, NS);
}

/** The store's view of `keys`, as hex (undefined when absent). */
function view(store: KeyValueStore, keys: readonly string[]): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((key) => [key, hex(store.get(key))]));
}

function isPowerCut(error: unknown): boolean {
  return error instanceof PowerCut || (error instanceof PreferenceCommitError && error.cause instanceof PowerCut);
}

/** Runs `action` expecting it to end in a power cut, or to finish when the cut lies beyond it. */
function cutShort(nvs: EmulatedNvs, action: () => void): "cut" | "finished" {
  try {
    action();
  } catch (error) {
    if (!isPowerCut(error)) throw error;
    expect(nvs.powered).toBe(false);
    return "cut";
  }
  return "finished";
}

// A multi-key commit over a store that holds a, b and c: an overwrite, a deletion, a new key, and
// an overwrite with a longer value.
const KEYS = ["a", "b", "c", "d"];
const BEFORE: StoreWrite[] = [
  { key: "a", value: Uint8Array.of(1) },
  { key: "b", value: Uint8Array.of(2, 2) },
  { key: "c", value: Uint8Array.of(3, 3, 3) },
];
const COMMIT: StoreWrite[] = [
  { key: "a", value: Uint8Array.of(0x11) },
  { key: "b", value: undefined },
  { key: "d", value: Uint8Array.of(0x44) },
  { key: "c", value: filled(300, 0x33) },
];
const OLD = { a: "01", b: "0202", c: "030303", d: undefined };
const NEW = { a: "11", b: undefined, c: "33".repeat(300), d: "44" };

/** A booted store holding BEFORE; returns it with the operation count at which COMMIT starts. */
function seeded(): { nvs: EmulatedNvs; store: PreferenceStore; start: number } {
  const nvs = new EmulatedNvs();
  for (const { key, value } of BEFORE) nvs.writeBlob(NS, key, value!);
  const store = boot(nvs);
  return { nvs, store, start: nvs.operations };
}

/** The operations COMMIT takes without faults. */
const COMMIT_OPERATIONS = (() => {
  const { nvs, store, start } = seeded();
  store.commit(COMMIT);
  return nvs.operations - start;
})();

describe("PreferenceStore: the platform's store contract over Moddable Preference (ESP32 NVS)", () => {
  it("round-trips values stored raw as NVS blobs, and get() returns copies", () => {
    const nvs = new EmulatedNvs();
    const store = boot(nvs);
    expect(store.recovery).toBe("none");
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
    store.commit([{ key: "key.chain", value: secret }, { key: "seal.ctr", value: Uint8Array.of(9, 8, 7) }]);
    secret.fill(0); // what was committed is not kept by reference
    const first = store.get("key.chain")!;
    expect(first).toEqual(Uint8Array.from({ length: 32 }, (_, i) => i));
    first.fill(0);
    expect(hex(store.get("key.chain"))).toBe(hex(Uint8Array.from({ length: 32 }, (_, i) => i)));
    // In NVS: the raw bytes as blobs, no journal left, nothing else.
    expect(nvs.item(NS, "seal.ctr")).toEqual({ type: "blob", bytes: Uint8Array.of(9, 8, 7) });
    expect(nvs.keys(NS)).toEqual(["key.chain", "seal.ctr"]);
    const again = boot(nvs);
    expect(again.recovery).toBe("none");
    expect(again.get("seal.ctr")).toEqual(Uint8Array.of(9, 8, 7));
    expect(again.get("absent")).toBeUndefined();
    expect(boot(new EmulatedNvs()).get("anything")).toBeUndefined(); // a namespace NVS has never seen
  });

  it("reads what a provisioning tool wrote into NVS, and refuses a value that is not a blob", () => {
    const nvs = new EmulatedNvs();
    const root = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
    nvs.writeBlob(NS, ROOT_KEY_STORE_KEY, root); // nvs_partition_gen.py, encoding hex2bin
    nvs.writeString(NS, "key.id", "0011223344556677"); // encoding string: a mistake
    const store = boot(nvs);
    expect(store.get(ROOT_KEY_STORE_KEY)).toEqual(root);
    expect(() => store.get("key.id")).toThrow(StoreFormatError);
    // Overwriting it with bytes repairs it (through the journal: the key exists).
    store.commit([{ key: "key.id", value: Uint8Array.of(1, 2) }]);
    expect(store.get("key.id")).toEqual(Uint8Array.of(1, 2));
  });

  it("deletes, alone or within a commit; deleting an absent key is harmless", () => {
    const { nvs, store } = seeded();
    store.commit([{ key: "a", value: undefined }]);
    store.commit([{ key: "b", value: undefined }, { key: "c", value: Uint8Array.of(7) }]);
    store.commit([{ key: "never", value: undefined }]);
    expect(view(boot(nvs), KEYS)).toEqual({ a: undefined, b: undefined, c: "07", d: undefined });
    expect(nvs.keys(NS)).toEqual(["c"]);
  });

  it("uses the journal only where one NVS operation is not atomic", () => {
    const { nvs, store } = seeded();
    const journaled = (writes: StoreWrite[]) => {
      const from = nvs.log.length;
      store.commit(writes);
      return nvs.log.slice(from);
    };
    // A new key: the erase Preference.set() does first removes nothing, the blob write is atomic.
    expect(journaled([{ key: "e", value: Uint8Array.of(5) }])).toEqual(["read e", "erase e", "write e"]);
    // A deletion: one nvs_erase_key.
    expect(journaled([{ key: "e", value: undefined }])).toEqual(["erase e"]);
    // The same value again: nothing written.
    expect(journaled([{ key: "a", value: Uint8Array.of(1) }])).toEqual(["read a"]);
    // An overwrite: Preference.set() would erase the key before writing it, so the journal.
    expect(journaled([{ key: "a", value: Uint8Array.of(2) }])).toEqual([
      "read a",
      "erase ~journal",
      "write ~journal",
      "read ~journal",
      "erase a",
      "write a",
      "erase ~journal",
    ]);
    expect(COMMIT_OPERATIONS).toBe(11); // 3 journal + 1 read-back + 2 + 1 + 2 + 2 applying + 1 delete
  });

  it("refuses, before writing anything, what NVS or the journal cannot hold", () => {
    const { nvs, store } = seeded();
    const before = nvs.operations;
    const refused = (writes: StoreWrite[]) => expect(() => store.commit(writes)).toThrow(StoreLimitError);
    refused([{ key: "sixteen-chars-xx", value: Uint8Array.of(1) }]);
    refused([{ key: "Upper", value: Uint8Array.of(1) }]);
    refused([{ key: JOURNAL_KEY, value: Uint8Array.of(1) }]);
    refused([{ key: journalSegmentKey(1), value: Uint8Array.of(1) }]);
    refused([{ key: "big", value: new Uint8Array(4001) }]);
    refused([{ key: "ok", value: Uint8Array.of(1) }, { key: "", value: Uint8Array.of(1) }]);
    refused([{ key: "empty", value: new Uint8Array(0) }]);
    // Five values of 3,300 bytes: each fits NVS, their journal (over four values) does not.
    const five = ["v", "w", "x", "y", "z"].map((key, i) => ({ key, value: filled(3300, i + 1) }));
    expect(journalBytes(five)).toBe(16_530);
    expect(journalBytes(five)).toBeGreaterThan(JOURNAL_MAX_BYTES);
    refused(five);
    expect(() => store.commit(five)).toThrow(/needs a 16530-byte journal, more than 16000 \(4 NVS values\)/);
    expect(nvs.operations).toBe(before); // not even read
    expect(() => store.get(JOURNAL_KEY)).toThrow(StoreLimitError);
    expect(() => store.get(journalSegmentKey(1))).toThrow(StoreLimitError);
    expect(() => new PreferenceStore(nvs.preference, "civicnode-store1")).toThrow(StoreLimitError); // 16 characters

    // 4,000 bytes fit a new key (one atomic set), and now replace an existing key too: the journal
    // of that overwrite spans two values.
    store.commit([{ key: "big", value: filled(4000, 7) }]);
    expect(maxOverwriteBytes("big")).toBe(4000);
    store.commit([{ key: "big", value: filled(4000, 8) }]);
    expect(hex(boot(nvs).get("big"))).toBe("08".repeat(4000));
    expect(view(boot(nvs), KEYS)).toEqual(OLD);
    expect(nvs.keys(NS)).toEqual(["a", "b", "big", "c"]);
  });

  it("shows why: one Preference.set() cut between its erase and its write leaves the key absent", () => {
    const nvs = new EmulatedNvs();
    nvs.writeBlob(NS, "key.chain", Uint8Array.of(1));
    nvs.cutPowerAt(nvs.operations + 1); // the write after the erase
    expect(() => nvs.preference.set(NS, "key.chain", Uint8Array.of(2).buffer)).toThrow(PowerCut);
    nvs.powerOn();
    expect(nvs.preference.get(NS, "key.chain")).toBeUndefined();
  });

  it("keeps a single-key overwrite atomic across a power cut at every NVS operation", () => {
    const chain0 = encodeChainRecord(4, 100, filled(32, 0xaa));
    const chain1 = encodeChainRecord(5, 101, filled(32, 0xbb));
    const outcomes = new Set<string | undefined>();
    for (let n = 0; ; n++) {
      const nvs = new EmulatedNvs();
      nvs.writeBlob(NS, CHAIN_STORE_KEY, chain0);
      const store = boot(nvs);
      nvs.cutPowerAt(nvs.operations + n);
      const result = cutShort(nvs, () => store.commit([{ key: CHAIN_STORE_KEY, value: chain1 }]));
      nvs.powerOn();
      const after = hex(boot(nvs).get(CHAIN_STORE_KEY));
      expect([hex(chain0), hex(chain1)], `cut at operation ${n}`).toContain(after);
      outcomes.add(after);
      if (result === "finished") break;
    }
    expect(outcomes).toEqual(new Set([hex(chain0), hex(chain1)]));
  });

  it("applies a multi-key commit all or nothing, whichever NVS operation a power cut hits", () => {
    const seen: Record<string, number> = { old: 0, new: 0 };
    for (let n = 0; n <= COMMIT_OPERATIONS; n++) {
      const { nvs, store, start } = seeded();
      nvs.cutPowerAt(start + n);
      expect(cutShort(nvs, () => store.commit(COMMIT))).toBe(n < COMMIT_OPERATIONS ? "cut" : "finished");
      nvs.powerOn();
      const rebooted = boot(nvs);
      const state = view(rebooted, KEYS);
      expect([OLD, NEW], `cut at operation ${n}`).toContainEqual(state);
      seen[JSON.stringify(state) === JSON.stringify(OLD) ? "old" : "new"]!++;
      // After the reboot NVS holds exactly the state: no journal, no stray key.
      expect(nvs.keys(NS)).toEqual(KEYS.filter((key) => state[key] !== undefined));
      // Until the journal's one blob write (operation 1) nothing changed; from then on the commit
      // stands, also when the cut hits the read-back before any key was touched.
      expect(state, `cut at operation ${n}`).toEqual(n <= 1 ? OLD : NEW);
      expect(rebooted.recovery).toBe(n <= 1 || n === COMMIT_OPERATIONS ? "none" : "replayed");
    }
    expect(seen).toEqual({ old: 2, new: COMMIT_OPERATIONS - 1 });
  });

  it("stays consistent when the power fails again while the journal is replayed at boot", () => {
    let cases = 0;
    for (let n = 2; n < COMMIT_OPERATIONS; n++) {
      // Measure the replay after a cut at operation n.
      const probe = seeded();
      probe.nvs.cutPowerAt(probe.start + n);
      cutShort(probe.nvs, () => probe.store.commit(COMMIT));
      probe.nvs.powerOn();
      const replayStart = probe.nvs.operations;
      expect(boot(probe.nvs).recovery).toBe("replayed");
      const replayOperations = probe.nvs.operations - replayStart;

      for (let m = 0; m < replayOperations; m++) {
        const { nvs, store, start } = seeded();
        nvs.cutPowerAt(start + n);
        cutShort(nvs, () => store.commit(COMMIT));
        nvs.powerOn();
        nvs.cutPowerAt(nvs.operations + m);
        let recovery: PreferenceRecovery | "cut" = "cut";
        cutShort(nvs, () => (recovery = boot(nvs).recovery));
        expect(nvs.powered).toBe(false);
        expect(["cut", "deferred"]).toContain(recovery);
        nvs.powerOn();
        const rebooted = boot(nvs);
        expect(rebooted.recovery).toBe("replayed");
        expect(view(rebooted, KEYS), `cut at ${n}, then at ${m} of the replay`).toEqual(NEW);
        expect(nvs.item(NS, JOURNAL_KEY)).toBeUndefined();
        cases++;
      }
    }
    expect(cases).toBeGreaterThan(30);
  });

  it("discards a journal that is corrupt, truncated or not a blob, and applies nothing of it", () => {
    // A journal that was verified complete, then damaged before any key was touched.
    const { nvs: probe, store, start } = seeded();
    probe.cutPowerAt(start + 3); // the first operation after the read-back
    cutShort(probe, () => store.commit(COMMIT));
    const journal = probe.blob(NS, JOURNAL_KEY)!;
    expect(journal.length).toBe(journalBytes(COMMIT));

    const flipped = journal.slice();
    flipped[journal.length - 10]! ^= 0x01; // a byte of c's value: the format alone would not notice
    const wrongVersion = journal.slice();
    wrongVersion[2] = 2;
    new DataView(wrongVersion.buffer).setUint32(wrongVersion.length - 4, crc32(wrongVersion, 0, wrongVersion.length - 4));
    const damaged: Array<(nvs: EmulatedNvs) => void> = [
      (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, flipped),
      (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, journal.subarray(0, journal.length >> 1)),
      (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, wrongVersion), // intact CRC, unknown version
      (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, Uint8Array.of(0xff)),
      (nvs) => nvs.writeString(NS, JOURNAL_KEY, "not a journal"),
    ];
    for (const damage of damaged) {
      const { nvs } = seeded();
      damage(nvs);
      const recoveries: string[] = [];
      const rebooted = new PreferenceStore(nvs.preference, NS, { onRecovery: (recovery) => recoveries.push(recovery) });
      expect(rebooted.recovery).toBe("discarded");
      expect(recoveries).toEqual(["discarded"]);
      expect(view(rebooted, KEYS)).toEqual(OLD);
      expect(nvs.item(NS, JOURNAL_KEY)).toBeUndefined();
    }
    // The undamaged journal replays.
    const { nvs } = seeded();
    nvs.writeBlob(NS, JOURNAL_KEY, journal);
    expect(view(boot(nvs), KEYS)).toEqual(NEW);
  });

  it("when NVS fails (full, flash error) at any operation: the commit throws, and is all-old or all-new now and after a reboot", () => {
    const committed = new Set<string>();
    for (let n = 0; n < COMMIT_OPERATIONS; n++) {
      for (const then of ["reboot", "commit again"] as const) {
        const { nvs, store, start } = seeded();
        nvs.failAt(start + n);
        let error: unknown;
        try {
          store.commit(COMMIT);
        } catch (thrown) {
          error = thrown;
        }
        const now = view(store, KEYS);
        if (error === undefined) {
          // Only a failed erase inside Preference.set(), which Moddable does not check.
          expect(nvs.log[start + n], `failure at operation ${n}`).toMatch(/^erase /);
          expect(now).toEqual(NEW);
        } else {
          expect(error).toBeInstanceOf(PreferenceCommitError);
          const flag = (error as PreferenceCommitError).committed;
          committed.add(String(flag));
          expect(now, `failure at operation ${n}`).toEqual(flag ? NEW : OLD);
        }
        if (then === "reboot") {
          // A reboot shows what the store already showed.
          expect(view(boot(nvs), KEYS), `failure at operation ${n}`).toEqual(now);
        } else {
          // The same store goes on: its next commit first finishes a pending journal, whose
          // journal key its own journal then reuses.
          store.commit([{ key: "a", value: Uint8Array.of(0xaa) }, { key: "e", value: Uint8Array.of(0xee) }]);
          const later = boot(nvs);
          expect(later.recovery).toBe("none");
          expect(view(later, [...KEYS, "e"]), `failure at operation ${n}`).toEqual({ ...now, a: "aa", e: "ee" });
        }
      }
    }
    expect(committed).toEqual(new Set(["false", "true"]));
  });

  it("finishes at boot a journal a failing NVS could not apply, and serves it meanwhile", () => {
    const { nvs, store, start } = seeded();
    nvs.failAt(start + 4); // the write of a
    expect(() => store.commit(COMMIT)).toThrow(PreferenceCommitError);
    expect(nvs.item(NS, "a")).toBeUndefined(); // Preference.set() erased it before failing
    expect(view(store, KEYS)).toEqual(NEW);
    expect(nvs.item(NS, JOURNAL_KEY)).toBeDefined();
    // A boot whose replay fails too defers it and still shows the new state.
    nvs.failAt(nvs.operations + 2); // read ~journal, erase a, write a
    const deferred = boot(nvs);
    expect(deferred.recovery).toBe("deferred");
    expect(view(deferred, KEYS)).toEqual(NEW);
    expect(boot(nvs).recovery).toBe("replayed");
    expect(nvs.keys(NS)).toEqual(["a", "c", "d"]);
  });

  it("lists its keys by prefix: never the journal, and a journal not yet applied as if it were", () => {
    const { nvs, store, start } = seeded();
    expect(store.keys("").sort()).toEqual(["a", "b", "c"]);
    nvs.failAt(start + 4); // the write of a: the journal stands, not yet applied
    expect(() => store.commit(COMMIT)).toThrow(PreferenceCommitError);
    expect(nvs.keys(NS)).toContain(JOURNAL_KEY);
    expect(store.keys("").sort()).toEqual(["a", "c", "d"]);
    expect(store.keys("d")).toEqual(["d"]);
    expect(boot(nvs).keys("").sort()).toEqual(["a", "c", "d"]);
  });

  it("applies nothing when NVS drops the journal write without an error", () => {
    const { nvs, store, start } = seeded();
    nvs.dropAt(start + 1); // "write ~journal" reports success, stores nothing
    let error: unknown;
    try {
      store.commit(COMMIT);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(PreferenceCommitError);
    expect((error as PreferenceCommitError).committed).toBe(false);
    expect(nvs.log.slice(start)).toEqual(["erase ~journal", "write ~journal", "read ~journal", "erase ~journal"]);
    expect(view(store, KEYS)).toEqual(OLD);
    expect(view(boot(nvs), KEYS)).toEqual(OLD);
  });
});

// --- a journal over several values ------------------------------------------------------------------

const POLICY_KEY = SIGNED_POLICY_STORE_KEY;
const DISCLOSURE_KEY = SIGNED_DISCLOSURE_STORE_KEY;
const DISCLOSURE_CHUNKS = Array.from({ length: CHUNKS_MAX }, (_, i) => `${DISCLOSURE_KEY}.${i}`);

/** The state `keys` are in after `before` and then `commit`, as hex (a model to compare NVS with). */
function applied(before: readonly StoreWrite[], commit: readonly StoreWrite[], keys: readonly string[]): Record<string, string | undefined> {
  const state = new Map<string, Uint8Array | undefined>();
  for (const { key, value } of [...before, ...commit]) state.set(key, value);
  return Object.fromEntries(keys.map((key) => [key, hex(state.get(key))]));
}

/** A booted store holding `before`, and the operation count at which the next commit starts. */
function seededWith(before: readonly StoreWrite[]): { nvs: EmulatedNvs; store: PreferenceStore; start: number } {
  const nvs = new EmulatedNvs();
  for (const { key, value } of before) if (value !== undefined) nvs.writeBlob(NS, key, value);
  const store = boot(nvs);
  return { nvs, store, start: nvs.operations };
}

/** The journal's keys NVS holds (none once a boot has finished or discarded a journal). */
const journalKeysIn = (nvs: EmulatedNvs) => nvs.keys(NS).filter((key) => key.startsWith("~"));

interface LargeCommit {
  readonly name: string;
  readonly before: readonly StoreWrite[];
  readonly commit: readonly StoreWrite[];
  readonly keys: readonly string[];
  readonly segments: number;
}

// A store as a node of the reference street holds it: its signed policy (2,726 bytes) and signed
// disclosure (4,277 bytes, in two chunks: src/store-chunks.ts), and a counter.
const STREET_BEFORE: StoreWrite[] = [
  { key: POLICY_KEY, value: filled(2726, 0x01) },
  ...chunkedWrites(DISCLOSURE_KEY, filled(4277, 0x02)).filter(({ value }) => value !== undefined),
  { key: "seal.ctr", value: Uint8Array.of(9) },
];
const LARGE_KEYS = [POLICY_KEY, ...DISCLOSURE_CHUNKS, "seal.ctr"];
const LARGE: readonly LargeCommit[] = [
  {
    // The commit of applyPolicyUpdate (src/policy/policy-update.ts) for an update of about that size.
    name: "a policy update's commit (7,152 bytes of values)",
    before: STREET_BEFORE,
    commit: [{ key: POLICY_KEY, value: filled(2801, 0x11) }, ...chunkedWrites(DISCLOSURE_KEY, filled(4350, 0x22))],
    keys: LARGE_KEYS,
    segments: 2,
  },
  {
    // The largest: a policy of one whole value and a disclosure as large as the update's bound leaves.
    name: "the largest policy update's commit (12,292 bytes of values)",
    before: STREET_BEFORE,
    commit: [{ key: POLICY_KEY, value: filled(STORE_VALUE_MAX_BYTES, 0x33) }, ...chunkedWrites(DISCLOSURE_KEY, filled(POLICY_UPDATE_MAX_BYTES - STORE_VALUE_MAX_BYTES, 0x44))],
    keys: LARGE_KEYS,
    segments: 4,
  },
];
const STREET_UPDATE = LARGE[0]!;

/** The NVS operations `commit` takes over `before` without faults. */
function cleanLog(c: LargeCommit): string[] {
  const { nvs, store, start } = seededWith(c.before);
  store.commit(c.commit);
  return nvs.log.slice(start);
}

/** The journal `c` leaves in NVS when the power fails right after its head was read back: its head and segments. */
function completeJournal(c: LargeCommit): { head: Uint8Array; segments: Uint8Array[] } {
  const { nvs, store, start } = seededWith(c.before);
  nvs.cutPowerAt(start + cleanLog(c).indexOf("read ~journal") + 1);
  cutShort(nvs, () => store.commit(c.commit));
  const segments = Array.from({ length: c.segments }, (_, i) => nvs.blob(NS, journalSegmentKey(i + 1))!);
  return { head: nvs.blob(NS, JOURNAL_KEY)!, segments };
}

/** `bytes` with its trailing CRC-32 recomputed. */
function recrc(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out, 0, out.length - 4));
  return out;
}

describe("PreferenceStore: a commit larger than one NVS value (a journal in segments under one head)", () => {
  it("fits the largest commit the node makes, a policy update's, and refuses what is beyond four values", () => {
    // policy-update.ts commits the signed policy and the disclosure's CHUNKS_MAX chunks; both come
    // out of one update of at most POLICY_UPDATE_MAX_BYTES.
    for (const policyBytes of [1, 2726, STORE_VALUE_MAX_BYTES]) {
      const writes = [{ key: POLICY_KEY, value: filled(policyBytes, 1) }, ...chunkedWrites(DISCLOSURE_KEY, filled(POLICY_UPDATE_MAX_BYTES - policyBytes, 2))];
      expect(journalBytes(writes)).toBeLessThanOrEqual(12_378);
    }
    expect(journalBytes(LARGE[1]!.commit)).toBe(12_378);
    expect(JOURNAL_MAX_BYTES).toBe(JOURNAL_SEGMENTS_MAX * STORE_VALUE_MAX_BYTES);
    expect(journalBytes(STREET_UPDATE.commit)).toBe(7_241);
  });

  it("writes the segments, verified, then the head (the commit point), applies, then deletes the head and the segments", () => {
    const { nvs, store, start } = seededWith(STREET_UPDATE.before);
    store.commit(STREET_UPDATE.commit);
    expect(nvs.log.slice(start)).toEqual([
      "erase ~journal.1",
      "write ~journal.1",
      "read ~journal.1",
      "erase ~journal.2",
      "write ~journal.2",
      "read ~journal.2",
      "erase ~journal",
      "write ~journal",
      "read ~journal",
      "erase policy.signed",
      "write policy.signed",
      "erase disclosure.0",
      "write disclosure.0",
      "erase disclosure.1",
      "write disclosure.1",
      "erase disclosure.2",
      "erase disclosure.3",
      "erase ~journal",
      "erase ~journal.1",
      "erase ~journal.2",
    ]);
    expect(nvs.keys(NS)).toEqual([...LARGE_KEYS].filter((key) => key !== "disclosure.2" && key !== "disclosure.3").sort());
    const rebooted = boot(nvs);
    expect(rebooted.recovery).toBe("none");
    expect(view(rebooted, LARGE_KEYS)).toEqual(applied(STREET_UPDATE.before, STREET_UPDATE.commit, LARGE_KEYS));

    // In NVS, while it stood: segments of one value each that together are a version-1 journal,
    // and a head of version 2 that names them.
    const { head, segments } = completeJournal(STREET_UPDATE);
    expect(segments.map((segment) => segment.length)).toEqual([4000, 3241]);
    const journal = Buffer.concat(segments);
    expect([...journal.subarray(0, 6)]).toEqual([0x43, 0x4a, 1, 0, 0, STREET_UPDATE.commit.length]);
    expect(journal.readUInt32BE(journal.length - 4)).toBe(crc32(journal, 0, journal.length - 4));
    expect(head.length).toBe(8 + 6 * 2);
    expect([...head.subarray(0, 4)]).toEqual([0x43, 0x4a, 2, 2]);
    const headView = new DataView(head.buffer);
    expect([headView.getUint16(4), headView.getUint32(6), headView.getUint16(10), headView.getUint32(12)]).toEqual([4000, crc32(segments[0]!), 3241, crc32(segments[1]!)]);
    expect(headView.getUint32(16)).toBe(crc32(head, 0, 16));
  });

  for (const c of LARGE) {
    it(`${c.name}: all old until the head's blob write, all new from then on, whichever NVS operation a power cut hits`, () => {
      const log = cleanLog(c);
      expect(log.filter((entry) => entry.startsWith(`write ${JOURNAL_SEGMENT_PREFIX}`))).toHaveLength(c.segments);
      const headWrite = log.indexOf("write ~journal");
      const headErase = log.lastIndexOf("erase ~journal");
      const before = applied(c.before, [], c.keys);
      const after = applied(c.before, c.commit, c.keys);
      const present = (state: Record<string, string | undefined>) => c.keys.filter((key) => state[key] !== undefined).sort();
      for (let n = 0; n <= log.length; n++) {
        const { nvs, store, start } = seededWith(c.before);
        nvs.cutPowerAt(start + n);
        cutShort(nvs, () => store.commit(c.commit));
        // A cut while the segments are deleted ends no commit: that garbage is left for the boot.
        expect(nvs.powered, `cut at operation ${n}`).toBe(n === log.length);
        nvs.powerOn();
        const rebooted = boot(nvs);
        const state = view(rebooted, c.keys);
        expect(state, `cut at operation ${n} (${log[n]})`).toEqual(n <= headWrite ? before : after);
        expect(rebooted.recovery, `cut at operation ${n}`).toBe(n > headWrite && n <= headErase ? "replayed" : "none");
        // After the boot NVS holds exactly the state: no head, no segment, no stray key.
        expect(journalKeysIn(nvs)).toEqual([]);
        expect(nvs.keys(NS)).toEqual(present(state));
      }
    });

    it(`${c.name}: stays all new when the power fails again while the boot replays it`, () => {
      const log = cleanLog(c);
      let cases = 0;
      for (let n = log.indexOf("write ~journal") + 1; n <= log.lastIndexOf("erase ~journal"); n++) {
        const cutCommit = () => {
          const { nvs, store, start } = seededWith(c.before);
          nvs.cutPowerAt(start + n);
          cutShort(nvs, () => store.commit(c.commit));
          nvs.powerOn();
          return nvs;
        };
        const probe = cutCommit();
        const replayStart = probe.operations;
        expect(boot(probe).recovery).toBe("replayed");
        const replayOperations = probe.operations - replayStart;
        for (let m = 0; m < replayOperations; m++) {
          const nvs = cutCommit();
          nvs.cutPowerAt(nvs.operations + m);
          cutShort(nvs, () => boot(nvs));
          expect(nvs.powered).toBe(false);
          nvs.powerOn();
          expect(view(boot(nvs), c.keys), `cut at ${n}, then at ${m} of the replay`).toEqual(applied(c.before, c.commit, c.keys));
          expect(journalKeysIn(nvs)).toEqual([]);
          cases++;
        }
      }
      expect(cases).toBeGreaterThan(100);
    });
  }

  it("when NVS fails (full, flash error) at any operation: the commit throws, and is all-old or all-new now and after a reboot", () => {
    const c = STREET_UPDATE;
    const log = cleanLog(c);
    const before = applied(c.before, [], c.keys);
    const after = applied(c.before, c.commit, c.keys);
    const committed = new Set<string>();
    for (let n = 0; n < log.length; n++) {
      for (const then of ["reboot", "commit again"] as const) {
        const { nvs, store, start } = seededWith(c.before);
        nvs.failAt(start + n);
        let error: unknown;
        try {
          store.commit(c.commit);
        } catch (thrown) {
          error = thrown;
        }
        const now = view(store, c.keys);
        if (error === undefined) {
          // A failed erase inside Preference.set(), which Moddable does not check, or of a segment
          // once the commit is done (garbage the next boot deletes).
          expect(log[n], `failure at operation ${n}`).toMatch(/^erase /);
          expect(now).toEqual(after);
        } else {
          expect(error).toBeInstanceOf(PreferenceCommitError);
          const flag = (error as PreferenceCommitError).committed;
          committed.add(String(flag));
          expect(now, `failure at operation ${n} (${log[n]})`).toEqual(flag ? after : before);
        }
        if (then === "reboot") {
          expect(view(boot(nvs), c.keys), `failure at operation ${n}`).toEqual(now);
        } else {
          store.commit([{ key: "seal.ctr", value: Uint8Array.of(10) }, { key: "e", value: Uint8Array.of(0xee) }]);
          const later = boot(nvs);
          expect(later.recovery).toBe("none");
          expect(view(later, [...c.keys, "e"]), `failure at operation ${n}`).toEqual({ ...now, "seal.ctr": "0a", e: "ee" });
        }
        expect(journalKeysIn(nvs)).toEqual([]);
      }
    }
    expect(committed).toEqual(new Set(["false", "true"]));
  });

  it("discards a head that is corrupt, or whose segments are missing, damaged or foreign, and applies nothing of it", () => {
    const c = STREET_UPDATE;
    const { head, segments } = completeJournal(c);
    const [first, second] = segments as [Uint8Array, Uint8Array];
    const other = completeJournal(LARGE[1]!);
    const flipped = (bytes: Uint8Array, at: number) => {
      const out = bytes.slice();
      out[at]! ^= 0x01;
      return out;
    };
    const headWith = (edit: (bytes: Uint8Array) => void) => {
      const out = head.slice();
      edit(out);
      return recrc(out);
    };
    // Segments whose CRCs the head holds, but that are not a journal together.
    const noise = Uint8Array.from({ length: 300 }, (_, i) => (i * 37) & 0xff);
    const noiseHead = (() => {
      const out = new Uint8Array(8 + 6);
      out.set([0x43, 0x4a, 2, 1]);
      new DataView(out.buffer).setUint16(4, noise.length);
      new DataView(out.buffer).setUint32(6, crc32(noise));
      return recrc(out);
    })();
    const damaged: Record<string, (nvs: EmulatedNvs) => void> = {
      "a byte of segment 2": (nvs) => nvs.writeBlob(NS, journalSegmentKey(2), flipped(second, 100)),
      "segment 1 one byte short": (nvs) => nvs.writeBlob(NS, journalSegmentKey(1), first.subarray(0, first.length - 1)),
      "segment 2 missing": (nvs) => nvs.preference.delete(NS, journalSegmentKey(2)),
      "segment 1 a string": (nvs) => nvs.writeString(NS, journalSegmentKey(1), "not a segment"),
      "segments swapped": (nvs) => {
        nvs.writeBlob(NS, journalSegmentKey(1), second);
        nvs.writeBlob(NS, journalSegmentKey(2), first);
      },
      "segment 2 of another journal": (nvs) => nvs.writeBlob(NS, journalSegmentKey(2), other.segments[1]!),
      "a byte of the head": (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, flipped(head, 7)),
      "the head truncated": (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, head.subarray(0, 14)),
      "the head of version 3 (intact CRC)": (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, headWith((out) => (out[2] = 3))),
      "the head naming no segment (intact CRC)": (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, recrc(Uint8Array.of(0x43, 0x4a, 2, 0, 0, 0, 0, 0))),
      [`the head naming ${JOURNAL_SEGMENTS_MAX + 1} segments (intact CRC)`]: (nvs) => {
        const out = new Uint8Array(8 + 6 * (JOURNAL_SEGMENTS_MAX + 1));
        out.set(head.subarray(0, 16));
        out[3] = JOURNAL_SEGMENTS_MAX + 1;
        nvs.writeBlob(NS, JOURNAL_KEY, recrc(out));
      },
      "the head naming segment 2 one byte longer (intact CRC)": (nvs) => nvs.writeBlob(NS, JOURNAL_KEY, headWith((out) => new DataView(out.buffer).setUint16(10, second.length + 1))),
      "the head a string": (nvs) => nvs.writeString(NS, JOURNAL_KEY, "not a head"),
      "segments that are no journal, under a head that names them": (nvs) => {
        nvs.writeBlob(NS, JOURNAL_KEY, noiseHead);
        nvs.writeBlob(NS, journalSegmentKey(1), noise);
      },
    };
    for (const [name, damage] of Object.entries(damaged)) {
      const { nvs } = seededWith(c.before);
      nvs.writeBlob(NS, JOURNAL_KEY, head);
      segments.forEach((segment, i) => nvs.writeBlob(NS, journalSegmentKey(i + 1), segment));
      damage(nvs);
      const recoveries: string[] = [];
      const rebooted = new PreferenceStore(nvs.preference, NS, { onRecovery: (recovery) => recoveries.push(recovery) });
      expect(rebooted.recovery, name).toBe("discarded");
      expect(recoveries).toEqual(["discarded"]);
      expect(view(rebooted, c.keys), name).toEqual(applied(c.before, [], c.keys));
      expect(journalKeysIn(nvs), name).toEqual([]);
    }
    // The undamaged journal replays.
    const { nvs } = seededWith(c.before);
    nvs.writeBlob(NS, JOURNAL_KEY, head);
    segments.forEach((segment, i) => nvs.writeBlob(NS, journalSegmentKey(i + 1), segment));
    expect(boot(nvs).recovery).toBe("replayed");
    expect(view(boot(nvs), c.keys)).toEqual(applied(c.before, c.commit, c.keys));
    expect(journalKeysIn(nvs)).toEqual([]);
  });

  it("deletes at boot segments that no head names, applying nothing of them; a version-1 journal beside them still replays", () => {
    const c = STREET_UPDATE;
    const { segments } = completeJournal(c);
    const plantOrphans = (nvs: EmulatedNvs) => {
      segments.forEach((segment, i) => nvs.writeBlob(NS, journalSegmentKey(i + 1), segment));
      nvs.writeBlob(NS, journalSegmentKey(4), Uint8Array.of(1, 2, 3));
      nvs.writeString(NS, `${JOURNAL_SEGMENT_PREFIX}9`, "stray");
    };
    const { nvs, store } = seededWith(c.before);
    plantOrphans(nvs);
    expect(store.keys("").sort()).toEqual(nvs.keys(NS).filter((key) => !key.startsWith("~"))); // never listed
    const recoveries: string[] = [];
    const rebooted = new PreferenceStore(nvs.preference, NS, { onRecovery: (recovery) => recoveries.push(recovery) });
    expect(rebooted.recovery).toBe("none"); // a commit cut before its commit point: nothing happened
    expect(recoveries).toEqual([]);
    expect(view(rebooted, c.keys)).toEqual(applied(c.before, [], c.keys));
    expect(journalKeysIn(nvs)).toEqual([]);

    // A version-1 journal, in the layout an earlier firmware wrote (the format in the header):
    // a = 11, b deleted.
    const v1 = recrc(Uint8Array.from([0x43, 0x4a, 1, 0, 0, 2, 1, 0x61, 0, 1, 0x11, 1, 0x62, 0xff, 0xff, 0, 0, 0, 0]));
    const old = seededWith(BEFORE);
    old.nvs.writeBlob(NS, JOURNAL_KEY, v1);
    plantOrphans(old.nvs);
    const replayed = boot(old.nvs);
    expect(replayed.recovery).toBe("replayed");
    expect(view(replayed, KEYS)).toEqual({ ...OLD, a: "11", b: undefined });
    expect(journalKeysIn(old.nvs)).toEqual([]);
  });

  it("still writes a commit that fits one value as one version-1 journal, with no segment", () => {
    const { nvs, store, start } = seeded();
    nvs.cutPowerAt(start + 3); // the first operation after the read-back
    cutShort(nvs, () => store.commit(COMMIT));
    expect(nvs.blob(NS, JOURNAL_KEY)![2]).toBe(1);
    expect(journalKeysIn(nvs)).toEqual([JOURNAL_KEY]);
  });

  it("a journal it could not remove after a failure is removed before the next commit, so it never replays over a later one", () => {
    // One value: the journal is complete in NVS, its read-back fails and so does its removal.
    const { nvs, store, start } = seeded();
    nvs.failAt(start + 2); // read ~journal
    nvs.failAt(start + 3); // erase ~journal
    let error: unknown;
    try {
      store.commit(COMMIT);
    } catch (thrown) {
      error = thrown;
    }
    expect((error as PreferenceCommitError).committed).toBeUndefined();
    expect(view(store, KEYS)).toEqual(OLD);
    expect(nvs.item(NS, JOURNAL_KEY)).toBeDefined();
    const from = nvs.log.length;
    store.commit([{ key: "e", value: Uint8Array.of(5) }]); // a new key: no journal of its own
    expect(nvs.log.slice(from)).toEqual(["read e", "erase ~journal", "erase e", "write e"]);
    const rebooted = boot(nvs);
    expect(rebooted.recovery).toBe("none");
    expect(view(rebooted, [...KEYS, "e"])).toEqual({ ...OLD, e: "05" });

    // Segments: the head's read-back and removal fail; its segments are deleted, so it cannot replay.
    const c = STREET_UPDATE;
    const log = cleanLog(c);
    const large = seededWith(c.before);
    large.nvs.failAt(large.start + log.indexOf("read ~journal"));
    large.nvs.failAt(large.start + log.indexOf("read ~journal") + 1);
    expect(() => large.store.commit(c.commit)).toThrow(expect.objectContaining({ committed: false }));
    expect(journalKeysIn(large.nvs)).toEqual([JOURNAL_KEY]);
    expect(boot(large.nvs).recovery).toBe("discarded");
    expect(view(boot(large.nvs), c.keys)).toEqual(applied(c.before, [], c.keys));
    expect(journalKeysIn(large.nvs)).toEqual([]);
  });

  it("serves a segmented journal a failing NVS could not apply, lists no journal key, and finishes it at the next commit", () => {
    const c = STREET_UPDATE;
    const log = cleanLog(c);
    const { nvs, store, start } = seededWith(c.before);
    nvs.failAt(start + log.indexOf("write disclosure.0"));
    expect(() => store.commit(c.commit)).toThrow(expect.objectContaining({ committed: true }));
    expect(view(store, c.keys)).toEqual(applied(c.before, c.commit, c.keys));
    expect(journalKeysIn(nvs)).toEqual([JOURNAL_KEY, journalSegmentKey(1), journalSegmentKey(2)]);
    expect(store.keys("").sort()).toEqual(["disclosure.0", "disclosure.1", POLICY_KEY, "seal.ctr"]);
    store.commit([{ key: "seal.ctr", value: Uint8Array.of(10) }, { key: "e", value: Uint8Array.of(0xee) }]);
    expect(journalKeysIn(nvs)).toEqual([]);
    expect(view(boot(nvs), [...c.keys, "e"])).toEqual({ ...applied(c.before, c.commit, c.keys), "seal.ctr": "0a", e: "ee" });
  });
});

describe("PreferenceStore under a real policy update (src/policy/policy-update.ts)", () => {
  it("takes the reference street's update (about 7 KB in one commit); a power cut at any NVS operation of it boots on the old pair or the new, whole", () => {
    const keys = policyUpdateKeys();
    try {
      const flash = new MemoryStore();
      provision(flash, keys, referencePolicyJson());
      const update = updateFor(flash, keys, changeDocuments(STRENGTHENINGS[1]!).proposed, { countersign: "none" });
      // The NVS of a node provisioned with it: every key a blob, as nvs_partition_gen.py writes them.
      const provisioned = () => {
        const nvs = new EmulatedNvs();
        for (const key of flash.keys("")) nvs.writeBlob(NS, key, flash.get(key)!);
        return nvs;
      };
      const booted = (nvs: EmulatedNvs) => {
        const store = boot(nvs);
        const config = bootConfig(store);
        expect(() => provisionedDisclosure(store, encodeDisclosure(disclosureFor(config)))).not.toThrow();
        return config.disclosure.policySerial;
      };

      const clean = provisioned();
      const store = boot(clean);
      const running = bootConfig(store);
      const start = clean.operations;
      expect(applyPolicyUpdate(update, store, running)).toEqual({ accepted: true, serial: 2, twoKeys: false });
      const log = clean.log.slice(start);
      expect(log.filter((entry) => entry.startsWith("write ~journal"))).toEqual(["write ~journal.1", "write ~journal.2", "write ~journal"]);
      expect(booted(clean)).toBe(2);
      expect(journalKeysIn(clean)).toEqual([]);

      const serials = new Set<number | undefined>();
      for (let n = 0; n < log.length; n++) {
        const nvs = provisioned();
        const node = boot(nvs);
        const config = bootConfig(node);
        nvs.cutPowerAt(nvs.operations + n);
        try {
          applyPolicyUpdate(update, node, config); // its verdict never reaches anyone: the power is off
        } catch (error) {
          if (!isPowerCut(error)) throw error; // a read of the check, cut
        }
        expect(nvs.powered).toBe(false);
        nvs.powerOn();
        const serial = booted(nvs);
        expect(serial, `cut at operation ${n} (${log[n]})`).toBe(n <= log.indexOf("write ~journal") ? 1 : 2);
        serials.add(serial);
        expect(journalKeysIn(nvs)).toEqual([]);
      }
      expect(serials).toEqual(new Set([1, 2]));
    } finally {
      keys.remove();
    }
  }, 120_000);
});

describe("PreferenceStore under the node's real commits", () => {
  const DEVICE = "lamp-3";
  const ROOT = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
  const AAD = utf8Encode("civicnode/old-town/lamp-3/summary");
  const DAY = 86_400_000;
  const T0 = Date.UTC(2026, 1, 2, 12, 0, 0);
  const text = utf8Encode("a window summary");

  /** A fresh node's NVS, as the provisioning tool flashes it. */
  function provisionedNvs(): EmulatedNvs {
    const nvs = new EmulatedNvs();
    for (const { key, value } of provisioningWrites(ROOT, DEVICE)) nvs.writeBlob(NS, key, value!);
    return nvs;
  }

  function sealerOver(store: KeyValueStore): UplinkSealer {
    const sealer = new UplinkSealer(store, DEVICE, { counterBlock: 3, maxMessageBytes: 512, maxMessagesPerEpoch: 7 });
    sealer.boot();
    return sealer;
  }

  function open(message: Uint8Array): string {
    const envelope = parseEncrypt0(message);
    const kid = decodeKid(envelope.kid)!;
    expect(openEncrypt0(envelope, epochKeysFromRoot(ROOT, DEVICE, kid.epoch), AAD)).toEqual(text);
    return `${kid.epoch}:${envelope.counter}`;
  }

  it("fits every commit the node makes: the largest multi-key one (provisioning) needs a 192-byte journal", () => {
    const nvs = provisionedNvs();
    const commits: StoreWrite[][] = [];
    const inner = boot(nvs);
    const recording: KeyValueStore = {
      get: (key) => inner.get(key),
      keys: (prefix) => inner.keys(prefix),
      commit: (writes) => {
        commits.push(writes.map(({ key, value }) => ({ key, value: value?.slice() })));
        inner.commit(writes);
      },
    };
    const sealer = sealerOver(recording);
    for (let i = 0; i < 10; i++) sealer.seal(text, AAD, T0 + i * 1000);
    sealer.rotate(T0 + 20_000);
    sealer.seal(text, AAD, T0 + DAY); // a new time slot: another rotation
    const multi = commits.filter((writes) => writes.length > 1).map(journalBytes);
    // Provisioning: key.chain 48 + key.down 52 + key.id 8 + key.root deleted + seal.ctr 20, keys and
    // framing; then every rotation: key.chain + seal.ctr.
    expect(multi[0]).toBe(192);
    expect(new Set(multi.slice(1))).toEqual(new Set([101]));
    expect(Math.max(...multi)).toBeLessThanOrEqual(JOURNAL_MAX_BYTES);
    for (const writes of commits) {
      for (const { key, value } of writes) if (value) expect(value.length).toBeLessThanOrEqual(maxOverwriteBytes(key));
    }

    // The largest single record the node overwrites: a full audit log.
    const audit = new AuditLog(recording);
    for (let i = 0; i < AUDIT_CAPACITY + 3; i++) audit.append(1_800_000_000 + i, "command-history-lost", "x".repeat(40));
    expect(audit.writeFailures).toBe(0);
    const record = inner.get(AUDIT_STORE_KEY)!;
    expect(record.length).toBeLessThanOrEqual(maxOverwriteBytes(AUDIT_STORE_KEY));
  });

  /**
   * Seals 80 messages (a new time slot every 20, a rotation command at 33, at most 7 per epoch) over
   * the emulated NVS; `fault` decides, before each boot, where the next fault goes. A power cut
   * reboots the node; a failed commit is thrown into the sealer, which the node survives.
   */
  function run(schedule: (nvs: EmulatedNvs) => void): { used: Set<string>; cuts: number; failures: number; operations: number } {
    const nvs = provisionedNvs();
    const used = new Set<string>();
    let sealer: UplinkSealer | undefined;
    let cuts = 0;
    let failures = 0;
    schedule(nvs);
    for (let i = 0; i < 80; i++) {
      const now = T0 + Math.floor(i / 20) * DAY + i * 1000;
      try {
        if (sealer === undefined) {
          sealer = sealerOver(boot(nvs));
        }
        if (i === 33) sealer.rotate(now);
        const pair = open(sealer.seal(text, AAD, now));
        expect(used.has(pair), `${pair} sealed twice`).toBe(false);
        used.add(pair);
      } catch (error) {
        if (isPowerCut(error)) {
          cuts++;
          nvs.powerOn();
          schedule(nvs);
          sealer = undefined; // reboot from what NVS holds
        } else {
          // Never "not provisioned" or "key records corrupt": only the injected NVS failure.
          expect(error instanceof PreferenceCommitError || (error instanceof Error && /^nvs /.test(error.message)), String(error)).toBe(true);
          failures++;
        }
      }
    }
    // Whatever happened, the node boots again from its NVS.
    nvs.powerOn();
    sealerOver(boot(nvs));
    return { used, cuts, failures, operations: nvs.operations };
  }

  it("never seals an (epoch, counter) pair twice, whichever NVS operation a power cut hits", () => {
    const clean = run(() => {});
    expect(clean.used.size).toBe(80);
    for (let cutAt = 0; cutAt < clean.operations; cutAt++) {
      const { used, cuts } = run((nvs) => {
        if (nvs.operations <= cutAt) nvs.cutPowerAt(cutAt);
      });
      expect(cuts, `cut at operation ${cutAt}`).toBeLessThanOrEqual(1);
      expect(used.size).toBeGreaterThan(70);
    }
  }, 120_000);

  it("never seals a pair twice under repeated power cuts and NVS failures (seeded)", () => {
    let totalCuts = 0;
    let totalFailures = 0;
    for (let seed = 1; seed <= 40; seed++) {
      const prng = new Prng(`preference-store-${seed}`);
      let failuresPlanned = 0;
      const { used, cuts, failures } = run((nvs) => {
        // The next cut 1-60 operations ahead; failures sprinkled before it.
        const at = nvs.operations + prng.int(1, 61);
        nvs.cutPowerAt(at);
        for (let k = nvs.operations; k < at; k++) {
          if (prng.chance(0.03)) {
            nvs.failAt(k);
            failuresPlanned++;
          }
        }
      });
      expect(failures).toBeLessThanOrEqual(failuresPlanned);
      totalCuts += cuts;
      totalFailures += failures;
    }
    expect(totalCuts).toBeGreaterThan(200);
    expect(totalFailures).toBeGreaterThan(20);
  }, 120_000);
});
