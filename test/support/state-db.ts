/**
 * What `npm start` (or `npm run collector`) stored in a state folder's database,
 * `<state>/collector.db`, read by a test while the simulator runs (WAL: a reader never waits for
 * the writer) or after it stopped. Each read opens the database, reads and closes it again, so a
 * test never holds it across a kill or a restart; a folder without a database reads as empty and
 * is left without one.
 *
 * Example:
 *   await waitForStored(state, ({ summaries }) => summaries.length >= 2, "two summaries", 60_000);
 *   const { summaries, health } = await storedInState(state);
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Alert } from "../../hosts/collector/alerts.js";
import type { DeviceRow } from "../../hosts/collector/db/collector-db.js";
import { COLLECTOR_DB_FILE, openCollectorDb } from "../../hosts/collector/db/open-collector-db.js";
import type { SqlCollectorDb } from "../../hosts/collector/db/sql-collector-db.js";
import { storedLines, type StoredHealthLine, type StoredSummaryLine } from "../../hosts/collector/db/stored-lines.js";
import { sleep } from "./wait-for.js";

export interface StoredState {
  readonly summaries: StoredSummaryLine[];
  readonly health: StoredHealthLine[];
}

export function stateDbPath(state: string): string {
  return join(state, COLLECTOR_DB_FILE);
}

/** Runs `read` on the folder's database; undefined when the folder has none. */
export async function withStateDb<T>(state: string, read: (db: SqlCollectorDb) => Promise<T>): Promise<T | undefined> {
  if (!existsSync(stateDbPath(state))) return undefined;
  const db = await openCollectorDb({ location: stateDbPath(state) });
  try {
    return await read(db);
  } finally {
    await db.close();
  }
}

/** The summaries and health reports stored, oldest first; none when there is no database yet. */
export async function storedInState(state: string): Promise<StoredState> {
  return (await withStateDb(state, storedLines)) ?? { summaries: [], health: [] };
}

/** The alerts the collector recorded (up to 1000). */
export async function alertsInState(state: string): Promise<readonly Alert[]> {
  return (await withStateDb(state, async (db) => (await db.alerts({ limit: 1000 })).items)) ?? [];
}

/** The devices the database knows (zone, key id, first and last seen). */
export async function devicesInState(state: string): Promise<readonly DeviceRow[]> {
  return (await withStateDb(state, (db) => db.listDevices())) ?? [];
}

/**
 * Resolves with what is stored once `condition` holds for it; rejects naming `what` (and, when
 * given, `more()`: what the process printed) after `timeoutMs`.
 */
export async function waitForStored(state: string, condition: (stored: StoredState) => boolean, what: string, timeoutMs: number, pollMs = 100, more?: () => string): Promise<StoredState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stored = await storedInState(state);
    if (condition(stored)) return stored;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${stored.summaries.length} summaries stored)${more ? `\n${more()}` : ""}`);
    await sleep(pollMs);
  }
}
