/**
 * Retention: what the collector deletes, so that what it keeps matches what each node's disclosure
 * tells residents (`retention.summaries`, src/policy/disclosure.ts), and health and rejections
 * after the periods the city configures.
 *
 *   a summary        once `summaryDays(device)` days have passed since its window ended
 *   a health report  once `healthDays` (per device, or one period for all) have passed since its time
 *   a rejection      once `rejectionDays` have passed since it was recorded
 *
 * A summary goes with its statistics and its message row (the sealed bytes), a health report with
 * its message row, each device in a transaction of its own (a city's worth of deletes must not
 * hold SQLite's one write lock for long). The replay state stays: it is what refuses the deleted
 * messages should they be replayed.
 */
import type { RetentionPolicy } from "./collector-db.js";
import type { SqlDatabase } from "./sql-database.js";

const DAY_MS = 86_400_000;

export async function applyRetention(db: SqlDatabase, policy: RetentionPolicy, nowMs: number): Promise<{ summaries: number; health: number; rejections: number }> {
  let summaries = 0;
  const devices = await db.query<{ device: string }>("SELECT device FROM devices ORDER BY device");
  for (const { device } of devices) {
    const cutoff = cutoffSeconds(nowMs, policy.summaryDays(device), `summary days of ${device}`);
    if (cutoff === undefined) continue;
    // A window that ended by the cutoff started before it: the (device, window_start) index finds the rows, the window's end decides.
    const expired = "device = ? AND window_start < ? AND window_start + window_seconds <= ?";
    const params = [device, cutoff, cutoff];
    summaries += await db.transaction(async (tx) => {
      const [{ n }] = (await tx.query<{ n: number }>(`SELECT count(*) AS n FROM summaries WHERE ${expired}`, params)) as [{ n: number }];
      if (n === 0) return 0;
      await tx.run(`DELETE FROM messages WHERE id IN (SELECT message_id FROM summaries WHERE ${expired} AND message_id IS NOT NULL)`, params);
      await tx.run(`DELETE FROM summaries WHERE ${expired}`, params); // those imported without a message row
      return n;
    });
  }

  let health = 0;
  // Per device when the devices' policies say (each its own retention.healthDays), else one period for all.
  const healthDevices = typeof policy.healthDays === "number" ? [undefined] : devices.map((d) => d.device);
  for (const device of healthDevices) {
    const days = typeof policy.healthDays === "number" ? policy.healthDays : policy.healthDays(device!);
    const healthCutoff = cutoffSeconds(nowMs, days, device === undefined ? "health days" : `health days of ${device}`);
    if (healthCutoff === undefined) continue;
    const expired = device === undefined ? "time <= ?" : "device = ? AND time <= ?";
    const params = device === undefined ? [healthCutoff] : [device, healthCutoff];
    health += await db.transaction(async (tx) => {
      const [{ n }] = (await tx.query<{ n: number }>(`SELECT count(*) AS n FROM health_reports WHERE ${expired}`, params)) as [{ n: number }];
      if (n === 0) return 0;
      await tx.run(`DELETE FROM messages WHERE id IN (SELECT message_id FROM health_reports WHERE ${expired} AND message_id IS NOT NULL)`, params);
      await tx.run(`DELETE FROM health_reports WHERE ${expired}`, params);
      return n;
    });
  }

  let rejections = 0;
  const rejectionCutoff = cutoffSeconds(nowMs, policy.rejectionDays, "rejection days");
  if (rejectionCutoff !== undefined) rejections = (await db.run("DELETE FROM rejections WHERE time_ms <= ?", [Math.floor(nowMs - policy.rejectionDays * DAY_MS)])).changes;
  return { summaries, health, rejections };
}

/** The time (Unix s) up to which rows kept `days` days are past it; undefined for Infinity. */
function cutoffSeconds(nowMs: number, days: number, what: string): number | undefined {
  if (days === Infinity) return undefined;
  if (!Number.isFinite(days) || days < 0) throw new RangeError(`${what}: a number of days, at least 0, or Infinity`);
  // Whole seconds: window ends and report times are integers, so `<= floor(c)` is `<= c`, and
  // PostgreSQL takes no fraction for a bigint parameter.
  return Math.floor((nowMs - days * DAY_MS) / 1000);
}
