/**
 * The collector's alerts: what an operator must know about and act on, as opposed to what is only
 * counted. Each alert names its kind, the device where there is one, what happened and what to do;
 * docs/alerts.md says, per kind, what it means, when it is raised, how often at most, and the action.
 * The collector logs each at error level, tells `onAlert` listeners and records it in the database
 * (table alerts, served by GET /api/alerts).
 *
 *   {"time": "<ISO 8601>", "kind": "counter-reuse", "device": "lamp-7", "epoch": 0, "detail": "...", "action": "..."}
 */
import type { AuditFinding, ChainReport } from "./audit-continuity.js";
import type { MessageSource, RejectCause } from "./message-opener.js";
import type { DisclosedPolicy } from "./policy-agreement.js";
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
  | "disclosure-forged"
  /** Many messages refused in a short time on one device's topics, or on one topic (rejection-bursts.ts). */
  | "rejection-burst"
  /** A node that has sent no summary for more than two of its windows (silent-nodes.ts). */
  | "node-silent"
  /** A node raised as silent has sent a summary again. */
  | "node-back"
  /** A device's counter went back, under one epoch, past what the collector can compare (counter-restarts.ts). */
  | "counter-restart"
  /** A device's epoch moved on by more steps between two messages than a node takes (epoch-jumps.ts). */
  | "epoch-jump"
  /** A stored message produced under another policy than the one the node's verified disclosure names (policy-mismatches.ts). */
  | "policy-mismatch";

/** Every kind, in the order docs/alerts.md describes them. */
export const ALERT_KINDS: readonly AlertKind[] = [
  "counter-reuse",
  "counter-restart",
  "epoch-jump",
  "window-conflict",
  "rejection-burst",
  "node-silent",
  "node-back",
  "store-failed",
  "store-recovered",
  "torn-line",
  "audit-gap",
  "audit-rewrite",
  "audit-reset",
  "disclosure-forged",
  "policy-mismatch",
];

export interface Alert {
  readonly time: string;
  readonly kind: AlertKind;
  readonly device?: string;
  /** The key epoch concerned (counter-reuse, counter-restart, epoch-jump: the epoch moved to). */
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

/** "12 s", "40 min", "3.5 h", "2 days": a span for a detail. */
function span(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 360) / 10} h`;
  return `${Math.round(s / 8640) / 10} days`;
}

/** Where a burst of rejections came from: a keyring device's topics, one other topic, or topics past the tracking bound. */
export type BurstSource = { readonly device: string } | { readonly topic: string } | { readonly untracked: true };

export interface RejectionBurst {
  readonly source: BurstSource;
  /** Rejections within `windowMs`, by cause. */
  readonly causes: Readonly<Partial<Record<RejectCause, number>>>;
  readonly count: number;
  readonly windowMs: number;
  /** Bursts on other sources not raised since the last alert of this kind (the bound on how many are). */
  readonly unraised: number;
}

/** What the refusals of a burst say, by the cause most of them had. */
const BURST_ACTIONS: Partial<Record<RejectCause, string>> & { other: string } = {
  replay: "recorded messages are being published again (someone replays the traffic), or the collector's database was restored from an older copy",
  "stale-key": "collectors of this group hold different keyrings: run every collector on the same keyring and restart them after a re-key",
  payload: "a node sends what this collector does not decode: check that its firmware and the collector are of the same version",
  "unbound-policy": "a node seals without the policy the operator signed for it: check its provisioning and the collector's policy records",
  other:
    "someone other than the nodes publishes on these topics: check the broker's access rules and whose credentials can publish there; " +
    "if it is one node and its key was replaced, give the collector the new keyring",
};

/** A burst of refused messages on one device's topics or one topic (rejection-bursts.ts). */
export function rejectionBurstAlert(burst: RejectionBurst, now = new Date()): Alert {
  const { source } = burst;
  const where = "device" in source ? `on ${source.device}'s topics` : "topic" in source ? `on topic ${JSON.stringify(source.topic)}` : "on topics beyond those the collector tracks (many topics at once)";
  const byCause = Object.entries(burst.causes).sort(([x, a], [y, b]) => b - a || (x < y ? -1 : 1));
  const causes = byCause.map(([cause, n]) => `${cause} ${n}`).join(", ");
  const main = byCause[0]?.[0] as RejectCause | undefined;
  const unraised = burst.unraised > 0 ? `; ${burst.unraised} burst(s) elsewhere since the last such alert were not raised (a bound on how many are)` : "";
  return {
    time: now.toISOString(),
    kind: "rejection-burst",
    ...("device" in source ? { device: source.device } : {}),
    detail: `${burst.count} messages ${where} were refused within ${span(burst.windowMs)} (${causes}); the rest of this burst is counted, not raised${unraised}`,
    action: `${(main && BURST_ACTIONS[main]) ?? BURST_ACTIONS.other}. Nothing refused is stored; GET /api/rejections counts them by cause`,
  };
}

/** A node with no summary for more than two of its windows (silent-nodes.ts). */
export function nodeSilentAlert(device: string, lastWindowStart: number, windowSeconds: number, now = new Date()): Alert {
  const endedMs = (lastWindowStart + windowSeconds) * 1000;
  return {
    time: now.toISOString(),
    kind: "node-silent",
    device,
    detail: `${device} has sent no summary since its window of ${isoSeconds(lastWindowStart)} (${windowSeconds} s), which ended ${span(now.getTime() - endedMs)} ago: more than two of its windows`,
    action:
      `check ${device}'s power and uplink (its latest health report: GET /api/nodes/${device}/health; the broker's log of its connection); ` +
      "a node that is only offline keeps its windows in its outbox and sends them when it is back, and a node-back alert follows",
  };
}

/** A node raised as silent that reports again. */
export function nodeBackAlert(device: string, lastWindowStart: number, silentSinceMs: number, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "node-back",
    device,
    detail: `${device} reports again: its newest window starts at ${isoSeconds(lastWindowStart)} (raised silent at ${new Date(silentSinceMs).toISOString()})`,
    action: `none; its health reports say whether its outbox dropped messages meanwhile (dropped), and the audit chain is checked as they arrive`,
  };
}

/** An authentic message whose counter went back under its epoch, past the tags the collector keeps (counter-restarts.ts). */
export function counterRestartAlert(source: MessageSource, detail: string, now = new Date()): Alert {
  return {
    time: now.toISOString(),
    kind: "counter-restart",
    device: source.device,
    epoch: source.epoch,
    detail:
      `the counter of ${source.device} under epoch ${source.epoch} started over: counter ${source.counter} (${detail}). ` +
      `A node never does this: its counter record was lost, or its store restored or copied to another board; the nonces of epoch ${source.epoch} are likely used twice, so its key must be considered compromised`,
    action: `re-key the device: npm run provision -- ${source.device} --new-key; then find out what happened to its store. Until then its messages under epoch ${source.epoch} are refused while their counters lie below what the epoch used`,
  };
}

export interface EpochStep {
  readonly epoch: number;
  /** When the message was sealed (Unix s). */
  readonly sealedAt: number;
}

/** A device whose epoch moved by more than `maxSteps` between two messages, in seal order (epoch-jumps.ts). */
export function epochJumpAlert(device: string, from: EpochStep, to: EpochStep, maxSteps: number, now = new Date()): Alert {
  const skipped = to.epoch - from.epoch - 1;
  return {
    time: now.toISOString(),
    kind: "epoch-jump",
    device,
    epoch: to.epoch,
    detail:
      `${device} moved from epoch ${from.epoch} (its message sealed at ${isoSeconds(from.sealedAt)}) to epoch ${to.epoch} (sealed at ${isoSeconds(to.sealedAt)}): ` +
      `${skipped} epoch(s) with no message stored, more than the ${maxSteps} step(s) allowed between two messages (a node moves on one epoch at a time)`,
    action:
      `look at ${device}'s health reports around then: dropped above 0 means its outbox lost the skipped epochs' messages (an outage longer than it holds), nothing else to do; ` +
      `otherwise its audit log's epoch-rotated entries say why (counter-lost: its flash loses records; command: see GET /api/commands). ` +
      `If neither explains it, its key state may have been replaced: re-key it (npm run provision -- ${device} --new-key)`,
  };
}

/** A stored message under another policy than the node's verified disclosure names, and how it differs (policy-agreement.ts). */
export interface PolicyMismatch {
  readonly device: string;
  /** The message that shows it: "summary" (of the window starting at `producedFromS`) or "health" (report of that time). */
  readonly message: "summary" | "health";
  readonly producedFromS: number;
  readonly produced: { readonly serial: number; readonly sha256: string };
  readonly disclosed: DisclosedPolicy;
  readonly how: "other-hash" | "older" | "newer";
}

/** "serial 2 (sha256 430d274871cff615...)": how a policy-mismatch names a policy. */
function policyName(policy: { readonly serial: number; readonly sha256: string }): string {
  return `serial ${policy.serial} (sha256 ${policy.sha256.slice(0, 16)}...)`;
}

/** A node's stored message produced under another policy than its verified disclosure names (policy-mismatches.ts). */
export function policyMismatchAlert(mismatch: PolicyMismatch, graceMs: number, now = new Date()): Alert {
  const { device, produced, disclosed } = mismatch;
  const what = mismatch.message === "summary" ? `summary of the window of ${isoSeconds(mismatch.producedFromS)}` : `health report of ${isoSeconds(mismatch.producedFromS)}`;
  const under = `${device}'s ${what} was produced under policy ${policyName(produced)}`;
  const received = new Date(disclosed.receivedAtMs).toISOString();
  const grace = span(graceMs);
  const detail = {
    "other-hash": `${under}, but its verified disclosure (received ${received}) names serial ${disclosed.serial} with another hash (sha256 ${disclosed.sha256.slice(0, 16)}...): two different policies under one serial, of which one is not the policy the operator published`,
    older: `${under}, and received, more than ${grace} after its verified disclosure of policy ${policyName(disclosed)} arrived (${received}): the node still runs an older policy than the one residents are shown`,
    newer: `${under}, newer than the policy ${policyName(disclosed)} its verified disclosure (received ${received}) names, and no disclosure of serial ${produced.serial} arrived within ${grace}: residents are shown a policy the node no longer runs`,
  }[mismatch.how];
  const why = {
    "other-hash": `the operator's record (<state>/policies/${device}/${produced.serial}.cose) and the disclosure disagree on serial ${produced.serial}: find which the operator signed (a serial must grow with every change) and provision or update the node on a new serial`,
    older: `compare ${device}'s audit log (its policy-updated and policy-refused entries, GET /api/nodes/${device}/health) with the operator's record: an update it refused or has not restarted on, a copy of its flash on another board, or a newer signed disclosure published by someone other than the node; send it the published policy (npm run cmd -- ${device} update-policy --policy FILE), or put its own disclosure back (npm run cmd -- ${device} republish-disclosure)`,
    newer: `its own disclosure is lost, or an older signed disclosure was republished on the broker: npm run cmd -- ${device} republish-disclosure puts the node's own back; check who can publish on its topics, and that the operator's record holds serial ${produced.serial} on purpose`,
  }[mismatch.how];
  return {
    time: now.toISOString(),
    kind: "policy-mismatch",
    device,
    detail,
    action: `${why}. Until then treat its messages as produced under serial ${produced.serial} (each summary's policy says which: GET /api/nodes/${device}/summaries)`,
  };
}
