/**
 * How the store judges the counter of an authentic message against what its (device, key, epoch)
 * accepted: the rules of message-opener.ts, moved to where the replay state now lives, so that the
 * judgement and the row it admits are one transaction.
 *
 *   epoch more than RETAINED_EPOCHS behind the device's newest  -> replay (its window was retired)
 *   counter new to the window                                   -> new
 *   counter seen, tag kept: the same tag                        -> duplicate (a QoS 1 copy)
 *                           another tag                         -> counter-reuse (a nonce reuse)
 *   seen without a kept tag, or below the window:
 *     sealed later than everything the epoch accepted           -> counter-reuse (the counter went back)
 *     otherwise                                                 -> replay
 *
 * docs/decisions.md, "Sealing and verification", says why each rule is as it is.
 */
import { RETAINED_EPOCHS } from "../message-opener.js";
import type { EpochCounters } from "../epoch-counters.js";
import { isoSeconds, sameBytes } from "../verdict-text.js";

export type CounterVerdict =
  | { readonly verdict: "new" }
  | { readonly verdict: "duplicate" | "counter-reuse" | "replay"; readonly detail: string };

export interface CounterClaim {
  readonly epoch: number;
  readonly counter: number;
  readonly tag: Uint8Array;
  /** When the message was sealed (Unix s). */
  readonly sealedAt: number;
}

/**
 * `counters`: the epoch's state, undefined when the epoch has none; `newestEpoch`: the newest epoch
 * accepted for the device under its key, undefined when none.
 */
export function judgeCounter(claim: CounterClaim, counters: EpochCounters | undefined, newestEpoch: number | undefined): CounterVerdict {
  const newest = newestEpoch ?? 0;
  if (!counters && claim.epoch + RETAINED_EPOCHS < newest) {
    return { verdict: "replay", detail: `epoch ${claim.epoch} is more than ${RETAINED_EPOCHS} epochs behind ${newest}` };
  }
  const standing = counters?.check(claim.counter) ?? "new";
  if (standing === "new") return { verdict: "new" };
  const acceptedTag = standing === "seen" ? counters!.tagOf(claim.counter) : undefined;
  if (acceptedTag) {
    if (sameBytes(acceptedTag, claim.tag)) return { verdict: "duplicate", detail: `counter ${claim.counter} again, byte for byte` };
    return { verdict: "counter-reuse", detail: `counter ${claim.counter} sealed a different message than the one accepted under it` };
  }
  const until = counters!.sealedUntil;
  if (until !== undefined && claim.sealedAt > until) {
    return {
      verdict: "counter-reuse",
      detail: `counter ${claim.counter} (${standing === "seen" ? "already accepted" : "below the replay window"}) sealed at ${isoSeconds(claim.sealedAt)}, after everything epoch ${claim.epoch} accepted (until ${isoSeconds(until)})`,
    };
  }
  return { verdict: "replay", detail: `${standing === "seen" ? "replay" : "too-old"}: counter ${claim.counter}` };
}

