/**
 * GET /api/nodes/{device}/audit: a node's audit trail and whether its chain holds (staff). The
 * entries its stored health reports carried, each once, and the verdict of the collector's own
 * continuity check (audit-continuity.ts) over every report read: within each report, the entries
 * hash from the one before to the head it vouches for; between reports that follow each other in
 * seal order, the later one begins where the earlier ended, with the same hashes, on the same
 * chain. A finding is worded as its alert is (alerts.ts).
 *
 * The reports read are those whose time is in [from, to): by default the week up to the newest
 * report, at most MAX_REPORTS of them, oldest first (`truncated` says when there were more).
 */
import { AuditHasher } from "../../../../src/policy/audit-chain.js";
import { auditGapAlert, auditResetAlert, auditRewriteAlert } from "../../alerts.js";
import { AUDIT_GAP_SETTLE_MS } from "../../audit-chain-watch.js";
import { bySealOrder, judgeLink, reportHashes, type AuditFinding, type ChainReport } from "../../audit-continuity.js";
import { MAX_PAGE, type StoredHealth } from "../../db/collector-db.js";
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { deviceParameter, fromParameter, parameters, toParameter } from "../api-schemas.js";
import { auditTrailSchema } from "../dashboard-schemas.js";
import { isoSeconds, parseTimeRange } from "../time-parameter.js";
import { storeReads } from "./store-reads.js";

/** Reports read at most for one answer: four pages, a month and more of a node reporting every 15 minutes. */
const MAX_REPORTS = 4 * MAX_PAGE;
/** Entries shown at most: the newest. */
const ENTRIES_SHOWN = 500;
const DEFAULT_SPAN_S = 7 * 86_400;

export function nodeAuditRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/audit",
    operationId: "getNodeAuditTrail",
    summary: "A node's audit trail, and whether its chain holds",
    description:
      "The audit entries the node's stored health reports carried (each once, in chain order, the newest 500) and the collector's continuity check over those reports: " +
      "`holds` is true when no entry is missing, none was rewritten and the chain did not start over; `findings` says what does not hold, as its alert would. " +
      `\`from\` and \`to\` bound the reports' times; by default the week up to the newest report; at most ${MAX_REPORTS} reports are read.`,
    tag: "operations",
    access: "staff",
    params: parameters({ device: deviceParameter }, ["device"]),
    query: parameters({ from: fromParameter, to: toParameter }),
    ok: { description: "the audit trail and its verdict", schema: auditTrailSchema },
    notFound: "no such device",
    async handle(request) {
      const { device } = await knownDevice(context, request.params.device as string);
      const range = parseTimeRange(request.query);
      let from = range.from;
      if (from === undefined) {
        const newest = await storeReads(context.db).newestHealth(device);
        from = newest === undefined ? undefined : Math.floor(newest.time) - DEFAULT_SPAN_S;
      }
      const { reports: stored, truncated } = await readReports(context, device, from, range.to);
      return { kind: "json", body: { device, ...judge(device, stored, context.now()), truncated } };
    },
  };
}

async function readReports(context: ApiContext, device: string, from: number | undefined, to: number | undefined): Promise<{ reports: StoredHealth[]; truncated: boolean }> {
  const reports: StoredHealth[] = [];
  let cursor: string | undefined;
  do {
    const page = await context.db.health(device, { from, to, limit: MAX_PAGE, cursor });
    reports.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined && reports.length < MAX_REPORTS);
  return { reports, truncated: cursor !== undefined };
}

function judge(device: string, stored: readonly StoredHealth[], nowMs: number) {
  const chained: ChainReport[] = [];
  for (const row of stored) {
    const chain = row.report.auditChain;
    if (chain && typeof chain.chain === "string" && Array.isArray(chain.entries)) {
      chained.push({ chain, time: row.time, epoch: row.epoch, counter: row.counter, receivedAtMs: row.receivedAtMs, dropped: row.report.node?.dropped ?? 0 });
    }
  }
  chained.sort(bySealOrder);
  const hasher = new AuditHasher();
  const hashes = new Map<ChainReport, Map<number, string>>();
  const hashesOf = (r: ChainReport) => {
    let known = hashes.get(r);
    if (!known) hashes.set(r, (known = reportHashes(r, hasher)));
    return known;
  };
  const findings: AuditFinding[] = [];
  for (const report of chained) {
    const within: AuditFinding[] = [];
    hashes.set(report, reportHashes(report, hasher, within));
    findings.push(...within);
  }
  for (let i = 1; i < chained.length; i++) {
    const finding = judgeLink(chained[i - 1]!, chained[i]!, hashesOf);
    if (finding) findings.push(finding);
  }
  const entries = new Map<string, { chain: string; seq: number; time: number; timeIso: string; event: string; detail: string }>();
  for (const report of chained) {
    for (const entry of report.chain.entries) {
      const key = `${report.chain.chain}/${entry.seq}`;
      if (!entries.has(key)) entries.set(key, { chain: report.chain.chain, seq: entry.seq, time: entry.time, timeIso: isoSeconds(entry.time), event: entry.event, detail: entry.detail });
    }
  }
  const all = [...entries.values()];
  return {
    reports: stored.length,
    chained: chained.length,
    holds: findings.length === 0,
    findings: findings.map((finding) => findingJson(device, finding, nowMs)),
    entries: all.slice(-ENTRIES_SHOWN),
    entriesTotal: all.length,
  };
}

function findingJson(device: string, finding: AuditFinding, nowMs: number) {
  const now = new Date(nowMs);
  switch (finding.kind) {
    case "gap":
      return {
        kind: finding.kind,
        cause: finding.cause,
        chain: finding.chain,
        from: finding.from,
        to: finding.to,
        ...(finding.count === undefined ? {} : { count: finding.count }),
        detail: auditGapAlert(device, finding, AUDIT_GAP_SETTLE_MS, now).detail,
        settled: finding.cause !== "missing" || nowMs - finding.after.receivedAtMs >= AUDIT_GAP_SETTLE_MS,
        reportTime: finding.after.time,
        reportTimeIso: isoSeconds(Math.floor(finding.after.time)),
      };
    case "rewrite":
      return {
        kind: finding.kind,
        how: finding.how,
        chain: finding.chain,
        seq: finding.seq,
        detail: auditRewriteAlert(device, finding, now).detail,
        settled: true,
        reportTime: finding.report.time,
        reportTimeIso: isoSeconds(Math.floor(finding.report.time)),
      };
    case "reset":
      return {
        kind: finding.kind,
        chain: finding.after.chain.chain,
        ...(finding.reason === undefined ? {} : { reason: finding.reason }),
        detail: auditResetAlert(device, finding, now).detail,
        settled: true,
        reportTime: finding.after.time,
        reportTimeIso: isoSeconds(Math.floor(finding.after.time)),
      };
  }
}
