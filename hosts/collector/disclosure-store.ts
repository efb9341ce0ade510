/**
 * The latest disclosure each node published (retained, civicnode/<zone>/<device>/disclosure), as
 * the bytes it published, for the API's public endpoints. Kept in memory: the broker retains it and
 * hands it to every collector that subscribes, so a restarted collector has it again at once.
 *
 * Untrusted like everything from the broker: only a device of the keyring, in its zone, with at
 * most MAX_DISCLOSURE_BYTES of JSON whose `device` names it, is kept (one entry per keyring device,
 * so the memory is bounded by the keyring). The disclosure is not signed yet (issue 13): it is
 * served as what was published, never as verified, and nothing the collector does depends on it.
 */
import { parseNodeTopic } from "../../src/uplink/topics.js";
import type { DisclosureSource, StoredDisclosure } from "./api/api-route.js";
import type { Keyring } from "./keyring.js";

export const MAX_DISCLOSURE_BYTES = 16_384;

export type DisclosureVerdict = "kept" | "unknown-device" | "zone-mismatch" | "oversized" | "not-json" | "device-mismatch";

export class DisclosureStore implements DisclosureSource {
  readonly #keyring: Keyring;
  readonly #latest = new Map<string, StoredDisclosure>();

  constructor(keyring: Keyring) {
    this.#keyring = keyring;
  }

  /** Keeps a published disclosure if it is one of a keyring device's; says why not otherwise. An empty payload clears it (a retained message deleted). */
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
    let document: unknown;
    try {
      document = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    } catch {
      return "not-json";
    }
    if (typeof document !== "object" || document === null || (document as { device?: unknown }).device !== parsed.device) return "device-mismatch";
    this.#latest.set(parsed.device, { document: Uint8Array.from(payload), receivedAtMs });
    return "kept";
  }

  async disclosure(device: string): Promise<StoredDisclosure | undefined> {
    return this.#latest.get(device);
  }
}
