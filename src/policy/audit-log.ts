/**
 * The node's audit log: what changed how the node works. Boots, key epoch rotations (with the
 * reason), commands accepted, and refused ones in two ways: an authentic command the policy's
 * bounds refuse is an entry of its own, while refusals anyone on the broker can cause are tallied
 * by cause (audit-refusals.ts), so that a flood of them cannot push out what matters.
 *
 * Tamper-evident: the entries form a hash chain (audit-chain.ts), and every health report carries
 * the entries made since the previous one with their sequence numbers, the hash before the first
 * and the head's hash, so the collector can recompute the chain across reports and see an entry
 * rewritten, dropped, or the log started over. The chain never restarts silently: when its record
 * is missing or unreadable the node starts a new chain whose entry 0 says why (`audit-reset <reason>`).
 *
 * Bounded: the newest 32 entries are kept, in a ring allocated once and in the store ("audit.log",
 * audit-record.ts). An entry is evicted unreported only when 32 newer ones wait for a report (refusals
 * take no place there); it is then counted (`lost`), and the reports say so. A report carries at most
 * 12 entries; the rest follow in the next (`pending`).
 *
 * Example:
 *   const audit = new AuditLog(store, random);
 *   audit.load(nowS);                          // at boot, before anything else is audited
 *   audit.append(nowS, "epoch-rotated", "time to 4");
 *   audit.refused(nowS, "authentication");
 *   const report = audit.takeReport(nowS);     // for the health report; seal it with report.write
 *   audit.reported(report);                    // once it is sealed
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import type { KeyValueStore, Random, StoreWrite } from "../platform.js";
import { storeFailureCause } from "../store-contract.js";
import { CborWriter } from "../wire/cbor-writer.js";
import { AUDIT_CHAIN_ID_BYTES, AUDIT_EVENT_PATTERN, AUDIT_HASH_BYTES, AUDIT_RESET_EVENT, AuditHasher, auditDetail, genesisHash } from "./audit-chain.js";
import { AUDIT_SENT_KEY, AUDIT_STORE_KEY, auditRecordMaxBytes, decodeAuditChain, decodeAuditSent, encodeAuditChain, encodeAuditSent } from "./audit-record.js";
import { REFUSALS_EVENT, REFUSALS_STORE_KEY, RefusalTally, refusalDetail, type RefusalCount } from "./audit-refusals.js";

export { AUDIT_SENT_KEY, AUDIT_STORE_KEY } from "./audit-record.js";

/** Entries kept: bounded, so the record stays within a single NVS commit (audit-record.ts). */
export const AUDIT_CAPACITY = 32;
/** Entries one health report carries at most, so that the report stays far below its 3,072 bytes. */
export const AUDIT_REPORT_ENTRIES = 12;
/** Entry when the tally of refusals could not be read at boot: its counts are lost, and said so. */
export const REFUSALS_LOST_EVENT = "refusals-lost";

export interface AuditEntry {
  /** Position in the chain: 0 is the chain's `audit-reset` entry. */
  readonly seq: number;
  /** Unix seconds (0 when the wall clock was not set yet). */
  readonly time: number;
  /** e.g. "boot", "epoch-rotated", "command-accepted", "command-refused", "refusals", "audit-reset". */
  readonly event: string;
  /** A short detail: the command, the reason (printable ASCII, at most 48 characters). */
  readonly detail: string;
}

/** What a health report carries of the audit log (uplink/health-report.ts writes it). */
export interface AuditReport {
  /** The chain's id, 16 hex digits. */
  readonly chain: string;
  /** The head the report vouches for: its newest entry carried, or the newest reported before. */
  readonly seq: number;
  /** hash(seq), 32 hex digits. */
  readonly head: string;
  /** hash(first entry's seq - 1), 32 hex digits; undefined when no entry is carried. */
  readonly prev: string | undefined;
  /** Entries not carried before, oldest first. */
  readonly entries: readonly AuditEntry[];
  /** Entries of this chain evicted before a report carried them. */
  readonly lost: number;
  /** Entries waiting for the next report. */
  readonly pending: number;
  /** The mark that these entries are reported: written in the same commit as the report's outbox record. */
  readonly write: StoreWrite;
}

interface Slot {
  seq: number;
  time: number;
  event: string;
  detail: string;
  readonly hash: Uint8Array;
}

export class AuditLog {
  readonly #store: KeyValueStore;
  readonly #random: Random | undefined;
  /** A ring of AUDIT_CAPACITY entries allocated once, so that a long-running node's heap stays flat. */
  readonly #ring: Slot[];
  #oldest = 0;
  #count = 0;
  readonly #chain = new Uint8Array(AUDIT_CHAIN_ID_BYTES);
  #chainHex = "";
  /** hash(seq - 1) of the oldest entry kept. */
  readonly #base = new Uint8Array(AUDIT_HASH_BYTES);
  #lost = 0;
  /** The newest entry a sealed health report carried (-1: none). */
  #reportedSeq = -1;
  readonly #hasher = new AuditHasher();
  readonly #refusals = new RefusalTally();
  #loaded = false;
  #resetReason: string | undefined;
  /** Writes to the store that failed (what they held is still reported in health). */
  writeFailures = 0;

  /** `random` draws each new chain's id (without it, ids are zero: tests only). */
  constructor(store: KeyValueStore, random?: Random) {
    this.#store = store;
    this.#random = random;
    this.#ring = Array.from({ length: AUDIT_CAPACITY }, () => ({ seq: 0, time: 0, event: "", detail: "", hash: new Uint8Array(AUDIT_HASH_BYTES) }));
  }

  /**
   * Reads the chain, the reported mark and the refusal tally from the store. A chain record that is
   * missing, damaged or unreadable starts a new chain at `timeS` (Unix s, 0 if the clock is not
   * set) whose entry 0 names the reason. Called by the first use when not called before.
   */
  load(timeS = 0): void {
    if (this.#loaded) return;
    this.#loaded = true;
    const time = Math.max(0, Math.floor(timeS));
    let record: Uint8Array | undefined;
    try {
      record = this.#store.get(AUDIT_STORE_KEY);
    } catch (error) {
      this.#startChain(time, `store read failed ${storeFailureCause(error)}`);
      this.#loadRefusals(time);
      return;
    }
    const stored = record === undefined ? "no record" : decodeAuditChain(record, AUDIT_CAPACITY);
    if (typeof stored === "string") this.#startChain(time, stored);
    else {
      this.#chain.set(stored.chain);
      this.#chainHex = bytesToHex(this.#chain);
      this.#base.set(stored.base);
      this.#lost = stored.lost;
      for (const { seq, time: at, event, detail, hash } of stored.entries) {
        const slot = this.#ring[this.#count++]!;
        Object.assign(slot, { seq, time: at, event, detail });
        slot.hash.set(hash);
      }
      const sent = this.#loadSent();
      const newest = this.#newest().seq;
      // A mark beyond the chain: entries were reported from RAM that the chain record never got.
      if (sent !== undefined && sent > newest) this.#startChain(time, `record behind reported ${sent}`);
      else this.#reportedSeq = sent ?? this.#slotAt(0).seq - 1; // no mark: report the ring again (the collector checks the overlap)
    }
    this.#loadRefusals(time);
  }

  /** Why the chain was started at load (undefined when it was read from the store). */
  get resetReason(): string | undefined {
    return this.#resetReason;
  }

  /** The entries kept, oldest first (copies). */
  get entries(): AuditEntry[] {
    this.load();
    const entries: AuditEntry[] = [];
    for (let i = 0; i < this.#count; i++) entries.push(this.#entryAt(i));
    return entries;
  }

  /** The chain's id and newest entry. */
  get head(): { readonly chain: string; readonly seq: number; readonly hash: string } {
    this.load();
    const newest = this.#newest();
    return { chain: this.#chainHex, seq: newest.seq, hash: bytesToHex(newest.hash) };
  }

  /** The refusals tallied since the last report (copies). */
  get refusals(): RefusalCount[] {
    this.load();
    return this.#refusals.counts();
  }

  /** Chains an entry and writes the log; `event` matches AUDIT_EVENT_PATTERN. */
  append(time: number, event: string, detail: string): void {
    if (!AUDIT_EVENT_PATTERN.test(event)) throw new RangeError(`audit event ${JSON.stringify(event)} is not a lowercase hyphenated word of at most 24 characters`);
    this.load();
    this.#add(Math.max(0, Math.floor(time)), event, auditDetail(detail));
    this.#persist(undefined);
  }

  /** Tallies a refusal by cause (written to the store only now and then: audit-refusals.ts). */
  refused(time: number, cause: string): void {
    this.load();
    if (!this.#refusals.add(time, cause)) return;
    try {
      this.#store.commit([{ key: REFUSALS_STORE_KEY, value: this.#refusals.encode() }]);
    } catch {
      this.writeFailures++;
    }
  }

  /**
   * What the next health report carries: the period's refusals are chained first (one entry per
   * cause, and the tally starts over), then the oldest entries no report has carried.
   */
  takeReport(timeS: number): AuditReport {
    this.load();
    if (this.#refusals.size > 0) {
      const time = Math.max(0, Math.floor(timeS));
      for (const count of this.#refusals.counts()) this.#add(time, REFUSALS_EVENT, refusalDetail(count));
      this.#refusals.clear();
      this.#persist({ key: REFUSALS_STORE_KEY, value: undefined });
    }
    let first = 0;
    while (first < this.#count && this.#slotAt(first).seq <= this.#reportedSeq) first++;
    // Entries missing right after the reported ones (the log lost them): the report starts at the
    // reported entry before them, so that the hole is inside it, between hashes the city can check.
    if (first > 0 && first < this.#count && this.#slotAt(first).seq !== this.#slotAt(first - 1).seq + 1) first--;
    const carried = Math.min(this.#count - first, AUDIT_REPORT_ENTRIES);
    const entries: AuditEntry[] = [];
    for (let i = first; i < first + carried; i++) entries.push(this.#entryAt(i));
    const last = carried > 0 ? this.#slotAt(first + carried - 1) : this.#newest();
    const prev = carried === 0 ? undefined : first === 0 ? this.#base : this.#slotAt(first - 1).hash;
    return {
      chain: this.#chainHex,
      seq: last.seq,
      head: bytesToHex(last.hash),
      prev: prev && bytesToHex(prev),
      entries,
      lost: this.#lost,
      pending: this.#count - first - carried,
      write: { key: AUDIT_SENT_KEY, value: encodeAuditSent(this.#chain, last.seq) },
    };
  }

  /** The report was sealed: its entries are not carried again. */
  reported(report: AuditReport): void {
    if (report.chain === this.#chainHex && report.seq > this.#reportedSeq) this.#reportedSeq = report.seq;
  }

  /** A new chain: a fresh id, and entry 0 with the reason. */
  #startChain(time: number, reason: string): void {
    if (this.#random) this.#random.fill(this.#chain);
    else this.#chain.fill(0);
    this.#chainHex = bytesToHex(this.#chain);
    genesisHash(this.#chain, this.#base);
    this.#oldest = 0;
    this.#count = 0;
    this.#lost = 0;
    this.#reportedSeq = -1;
    this.#resetReason = reason;
    this.#add(time, AUDIT_RESET_EVENT, auditDetail(reason));
    this.#persist(undefined);
  }

  /** Restores the refusal tally; a damaged one is replaced by an entry that says its counts are lost. */
  #loadRefusals(time: number): void {
    let record: Uint8Array | undefined;
    try {
      record = this.#store.get(REFUSALS_STORE_KEY);
    } catch (error) {
      this.#add(time, REFUSALS_LOST_EVENT, `store read failed ${storeFailureCause(error)}`);
      this.#persist(undefined);
      return;
    }
    if (record === undefined || this.#refusals.load(record)) return;
    this.#add(time, REFUSALS_LOST_EVENT, "corrupt record");
    this.#persist({ key: REFUSALS_STORE_KEY, value: undefined });
  }

  #loadSent(): number | undefined {
    try {
      const record = this.#store.get(AUDIT_SENT_KEY);
      return record === undefined ? undefined : decodeAuditSent(record, this.#chain);
    } catch {
      return undefined;
    }
  }

  /** Chains an entry into the ring (evicting the oldest when full), without writing. */
  #add(time: number, event: string, detail: string): void {
    const previous = this.#count > 0 ? this.#newest() : undefined;
    const seq = previous ? previous.seq + 1 : 0;
    if (this.#count === AUDIT_CAPACITY) {
      const evicted = this.#ring[this.#oldest]!;
      this.#base.set(evicted.hash);
      if (evicted.seq > this.#reportedSeq) this.#lost++;
      this.#oldest = (this.#oldest + 1) % AUDIT_CAPACITY;
      this.#count--;
    }
    const slot = this.#ring[(this.#oldest + this.#count) % AUDIT_CAPACITY]!;
    this.#hasher.hash(seq, previous ? previous.hash : this.#base, time, event, detail, slot.hash);
    slot.seq = seq;
    slot.time = time;
    slot.event = event;
    slot.detail = detail;
    this.#count++;
  }

  /** Writes the chain record (with `also` in the same commit); a failure is counted, the entries stay in RAM. */
  #persist(also: StoreWrite | undefined): void {
    // A writer for each write, not one kept: 3.6 KB the node's heap holds only while it writes.
    const writer = new CborWriter(auditRecordMaxBytes(AUDIT_CAPACITY));
    const record = encodeAuditChain(writer, this.#chain, this.#lost, this.#base, this.#count, (i) => this.#slotAt(i));
    try {
      this.#store.commit(also ? [{ key: AUDIT_STORE_KEY, value: record }, also] : [{ key: AUDIT_STORE_KEY, value: record }]);
    } catch {
      this.writeFailures++;
    }
  }

  #slotAt(i: number): Slot {
    return this.#ring[(this.#oldest + i) % AUDIT_CAPACITY]!;
  }

  #newest(): Slot {
    return this.#slotAt(this.#count - 1);
  }

  #entryAt(i: number): AuditEntry {
    const { seq, time, event, detail } = this.#slotAt(i);
    return { seq, time, event, detail };
  }
}
