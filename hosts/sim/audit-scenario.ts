/**
 * The audit chain's conformance scenario: one seeded run of the node's audit log (src/policy/
 * audit-log.ts) through what it meets, fully deterministic (seeded chain ids, in-memory flash). It
 * runs unchanged on Node and inside the XS engine, and both must produce the same reports and the
 * same records, byte for byte.
 *
 * Storyline: a first chain; a flood of refusals around an accepted command; more entries than the
 * log holds before a report (some evicted unreported, the rest carried over two reports); a
 * reboot; a power cut during the flood's writes; the chain's record damaged, so a new chain starts.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { AUDIT_SENT_KEY, AUDIT_STORE_KEY, AuditLog } from "../../src/policy/audit-log.js";
import { REFUSALS_STORE_KEY } from "../../src/policy/audit-refusals.js";
import { FaultyStore } from "./faulty-store.js";
import { MemoryStore } from "./memory-store.js";
import { SeededRandom } from "./prng.js";

export interface AuditScenarioOptions {
  /** Unix seconds of the first entry. */
  readonly startS: number;
  readonly seed: string;
}

/** A report as the health report carries it, and the mark committed with it (hex). */
export interface AuditScenarioReport {
  readonly chain: string;
  readonly seq: number;
  readonly head: string;
  readonly prev: string | null;
  readonly entries: ReadonlyArray<{ readonly seq: number; readonly time: number; readonly event: string; readonly detail: string }>;
  readonly lost: number;
  readonly pending: number;
  readonly markHex: string;
  /** The report's time (Unix s). */
  readonly time: number;
}

export interface AuditScenarioResult {
  readonly reports: readonly AuditScenarioReport[];
  /** The records in the store at the end, hex (null: absent). */
  readonly records: Readonly<Record<string, string | null>>;
  readonly resetReasons: ReadonlyArray<string | null>;
  readonly writeFailures: number;
}

const REPORT_S = 900;

export function runAuditScenario(options: AuditScenarioOptions): AuditScenarioResult {
  const memory = new MemoryStore();
  let store = new FaultyStore(memory);
  const random = new SeededRandom(`${options.seed}/chain`);
  const reports: AuditScenarioReport[] = [];
  const resetReasons: Array<string | null> = [];
  let writeFailures = 0;
  let now = options.startS;

  const boot = (): AuditLog => {
    const log = new AuditLog(store, random);
    log.load(now);
    resetReasons.push(log.resetReason ?? null);
    log.append(now, "boot", "epoch 0");
    return log;
  };
  const report = (log: AuditLog): void => {
    now += REPORT_S;
    const taken = log.takeReport(now);
    store.commit([taken.write]);
    log.reported(taken);
    const { chain, seq, head, prev, entries, lost, pending } = taken;
    reports.push({ chain, seq, head, prev: prev ?? null, entries, lost, pending, markHex: bytesToHex(taken.write.value!), time: now });
  };

  let log = boot();
  for (let i = 0; i < 40; i++) {
    if (i === 20) log.append(now + i, "command-accepted", "rotate-epoch");
    log.refused(now + i, ["authentication", "malformed", "replay"][i % 3]!);
  }
  report(log);
  for (let i = 0; i < 35; i++) log.append(now + 10 + i, "command-accepted", `set-interval ${i}`);
  report(log);
  report(log);
  report(log);

  writeFailures += log.writeFailures;
  log = boot(); // a reboot
  report(log);

  // A power cut at the fourth write of a flood: the tally as of its third write survives.
  store.cutPowerAtCommit(3, false);
  for (let i = 0; i < 64 && store.powered; i++) log.refused(now + i, "kid");
  writeFailures += log.writeFailures;
  store = new FaultyStore(memory); // the power is back: a reboot
  log = boot();
  report(log);

  // The chain's record damaged in the flash: a new chain, whose first entry says so.
  const record = memory.get(AUDIT_STORE_KEY)!;
  record[7]! ^= 0x10;
  memory.commit([{ key: AUDIT_STORE_KEY, value: record }]);
  writeFailures += log.writeFailures;
  log = boot();
  report(log);
  writeFailures += log.writeFailures;

  const records: Record<string, string | null> = {};
  for (const key of [AUDIT_STORE_KEY, AUDIT_SENT_KEY, REFUSALS_STORE_KEY]) {
    const value = memory.get(key);
    records[key] = value === undefined ? null : bytesToHex(value);
  }
  return { reports, records, resetReasons, writeFailures };
}
