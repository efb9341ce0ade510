/**
 * Everything a collector's database holds, read back as the decoded summaries and health reports
 * the collector stored: for the fault campaign's accounting, exports and tests. Pages through the
 * API's own queries, oldest first.
 *
 * Example:
 *   const { summaries, health } = await storedLines(db);
 *   const windows = new Set(summaries.map((s) => `${s.device}/${s.windowStart}`));
 */
import type { DecodedHealth, DecodedSummary } from "../decoded-messages.js";
import { MAX_PAGE, type CollectorDb } from "./collector-db.js";
import { channelsOf } from "./summary-statistics.js";

export interface StoredSummaryLine extends DecodedSummary {
  readonly receivedAtMs: number;
}

export interface StoredHealthLine extends DecodedHealth {
  readonly receivedAtMs: number;
}

export async function storedLines(db: CollectorDb): Promise<{ summaries: StoredSummaryLine[]; health: StoredHealthLine[] }> {
  const summaries: StoredSummaryLine[] = [];
  let cursor: string | undefined;
  do {
    const page = await db.summaries({ limit: MAX_PAGE, cursor });
    for (const s of page.items) {
      summaries.push({ zone: s.zone, device: s.device, epoch: s.epoch, counter: s.counter, windowStart: s.windowStart, windowSeconds: s.windowSeconds, channels: channelsOf(s.statistics), receivedAtMs: s.receivedAtMs });
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  const health: StoredHealthLine[] = [];
  for (const { device } of await db.listDevices()) {
    let next: string | undefined;
    do {
      const page = await db.health(device, { limit: MAX_PAGE, cursor: next });
      for (const h of page.items) health.push({ ...h.report, receivedAtMs: h.receivedAtMs });
      next = page.cursor;
    } while (next !== undefined);
  }
  return { summaries, health };
}
