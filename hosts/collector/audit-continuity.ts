/**
 * The continuity of a node's audit chain across its health reports (src/policy/audit-log.ts): what
 * the reports carry is recomputed here, and what does not add up is a finding.
 *
 * Each report vouches for a stretch of the chain: the hash before its first entry (`prev`), its
 * entries with their sequence numbers, and the head. Within a report the entries must be
 * consecutive and hash from `prev` to the head. Between two reports of a device that follow each
 * other in seal order (report time, then key epoch and counter: the node's own order, whatever the
 * order they arrived in), the later must begin where the earlier ended, or overlap it with the same
 * hashes, and belong to the same chain:
 *
 *   rewrite  an entry under two hashes, or entries that do not hash to their report's head: the
 *            log was altered after the entries were made
 *   gap      entries between two reports no report carried, or missing inside one: evicted by the
 *            node before any report carried them (its `lost` count says so), in a report the
 *            node dropped from its full outbox (its `dropped` count says so), deleted, or in a
 *            report that did not arrive
 *   reset    the later report belongs to another chain: the log was started over (its entry 0
 *            says why, when it arrived)
 *
 * Each finding is raised once, by one report, whatever the order the reports arrive in: by the
 * first report received once the collector holds what shows it (findingsOf). A report that did not
 * arrive may only be late (an outbox flush split across the instances of a group arrives in any
 * order), so the gap it leaves is raised only once it has stood for `settleMs`, by the first
 * report received then; a late report that fills it in time raises nothing.
 */
import { AUDIT_HASH_BYTES, AUDIT_RESET_EVENT, AuditHasher } from "../../src/policy/audit-chain.js";
import type { DecodedAuditChain } from "./decoded-messages.js";

/** A stored health report's chain and where it sits. */
export interface ChainReport {
  readonly chain: DecodedAuditChain;
  /** The report's time (Unix s, the node's clock): with epoch and counter, the seal order. */
  readonly time: number;
  readonly epoch: number;
  readonly counter: number;
  /** When the collector received it (Unix ms). */
  readonly receivedAtMs: number;
  /** The node's outbox drops since it was provisioned, as the report says. */
  readonly dropped: number;
}

export type GapCause = "evicted" | "dropped" | "deleted" | "missing";

export type AuditFinding =
  | {
      readonly kind: "gap";
      readonly cause: GapCause;
      readonly chain: string;
      /** The entries missing, first and last. */
      readonly from: number;
      readonly to: number;
      /** The node's count behind the cause (entries evicted, messages dropped) between the two reports. */
      readonly count?: number;
      /** The reports around the gap (one report alone for `deleted`). */
      readonly before?: ChainReport;
      readonly after: ChainReport;
    }
  | {
      readonly kind: "rewrite";
      readonly chain: string;
      readonly seq: number;
      /** head: the entries do not hash to their head; twice: the entry under two hashes; genesis: entry 0 is not the chain's. */
      readonly how: "head" | "twice" | "genesis";
      readonly report: ChainReport;
      readonly other?: ChainReport;
    }
  | {
      readonly kind: "reset";
      readonly before: ChainReport;
      readonly after: ChainReport;
      /** The reason entry 0 of the new chain gives, when the report carries it. */
      readonly reason?: string;
    };

/** Seal order: time, then epoch and counter. */
export function bySealOrder(a: ChainReport, b: ChainReport): number {
  return a.time - b.time || a.epoch - b.epoch || a.counter - b.counter;
}

/**
 * Receipt order. Reports received at the same time (one batch, whose checks all run after it is
 * stored, or batches in the same millisecond) are taken as stored in seal order, as a flush
 * stores them: the one sealed last comes first here, since its check saw the others.
 */
function byReceipt(a: ChainReport, b: ChainReport): number {
  return a.receivedAtMs - b.receivedAtMs || b.epoch - a.epoch || b.counter - a.counter;
}

function same(a: ChainReport, b: ChainReport): boolean {
  return a.epoch === b.epoch && a.counter === b.counter;
}

/** The lowest sequence number a report knows a hash for: the one before its first entry, or its head. */
function lowSeq(report: ChainReport): number {
  const first = report.chain.entries[0];
  return first ? first.seq - 1 : report.chain.seq;
}

/**
 * The hashes a report vouches for, by sequence number: `prev`, each entry while they are
 * consecutive, and the head. Findings within the report go to `findings`.
 */
export function reportHashes(report: ChainReport, hasher: AuditHasher, findings?: AuditFinding[]): Map<number, string> {
  const { chain } = report;
  const hashes = new Map<number, string>();
  const first = chain.entries[0];
  if (!first || chain.prev === undefined) {
    hashes.set(chain.seq, chain.head);
    return hashes;
  }
  if (first.seq === 0 && (chain.prev !== chain.chain + "0".repeat(16) || first.event !== AUDIT_RESET_EVENT)) {
    findings?.push({ kind: "rewrite", chain: chain.chain, seq: 0, how: "genesis", report });
  }
  hashes.set(first.seq - 1, chain.prev);
  let previous = Buffer.from(chain.prev, "hex");
  let expected = first.seq;
  const hash = new Uint8Array(AUDIT_HASH_BYTES);
  for (const entry of chain.entries) {
    if (entry.seq !== expected) {
      // Entries missing inside a report: the node's log lost them between two it still had.
      findings?.push({ kind: "gap", cause: "deleted", chain: chain.chain, from: expected, to: entry.seq - 1, after: report });
      hashes.set(chain.seq, chain.head); // unverifiable from here: the head as the report claims it
      return hashes;
    }
    hasher.hash(entry.seq, previous, entry.time, entry.event, entry.detail, hash);
    previous = Buffer.from(hash);
    hashes.set(entry.seq, previous.toString("hex"));
    expected++;
  }
  if (hashes.get(chain.seq) !== chain.head) {
    findings?.push({ kind: "rewrite", chain: chain.chain, seq: chain.seq, how: "head", report });
    hashes.set(chain.seq, chain.head);
  }
  return hashes;
}

/** A report's hashes, computed once per judgement. */
type HashesOf = (report: ChainReport) => Map<number, string>;

/** What is wrong between two reports that follow each other in seal order (`later` after `earlier`), if anything. */
export function judgeLink(earlier: ChainReport, later: ChainReport, hashesOf: HashesOf): AuditFinding | undefined {
  if (earlier.chain.chain !== later.chain.chain) {
    const first = later.chain.entries[0];
    return first?.seq === 0 && first.event === AUDIT_RESET_EVENT ? { kind: "reset", before: earlier, after: later, reason: first.detail } : { kind: "reset", before: earlier, after: later };
  }
  const low = lowSeq(later);
  if (low > earlier.chain.seq) return gapBetween(earlier, later, earlier.chain.seq + 1, low);
  const mine = hashesOf(earlier);
  for (const [seq, hash] of hashesOf(later)) {
    const seen = mine.get(seq);
    if (seen !== undefined && seen !== hash) return { kind: "rewrite", chain: later.chain.chain, seq, how: "twice", report: later, other: earlier };
  }
  return undefined;
}

function gapBetween(before: ChainReport, after: ChainReport, from: number, to: number): AuditFinding {
  const base = { kind: "gap" as const, chain: after.chain.chain, from, to, before, after };
  const evicted = after.chain.lost - before.chain.lost;
  if (evicted > 0) return { ...base, cause: "evicted", count: evicted };
  const dropped = after.dropped - before.dropped;
  if (dropped > 0) return { ...base, cause: "dropped", count: dropped };
  return { ...base, cause: "missing" };
}

/**
 * The findings `report` raises, among `reports`: the device's stored reports around it (itself
 * included), in any order. `settleMs`: how long a gap a missing report leaves may still be filled.
 *
 * Every finding has one judge: the first report received once the collector held what shows it
 * (`settleMs` later for a missing report). What shows it is not a particular pair of reports,
 * which a late report can come between, but the reports on either side: of the two chains of a
 * reset, before and after a gap, with one hash and with the other for a rewrite. So a finding a
 * late report narrows (a gap it partly fills) or moves (a reset it comes before) is not raised again.
 */
export function findingsOf(report: ChainReport, reports: readonly ChainReport[], settleMs: number): AuditFinding[] {
  const hasher = new AuditHasher();
  const cache = new Map<ChainReport, Map<number, string>>();
  const hashesOf: HashesOf = (r) => {
    let hashes = cache.get(r);
    if (!hashes) cache.set(r, (hashes = reportHashes(r, hasher)));
    return hashes;
  };
  const findings: AuditFinding[] = [];
  reportHashes(report, hasher, findings); // what is wrong within a report, the report itself raises
  const ordered = [...reports].sort(bySealOrder);
  if (!ordered.some((r) => same(r, report))) throw new RangeError("the report judged must be among the reports");
  for (let i = 1; i < ordered.length; i++) {
    const finding = judgeLink(ordered[i - 1]!, ordered[i]!, hashesOf);
    if (!finding) continue;
    const wait = finding.kind === "gap" && finding.cause === "missing" ? settleMs : 0;
    const judge = firstReceivedFrom(ordered, shownSince(finding, ordered, i, hashesOf) + wait);
    if (judge && same(judge, report)) findings.push(finding);
  }
  return findings;
}

/** When the collector first held what shows `finding`, found between `ordered[later - 1]` and `ordered[later]`. */
function shownSince(finding: AuditFinding, ordered: readonly ChainReport[], later: number, hashesOf: HashesOf): number {
  const inChain = (chain: string) => (r: ChainReport) => r.chain.chain === chain;
  switch (finding.kind) {
    case "gap":
      return sides(ordered, later, inChain(finding.chain), inChain(finding.chain));
    case "reset":
      return sides(ordered, later, inChain(finding.before.chain.chain), inChain(finding.after.chain.chain));
    case "rewrite": {
      const { seq, chain } = finding;
      const hashAt = (r: ChainReport) => (r.chain.chain === chain ? hashesOf(r).get(seq) : undefined);
      const one = hashAt(finding.other ?? finding.report);
      const other = hashAt(finding.report);
      return Math.max(earliest(ordered, (r) => hashAt(r) === one), earliest(ordered, (r) => hashAt(r) === other));
    }
  }
}

/** The later of: the first receipt among the reports before `later` that `left` takes, and among those from `later` on that `right` takes. */
function sides(ordered: readonly ChainReport[], later: number, left: (r: ChainReport) => boolean, right: (r: ChainReport) => boolean): number {
  return Math.max(earliest(ordered.slice(0, later), left), earliest(ordered.slice(later), right));
}

function earliest(reports: readonly ChainReport[], take: (r: ChainReport) => boolean): number {
  let first = Infinity;
  for (const r of reports) if (take(r)) first = Math.min(first, r.receivedAtMs);
  return first;
}

/** The first report received at or after `dueMs` (byReceipt). */
function firstReceivedFrom(reports: readonly ChainReport[], dueMs: number): ChainReport | undefined {
  let judge: ChainReport | undefined;
  for (const r of reports) if (r.receivedAtMs >= dueMs && (!judge || byReceipt(r, judge) < 0)) judge = r;
  return judge;
}
