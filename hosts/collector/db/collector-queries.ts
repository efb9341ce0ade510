/**
 * The questions the API asks of the store, one query each, written once for both engines. Lists
 * come oldest first, in pages: a page holds at most `limit` rows and the cursor of the next one
 * (page-cursor.ts), found by asking for one row more than the page holds. A summary's statistics
 * are a column of its row (summary-statistics.ts).
 */
import type { Alert, AlertKind } from "../alerts.js";
import type { DecodedHealth } from "../decoded-messages.js";
import type { RejectCause } from "../message-opener.js";
import { AUDIT_EVENT_PATTERN, parseAuditText } from "../../../src/policy/audit-chain.js";
import {
  MAX_PAGE,
  type CommandRow,
  type DeviceRow,
  type Page,
  type PolicyRun,
  type RejectionCounts,
  type ReportedAuditEntry,
  type StoredHealth,
  type StoredSummary,
  type SummaryQuery,
} from "./collector-db.js";
import { checkLimit, decodeCursor, encodeCursor, QueryParameterError, type CursorKey } from "./page-cursor.js";
import { channelNeedle, parseStatistics } from "./summary-statistics.js";
import type { SqlDialect, SqlExecutor, SqlValue } from "./sql-database.js";

export async function listDevices(db: SqlExecutor): Promise<DeviceRow[]> {
  const rows = await db.query<{ device: string; zone: string; key_id: string | null; first_seen_ms: number | null; last_seen_ms: number | null; last_window: number | null }>(
    "SELECT d.device, d.zone, d.key_id, d.first_seen_ms, d.last_seen_ms, (SELECT max(s.window_start) FROM summaries s WHERE s.device = d.device) AS last_window FROM devices d ORDER BY d.device",
  );
  return rows.map((row) => ({
    device: row.device,
    zone: row.zone,
    keyId: row.key_id ?? "",
    firstSeenMs: row.first_seen_ms ?? undefined,
    lastSeenMs: row.last_seen_ms ?? undefined,
    lastWindowStart: row.last_window ?? undefined,
  }));
}

interface SummaryRow {
  readonly id: number;
  readonly device: string;
  readonly zone: string;
  readonly window_start: number;
  readonly window_seconds: number;
  readonly epoch: number;
  readonly counter: number;
  readonly received_ms: number;
  readonly statistics: string;
  readonly policy_serial: number | string | null;
  readonly policy_sha256: string | null;
}

export async function summaries(db: SqlExecutor & { readonly dialect: SqlDialect }, query: SummaryQuery): Promise<Page<StoredSummary>> {
  const limit = checkLimit(query.limit, MAX_PAGE);
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (condition: string, ...values: SqlValue[]) => (where.push(condition), params.push(...values));
  if (query.device !== undefined) add("s.device = ?", query.device);
  if (query.zone !== undefined) add("s.zone = ?", query.zone);
  if (query.from !== undefined) add("s.window_start >= ?", seconds(query.from, "from"));
  if (query.to !== undefined) add("s.window_start < ?", seconds(query.to, "to"));
  if (query.channel !== undefined) add(`${db.dialect.textPosition}(s.channels, ?) > 0`, channelNeedle(query.channel));
  if (query.cursor !== undefined) {
    const [windowStart, device] = decodeCursor(query.cursor, ["number", "string"]);
    add("(s.window_start > ? OR (s.window_start = ? AND s.device > ?))", windowStart!, windowStart!, device!);
  }
  const rows = await db.query<SummaryRow>(
    `SELECT s.id, s.device, s.zone, s.window_start, s.window_seconds, s.epoch, s.counter, s.received_ms, s.statistics, s.policy_serial, s.policy_sha256 FROM summaries s${whereClause(where)} ORDER BY s.window_start, s.device LIMIT ?`,
    [...params, limit + 1],
  );
  return paged(
    rows,
    limit,
    (row) => {
      const statistics = parseStatistics(row.statistics, row.id);
      return {
        device: row.device,
        zone: row.zone,
        windowStart: row.window_start,
        windowSeconds: row.window_seconds,
        epoch: row.epoch,
        counter: row.counter,
        receivedAtMs: row.received_ms,
        statistics: query.channel === undefined ? statistics : statistics.filter((s) => s.channel === query.channel),
        ...(row.policy_sha256 === null || row.policy_sha256 === undefined ? {} : { policy: { serial: Number(row.policy_serial), sha256: row.policy_sha256 } }),
      };
    },
    (row) => [row.window_start, row.device],
  );
}

export async function health(
  db: SqlExecutor,
  device: string,
  query: { readonly from?: number; readonly to?: number; readonly limit: number; readonly cursor?: string },
): Promise<Page<StoredHealth>> {
  const limit = checkLimit(query.limit, MAX_PAGE);
  const where = ["device = ?"];
  const params: SqlValue[] = [device];
  if (query.from !== undefined) where.push("time >= ?"), params.push(seconds(query.from, "from"));
  if (query.to !== undefined) where.push("time < ?"), params.push(seconds(query.to, "to"));
  if (query.cursor !== undefined) {
    const [time, id] = decodeCursor(query.cursor, ["number", "number"]);
    where.push("(time > ? OR (time = ? AND id > ?))"), params.push(time!, time!, id!);
  }
  const rows = await db.query<{ id: number; device: string; time: number; epoch: number; counter: number; received_ms: number; report: string }>(
    `SELECT id, device, time, epoch, counter, received_ms, report FROM health_reports${whereClause(where)} ORDER BY time, id LIMIT ?`,
    [...params, limit + 1],
  );
  return paged(
    rows,
    limit,
    (row) => ({ device: row.device, time: row.time, epoch: row.epoch, counter: row.counter, receivedAtMs: row.received_ms, report: JSON.parse(row.report) as DecodedHealth }),
    (row) => [row.time, row.id],
  );
}

/** The policies a device's stored summaries were produced under (rows without one left out), by their first window. */
export async function policiesProducedUnder(db: SqlExecutor, device: string): Promise<PolicyRun[]> {
  const rows = await db.query<{ policy_serial: number; policy_sha256: string; first_window: number; last_window: number; windows: number }>(
    "SELECT policy_serial, policy_sha256, min(window_start) AS first_window, max(window_start) AS last_window, count(*) AS windows FROM summaries " +
      "WHERE device = ? AND policy_sha256 IS NOT NULL GROUP BY policy_serial, policy_sha256 ORDER BY 3, 1",
    [device],
  );
  return rows.map((row) => ({
    serial: Number(row.policy_serial),
    sha256: row.policy_sha256,
    firstWindowStart: Number(row.first_window),
    lastWindowStart: Number(row.last_window),
    windows: Number(row.windows),
  }));
}

/**
 * The audit entries of `events` that a device's newest `limit` health reports holding one of them
 * carried. The reports are found by their text (LIKE, on both engines; SQLite's ignores case), then
 * read: only entries whose event is exactly one of `events` are kept, each once.
 */
export async function auditEntries(db: SqlExecutor, device: string, query: { readonly events: readonly string[]; readonly limit: number }): Promise<ReportedAuditEntry[]> {
  const limit = checkLimit(query.limit, MAX_PAGE);
  const events = new Set(query.events);
  if (events.size === 0) return [];
  // The pattern keeps out LIKE's wildcards (% and _), so an event is its own needle.
  for (const event of events) if (!AUDIT_EVENT_PATTERN.test(event)) throw new QueryParameterError("events", `${JSON.stringify(event)} is not an audit event (a lowercase hyphenated word)`);
  const rows = await db.query<{ time: number; report: string }>(
    `SELECT time, report FROM health_reports WHERE device = ? AND (${[...events].map(() => "report LIKE ?").join(" OR ")}) ORDER BY time DESC, id DESC LIMIT ?`,
    [device, ...[...events].map((event) => `%${event}%`), limit],
  );
  const found = new Map<string, ReportedAuditEntry>();
  for (const row of rows) {
    const report = JSON.parse(row.report) as DecodedHealth;
    const reportTime = Number(row.time);
    const carried: ReportedAuditEntry[] = report.auditChain
      ? report.auditChain.entries.map(({ seq, time, event, detail }) => ({ time, event, detail, chain: report.auditChain!.chain, seq, reportTime }))
      : report.audit.flatMap(({ time, entry }) => {
          const parsed = parseAuditText(entry);
          return parsed ? [{ time, ...parsed, reportTime }] : [];
        });
    for (const entry of carried) {
      if (!events.has(entry.event)) continue;
      const key = entry.chain === undefined ? `${entry.time} ${entry.event} ${entry.detail}` : `${entry.chain} ${entry.seq}`;
      found.set(key, entry); // the rows come newest first: the earliest report that carried it wins
    }
  }
  return [...found.values()].sort((a, b) => a.time - b.time || (a.seq ?? 0) - (b.seq ?? 0) || a.reportTime - b.reportTime);
}

/** Rejections counted by cause in buckets of `bucketSeconds`, over [from, to) (Unix s). */
export async function rejections(db: SqlExecutor, query: { readonly from?: number; readonly to?: number; readonly bucketSeconds: number }): Promise<RejectionCounts> {
  const bucket = query.bucketSeconds;
  if (!Number.isInteger(bucket) || bucket < 1 || bucket > 366 * 86400) throw new QueryParameterError("bucketSeconds", "must be an integer number of seconds from 1 to a year");
  const where: string[] = [];
  const params: SqlValue[] = [bucket * 1000];
  if (query.from !== undefined) where.push("time_ms >= ?"), params.push(seconds(query.from, "from") * 1000);
  if (query.to !== undefined) where.push("time_ms < ?"), params.push(seconds(query.to, "to") * 1000);
  // Integer division on both engines: both operands are integers.
  const rows = await db.query<{ bucket: number; cause: RejectCause; n: number }>(
    `SELECT time_ms / CAST(? AS BIGINT) AS bucket, cause, count(*) AS n FROM rejections${whereClause(where)} GROUP BY 1, 2 ORDER BY 1, 2`,
    params,
  );
  const buckets: Array<{ start: number; counts: Partial<Record<RejectCause, number>> }> = [];
  for (const row of rows) {
    const start = row.bucket * bucket;
    if (buckets[buckets.length - 1]?.start !== start) buckets.push({ start, counts: {} });
    buckets[buckets.length - 1]!.counts[row.cause] = row.n;
  }
  return { buckets };
}

export async function alerts(db: SqlExecutor, query: { readonly limit: number; readonly cursor?: string }): Promise<Page<Alert>> {
  const limit = checkLimit(query.limit, MAX_PAGE);
  const [after] = query.cursor !== undefined ? decodeCursor(query.cursor, ["number"]) : [0];
  const rows = await db.query<{ id: number; time_ms: number; kind: AlertKind; device: string | null; epoch: number | null; detail: string; action: string }>(
    "SELECT id, time_ms, kind, device, epoch, detail, action FROM alerts WHERE id > ? ORDER BY id LIMIT ?",
    [after!, limit + 1],
  );
  return paged(
    rows,
    limit,
    (row) => ({
      time: new Date(row.time_ms).toISOString(),
      kind: row.kind,
      ...(row.device !== null ? { device: row.device } : {}),
      ...(row.epoch !== null ? { epoch: row.epoch } : {}),
      detail: row.detail,
      action: row.action,
    }),
    (row) => [row.id],
  );
}

export async function commands(
  db: SqlExecutor,
  query: { readonly device?: string; readonly limit: number; readonly cursor?: string },
): Promise<Page<CommandRow & { readonly outcome: string | undefined }>> {
  const limit = checkLimit(query.limit, MAX_PAGE);
  const [after] = query.cursor !== undefined ? decodeCursor(query.cursor, ["number"]) : [0];
  const byDevice = query.device !== undefined ? " AND device = ?" : "";
  const rows = await db.query<{ id: number; device: string; name: string; args: string; counter: number; sent_ms: number; outcome: string | null }>(
    `SELECT id, device, name, args, counter, sent_ms, outcome FROM commands WHERE id > ?${byDevice} ORDER BY id LIMIT ?`,
    query.device !== undefined ? [after!, query.device, limit + 1] : [after!, limit + 1],
  );
  return paged(
    rows,
    limit,
    (row) => ({
      device: row.device,
      name: row.name,
      args: JSON.parse(row.args) as Record<string, number | string>,
      counter: row.counter,
      sentAtMs: row.sent_ms,
      outcome: row.outcome ?? undefined,
    }),
    (row) => [row.id],
  );
}

/** The first `limit` rows as items; the cursor of the last one when a row more was found. */
function paged<Row, Item>(rows: readonly Row[], limit: number, item: (row: Row) => Item, key: (row: Row) => CursorKey): Page<Item> {
  const items = rows.slice(0, limit).map(item);
  return { items, cursor: rows.length > limit ? encodeCursor(key(rows[limit - 1]!)) : undefined };
}

function whereClause(conditions: readonly string[]): string {
  return conditions.length > 0 ? ` WHERE ${conditions.join(" AND ")}` : "";
}

/** A time bound (Unix s) must be an integer. */
function seconds(value: number, parameter: string): number {
  if (!Number.isSafeInteger(value)) throw new QueryParameterError(parameter, "must be a time in whole Unix seconds");
  return value;
}
