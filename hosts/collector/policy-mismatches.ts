/**
 * policy-mismatch: a stored summary or health report produced under another policy than the one
 * its node's verified disclosure names (the hash the node bound into the message,
 * src/wire/message-aad.ts, against the disclosure's policy.sha256), by the rule of
 * policy-agreement.ts:
 *
 *   stored message with a policy -> the device's verified disclosure naming a hash (none: nothing
 *     to compare) -> same: nothing; before-disclosure: nothing (an outbox draining after an
 *     update, a node provisioned again) -> other-hash or older: raised with the batch -> newer:
 *     held, and judged again by the timed watch `graceMs` later: the verified disclosure names it
 *     (or a later serial) by then, or it is raised
 *
 * Held before it is raised, for a newer policy only: a node publishes its disclosure at boot,
 * ahead of what it seals, but the two topics reach the collector on two subscriptions (the
 * disclosures unshared, MQTT 5 section 4.8.2), so the first summary under a new policy may come
 * first. A lower serial needs no wait: the node that published the newer disclosure would no
 * longer seal under it, and what it sealed before is `before-disclosure`.
 *
 * Raised once per device and pair of policies (the message's, the disclosure's) per collector run,
 * like the counter alerts, and marked raised only once recorded (a batch the database refused
 * raises it again when the broker redelivers it); in a group, by each instance that stores such a
 * message. Only stored messages are judged (a copy was judged when its first was stored).
 *
 * Example:
 *   const mismatches = new PolicyMismatches((device) => disclosedPolicyOf(disclosures.latest(device)));
 *   const alerts = mismatches.of(opened, outcomes, new Date(receivedAtMs));   // in the batch
 *   for (const alert of alerts) mismatches.raised(alert);                     // once recorded
 *   for (const alert of mismatches.settle(Date.now())) raise(alert);           // on the timer
 */
import { policyMismatchAlert, type Alert, type PolicyMismatch } from "./alerts.js";
import type { AdmitOutcome, OpenedMessage } from "./db/collector-db.js";
import { POLICY_MISMATCH_GRACE_MS, policyAgreement, type DisclosedPolicy } from "./policy-agreement.js";

/** The shortest and longest grace a collector takes (ms): a second, a day. */
const GRACE_RANGE = { min: 1000, max: 86_400_000 } as const;
/** Pairs (device, message's policy, disclosure's policy) remembered as raised at most; the oldest is forgotten first (and raised again if it recurs). */
const MAX_RAISED = 65_536;
/** Newer policies held at most; beyond, the oldest is let go unjudged, and counted. */
const MAX_HELD = 4096;

export interface PolicyMismatchStats {
  /** Messages under a newer policy than their disclosure's, held for its disclosure; those it came for; those let go unjudged (MAX_HELD). */
  held: number;
  explained: number;
  letGo: number;
}

interface Held {
  readonly mismatch: Omit<PolicyMismatch, "disclosed" | "how">;
  /** When the first message under it arrived (Unix ms): the wait starts then. */
  readonly receivedAtMs: number;
}

export class PolicyMismatches {
  readonly stats: PolicyMismatchStats = { held: 0, explained: 0, letGo: 0 };
  readonly #disclosed: (device: string) => DisclosedPolicy | undefined;
  readonly #graceMs: number;
  /** "device\0message's sha256\0disclosure's sha256" raised (recorded). */
  readonly #raised = new Set<string>();
  /** The key of each alert `of` or `settle` made, until `raised` is told it was recorded. */
  readonly #keys = new WeakMap<Alert, string>();
  /** Newer policies waiting for their disclosure, by "device\0sha256", oldest first. */
  readonly #held = new Map<string, Held>();

  /** `disclosed`: the policy a device's verified disclosure names now (policy-agreement.ts, disclosedPolicyOf). */
  constructor(disclosed: (device: string) => DisclosedPolicy | undefined, options: { readonly graceMs?: number } = {}) {
    const graceMs = options.graceMs ?? POLICY_MISMATCH_GRACE_MS;
    if (!Number.isInteger(graceMs) || graceMs < GRACE_RANGE.min || graceMs > GRACE_RANGE.max) {
      throw new RangeError(`policyMismatchGraceMs must be an integer from ${GRACE_RANGE.min} to ${GRACE_RANGE.max}, not ${graceMs}`);
    }
    this.#disclosed = disclosed;
    this.#graceMs = graceMs;
  }

  get graceMs(): number {
    return this.#graceMs;
  }

  /** The alerts a batch's stored messages raise now, one per pair not raised yet; a newer policy is held. */
  of(opened: readonly OpenedMessage[], outcomes: readonly AdmitOutcome[], now: Date): Alert[] {
    const alerts: Alert[] = [];
    const inBatch = new Set<string>();
    for (const [i, message] of opened.entries()) {
      if (outcomes[i]!.outcome !== "stored" || message.policy === undefined) continue;
      const decoded = message.summary ?? message.health!;
      const disclosed = this.#disclosed(decoded.device);
      if (disclosed === undefined) continue;
      const producedFromS = message.summary ? message.summary.windowStart : message.health!.time;
      const how = policyAgreement({ ...message.policy, producedFromS, receivedAtMs: message.receivedAtMs }, disclosed, this.#graceMs);
      if (how === "same" || how === "before-disclosure") continue;
      const key = keyOf(decoded.device, message.policy.sha256, disclosed.sha256);
      if (this.#raised.has(key) || inBatch.has(key)) continue;
      const mismatch = { device: decoded.device, message: message.kind, producedFromS, produced: { serial: message.policy.serial, sha256: message.policy.sha256 } } as const;
      if (how === "newer") {
        this.#hold(mismatch, message.receivedAtMs);
        continue;
      }
      inBatch.add(key);
      alerts.push(this.#alert({ ...mismatch, disclosed, how }, key, now));
    }
    return alerts;
  }

  /** Marks an alert of `of` or `settle` raised, once the database recorded it; other alerts are ignored. */
  raised(alert: Alert): void {
    const key = this.#keys.get(alert);
    if (key === undefined) return;
    if (this.#raised.size >= MAX_RAISED) this.#raised.delete(this.#raised.values().next().value!);
    this.#raised.add(key);
  }

  /**
   * The newer policies held `graceMs` at `nowMs` whose disclosure has not come, judged again by the
   * same rule against the device's verified disclosure now: still an earlier serial, or another
   * hash under theirs, is raised. One that names them by now, or that arrived after their messages
   * (a later serial, or a node provisioned again on an earlier one), explains them.
   */
  settle(nowMs: number): Alert[] {
    const alerts: Alert[] = [];
    for (const [heldKey, held] of this.#held) {
      if (nowMs - held.receivedAtMs < this.#graceMs) continue;
      this.#held.delete(heldKey);
      const { mismatch, receivedAtMs } = held;
      const disclosed = this.#disclosed(mismatch.device);
      const how = disclosed && policyAgreement({ ...mismatch.produced, producedFromS: mismatch.producedFromS, receivedAtMs }, disclosed, this.#graceMs);
      if (!disclosed || (how !== "newer" && how !== "other-hash")) {
        this.stats.explained++;
        continue;
      }
      const key = keyOf(mismatch.device, mismatch.produced.sha256, disclosed.sha256);
      if (this.#raised.has(key)) continue;
      // Marked raised at once: the watch records it, or keeps it until the database takes it.
      const alert = this.#alert({ ...mismatch, disclosed, how }, key, new Date(nowMs));
      this.raised(alert);
      alerts.push(alert);
    }
    return alerts;
  }

  #hold(mismatch: Held["mismatch"], receivedAtMs: number): void {
    const key = `${mismatch.device}\0${mismatch.produced.sha256}`;
    if (this.#held.has(key)) return; // the first message under it starts the wait
    if (this.#held.size >= MAX_HELD && this.#held.delete(this.#held.keys().next().value!)) this.stats.letGo++;
    this.#held.set(key, { mismatch, receivedAtMs });
    this.stats.held++;
  }

  #alert(mismatch: PolicyMismatch, key: string, now: Date): Alert {
    const alert = policyMismatchAlert(mismatch, this.#graceMs, now);
    this.#keys.set(alert, key);
    return alert;
  }
}

function keyOf(device: string, produced: string, disclosed: string): string {
  return `${device}\0${produced}\0${disclosed}`;
}
