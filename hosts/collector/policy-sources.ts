/**
 * The policies a device's messages may be bound to (src/wire/message-aad.ts), as the opener asks
 * for them: the operator's record (policy-registry.ts), newest first, then the policy the node's
 * latest disclosure names, when the record does not hold it (a collector that runs apart from the
 * operator's state folder, or a node provisioned elsewhere). The second source is sound for the
 * binding (a message verifies under a hash only if its node sealed it under that hash) and weaker
 * for attribution when the disclosure did not verify, which the policy says (`from`).
 */
import { hexToBytes } from "@noble/hashes/utils.js";
import type { DisclosureStore } from "./disclosure-store.js";
import type { KnownPolicy, PolicyRegistry } from "./policy-registry.js";

export class PolicySources {
  readonly #registry: PolicyRegistry | undefined;
  readonly #disclosures: DisclosureStore;
  /** The latest disclosure's policy per device, kept as a KnownPolicy while it names the same hash. */
  readonly #fromDisclosure = new Map<string, KnownPolicy>();

  constructor(registry: PolicyRegistry | undefined, disclosures: DisclosureStore) {
    this.#registry = registry;
    this.#disclosures = disclosures;
  }

  policiesOf(device: string): readonly KnownPolicy[] {
    const recorded = this.#registry?.policiesOf(device) ?? [];
    const disclosed = this.#disclosed(device);
    if (!disclosed || recorded.some((p) => p.hashHex === disclosed.hashHex)) return recorded;
    return [...recorded, disclosed];
  }

  /**
   * The days the device's window summaries are kept, as its policy says (retention.summariesDays):
   * its newest recorded policy's, else its verified disclosure's; undefined when neither says, and
   * never from a disclosure that did not verify (a forger must not make the collector delete).
   */
  summariesDays(device: string): number | undefined {
    return this.#retention(device, "summariesDays");
  }

  /** The days the device's health reports are kept, as its policy says (retention.healthDays); as summariesDays. */
  healthDays(device: string): number | undefined {
    return this.#retention(device, "healthDays");
  }

  #retention(device: string, field: "summariesDays" | "healthDays"): number | undefined {
    const recorded = this.#registry?.policiesOf(device)[0];
    if (recorded?.[field] !== undefined) return recorded[field];
    const disclosed = this.#disclosed(device);
    return disclosed?.from === "verified-disclosure" ? disclosed[field] : undefined;
  }

  refresh(nowMs: number, device: string): boolean {
    return this.#registry?.refresh(nowMs, device) ?? false;
  }

  #disclosed(device: string): KnownPolicy | undefined {
    const stored = this.#disclosures.latest(device);
    const sha256 = stored?.policy?.sha256;
    if (!stored || sha256 === undefined) return undefined;
    const from = stored.verified ? "verified-disclosure" : "unverified-disclosure";
    const held = this.#fromDisclosure.get(device);
    if (held && held.hashHex === sha256 && held.from === from) return held;
    const policy: KnownPolicy = { serial: stored.policy!.serial ?? 0, hash: hexToBytes(sha256), hashHex: sha256, name: stored.policy!.name, summariesDays: retentionDays(stored.document, "summariesDays"), healthDays: retentionDays(stored.document, "healthDays"), from };
    this.#fromDisclosure.set(device, policy);
    return policy;
  }
}

/** A retention period of a disclosure document (JSON bytes), when it is a whole number of days. */
function retentionDays(document: Uint8Array, field: "summariesDays" | "healthDays"): number | undefined {
  try {
    const days = (JSON.parse(new TextDecoder().decode(document)) as { retention?: Record<string, unknown> }).retention?.[field];
    return typeof days === "number" && Number.isInteger(days) && days >= 1 ? days : undefined;
  } catch {
    return undefined;
  }
}
