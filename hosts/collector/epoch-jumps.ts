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
 *     (summaries by window end, health reports by time) -> its epoch p: e - p > maxSteps? -> held
 *   settleMs later (the collector's timed watch) -> judged again -> still a jump, and no alert of
 *     the group for it (recorded-alerts.ts)? -> epoch-jump
 *
 * Held before it is raised: an outbox flush split across a group's instances arrives in any order,
 * so the skipped epochs' messages may only be late. Judged from the database, so every instance of
 * a group and a restarted collector judge alike; the instance keeps, per device, only the newest
 * epoch it knows stored, to read the database when a message could be a jump (an epoch more than
 * maxSteps past it, or a device not seen yet), not for every message. Raised once per device and
 * epoch moved to. A jump held by a collector that stops before it settles is not raised (its next
 * messages follow the new epoch: nothing shows the jump again).
 *
 * Example:
 *   const jumps = new EpochJumps(db, { maxSteps: 1, log });
 *   await jumps.note(opened, outcomes, receivedAtMs);      // after the batch's commit
 *   for (const alert of await jumps.settle(Date.now())) raise(alert);   // on a timer
 */
import type { Log } from "../../src/platform.js";
import { epochJumpAlert, type Alert, type EpochStep } from "./alerts.js";
import { MAX_PAGE, type AdmitOutcome, type CollectorDb, type OpenedMessage } from "./db/collector-db.js";
import { RecordedAlerts } from "./recorded-alerts.js";

export const EPOCH_JUMP_STEPS = 1;
/** Default of how long a possible jump is held before it is judged again and raised. */
export const EPOCH_JUMP_SETTLE_MS = 15 * 60_000;
/** Seal-time span read back first; each further one is four times as long, back to the device's first message. */
const SPAN_S = 86_400;
/** Pages read per kind and span at most (a device reporting every minute fills two in a day). */
const MAX_PAGES = 8;
/** Devices and (device, epoch) pairs remembered at most. */
const MAX_REMEMBERED = 65_536;
/** Possible jumps held at most; beyond, the oldest is let go, and counted. */
const MAX_HELD = 4096;

export interface EpochJumpOptions {
  /** Epoch steps allowed between two consecutive messages (1 to 1,000); default 1. */
  readonly maxSteps?: number;
  /** How long a possible jump is held before it is judged again (ms); default 15 minutes. */
  readonly settleMs?: number;
  readonly log?: Log;
}

export interface EpochJumpStats {
  /** Messages whose place was read from the database. */
  lookups: number;
  /** Possible jumps held, those the messages that arrived meanwhile explained, and those let go unjudged (MAX_HELD). */
  held: number;
  explained: number;
  letGo: number;
  /** Lookups the database failed (logged; the batch is stored all the same). */
  failures: number;
}

interface Held {
  readonly device: string;
  readonly epoch: number;
  /** The earliest seal time of the epoch's messages that looked like a jump (Unix s). */
  sealedAt: number;
  readonly heldAtMs: number;
}

export class EpochJumps {
  readonly stats: EpochJumpStats = { lookups: 0, held: 0, explained: 0, letGo: 0, failures: 0 };
  readonly #db: CollectorDb;
  readonly #maxSteps: number;
  readonly #settleMs: number;
  readonly #log: Log;
  readonly #recorded: RecordedAlerts;
  /** Per device, the newest epoch known stored. */
  readonly #newest = new Map<string, number>();
  /** Possible jumps by "device\0epoch", oldest first. */
  readonly #held = new Map<string, Held>();
  /** "device\0epoch" raised, here or by the group. */
  readonly #raised = new Set<string>();

  constructor(db: CollectorDb, options: EpochJumpOptions = {}) {
    this.#db = db;
    const steps = options.maxSteps ?? EPOCH_JUMP_STEPS;
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new RangeError(`epochJumpSteps must be an integer from 1 to 1000, not ${steps}`);
    this.#maxSteps = steps;
    this.#settleMs = options.settleMs ?? EPOCH_JUMP_SETTLE_MS;
    this.#log = options.log ?? (() => {});
    this.#recorded = new RecordedAlerts(db);
  }

  /**
   * Notes a committed batch's messages (stored ones, and copies of stored ones: the first message a
   * restarted collector gets may be a copy); a possible jump is held. Never throws: a lookup the
   * database fails is logged and counted.
   */
  async note(opened: readonly OpenedMessage[], outcomes: readonly AdmitOutcome[], receivedAtMs: number): Promise<void> {
    for (const [i, message] of opened.entries()) {
      const outcome = outcomes[i]!.outcome;
      if (outcome !== "stored" && outcome !== "duplicate") continue;
      const { device, epoch } = message.summary ?? message.health!;
      const known = this.#newest.get(device);
      if (known !== undefined && epoch <= known + this.#maxSteps) {
        if (epoch > known) this.#remember(device, epoch);
        continue;
      }
      let before: EpochStep | undefined;
      try {
        this.stats.lookups++;
        before = await this.#latestBefore(device, message.sealedAt);
      } catch (error) {
        this.#failed(device, epoch, error);
        continue;
      }
      this.#remember(device, Math.max(epoch, before?.epoch ?? epoch));
      if (before === undefined || epoch - before.epoch <= this.#maxSteps) continue;
      const key = `${device}\0${epoch}`;
      if (this.#raised.has(key)) continue;
      const held = this.#held.get(key);
      if (held) held.sealedAt = Math.min(held.sealedAt, message.sealedAt);
      else {
        if (this.#held.size >= MAX_HELD && this.#held.delete(this.#held.keys().next().value!)) this.stats.letGo++;
        this.#held.set(key, { device, epoch, sealedAt: message.sealedAt, heldAtMs: receivedAtMs });
        this.stats.held++;
      }
    }
  }

  /**
   * The held jumps that have stood settleMs at `nowMs`, judged again from the database: those the
   * messages received meanwhile do not explain, and that no instance raised yet. Never throws: a
   * failed read is logged, and what it held is judged at the next settle.
   */
  async settle(nowMs: number): Promise<Alert[]> {
    const due = [...this.#held.values()].filter((held) => nowMs - held.heldAtMs >= this.#settleMs);
    if (due.length === 0) return [];
    try {
      for (const alert of await this.#recorded.readNew()) {
        if (alert.kind === "epoch-jump" && alert.device !== undefined && alert.epoch !== undefined) this.#markRaised(alert.device, alert.epoch);
      }
    } catch (error) {
      this.#failed(due[0]!.device, due[0]!.epoch, error);
      return [];
    }
    const alerts: Alert[] = [];
    for (const held of due) {
      const key = `${held.device}\0${held.epoch}`;
      let before: EpochStep | undefined;
      try {
        this.stats.lookups++;
        before = this.#raised.has(key) ? undefined : await this.#latestBefore(held.device, held.sealedAt);
      } catch (error) {
        this.#failed(held.device, held.epoch, error);
        continue;
      }
      this.#held.delete(key);
      if (this.#raised.has(key)) continue;
      if (before === undefined || held.epoch - before.epoch <= this.#maxSteps) {
        this.stats.explained++;
        continue;
      }
      this.#markRaised(held.device, held.epoch);
      alerts.push(epochJumpAlert(held.device, before, { epoch: held.epoch, sealedAt: held.sealedAt }, this.#maxSteps, new Date(nowMs)));
    }
    return alerts;
  }

  #markRaised(device: string, epoch: number): void {
    if (this.#raised.size >= MAX_REMEMBERED) this.#raised.delete(this.#raised.values().next().value!);
    this.#raised.add(`${device}\0${epoch}`);
  }

  #failed(device: string, epoch: number, error: unknown): void {
    this.stats.failures++;
    this.#log("warn", "collector-epoch-check-failed", { device, epoch, message: String((error as Error)?.message ?? error).slice(0, 200), detail: "this epoch is not compared with the one before it" });
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
