/**
 * Verifies, decrypts and decodes a node's sealed messages (summaries and health reports) as they
 * arrive from the broker. Everything from the broker is untrusted input: each check below either
 * passes or rejects the message with a cause, and nothing here throws for bad input.
 *
 *   topic shape -> size -> COSE envelope -> kid names the topic's device -> device in keyring, zone
 *   matches -> AEAD (key of the kid's epoch, topic as external AAD) -> SenML -> base name names the
 *   device -> counter new to the epoch's replay window: accept
 *
 * `verify()` remembers nothing; the store calls `commit()` once the message is stored, so a message
 * that could not be stored is not taken for a duplicate when the broker delivers it again.
 *
 * A counter the window has already seen is authenticated all the same (one AEAD open of at most
 * `maxMessageBytes`, as any new message costs) and compared with what was accepted under it
 * (epoch-counters.ts): the same tag is a QoS 1 copy (`duplicate`); an authentic message with another
 * tag was sealed under a nonce already used (`counter-reuse`: the device restarted its counter, its
 * epoch key must be taken as compromised). Where the tag is no longer kept, and below the window,
 * an authentic message sealed later than everything the epoch accepted is a `counter-reuse` too (a
 * genuine node seals counters in time order); anything else there is a `replay`.
 *
 * Summaries and health reports of a device share one key and one counter, so one replay window.
 */
import { CoseOpenError, openEncrypt0, parseEncrypt0 } from "../../src/wire/cose-encrypt0.js";
import { deriveEpochKeys, epochKeysFromRoot, initialChainKey, nextChainKey, type EpochKeys } from "../../src/wire/key-schedule.js";
import { decodeKid } from "../../src/wire/kid.js";
import { readSenmlPack, SenmlError } from "../../src/wire/senml.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { parseNodeTopic } from "../../src/uplink/topics.js";
import type { KnownPolicy, PolicyRegistry } from "./policy-registry.js";
import { messageAad } from "../../src/wire/message-aad.js";
import type { Keyring } from "./keyring.js";
import { healthFromRecords, summaryFromRecords, type DecodedHealth, type DecodedSummary } from "./decoded-messages.js";
import { EpochCounters, TAG_BYTES, type EpochCountersSnapshot } from "./epoch-counters.js";
import { isoSeconds, sameBytes } from "./verdict-text.js";

export type { ChannelSummary, DecodedHealth, DecodedSummary, SensorHealthSummary } from "./decoded-messages.js";

/** Why a message was rejected. */
export type RejectCause =
  | "topic" // not a civicnode summary or health topic
  | "oversized"
  | "malformed" // not a well-formed COSE_Encrypt0
  | "unsupported" // another algorithm or header layout
  | "unknown-device" // kid or topic names a device the keyring does not hold
  | "kid-mismatch" // kid names another device than the topic, or the zone differs
  | "epoch" // kid names a key epoch the device cannot have reached
  | "replay" // counter already accepted or below the window, and not shown to be a copy: altered, or too old to tell
  | "duplicate" // a byte-identical copy of an accepted message (a QoS 1 resend): harmless
  | "counter-reuse" // authentic, but another message than the one accepted under its counter: nonce reuse
  | "authentication" // AEAD tag mismatch: forged, altered, wrong key or wrong topic
  | "payload" // authenticated but not a valid civicnode SenML summary
  | "stale-key" // authentic under this collector's key for the device, but the database holds another (a re-key this keyring has not seen)
  | "unbound-policy"; // authentic, but not bound to any policy the operator recorded for the device (wire/message-aad.ts)

/** Epochs behind a device's newest one whose replay windows are kept (late queue flushes). */
export const RETAINED_EPOCHS = 64;

/**
 * Epochs per device whose accepted tags are kept (the newest and the one before, which late messages
 * cross a rotation with): 2 KB each at the default window; older epochs rely on the seal time.
 */
export const TAGGED_EPOCHS = 2;

export const REJECT_CAUSES: readonly RejectCause[] = [
  "topic",
  "oversized",
  "malformed",
  "unsupported",
  "unknown-device",
  "kid-mismatch",
  "epoch",
  "replay",
  "duplicate",
  "counter-reuse",
  "authentication",
  "payload",
  "stale-key",
  "unbound-policy",
];

/** One use of a counter: what `commit()` records once the message is stored. */
export interface CounterUse {
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  /** The message's Poly1305 tag (its last 16 bytes); undefined when not known (lines stored before it was kept). */
  readonly tag?: Uint8Array;
  /** When the message was sealed (Unix s): a summary's window end, a health report's time. */
  readonly sealedAt?: number;
}

/** Which device, epoch and counter a rejected message claims (once its kid was read). */
export interface MessageSource {
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
}

export type OpenResult =
  | { readonly ok: true; readonly kind: "summary"; readonly summary: DecodedSummary; readonly use: CounterUse; readonly policy?: KnownPolicy }
  | { readonly ok: true; readonly kind: "health"; readonly health: DecodedHealth; readonly use: CounterUse; readonly policy?: KnownPolicy }
  | { readonly ok: false; readonly cause: RejectCause; readonly detail: string; readonly source?: MessageSource };

export interface MessageOpenerOptions {
  /** Largest message accepted (bytes). */
  readonly maxMessageBytes?: number;
  /** Replay window width per (device, epoch); at least 64. */
  readonly replayWindow?: number;
  /** Epoch keys kept derived at once (an LRU bound, so a flood of kids cannot grow memory). */
  readonly keyCacheSize?: number;
  /**
   * Epochs beyond which a kid is implausible, on top of one per hour since the device was
   * provisioned (the shortest epoch a node may be configured with): bounds the key derivation a
   * forged kid can cost.
   */
  readonly epochSlack?: number;
  /** The time now (Unix ms), for the epoch bound; default Date.now. */
  readonly now?: () => number;
  /**
   * The policies the operator signed for each device (policy-registry.ts). A message of a device
   * with recorded policies must be bound to one of them; without a registry, or for a device it
   * holds none of, messages are opened bound to their topic only (a node without a signed policy).
   */
  readonly policies?: Pick<PolicyRegistry, "policiesOf" | "refresh">;
}

export class MessageOpener {
  readonly #keyring: Keyring;
  readonly #maxMessageBytes: number;
  readonly #replaySize: number;
  readonly #keyCacheSize: number;
  /** Replay windows, tags and seal times by "device/epoch"; one per known device and epoch seen with a valid tag. */
  readonly #counters = new Map<string, EpochCounters>();
  readonly #keys = new Map<string, EpochKeys>();
  /** Per device, the highest chain key derived so far, to step forward from instead of from the root. */
  readonly #chains = new Map<string, { epoch: number; chain: Uint8Array }>();
  /** Per device, the newest epoch of an authentic message. */
  readonly #newestEpoch = new Map<string, number>();
  readonly #epochSlack: number;
  readonly #now: () => number;
  readonly #policies: MessageOpenerOptions["policies"];

  constructor(keyring: Keyring, options: MessageOpenerOptions = {}) {
    this.#keyring = keyring;
    this.#policies = options.policies;
    this.#maxMessageBytes = options.maxMessageBytes ?? 4096;
    this.#replaySize = Math.max(64, options.replayWindow ?? 128);
    this.#keyCacheSize = options.keyCacheSize ?? 256;
    this.#epochSlack = options.epochSlack ?? 1024;
    this.#now = options.now ?? Date.now;
  }

  /** The counters, for the store to persist across restarts ("device/epoch" -> snapshot). */
  exportCounters(): Map<string, EpochCountersSnapshot> {
    return new Map([...this.#counters].map(([key, counters]) => [key, counters.export()]));
  }

  /** Restores counters saved by exportCounters(); entries that do not fit the window size are skipped. */
  importCounters(state: ReadonlyMap<string, EpochCountersSnapshot>): void {
    for (const [key, snapshot] of state) {
      const counters = EpochCounters.import(snapshot, this.#replaySize);
      if (!counters) continue;
      this.#counters.set(key, counters);
      const { device, epoch } = splitKey(key);
      if (epoch > (this.#newestEpoch.get(device) ?? -1)) this.#newestEpoch.set(device, epoch);
    }
    for (const [key, counters] of this.#counters) {
      const { device, epoch } = splitKey(key);
      if (epoch + TAGGED_EPOCHS <= this.#newestEpoch.get(device)!) counters.dropTags();
    }
  }

  /** Forgets a device's counters: it was provisioned with a new key, whose counters start over. */
  forgetDevice(device: string): void {
    for (const key of [...this.#counters.keys()]) if (splitKey(key).device === device) this.#counters.delete(key);
    this.#newestEpoch.delete(device);
  }

  /** Verifies, then commits at once: for callers that store nothing (tests, tools). */
  open(topic: string, payload: Uint8Array): OpenResult {
    const result = this.verify(topic, payload);
    if (result.ok) this.commit(result.use);
    return result;
  }

  /** Records a counter as used, once its message is stored (or, from the journal, was). */
  commit(use: CounterUse): void {
    const key = `${use.device}/${use.epoch}`;
    const newest = this.#newestEpoch.get(use.device);
    let counters = this.#counters.get(key);
    if (!counters) {
      if (newest !== undefined && use.epoch + RETAINED_EPOCHS < newest) return; // a retired epoch: refused as replay anyway
      counters = new EpochCounters(this.#replaySize);
      if (newest !== undefined && use.epoch + TAGGED_EPOCHS <= newest) counters.dropTags();
      this.#counters.set(key, counters);
    }
    counters.accept(use.counter, use.tag, use.sealedAt);
    if (newest === undefined || use.epoch > newest) {
      this.#newestEpoch.set(use.device, use.epoch);
      // Retire the windows of epochs too old to matter and the tags of all but the newest, so memory stays bounded per device.
      for (const [other, otherCounters] of this.#counters) {
        const { device, epoch } = splitKey(other);
        if (device !== use.device) continue;
        if (epoch + RETAINED_EPOCHS < use.epoch) this.#counters.delete(other);
        else if (epoch + TAGGED_EPOCHS <= use.epoch) otherCounters.dropTags();
      }
    }
  }

  /** Verifies and decodes one message; remembers nothing (see `commit`). */
  verify(topic: string, payload: Uint8Array): OpenResult {
    const parsedTopic = parseNodeTopic(topic);
    if (!parsedTopic || (parsedTopic.kind !== "summary" && parsedTopic.kind !== "health")) return reject("topic", "not a civicnode summary or health topic");
    if (payload.length > this.#maxMessageBytes) return reject("oversized", `${payload.length} bytes`);

    let envelope;
    try {
      envelope = parseEncrypt0(payload);
    } catch (error) {
      if (error instanceof CoseOpenError) return reject(error.failure === "unsupported" ? "unsupported" : "malformed", error.message);
      throw error;
    }
    const kid = decodeKid(envelope.kid);
    if (!kid) return reject("malformed", "kid is not a civicnode key id");
    if (kid.device !== parsedTopic.device) return reject("kid-mismatch", `kid names ${kid.device}, topic ${parsedTopic.device}`);
    const entry = this.#keyring.get(kid.device);
    if (!entry) return reject("unknown-device", kid.device);
    if (entry.zone !== parsedTopic.zone) return reject("kid-mismatch", `device ${kid.device} belongs to zone ${entry.zone}`);
    const created = Date.parse(entry.created);
    const plausible = (Number.isFinite(created) ? Math.max(0, Math.ceil((this.#now() - created) / 3_600_000)) : 1_000_000) + this.#epochSlack;
    if (kid.epoch > plausible) return reject("epoch", `epoch ${kid.epoch} is beyond what ${kid.device} can have reached (${plausible})`);

    const windowKey = `${kid.device}/${kid.epoch}`;
    const counters = this.#counters.get(windowKey);
    const newest = this.#newestEpoch.get(kid.device) ?? 0;
    const source: MessageSource = { device: kid.device, epoch: kid.epoch, counter: envelope.counter };
    if (!counters && kid.epoch + RETAINED_EPOCHS < newest) {
      // Its replay window was retired: an epoch this old cannot be told from a replay any more.
      return reject("replay", `epoch ${kid.epoch} is more than ${RETAINED_EPOCHS} epochs behind ${newest}`, source);
    }
    const standing = counters?.check(envelope.counter) ?? "new";

    const keys = this.#epochKeys(windowKey, entry.rootKey, kid.device, kid.epoch);
    const open = (aad: Uint8Array): Uint8Array | undefined => {
      try {
        return openEncrypt0(envelope, keys, aad);
      } catch (error) {
        if (error instanceof CoseOpenError) return undefined;
        throw error;
      }
    };
    // Bound to one of the device's recorded policies (newest first), after a fresh look at the
    // record if none fits; a device without recorded policies seals bound to its topic only.
    let policy: KnownPolicy | undefined;
    let plaintext: Uint8Array | undefined;
    const tried = new Set<string>();
    for (let pass = 0; pass < 2 && plaintext === undefined; pass++) {
      if (pass === 1 && !this.#policies?.refresh(this.#now(), kid.device)) break;
      for (const known of this.#policies?.policiesOf(kid.device) ?? []) {
        if (tried.has(known.hashHex)) continue;
        tried.add(known.hashHex);
        plaintext = open(messageAad(topic, known.hash));
        if (plaintext) {
          policy = known;
          break;
        }
      }
    }
    if (plaintext === undefined) {
      const unbound = open(utf8Encode(topic));
      if (unbound && tried.size > 0) {
        unbound.fill(0);
        return reject("unbound-policy", `authentic, but bound to none of the ${tried.size} policies the operator recorded for ${kid.device}: it was sealed without a policy`, source);
      }
      plaintext = unbound;
    }
    if (plaintext === undefined) {
      // An altered copy of a counter already accepted is counted as a replay, as before the copies were authenticated.
      const why = tried.size === 0 && this.#policies ? " (no signed policy of this device is recorded: a node on a signed policy binds its hash)" : "";
      return reject(standing === "new" ? "authentication" : "replay", `the tag does not verify${why}`, source);
    }
    const tag = envelope.ciphertext.slice(envelope.ciphertext.length - TAG_BYTES);
    const acceptedTag = standing === "seen" ? counters!.tagOf(envelope.counter) : undefined;
    if (acceptedTag) {
      plaintext.fill(0);
      if (sameBytes(acceptedTag, tag)) return reject("duplicate", `counter ${envelope.counter} again, byte for byte`, source);
      return reject("counter-reuse", `counter ${envelope.counter} sealed a different message than the one accepted under it`, source);
    }

    let result: OpenResult;
    try {
      const records = readSenmlPack(plaintext);
      if (parsedTopic.kind === "summary") {
        const summary = summaryFromRecords(records, parsedTopic.zone, kid.device, kid.epoch, envelope.counter);
        result = { ok: true, kind: "summary", summary, use: { ...source, tag, sealedAt: summary.windowStart + summary.windowSeconds }, ...(policy ? { policy } : {}) };
      } else {
        const health = healthFromRecords(records, parsedTopic.zone, kid.device, kid.epoch, envelope.counter);
        result = { ok: true, kind: "health", health, use: { ...source, tag, sealedAt: health.time }, ...(policy ? { policy } : {}) };
      }
    } catch (error) {
      if (error instanceof SenmlError) return reject(standing === "new" ? "payload" : "replay", error.message, source);
      throw error;
    } finally {
      plaintext.fill(0);
    }
    if (standing === "new") return result;

    // Seen without a kept tag, or below the window: authentic, but is it the message accepted then?
    const sealedAt = result.use.sealedAt!;
    const until = counters!.sealedUntil;
    if (until !== undefined && sealedAt > until) {
      return reject(
        "counter-reuse",
        `counter ${envelope.counter} (${standing === "seen" ? "already accepted" : "below the replay window"}) sealed at ${isoSeconds(sealedAt)}, after everything epoch ${kid.epoch} accepted (until ${isoSeconds(until)})`,
        source,
      );
    }
    return reject("replay", `${standing === "seen" ? "replay" : "too-old"}: counter ${envelope.counter}`, source);
  }

  #derive(rootKey: Uint8Array, device: string, epoch: number): EpochKeys {
    const checkpoint = this.#chains.get(device);
    if (!checkpoint || checkpoint.epoch > epoch) {
      if (!checkpoint) {
        const chain = chainFrom({ epoch: 0, chain: initialChainKey(rootKey, device) }, device, epoch);
        this.#chains.set(device, { epoch, chain });
        return deriveEpochKeys(chain, device, epoch);
      }
      return epochKeysFromRoot(rootKey, device, epoch); // an older epoch than the checkpoint: rare (late messages)
    }
    const chain = chainFrom(checkpoint, device, epoch);
    checkpoint.chain.fill(0);
    this.#chains.set(device, { epoch, chain });
    return deriveEpochKeys(chain, device, epoch);
  }

  #epochKeys(cacheKey: string, rootKey: Uint8Array, device: string, epoch: number): EpochKeys {
    const cached = this.#keys.get(cacheKey);
    if (cached) {
      this.#keys.delete(cacheKey);
      this.#keys.set(cacheKey, cached); // most recently used last
      return cached;
    }
    const keys = this.#derive(rootKey, device, epoch);
    this.#keys.set(cacheKey, keys);
    if (this.#keys.size > this.#keyCacheSize) {
      const [oldestKey, oldest] = this.#keys.entries().next().value!;
      oldest.wipe();
      this.#keys.delete(oldestKey);
    }
    return keys;
  }
}

/** Derivation of an epoch's keys, stepping forward from the highest chain key derived for the device. */
function chainFrom(start: { epoch: number; chain: Uint8Array }, device: string, epoch: number): Uint8Array {
  let chain: Uint8Array = start.chain.slice();
  for (let n = start.epoch; n < epoch; n++) {
    const next = nextChainKey(chain, device, n);
    chain.fill(0);
    chain = next;
  }
  return chain;
}

function reject(cause: RejectCause, detail: string, source?: MessageSource): OpenResult {
  return source ? { ok: false, cause, detail, source } : { ok: false, cause, detail };
}

function splitKey(key: string): { device: string; epoch: number } {
  const slash = key.lastIndexOf("/");
  return { device: key.slice(0, slash), epoch: Number(key.slice(slash + 1)) };
}

