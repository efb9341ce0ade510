/**
 * What the dashboard asks of the store that CollectorDb (db/collector-db.ts) does not answer yet:
 * a node's stored messages with their sealed bytes (the `messages` table keeps every accepted
 * message as it was received, migration 001), a node's newest health report, and the newest
 * alert's number. Plain SELECTs, the same on SQLite and PostgreSQL, over the SQL layer of the
 * collector's one CollectorDb implementation (SqlCollectorDb.sql); they belong in
 * db/collector-queries.ts beside the others, and move there as they are.
 *
 * Example:
 *   const reads = storeReads(context.db);
 *   const page = await reads.messages({ device: "street-01", epoch: 0, counter: 3, limit: 1 });
 */
import type { CollectorDb, StoredHealth } from "../../db/collector-db.js";
import type { DecodedHealth } from "../../decoded-messages.js";
import type { SqlExecutor, SqlValue } from "../../db/sql-database.js";

/** One accepted message as stored: its sealed bytes and where its decoded content is. */
export interface StoredMessage {
  /** The store's number of it: its receipt order. */
  readonly id: number;
  readonly device: string;
  readonly kind: "summary" | "health";
  readonly topic: string;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAtMs: number;
  /** When the node sealed it (Unix s). */
  readonly sealedAt: number;
  readonly sealed: Uint8Array;
  /** The summary's window start, when it is the stored summary of a window. */
  readonly windowStart: number | undefined;
  /** The health report's time, when it is a stored health report. */
  readonly healthTime: number | undefined;
}

export interface MessageQuery {
  readonly device: string;
  readonly kind?: "summary" | "health";
  /** Both or neither: the message sealed under that key epoch and counter. */
  readonly epoch?: number;
  readonly counter?: number;
  /** Messages after this one (its id), for the next page. */
  readonly after?: number;
  readonly limit: number;
}

export interface StoreReads {
  /** A device's stored messages in receipt order, `limit` and one more (the caller pages). */
  messages(query: MessageQuery): Promise<StoredMessage[]>;
  /** A device's newest health report by its time, if any. */
  newestHealth(device: string): Promise<StoredHealth | undefined>;
  /** The number of the newest alert recorded (0 when none): grows with every alert. */
  newestAlert(): Promise<number>;
}

/** The reads over `db`'s SQL layer; throws for a store that has none (a defect: there is one implementation). */
export function storeReads(db: CollectorDb): StoreReads {
  const sql = (db as { readonly sql?: SqlExecutor }).sql;
  if (sql === undefined) throw new TypeError(`the ${db.engine} store offers no SQL layer to read its messages from`);
  return {
    messages: (query) => messages(sql, query),
    newestHealth: (device) => newestHealth(sql, device),
    newestAlert: async () => Number((await sql.query<{ n: number | string | null }>("SELECT max(id) AS n FROM alerts"))[0]?.n ?? 0),
  };
}

interface MessageRow {
  readonly id: number;
  readonly device: string;
  readonly kind: string;
  readonly topic: string;
  readonly epoch: number | string;
  readonly counter: number | string;
  readonly received_ms: number | string;
  readonly sealed_at: number;
  readonly sealed: Uint8Array;
  readonly window_start: number | string | null;
  readonly health_time: number | null;
}

async function messages(sql: SqlExecutor, query: MessageQuery): Promise<StoredMessage[]> {
  const where = ["m.device = ?"];
  const params: SqlValue[] = [query.device];
  if (query.kind !== undefined) where.push("m.kind = ?"), params.push(query.kind);
  if (query.epoch !== undefined && query.counter !== undefined) where.push("m.epoch = ? AND m.counter = ?"), params.push(query.epoch, query.counter);
  if (query.after !== undefined) where.push("m.id > ?"), params.push(query.after);
  const rows = await sql.query<MessageRow>(
    "SELECT m.id, m.device, m.kind, m.topic, m.epoch, m.counter, m.received_ms, m.sealed_at, m.sealed, s.window_start, h.time AS health_time " +
      "FROM messages m LEFT JOIN summaries s ON s.message_id = m.id LEFT JOIN health_reports h ON h.message_id = m.id " +
      `WHERE ${where.join(" AND ")} ORDER BY m.id LIMIT ?`,
    [...params, query.limit + 1],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    device: row.device,
    kind: row.kind === "health" ? "health" : "summary",
    topic: row.topic,
    epoch: Number(row.epoch),
    counter: Number(row.counter),
    receivedAtMs: Number(row.received_ms),
    sealedAt: row.sealed_at,
    sealed: new Uint8Array(row.sealed),
    windowStart: row.window_start === null ? undefined : Number(row.window_start),
    healthTime: row.health_time ?? undefined,
  }));
}

async function newestHealth(sql: SqlExecutor, device: string): Promise<StoredHealth | undefined> {
  const rows = await sql.query<{ device: string; time: number; epoch: number | string; counter: number | string; received_ms: number | string; report: string }>(
    "SELECT device, time, epoch, counter, received_ms, report FROM health_reports WHERE device = ? ORDER BY time DESC, id DESC LIMIT 1",
    [device],
  );
  const row = rows[0];
  if (!row) return undefined;
  return { device: row.device, time: row.time, epoch: Number(row.epoch), counter: Number(row.counter), receivedAtMs: Number(row.received_ms), report: JSON.parse(row.report) as DecodedHealth };
}
