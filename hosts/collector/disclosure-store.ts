/**
 * The latest disclosure each node published (retained, civicnode/<zone>/<device>/disclosure), for
 * the API's public endpoints. Kept in memory: the broker retains it and hands it to every collector
 * that subscribes, so a restarted collector has it again at once.
 *
 * A disclosure is a COSE_Sign1 by the operator's key (src/policy/signed-disclosure.ts), and the
 * collector checks it with the operator's public key (`<state>/operator.pub`):
 *   - verified: its payload is kept, with the policy it names (name, serial, SHA-256) and when it
 *     first arrived (the same document again keeps that time: policy-agreement.ts reads it);
 *   - anything else on the topic (a bad signature, another key's, plain unsigned JSON) is
 *     `forged`: raised as an alert by the collector, and it never replaces a verified disclosure,
 *     so a forgery on the broker cannot change what the node's public page says (which says
 *     "forged" while no verified one is kept: api/node-verification.ts);
 *   - without an operator key to check with, a disclosure is kept as published and marked
 *     unverified, never as verified.
 * Untrusted like everything from the broker: only a device of the keyring, in its zone, with at most
 * MAX_DISCLOSURE_BYTES, whose document names it, is kept (one entry per keyring device, so the
 * memory is bounded by the keyring).
 */
import { parseNodeTopic } from "../../src/uplink/topics.js";
import { CoseSign1Error, unverifiedSign1Payload, verifySign1 } from "../../src/wire/cose-sign1.js";
import type { DisclosureSource, StoredDisclosure } from "./api/api-route.js";
import type { Keyring } from "./keyring.js";

export const MAX_DISCLOSURE_BYTES = 16_384;
/** A forger can publish as often as the broker lets them: one alert per device per this long, the rest counted. */
export const FORGED_ALERT_INTERVAL_MS = 10 * 60_000;

export type DisclosureVerdict = "kept" | "forged" | "unknown-device" | "zone-mismatch" | "oversized" | "not-json" | "device-mismatch";

export class DisclosureStore implements DisclosureSource {
  readonly #keyring: Keyring;
  readonly #operatorKey: Uint8Array | undefined;
  readonly #latest = new Map<string, StoredDisclosure>();
  /** Per keyring device: when its last forgery alert was raised, and the forgeries since. */
  readonly #forgeries = new Map<string, { alertedAtMs: number; since: number }>();
  /** Per keyring device with no disclosure kept, when a forgery was last refused. */
  readonly #forgedUnheld = new Map<string, number>();

  constructor(keyring: Keyring, operatorKey?: Uint8Array) {
    this.#keyring = keyring;
    this.#operatorKey = operatorKey;
  }

  /** Whether disclosures are checked (an operator key was given). */
  get verifying(): boolean {
    return this.#operatorKey !== undefined;
  }

  /**
   * Keeps a published disclosure if it is one of a keyring device's and, with an operator key,
   * verifies under it; says why not otherwise. An empty payload clears it (a retained message deleted).
   */
  offer(topic: string, payload: Uint8Array, receivedAtMs: number): DisclosureVerdict {
    const parsed = parseNodeTopic(topic);
    const entry = parsed ? this.#keyring.get(parsed.device) : undefined;
    if (!parsed || !entry) return "unknown-device";
    if (entry.zone !== parsed.zone) return "zone-mismatch";
    if (payload.length === 0) {
      this.#latest.delete(parsed.device);
      return "kept";
    }
    if (payload.length > MAX_DISCLOSURE_BYTES) return "oversized";
    let documentBytes: Uint8Array;
    let verified = false;
    if (this.#operatorKey) {
      try {
        documentBytes = verifySign1(payload, this.#operatorKey).payload;
        verified = true;
      } catch (error) {
        if (!(error instanceof CoseSign1Error)) throw error;
        this.#markForged(parsed.device, receivedAtMs);
        return "forged";
      }
    } else {
      try {
        documentBytes = unverifiedSign1Payload(payload);
      } catch {
        documentBytes = payload; // an unsigned disclosure, as published
      }
    }
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(documentBytes));
    } catch {
      return "not-json";
    }
    if (typeof document !== "object" || document === null || (document as { device?: unknown }).device !== parsed.device) return "device-mismatch";
    const policy = policyOf(document as { policy?: unknown });
    // The same document again (a retained message redelivered, republished on request) is no news:
    // it keeps the time it first arrived, which tells a node's outbox drain from what it seals since.
    const held = this.#latest.get(parsed.device);
    const since = held && held.verified === verified && sameDocument(held.document, documentBytes) ? held.receivedAtMs : receivedAtMs;
    this.#latest.set(parsed.device, { document: Uint8Array.from(documentBytes), receivedAtMs: since, verified, ...(policy ? { policy } : {}) });
    this.#forgedUnheld.delete(parsed.device);
    return "kept";
  }

  async disclosure(device: string): Promise<StoredDisclosure | undefined> {
    return this.#latest.get(device);
  }

  /** The latest disclosure kept for `device`, at once. */
  latest(device: string): StoredDisclosure | undefined {
    return this.#latest.get(device);
  }

  /** When a disclosure of `device` that did not verify was last refused, whether or not a verified one is kept. */
  forgedAtMs(device: string): number | undefined {
    return this.#latest.get(device)?.forgedAtMs ?? this.#forgedUnheld.get(device);
  }

  /**
   * Whether the forgery just refused for `device` should be raised as an alert now (the first, then
   * one per FORGED_ALERT_INTERVAL_MS), and how many were refused since the last alert.
   */
  forgeryToAlert(device: string, nowMs: number): number | undefined {
    const seen = this.#forgeries.get(device) ?? { alertedAtMs: -Infinity, since: 0 };
    seen.since++;
    this.#forgeries.set(device, seen);
    if (nowMs - seen.alertedAtMs < FORGED_ALERT_INTERVAL_MS) return undefined;
    const since = seen.since;
    seen.alertedAtMs = nowMs;
    seen.since = 0;
    return since;
  }

  /** A forgery is remembered beside the verified disclosure it did not replace, or alone (the public verdict says "forged"). */
  #markForged(device: string, atMs: number): void {
    const held = this.#latest.get(device);
    if (held) this.#latest.set(device, { ...held, forgedAtMs: atMs });
    else this.#forgedUnheld.set(device, atMs);
  }
}

function sameDocument(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function policyOf(document: { policy?: unknown }): StoredDisclosure["policy"] {
  const policy = document.policy as { name?: unknown; serial?: unknown; sha256?: unknown } | undefined;
  if (typeof policy !== "object" || policy === null || typeof policy.name !== "string") return undefined;
  return {
    name: policy.name,
    ...(typeof policy.serial === "number" ? { serial: policy.serial } : {}),
    ...(typeof policy.sha256 === "string" && /^[0-9a-f]{64}$/.test(policy.sha256) ? { sha256: policy.sha256 } : {}),
  };
}
