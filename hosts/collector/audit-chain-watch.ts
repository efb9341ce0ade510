/**
 * Watches each device's audit chain across its stored health reports (audit-continuity.ts judges)
 * and turns what does not add up into alerts: a gap, a rewrite, a reset.
 *
 * The last verified head of a device is not kept apart: it is in the health reports the database
 * stores (their JSON holds the chain: decoded-messages.ts), so every collector of a group, and a
 * collector after a restart, judges from the same place. After a report is stored, the watch reads
 * the device's reports sealed within two days of it (and, when there is none before it in that
 * span, the latest before, however old), and judges the new report among them.
 *
 * Example:
 *   const watch = new AuditChainWatch(db);
 *   const alerts = await watch.check(health, receivedAtMs);   // after the health report is stored
 */
import type { Alert } from "./alerts.js";
import { auditGapAlert, auditResetAlert, auditRewriteAlert } from "./alerts.js";
import { findingsOf, type AuditFinding, type ChainReport } from "./audit-continuity.js";
import { MAX_PAGE, type CollectorDb, type StoredHealth } from "./db/collector-db.js";
import type { DecodedHealth } from "./decoded-messages.js";

/** Seal-time span read on either side of a report: its neighbours in the chain are within it, but for a long silence. */
const SPAN_S = 2 * 86_400;
/** Default of how long a gap a missing report leaves may still be filled by its late arrival. */
export const AUDIT_GAP_SETTLE_MS = 15 * 60_000;
/** Pages of reports read per check at most (a device reporting every minute fills three in two days). */
const MAX_PAGES = 8;

export interface AuditChainWatchOptions {
  /** How long a gap left by a missing report may still be filled (ms); default 15 minutes. */
  readonly settleMs?: number;
}

export class AuditChainWatch {
  readonly #db: CollectorDb;
  readonly #settleMs: number;

  constructor(db: CollectorDb, options: AuditChainWatchOptions = {}) {
    this.#db = db;
    this.#settleMs = options.settleMs ?? AUDIT_GAP_SETTLE_MS;
  }

  /** The alerts a stored health report raises (none for a report without an audit chain). Throws CollectorDbError. */
  async check(health: DecodedHealth, receivedAtMs: number, now = new Date(receivedAtMs)): Promise<Alert[]> {
    if (!health.auditChain) return [];
    const report: ChainReport = chainReport(health, receivedAtMs);
    const stored = await this.#around(health.device, health.time);
    const reports = stored.filter((r) => r.epoch !== report.epoch || r.counter !== report.counter);
    reports.push(report);
    return findingsOf(report, reports, this.#settleMs).map((finding) => alertOf(health.device, finding, this.#settleMs, now));
  }

  /** The device's reports with a chain sealed within SPAN_S of `time`, and the latest before them. */
  async #around(device: string, time: number): Promise<ChainReport[]> {
    const reports = await this.#read(device, time - SPAN_S, time + SPAN_S + 1);
    if (!reports.some((r) => r.time < time)) {
      const earlier = await this.#latestBefore(device, time - SPAN_S);
      if (earlier) reports.push(earlier);
    }
    return reports;
  }

  /** The latest report with a chain sealed before `time`: windows four times as long each, back to the device's first report. */
  async #latestBefore(device: string, time: number): Promise<ChainReport | undefined> {
    const oldest = (await this.#db.health(device, { to: time, limit: 1 })).items[0];
    if (!oldest) return undefined;
    let to = time;
    for (let span = SPAN_S; to > oldest.time; span *= 4) {
      const from = Math.max(oldest.time, to - span);
      const found = await this.#read(device, from, to);
      if (found.length > 0) return found.reduce((latest, r) => (r.time > latest.time ? r : latest));
      to = from;
    }
    return undefined;
  }

  async #read(device: string, from: number, to: number): Promise<ChainReport[]> {
    const reports: ChainReport[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, cursor: next } = await this.#db.health(device, { from, to, limit: MAX_PAGE, cursor });
      for (const item of items) {
        const report = storedChainReport(item);
        if (report) reports.push(report);
      }
      if (next === undefined) break;
      cursor = next;
    }
    return reports;
  }
}

function chainReport(health: DecodedHealth, receivedAtMs: number): ChainReport {
  return { chain: health.auditChain!, time: health.time, epoch: health.epoch, counter: health.counter, receivedAtMs, dropped: health.node.dropped ?? 0 };
}

/** A stored report's chain; undefined for reports without one (firmware before the chain, imported lines). */
function storedChainReport(stored: StoredHealth): ChainReport | undefined {
  const chain = stored.report.auditChain;
  if (!chain || typeof chain.chain !== "string" || !Array.isArray(chain.entries)) return undefined;
  return { chain, time: stored.time, epoch: stored.epoch, counter: stored.counter, receivedAtMs: stored.receivedAtMs, dropped: stored.report.node?.dropped ?? 0 };
}

function alertOf(device: string, finding: AuditFinding, settleMs: number, now: Date): Alert {
  switch (finding.kind) {
    case "gap":
      return auditGapAlert(device, finding, settleMs, now);
    case "rewrite":
      return auditRewriteAlert(device, finding, now);
    case "reset":
      return auditResetAlert(device, finding, now);
  }
}
