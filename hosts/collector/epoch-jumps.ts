/**
 * Epoch jumps: a device whose key epoch moved on by more than `maxSteps` (default 1) between two
 * of its messages, in the order it sealed them. A node moves one epoch at a time (a day's end, a
 * rotate-epoch command, a counter record lost at boot: src/wire/uplink-sealer.ts), and seals
 * under each epoch until the next, so however long it was off, consecutive messages differ by one
 * epoch at most. More means epochs whose messages never reached the store: its outbox dropped them
 * (an outage longer than it holds), or it moved on several times between two messages (commands,
 * a reboot loop on a flash that loses its counter record), or its key state was replaced.
 *
 *   stored message of epoch e -> the device's latest message sealed before it, from the database
 *     (summaries by window end, health reports by time) -> its epoch p: e - p > maxSteps? -> alert
 *
 * Judged from the database, so every instance of a group and a restarted collector judge alike;
 * the instance keeps, per device, only the newest epoch it knows stored, to read the database when
 * a message could be a jump (a new epoch more than maxSteps past it, or a device not seen yet), not
 * for every message. Raised once per device and epoch moved to; marked raised once recorded.
 *
 * Example:
 *   const jumps = new EpochJumps(db, { maxSteps: 1, log });
 *   const alerts = await jumps.check(opened, outcomes, new Date(receivedAtMs));   // after the commit
 */
import type { Log } from "../../src/platform.js";
import { epochJumpAlert, type Alert, type EpochStep } from "./alerts.js";
import { MAX_PAGE, type AdmitOutcome, type CollectorDb, type OpenedMessage } from "./db/collector-db.js";

export const EPOCH_JUMP_STEPS = 1;
/** Seal-time span read back first; each further one is four times as long, back to the device's first message. */
const SPAN_S = 86_400;
/** Pages read per kind and span at most (a device reporting every minute fills two in a day). */
const MAX_PAGES = 8;
/** Devices and (device, epoch) pairs remembered at most. */
const MAX_REMEMBERED = 65_536;

export interface EpochJumpOptions {
  /** Epoch steps allowed between two consecutive messages (1 to 1,000); default 1. */
  readonly maxSteps?: number;
  readonly log?: Log;
}

export interface EpochJumpStats {
  /** Messages whose place was read from the database. */
  lookups: number;
  /** Lookups the database failed (logged; the batch is stored all the same). */
  failures: number;
}

export class EpochJumps {
  readonly stats: EpochJumpStats = { lookups: 0, failures: 0 };
  readonly #db: CollectorDb;
  readonly #maxSteps: number;
  readonly #log: Log;
  /** Per device, the newest epoch known stored. */
  readonly #newest = new Map<string, number>();
  /** "device\0epoch" raised. */
  readonly #raised = new Set<string>();

  constructor(db: CollectorDb, options: EpochJumpOptions = {}) {
    this.#db = db;
    const steps = options.maxSteps ?? EPOCH_JUMP_STEPS;
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new RangeError(`epochJumpSteps must be an integer from 1 to 1000, not ${steps}`);
    this.#maxSteps = steps;
    this.#log = options.log ?? (() => {});
  }

  /**
   * The jumps of a committed batch's messages (stored ones, and copies of stored ones: a batch
   * whose alerts could not be recorded is redelivered as copies). Never throws: a lookup the
   * database fails is logged and counted.
   */
  async check(opened: readonly OpenedMessage[], outcomes: readonly AdmitOutcome[], now: Date): Promise<Alert[]> {
    const alerts: Alert[] = [];
    const seen = new Map<string, number>(); // this batch's newest per device
    for (const [i, message] of opened.entries()) {
      const outcome = outcomes[i]!.outcome;
      if (outcome !== "stored" && outcome !== "duplicate") continue;
      const { device, epoch } = message.summary ?? message.health!;
      const known = Math.max(this.#newest.get(device) ?? -Infinity, seen.get(device) ?? -Infinity);
      if (known !== -Infinity && epoch <= known + this.#maxSteps) {
        if (epoch > known) seen.set(device, epoch);
        continue;
      }
      let before: EpochStep | undefined;
      try {
        this.stats.lookups++;
        before = await this.#latestBefore(device, message.sealedAt);
      } catch (error) {
        this.stats.failures++;
        this.#log("warn", "collector-epoch-check-failed", { device, epoch, message: String((error as Error)?.message ?? error).slice(0, 200), detail: "this message's epoch was not compared with the one before" });
        continue;
      }
      const key = `${device}\0${epoch}`;
      if (before === undefined || epoch - before.epoch <= this.#maxSteps) {
        seen.set(device, Math.max(known, epoch, before?.epoch ?? -Infinity));
        continue;
      }
      if (this.#raised.has(key) || alerts.some((a) => a.device === device && a.epoch === epoch)) continue;
      alerts.push(epochJumpAlert(device, before, { epoch, sealedAt: message.sealedAt }, this.#maxSteps, now));
    }
    // A device with an alert in hand is remembered once it is recorded (raised): until then, a
    // redelivered copy of the batch looks again.
    for (const [device, epoch] of seen) if (!alerts.some((a) => a.device === device)) this.#remember(device, epoch);
    return alerts;
  }

  /** Marks an epoch-jump alert raised, once the database recorded it; other kinds are ignored. */
  raised(alert: Alert): void {
    if (alert.kind !== "epoch-jump" || alert.device === undefined || alert.epoch === undefined) return;
    if (this.#raised.size >= MAX_REMEMBERED) this.#raised.delete(this.#raised.values().next().value!);
    this.#raised.add(`${alert.device}\0${alert.epoch}`);
    this.#remember(alert.device, alert.epoch);
  }

  #remember(device: string, epoch: number): void {
    const known = this.#newest.get(device);
    if (known !== undefined && known >= epoch) return;
    if (known === undefined && this.#newest.size >= MAX_REMEMBERED) this.#newest.delete(this.#newest.keys().next().value!);
    this.#newest.set(device, epoch);
  }

  /** The device's latest message sealed before `sealedAt` (Unix s): spans back from it, each four times longer, to its first. */
  async #latestBefore(device: string, sealedAt: number): Promise<EpochStep | undefined> {
    const firstSummary = (await this.#db.summaries({ device, to: sealedAt, limit: 1 })).items[0];
    const firstHealth = (await this.#db.health(device, { to: sealedAt, limit: 1 })).items[0];
    const first = Math.min(firstSummary?.windowStart ?? Infinity, firstHealth?.time ?? Infinity);
    let to = sealedAt;
    for (let span = SPAN_S; to > first; span *= 4) {
      const from = Math.max(first, to - span);
      const found = await this.#latestIn(device, from, to, sealedAt);
      if (found) return found;
      to = from;
    }
    return undefined;
  }

  /** The latest message sealed before `sealedAt` among summaries starting, and reports made, in [from, to). */
  async #latestIn(device: string, from: number, to: number, sealedAt: number): Promise<EpochStep | undefined> {
    let latest: EpochStep | undefined;
    const consider = (step: EpochStep) => {
      if (step.sealedAt < sealedAt && (latest === undefined || step.sealedAt > latest.sealedAt)) latest = step;
    };
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, cursor: next } = await this.#db.summaries({ device, from, to, limit: MAX_PAGE, cursor });
      for (const s of items) consider({ epoch: s.epoch, sealedAt: s.windowStart + s.windowSeconds });
      if (next === undefined) break;
      cursor = next;
    }
    cursor = undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const { items, cursor: next } = await this.#db.health(device, { from, to, limit: MAX_PAGE, cursor });
      for (const h of items) consider({ epoch: h.epoch, sealedAt: h.time });
      if (next === undefined) break;
      cursor = next;
    }
    return latest;
  }
}
