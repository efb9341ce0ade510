/**
 * Reads what the collectors stored straight from their database (SQLite file or PostgreSQL URL),
 * with SQL of its own rather than the collector's queries: the test checks the store, it does not
 * trust it. Tables as migrations/001-collector-store.sql defines them.
 */
import Database from "better-sqlite3";
import pg from "pg";
import { messageId, type MessageId } from "./recorded-street.js";

export interface StoredMessage {
  readonly id: MessageId;
  readonly topic: string;
  readonly sealed: Uint8Array;
}

export interface StoredRows {
  /** Every row of `messages` as device/epoch/counter, copies included (so a message stored twice shows twice). */
  messageIds(): Promise<MessageId[]>;
  /** Every row of `messages` with its topic and sealed bytes. */
  messages(): Promise<StoredMessage[]>;
  /** Rows of `summaries` per (device, window start) more than once: must be none. */
  windowsStoredTwice(): Promise<number>;
  /** Rows of `rejections` by cause. */
  rejections(): Promise<Record<string, number>>;
  close(): Promise<void>;
}

const MESSAGES = "SELECT device, epoch, counter, topic, sealed FROM messages ORDER BY id";
const WINDOWS_TWICE = "SELECT count(*) AS n FROM (SELECT device, window_start FROM summaries GROUP BY device, window_start HAVING count(*) > 1) AS twice";
const REJECTIONS = "SELECT cause, count(*) AS n FROM rejections GROUP BY cause";

interface MessageRow {
  device: string;
  epoch: number | string;
  counter: number | string;
  topic: string;
  sealed: Uint8Array;
}

/** Opens the database at `location` (a postgres:// URL or an SQLite file the collector created). */
export async function openStoredRows(location: string): Promise<StoredRows> {
  return /^postgres(ql)?:\/\//.test(location) ? postgresRows(location) : sqliteRows(location);
}

function toMessage(row: MessageRow): StoredMessage {
  return { id: messageId(row.device, Number(row.epoch), Number(row.counter)), topic: row.topic, sealed: new Uint8Array(row.sealed) };
}

async function postgresRows(url: string): Promise<StoredRows> {
  const client = new pg.Client({ connectionString: url });
  // A server stopped or a database dropped under it ends the connection: the next query says so.
  client.on("error", () => undefined);
  await client.connect();
  const messages = async () => (await client.query<MessageRow>(MESSAGES)).rows.map(toMessage);
  return {
    messages,
    messageIds: async () => (await messages()).map((m) => m.id),
    windowsStoredTwice: async () => Number((await client.query<{ n: string }>(WINDOWS_TWICE)).rows[0]!.n),
    rejections: async () => Object.fromEntries((await client.query<{ cause: string; n: string }>(REJECTIONS)).rows.map((r) => [r.cause, Number(r.n)])),
    close: () => client.end(),
  };
}

async function sqliteRows(path: string): Promise<StoredRows> {
  // Read-write, as WAL readers need the shared-memory file; it only ever SELECTs.
  const db = new Database(path, { fileMustExist: true, timeout: 5000 });
  const messages = async () => (db.prepare(MESSAGES).all() as MessageRow[]).map(toMessage);
  return {
    messages,
    messageIds: async () => (await messages()).map((m) => m.id),
    windowsStoredTwice: async () => Number((db.prepare(WINDOWS_TWICE).get() as { n: number }).n),
    rejections: async () => Object.fromEntries((db.prepare(REJECTIONS).all() as Array<{ cause: string; n: number }>).map((r) => [r.cause, Number(r.n)])),
    close: async () => {
      db.close();
    },
  };
}

/** `ids` that occur more than once. */
export function storedTwice(ids: readonly MessageId[]): MessageId[] {
  const seen = new Set<MessageId>();
  const twice = new Set<MessageId>();
  for (const id of ids) (seen.has(id) ? twice : seen).add(id);
  return [...twice].sort();
}

/** What the nodes sealed and the database lacks, and what it holds that nobody sealed. */
export function compareSealedWithStored(sealed: ReadonlySet<MessageId>, stored: readonly MessageId[]): { missing: MessageId[]; unexpected: MessageId[] } {
  const held = new Set(stored);
  return {
    missing: [...sealed].filter((id) => !held.has(id)).sort(),
    unexpected: [...held].filter((id) => !sealed.has(id)).sort(),
  };
}

/**
 * Polls the database until it holds every message in `sealed()` and its rows have stopped changing
 * for `quietMs` (late copies have been judged); returns the rows' ids. Rejects after `timeoutMs`,
 * naming what is still missing, with `explain` saying when those were sealed.
 */
export async function waitForEverySealed(
  rows: StoredRows,
  sealed: () => ReadonlySet<MessageId>,
  options: { readonly timeoutMs: number; readonly quietMs?: number; readonly explain?: (missing: readonly MessageId[]) => string },
): Promise<MessageId[]> {
  const quietMs = options.quietMs ?? 1000;
  const deadline = Date.now() + options.timeoutMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const ids = await rows.messageIds();
    if (ids.length !== last) {
      last = ids.length;
      since = Date.now();
    }
    const { missing } = compareSealedWithStored(sealed(), ids);
    if (missing.length === 0 && Date.now() - since >= quietMs) return ids;
    if (Date.now() > deadline) {
      throw new Error(`the database lacks ${missing.length} of ${sealed().size} sealed message(s) after ${Math.round(options.timeoutMs / 1000)} s: ${missing.slice(0, 12).join(", ")}${options.explain ? `\n${options.explain(missing)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Reads `read()` every 200 ms until `done` holds of it or `timeoutMs` has passed; returns the last value (the test's expect says what was wrong). */
export async function readUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
