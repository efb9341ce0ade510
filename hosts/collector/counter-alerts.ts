/**
 * The alerts a device's counter raises, from what the store judged of each message of a batch
 * (db/counter-verdict.ts decides; this only names it). Both mean a nonce used twice, or most likely
 * so, under one epoch key:
 *
 *   counter-reuse    an authentic message under a counter whose accepted tag the store holds, with
 *                    another tag: two messages under one nonce, proved
 *   counter-restart  an authentic message under a counter the epoch had passed (below the replay
 *                    window, or in an epoch whose tags are no longer kept), sealed after everything
 *                    the epoch accepted: the counter went back, which a node never does
 *
 * Both are the store's `counter-reuse` outcome; the restart is the one its seal-time rule gave,
 * whose detail says "after everything epoch <e> accepted". Each is raised once per device, epoch
 * and kind in a collector's run (every message is counted by cause all the same), and marked raised
 * only once recorded: a batch the database refused raises it again when the broker redelivers it.
 *
 * Example:
 *   const alerts = counterAlerts.of(opened, outcomes, new Date(receivedAtMs));
 *   // ... recorded ...
 *   for (const alert of alerts) counterAlerts.raised(alert);
 */
import { counterRestartAlert, counterReuseAlert, type Alert } from "./alerts.js";
import type { AdmitOutcome, OpenedMessage } from "./db/collector-db.js";

/** The store's wording of its seal-time rule (db/counter-verdict.ts). */
const WENT_BACK = /after everything epoch \d+ accepted/;
/** (device, epoch, kind) remembered as raised at most; the oldest is forgotten first (and raised again if it recurs). */
const MAX_RAISED = 65_536;

type CounterKind = "counter-reuse" | "counter-restart";

export class CounterAlerts {
  readonly #raised = new Set<string>();

  /** The counter alerts of a batch's outcomes not raised yet, one per device, epoch and kind. */
  of(opened: readonly OpenedMessage[], outcomes: readonly AdmitOutcome[], now: Date): Alert[] {
    const alerts: Alert[] = [];
    const inBatch = new Set<string>();
    for (const [i, message] of opened.entries()) {
      const outcome = outcomes[i]!;
      if (outcome.outcome !== "counter-reuse") continue;
      const decoded = message.summary ?? message.health!;
      const source = { device: decoded.device, epoch: decoded.epoch, counter: decoded.counter };
      const kind: CounterKind = WENT_BACK.test(outcome.detail) ? "counter-restart" : "counter-reuse";
      const key = keyOf(kind, source.device, source.epoch);
      if (this.#raised.has(key) || inBatch.has(key)) continue;
      inBatch.add(key);
      alerts.push(kind === "counter-restart" ? counterRestartAlert(source, outcome.detail, now) : counterReuseAlert(source, outcome.detail, now));
    }
    return alerts;
  }

  /** Marks an alert of `of` raised, once the database recorded it; other kinds are ignored. */
  raised(alert: Alert): void {
    if ((alert.kind !== "counter-reuse" && alert.kind !== "counter-restart") || alert.device === undefined || alert.epoch === undefined) return;
    if (this.#raised.size >= MAX_RAISED) this.#raised.delete(this.#raised.values().next().value!);
    this.#raised.add(keyOf(alert.kind, alert.device, alert.epoch));
  }
}

function keyOf(kind: CounterKind, device: string, epoch: number): string {
  return `${kind}\0${device}\0${epoch}`;
}
