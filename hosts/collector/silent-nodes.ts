/**
 * Silent nodes: a node whose newest stored window ended more than two of its window lengths ago is
 * raised once as `node-silent`, and once as `node-back` when a summary brings it up to date again.
 * "Reporting" is what the API's node status says (api/node-status.ts: within LATE_AFTER_WINDOWS
 * windows); later, "late" or "silent" there, is silent here. A node that never sent a summary is
 * not raised (it is not installed yet, or its first window is on its way); the API lists it as
 * silent.
 *
 *   every check: the devices and their newest window (db.listDevices), the window's length ->
 *     node status -> silent and not raised yet, or raised and reporting again? -> what the group
 *     raised meanwhile (recorded-alerts.ts) -> node-silent / node-back
 *
 * Once per episode for the whole group: what was raised is the alerts table itself. A device's
 * latest node-silent or node-back alert, whoever recorded it, tells its state: node-silent raised
 * after its newest window ended is this silence's, raised already. So a restarted collector and
 * every instance of a group agree, and none raises it again; only two instances checking in the
 * same instant may both raise it.
 *
 * The check runs on the collector's timer (and on demand), with the collector's clock, never per
 * message.
 *
 * Example:
 *   const watch = new SilentNodeWatch(db, () => Date.now());
 *   for (const alert of await watch.check()) raise(alert);
 */
import { nodeBackAlert, nodeSilentAlert, type Alert } from "./alerts.js";
import { nodeStatus } from "./api/node-status.js";
import type { CollectorDb, DeviceRow } from "./db/collector-db.js";
import { RecordedAlerts } from "./recorded-alerts.js";

type Raised = { readonly kind: "node-silent" | "node-back"; readonly timeMs: number };

export class SilentNodeWatch {
  readonly #db: CollectorDb;
  readonly #now: () => number;
  readonly #recorded: RecordedAlerts;
  /** Per device, its latest node-silent or node-back alert recorded (by any instance) or raised here. */
  readonly #latest = new Map<string, Raised>();
  /** Per device, the length of its newest window (read once per newest window). */
  readonly #windows = new Map<string, { readonly start: number; readonly seconds: number | undefined }>();
  #readOnce = false;

  constructor(db: CollectorDb, now: () => number) {
    this.#db = db;
    this.#now = now;
    this.#recorded = new RecordedAlerts(db);
  }

  /** The node-silent and node-back alerts due now. Throws CollectorDbError (the next check tries again). */
  async check(): Promise<Alert[]> {
    if (!this.#readOnce) {
      await this.#follow();
      this.#readOnce = true;
    }
    const nowMs = this.#now();
    const due: DeviceRow[] = [];
    for (const row of await this.#db.listDevices()) {
      if (row.lastWindowStart !== undefined && this.#due(row, await this.#windowSeconds(row.device, row.lastWindowStart), nowMs) !== undefined) due.push(row);
    }
    if (due.length === 0) return [];
    await this.#follow(); // what the group raised since
    const alerts: Alert[] = [];
    for (const row of due) {
      const start = row.lastWindowStart!;
      const seconds = this.#windows.get(row.device)?.seconds;
      const kind = this.#due(row, seconds, nowMs);
      if (kind === undefined || seconds === undefined) continue;
      const alert = kind === "node-silent" ? nodeSilentAlert(row.device, start, seconds, new Date(nowMs)) : nodeBackAlert(row.device, start, this.#latest.get(row.device)!.timeMs, new Date(nowMs));
      this.#latest.set(row.device, { kind, timeMs: nowMs });
      alerts.push(alert);
    }
    return alerts;
  }

  /** Which alert the device is due, if any. */
  #due(row: DeviceRow, windowSeconds: number | undefined, nowMs: number): Raised["kind"] | undefined {
    if (row.lastWindowStart === undefined || windowSeconds === undefined) return undefined;
    const silent = nodeStatus(row.lastWindowStart, windowSeconds, Math.floor(nowMs / 1000)) !== "reporting";
    const latest = this.#latest.get(row.device);
    const raisedSilent = latest?.kind === "node-silent";
    if (silent) return raisedSilent && latest!.timeMs >= (row.lastWindowStart + windowSeconds) * 1000 ? undefined : "node-silent";
    return raisedSilent ? "node-back" : undefined;
  }

  /** Takes in the node-silent and node-back alerts recorded since the last look. */
  async #follow(): Promise<void> {
    for (const alert of await this.#recorded.readNew()) {
      if ((alert.kind !== "node-silent" && alert.kind !== "node-back") || alert.device === undefined) continue;
      const timeMs = Date.parse(alert.time);
      const latest = this.#latest.get(alert.device);
      if (latest === undefined || timeMs >= latest.timeMs) this.#latest.set(alert.device, { kind: alert.kind, timeMs });
    }
  }

  /** The length of the device's window starting at `start` (the store keeps it with the summary). */
  async #windowSeconds(device: string, start: number): Promise<number | undefined> {
    const cached = this.#windows.get(device);
    if (cached?.start === start) return cached.seconds;
    const seconds = (await this.#db.summaries({ device, from: start, to: start + 1, limit: 1 })).items[0]?.windowSeconds;
    this.#windows.set(device, { start, seconds });
    return seconds;
  }
}
