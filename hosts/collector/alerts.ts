/**
 * The collector's alerts: what an operator must know about and act on, as opposed to what is only
 * counted. Each alert names its kind, the device where there is one, what happened and what to do.
 * The collector logs each at error level, tells `onAlert` listeners and appends it to alerts.jsonl
 * (one JSON object per line, with the same whole-line rules as the other logs).
 *
 *   {"time": "<ISO 8601>", "kind": "counter-reuse", "device": "lamp-7", "epoch": 0, "detail": "...", "action": "..."}
 */
import type { AuditFinding, ChainReport } from "./audit-continuity.js";
import type { MessageSource } from "./message-opener.js";
import { isoSeconds } from "./verdict-text.js";

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
  | "torn-line"
  /** Audit entries of a device no health report carried to the collector (audit-continuity.ts). */
  | "audit-gap"
  /** An audit entry a device reported under two hashes, or entries that do not hash to their head: its log was altered. */
  | "audit-rewrite"
  /** A device's audit chain started over: its log was lost or replaced. */
  | "audit-reset"
  /** A disclosure on a node's topic that does not verify under the operator's key (disclosure-store.ts). */
  | "disclosure-forged";

export const ALERT_KINDS: readonly AlertKind[] = ["counter-reuse", "window-conflict", "store-failed", "store-recovered", "torn-line", "audit-gap", "audit-rewrite", "audit-reset", "disclosure-forged"];

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

/** "the report of <time> (epoch e, counter c)": how an audit alert names a health report. */
function reportName(report: ChainReport): string {
  return `the health report of ${isoSeconds(report.time)} (epoch ${report.epoch}, counter ${report.counter})`;
}

/** "audit entry 4" or "audit entries 4..9", with the verbs that agree with it. */
function entries(from: number, to: number): { readonly what: string; readonly are: string; readonly were: string; readonly them: string } {
  return from === to ? { what: `audit entry ${from}`, are: "is", were: "was", them: "it" } : { what: `audit entries ${from}..${to}`, are: "are", were: "were", them: "them" };
}

export function auditGapAlert(device: string, gap: Extract<AuditFinding, { kind: "gap" }>, settleMs: number, now = new Date()): Alert {
  const { what: range, are, were, them } = entries(gap.from, gap.to);
  const what = `${range} of ${device} (chain ${gap.chain})`;
  const around = gap.before ? `between ${reportName(gap.before)} and ${reportName(gap.after)}` : `in ${reportName(gap.after)}`;
  const tampered = `treat ${device} as tampered with until its flash has been inspected`;
  const by: Record<typeof gap.cause, { detail: string; action: string }> = {
    evicted: {
      detail: `${what} ${were} never reported: the node evicted ${gap.count} entries from its full audit log before a health report carried them (${around})`,
      action: `find out why ${device} made more than 32 audit entries between two health reports (a reboot loop, a burst of commands); the entries after the gap are verified`,
    },
    dropped: {
      detail: `${what} never reached the collector: the node dropped ${gap.count} messages from its full outbox ${around}, the health report that carried ${them} among them`,
      action: `see why ${device}'s outbox overflowed (its uplink was down or too slow); what was dropped is gone, the chain after it is verified`,
    },
    deleted: {
      detail: `${what} ${are} missing from the middle of ${reportName(gap.after)}: the node's log lost ${them} between entries it kept`,
      action: `${tampered}: entries were deleted from its audit log`,
    },
    missing: {
      detail: `${what} ${were} carried by no health report received within ${Math.round(settleMs / 60_000)} minutes of those around ${them} (${around})`,
      action: `check ${device}'s outbox and the broker for a report lost on the way; if none was, a queued report was deleted from its flash: ${tampered}. A report that still arrives is checked then`,
    },
  };
  return { time: now.toISOString(), kind: "audit-gap", device, detail: by[gap.cause].detail, action: by[gap.cause].action };
}

export function auditRewriteAlert(device: string, rewrite: Extract<AuditFinding, { kind: "rewrite" }>, now = new Date()): Alert {
  const entry = `audit entry ${rewrite.seq} of ${device} (chain ${rewrite.chain})`;
  const detail =
    rewrite.how === "head"
      ? `the audit entries in ${reportName(rewrite.report)} do not hash to the head it carries (entry ${rewrite.seq}): they were altered in the node's store after they were made`
      : rewrite.how === "genesis"
        ? `${entry} in ${reportName(rewrite.report)} is not the start of its chain: it does not commit to the chain's id, or is not an audit-reset`
        : `${entry} has one hash in ${reportName(rewrite.other!)} and another in ${reportName(rewrite.report)}: history already reported was rewritten`;
  return {
    time: now.toISOString(),
    kind: "audit-rewrite",
    device,
    detail,
    action: `treat ${device} as tampered with: compare the audit entries the collector stored with the device's log, inspect its flash, and re-key it (npm run provision -- ${device} --new-key) if its keys may have been read`,
  };
}

export function auditResetAlert(device: string, reset: Extract<AuditFinding, { kind: "reset" }>, now = new Date()): Alert {
  const started = reset.reason !== undefined ? `, which begins "audit-reset ${reset.reason}"` : `, whose first entries were not received`;
  return {
    time: now.toISOString(),
    kind: "audit-reset",
    device,
    detail: `the audit chain of ${device} started over: chain ${reset.before.chain.chain} (up to entry ${reset.before.chain.seq}, ${reportName(reset.before)}) is followed by chain ${reset.after.chain.chain} in ${reportName(reset.after)}${started}`,
    action: `if ${device} was re-provisioned or its flash erased on purpose, none; otherwise find out why its audit log was lost or replaced (a failing flash, or someone removing it): the entries before the reset stay in the collector`,
  };
}

/** A disclosure published for `device` that is not signed by the operator's key. */
export function disclosureForgedAlert(device: string, topic: string, refusedSince: number, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "disclosure-forged",
    device,
    detail:
      `a disclosure was published on ${topic} that does not verify under the operator's key (${refusedSince} refused since the last alert); ` +
      "the node's public page keeps the last verified one",
    action:
      "find who can publish on the node's topics (broker access rules, leaked broker credentials); if the operator's key was replaced, give the collector the new operator.pub; " +
      `npm run cmd -- ${device} republish-disclosure puts the node's own signed disclosure back`,
  };
}
