/**
 * A power cut at every write of the audit log: at every commit of an atomic store (applied or not
 * before the power goes), and at every NVS operation under the ESP32's journal. After each cut the
 * node boots from what the store holds, goes on, and then the reports that reached the city, before
 * and after the cut, form one unbroken chain: no reset, no entry seen under two hashes, no entry a
 * report carried missing from what follows, the accepted command reported, refusals counted at
 * least half.
 */
import { createHash } from "node:crypto";
import { encode as cbor2Encode } from "cbor2";
import { describe, expect, it } from "vitest";
import { AUDIT_CAPACITY, AUDIT_STORE_KEY, AuditLog, type AuditReport } from "../../../src/policy/audit-log.js";
import { decodeAuditChain, type StoredAuditEntry } from "../../../src/policy/audit-record.js";
import { parseRefusalDetail } from "../../../src/policy/audit-refusals.js";
import type { KeyValueStore } from "../../../src/platform.js";
import { PreferenceStore } from "../../../hosts/moddable/preference-store.js";
import { EmulatedNvs } from "../../../hosts/sim/emulated-nvs.js";
import { FaultyStore } from "../../../hosts/sim/faulty-store.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";

const T = 1_780_000_000;

/** One boot's work; returns the reports whose commit reached the store (their outbox record with them). */
function boot(store: KeyValueStore, powered: () => boolean, startS: number, counted: Map<string, number>): AuditReport[] {
  const delivered: AuditReport[] = [];
  const log = new AuditLog(store, new SeededRandom(`chain/${startS}`));
  const steps: Array<() => void> = [
    () => log.load(startS),
    () => log.append(startS + 1, "boot", "epoch 0"),
    ...Array.from({ length: 5 }, (_, i) => () => refuse(log, startS + 2 + i, "malformed", counted)),
    () => log.append(startS + 10, "command-accepted", "rotate-epoch"),
    () => delivered.push(...healthReport(log, store, startS + 900)),
    () => log.append(startS + 920, "epoch-rotated", "time to 1"),
    ...Array.from({ length: 3 }, (_, i) => () => refuse(log, startS + 930 + i, "replay", counted)),
    () => delivered.push(...healthReport(log, store, startS + 1800)),
  ];
  for (const step of steps) {
    if (!powered()) break;
    try {
      step();
    } catch (error) {
      if (powered()) throw error;
    }
  }
  return delivered;
}

function refuse(log: AuditLog, time: number, cause: string, counted: Map<string, number>): void {
  log.refused(time, cause);
  counted.set(cause, (counted.get(cause) ?? 0) + 1);
}

/**
 * Takes a report and commits its mark as the node does, with the report's outbox record: the
 * report reaches the city once that commit is in (after a reboot too: the outbox sends it then).
 */
function healthReport(log: AuditLog, store: KeyValueStore, time: number): AuditReport[] {
  const report = log.takeReport(time);
  const { write, ...carried } = report;
  store.commit([{ key: `ob.${time.toString(16)}`, value: new TextEncoder().encode(JSON.stringify(carried)) }, write]);
  log.reported(report);
  return [report];
}

/** The reports a cut-off boot left in its outbox: they are sent after the reboot. */
function queuedReports(store: KeyValueStore): AuditReport[] {
  return store
    .keys("ob.")
    .sort()
    .map((key) => JSON.parse(new TextDecoder().decode(store.get(key))) as AuditReport);
}

/** What the collector checks, from what the reports carry alone (Node's SHA-256 and cbor2). */
function checkChain(reports: readonly AuditReport[], label: string): Map<string, number> {
  const known = new Map<number, string>();
  let chain: string | undefined;
  let highest = -1;
  const refusals = new Map<string, number>();
  for (const report of reports) {
    chain ??= report.chain;
    expect(report.chain, `${label}: the chain restarted`).toBe(chain);
    if (report.entries.length === 0) {
      expect(known.get(report.seq), `${label}: head ${report.seq}`).toBe(report.head);
      continue;
    }
    const first = report.entries[0]!.seq;
    expect(first - 1, `${label}: entries ${highest + 1}..${first - 1} never reported`).toBeLessThanOrEqual(highest);
    if (first > 0) expect(report.prev, `${label}: hash before ${first}`).toBe(known.get(first - 1));
    let previous = Buffer.from(report.prev!, "hex");
    report.entries.forEach(({ seq, time, event, detail }, i) => {
      expect(seq, label).toBe(first + i);
      previous = createHash("sha256").update(cbor2Encode([seq, new Uint8Array(previous), time, event, detail])).digest().subarray(0, 16);
      const hash = previous.toString("hex");
      const seen = known.get(seq);
      if (seen !== undefined) expect(hash, `${label}: entry ${seq} under two hashes`).toBe(seen);
      else if (event === "refusals") {
        const { cause, count } = parseRefusalDetail(detail)!;
        refusals.set(cause, (refusals.get(cause) ?? 0) + count);
      }
      known.set(seq, hash);
    });
    expect(known.get(report.seq), `${label}: head`).toBe(report.head);
    highest = Math.max(highest, report.seq);
  }
  return refusals;
}

interface Medium {
  /** Commits (or NVS operations) the uncut run makes. */
  readonly operations: number;
  /** Runs the first boot with the power cut at operation `n`; then boots again from what the store holds. */
  run(n: number): Outcome;
}

interface Outcome {
  readonly before: AuditReport[];
  readonly after: AuditReport[];
  readonly counted: Map<string, number>;
  /** The entries the store held right after the cut. */
  readonly held: readonly StoredAuditEntry[];
}

function heldEntries(store: KeyValueStore): readonly StoredAuditEntry[] {
  const record = store.get(AUDIT_STORE_KEY);
  const chain = record === undefined ? undefined : decodeAuditChain(record, AUDIT_CAPACITY);
  expect(typeof chain, "the record reads back").not.toBe("string");
  return chain === undefined || typeof chain === "string" ? [] : chain.entries;
}

function atomicStore(applies: boolean): Medium {
  const count = new FaultyStore(new MemoryStore());
  boot(count, () => true, T, new Map());
  return {
    operations: count.commits,
    run(n) {
      const inner = new MemoryStore();
      const store = new FaultyStore(inner);
      store.cutPowerAtCommit(n, applies);
      const counted = new Map<string, number>();
      boot(store, () => store.powered, T, counted);
      expect(store.powered).toBe(false);
      const before = queuedReports(inner);
      const held = heldEntries(inner);
      const after = boot(inner, () => true, T + 3600, counted);
      return { before, after, counted, held };
    },
  };
}

function nvsJournal(): Medium {
  const reference = new EmulatedNvs();
  boot(new PreferenceStore(reference.preference, "civicnode"), () => true, T, new Map());
  return {
    operations: reference.operations,
    run(n) {
      const nvs = new EmulatedNvs();
      nvs.cutPowerAt(n);
      const counted = new Map<string, number>();
      boot(new PreferenceStore(nvs.preference, "civicnode"), () => nvs.powered, T, counted);
      expect(nvs.powered).toBe(false);
      nvs.powerOn();
      const rebooted = new PreferenceStore(nvs.preference, "civicnode");
      const before = queuedReports(rebooted);
      const held = heldEntries(rebooted);
      const after = boot(new PreferenceStore(nvs.preference, "civicnode"), () => true, T + 3600, counted);
      return { before, after, counted, held };
    },
  };
}

describe("the audit chain through a power cut at every write", () => {
  for (const [name, medium] of [
    ["an atomic store, the cut commit applied", () => atomicStore(true)],
    ["an atomic store, the cut commit not applied", () => atomicStore(false)],
    ["ESP32 NVS under the store's journal, at every operation", nvsJournal],
  ] as const) {
    it(`stays one chain, loses no reported entry, keeps the accepted command: ${name}`, () => {
      const { operations, run } = medium();
      expect(operations).toBeGreaterThan(10);
      for (let n = 0; n < operations; n++) {
        const label = `cut at ${n}`;
        const { before, after, counted, held } = run(n);
        const reports = [...before, ...after];
        // The first write is the chain's entry 0: cut before it, the store never held a chain.
        const chains = new Set(reports.map((r) => r.chain));
        if (before.length > 0) expect(chains.size, `${label}: one chain`).toBe(1);
        const refusals = checkChain(reports, label);
        // Whatever the store held at the cut reaches the city, under its sequence number.
        const reported = new Map(reports.flatMap((r) => r.entries.map((e) => [e.seq, `${e.time} ${e.event} ${e.detail}`] as const)));
        for (const { seq, time, event, detail } of held) expect(reported.get(seq), `${label}: entry ${seq}`).toBe(`${time} ${event} ${detail}`);
        expect([...reported.values()].filter((e) => e.endsWith("command-accepted rotate-epoch")).length, label).toBeGreaterThanOrEqual(1);
        for (const [cause, count] of counted) expect(refusals.get(cause) ?? 0, `${label}: ${cause}`).toBeGreaterThanOrEqual(count / 2);
        for (const [cause, count] of refusals) expect(count, `${label}: ${cause} counted twice`).toBeLessThanOrEqual(counted.get(cause) ?? 0);
      }
    });
  }
});
