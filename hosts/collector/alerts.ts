/**
 * The collector's alerts: what an operator must know about and act on, as opposed to what is only
 * counted. Each alert names its kind, the device where there is one, what happened and what to do.
 * The collector logs each at error level, tells `onAlert` listeners and appends it to alerts.jsonl
 * (one JSON object per line, with the same whole-line rules as the other logs).
 *
 *   {"time": "<ISO 8601>", "kind": "counter-reuse", "device": "lamp-7", "epoch": 0, "detail": "...", "action": "..."}
 */
import type { MessageSource } from "./message-opener.js";

export type AlertKind =
  /** A device sealed a different message under a counter already used: its epoch key is compromised. */
  | "counter-reuse"
  /** A second summary, with other values, for a window already stored. */
  | "window-conflict"
  /** A write to the collector's files failed; the collector stops taking messages until it succeeds. */
  | "store-failed"
  /** Writes succeed again after a store-failed. */
  | "store-recovered"
  /** A damaged line in a log: a torn last line cut off at start, or a line in the middle that is not JSON. */
  | "torn-line";

export const ALERT_KINDS: readonly AlertKind[] = ["counter-reuse", "window-conflict", "store-failed", "store-recovered", "torn-line"];

export interface Alert {
  readonly time: string;
  readonly kind: AlertKind;
  readonly device?: string;
  /** The key epoch concerned (counter-reuse). */
  readonly epoch?: number;
  readonly detail: string;
  readonly action: string;
}

const iso = (unixSeconds: number): string => new Date(unixSeconds * 1000).toISOString();

export function counterReuseAlert(source: MessageSource, detail: string, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "counter-reuse",
    device: source.device,
    epoch: source.epoch,
    detail: `${source.device} sealed two different messages under epoch ${source.epoch}, counter ${source.counter} (${detail}): a nonce reuse, so the key of epoch ${source.epoch} must be considered compromised`,
    action: `re-key the device: npm run provision -- ${source.device} --new-key; then find out why its counter restarted (a lost, restored or copied store)`,
  };
}

export function windowConflictAlert(
  device: string,
  windowStart: number,
  stored: { epoch: number; counter: number },
  second: { epoch: number; counter: number },
  now = new Date(),
): Alert {
  return {
    time: now.toISOString(),
    kind: "window-conflict",
    device,
    detail: `window ${iso(windowStart)} of ${device} is stored from epoch ${stored.epoch} counter ${stored.counter}; epoch ${second.epoch} counter ${second.counter} carries other values for it and was not stored`,
    action: `check ${device}'s clock and store (a restart or a clock step sealed the window again); the first summary stays stored`,
  };
}

export function storeFailedAlert(file: string, code: string, retryMs: number, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "store-failed",
    detail: `cannot write ${file} (${code}); nothing unstored is acknowledged, the broker keeps it`,
    action: `free space on, or repair, the disk holding ${file}; the collector retries by itself (first in ${Math.round(retryMs / 100) / 10} s, then backing off)`,
  };
}

export function storeRecoveredAlert(file: string, code: string, failures: number, sinceMs: number, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "store-recovered",
    detail: `${file} takes writes again after ${failures} failed write(s) (${code}) since ${new Date(sinceMs).toISOString()}`,
    action: "none: what the broker kept is being stored",
  };
}

export function tornLineAlert(file: string, offset: number, bytes: number, atEnd: boolean, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "torn-line",
    detail: atEnd
      ? `${file} ended in a torn line (${bytes} bytes at byte ${offset}, a write cut off): cut off`
      : `${file} has a damaged line (${bytes} bytes at byte ${offset}) that is not JSON: skipped`,
    action: atEnd ? "none: a torn line was never acknowledged, the broker delivers its message again" : `inspect ${file} at byte ${offset}; the rest of the file is used`,
  };
}
