/**
 * The judgement of a device's audit chain across its health reports (audit-continuity.ts), on
 * reports a real audit log made: whatever order the reports arrive in, a clean chain raises
 * nothing, and each thing wrong with it (a report that never arrives, an entry altered before or
 * after it was reported, entries evicted, a reset) is raised exactly once.
 */
import { describe, expect, it } from "vitest";
import { findingsOf, type AuditFinding, type ChainReport } from "../../../hosts/collector/audit-continuity.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { Prng, SeededRandom } from "../../../hosts/sim/prng.js";
import { AuditHasher } from "../../../src/policy/audit-chain.js";
import { AUDIT_CAPACITY, AUDIT_STORE_KEY, AuditLog, type AuditReport } from "../../../src/policy/audit-log.js";
import { auditRecordMaxBytes, decodeAuditChain, encodeAuditChain, type StoredAuditChain } from "../../../src/policy/audit-record.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";

const T = 1_780_000_000;
const SETTLE_MS = 15 * 60_000;
const ORDERS = 40;

/** Reports of a node, one per "period"; `before(k, log, store)` runs before report k (and may return a rebooted log). */
function reportsOf(count: number, before: (k: number, log: AuditLog, store: MemoryStore) => AuditLog | void = () => {}): ChainReport[] {
  const store = new MemoryStore();
  let log = new AuditLog(store, new SeededRandom("node"));
  log.load(T);
  const reports: ChainReport[] = [];
  for (let k = 0; k < count; k++) {
    if (k % 3 !== 2) log.append(T + k * 900 + 10, "command-accepted", `set-window ${k}`);
    const replaced = before(k, log, store);
    if (replaced) log = replaced;
    if (k % 4 === 1) for (let i = 0; i < 20; i++) log.refused(T + k * 900 + i, i % 2 ? "replay" : "malformed");
    const taken = log.takeReport(T + k * 900 + 900);
    store.commit([taken.write]);
    log.reported(taken);
    reports.push(chainReport(taken, k));
  }
  return reports;
}

function chainReport(report: AuditReport, k: number): ChainReport {
  const { chain, seq, head, prev, lost, pending, entries } = report;
  return { chain: { chain, seq, head, ...(prev ? { prev } : {}), lost, pending, entries: entries.map((e) => ({ ...e })) }, time: T + k * 900 + 900, epoch: 0, counter: k, receivedAtMs: 0, dropped: 0 };
}

/** Delivers `reports` in a seeded random order, a few seconds apart, then `last` an hour later; every finding raised. */
function arrive(reports: readonly ChainReport[], seed: string, last?: ChainReport): AuditFinding[] {
  const random = new Prng(seed);
  const order = [...reports].sort(() => random.next() - 0.5);
  if (last) order.push(last);
  const stored: ChainReport[] = [];
  const raised: AuditFinding[] = [];
  let nowMs = T * 1000;
  order.forEach((report, i) => {
    nowMs += last && i === order.length - 1 ? 3_600_000 : 1 + Math.floor(random.next() * 20_000);
    const received = { ...report, receivedAtMs: nowMs };
    stored.push(received);
    raised.push(...findingsOf(received, stored, SETTLE_MS));
  });
  return raised;
}

function findingsInOrder(reports: readonly ChainReport[]): AuditFinding[] {
  const stored: ChainReport[] = [];
  return reports.flatMap((report, i) => {
    stored.push({ ...report, receivedAtMs: T * 1000 + i * 900_000 });
    return findingsOf(stored.at(-1)!, stored, SETTLE_MS);
  });
}

/** Rewrites the stored log (the node off), optionally recomputing the chain from the changed entry on. */
function tamper(store: MemoryStore, change: (chain: StoredAuditChain) => StoredAuditChain["entries"]): AuditLog {
  const chain = decodeAuditChain(store.get(AUDIT_STORE_KEY)!, AUDIT_CAPACITY) as StoredAuditChain;
  const entries = change(chain);
  store.commit([{ key: AUDIT_STORE_KEY, value: encodeAuditChain(new CborWriter(auditRecordMaxBytes(AUDIT_CAPACITY)), chain.chain, chain.lost, chain.base, entries.length, (i) => entries[i]!) }]);
  const rebooted = new AuditLog(store);
  rebooted.load(T);
  return rebooted;
}

const kinds = (findings: readonly AuditFinding[]) => findings.map((f) => (f.kind === "gap" ? `gap ${f.cause} ${f.from}..${f.to}` : f.kind === "rewrite" ? `rewrite ${f.how} ${f.seq}` : "reset"));

describe("the audit chain's continuity across health reports", () => {
  it("raises nothing for a clean chain, whatever the order of arrival", () => {
    const reports = reportsOf(16);
    for (let o = 0; o < ORDERS; o++) expect(arrive(reports, `clean ${o}`, reports.at(-1)), `order ${o}`).toEqual([]);
  });

  it("raises a report that never arrives once, after it had time to, and never earlier", () => {
    const reports = reportsOf(17);
    const lost = reports[6]!;
    expect(lost.chain.entries.length).toBeGreaterThan(0);
    const { seq } = lost.chain;
    const from = lost.chain.entries[0]!.seq;
    for (let o = 0; o < ORDERS; o++) {
      const found = arrive(reports.slice(0, 16).filter((r) => r !== lost), `missing ${o}`, reports[16]);
      expect(kinds(found), `order ${o}`).toEqual([`gap missing ${from}..${seq}`]);
    }
  });

  it("raises entries altered before they were reported once: they do not hash to their head", () => {
    // Before report 4, its newest entry (not reported yet) is altered, its hash left as it was.
    const reports = reportsOf(12, (k, _log, store) => (k === 4 ? tamper(store, ({ entries }) => entries.map((e, i) => (i === entries.length - 1 ? { ...e, detail: "set-window 900" } : e))) : undefined));
    for (let o = 0; o < ORDERS; o++) expect(kinds(arrive(reports, `head ${o}`)), `order ${o}`).toEqual([`rewrite head ${reports[4]!.chain.seq}`]);
  });

  it("raises history rewritten after it was reported once, also when a late report comes between", () => {
    const hasher = new AuditHasher();
    let rewritten = -1;
    const reports = reportsOf(12, (k, _log, store) => {
      if (k !== 6) return undefined;
      return tamper(store, ({ entries, base }) => {
        let previous = base;
        rewritten = entries[entries.length - 2]!.seq; // an entry a report already carried
        return entries.map((e) => {
          const changed = e.seq === rewritten ? { ...e, detail: "set-window 60" } : e;
          previous = hasher.hash(changed.seq, previous, changed.time, changed.event, changed.detail);
          return { ...changed, hash: previous };
        });
      });
    });
    for (let o = 0; o < ORDERS; o++) {
      const found = kinds(arrive(reports, `twice ${o}`));
      expect(found.length, `order ${o}: ${found.join(", ")}`).toBe(1);
      expect(found[0]).toMatch(/^rewrite (twice|head) \d+$/);
    }
  });

  it("raises entries the node evicted unreported once, with how many", () => {
    const reports = reportsOf(12, (k, log) => {
      if (k === 4) for (let i = 0; i < AUDIT_CAPACITY + 5; i++) log.append(T + k * 900 + 100 + i, "boot", `again ${i}`);
    });
    for (let o = 0; o < ORDERS; o++) {
      const found = arrive(reports, `evicted ${o}`);
      expect(found.map((f) => (f.kind === "gap" ? [f.cause, f.count] : f.kind)), `order ${o}`).toEqual([["evicted", 6]]); // 38 new entries, 32 places
    }
  });

  it("raises a reset once, with the new chain's reason, also when reports of the old chain arrive after the new one's", () => {
    const reports = reportsOf(12, (k, _log, store) => {
      if (k !== 6) return undefined;
      store.commit([{ key: AUDIT_STORE_KEY, value: undefined }]);
      const rebooted = new AuditLog(store, new SeededRandom("after the reset"));
      rebooted.load(T + k * 900);
      return rebooted;
    });
    const inOrder = findingsInOrder(reports);
    expect(inOrder.map((f) => (f.kind === "reset" ? f.reason : kinds([f])[0]))).toEqual(["no record"]);
    // Out of order, the report with the new chain's entry 0 may come after the reset was raised.
    for (let o = 0; o < ORDERS; o++) expect(kinds(arrive(reports, `reset ${o}`)), `order ${o}`).toEqual(["reset"]);
  });
});
