/**
 * Verifies, decrypts and decodes a node's sealed messages (summaries and health reports) as they
 * arrive from the broker. Everything from the broker is untrusted input: each check below either
 * passes or rejects the message with a cause, and nothing here throws for bad input.
 *
 *   topic shape -> size -> COSE envelope -> kid names the topic's device -> device in keyring, zone
 *   matches -> replay window -> AEAD (key of the kid's epoch, topic as external AAD) -> SenML ->
 *   base name names the device -> accept (and only now move the replay window)
 *
 * Summaries and health reports of a device share one key and one counter, so one replay window.
 */
import { CoseOpenError, openEncrypt0, parseEncrypt0 } from "../../src/wire/cose-encrypt0.js";
import { deriveEpochKeys, epochKeysFromRoot, initialChainKey, nextChainKey, type EpochKeys } from "../../src/wire/key-schedule.js";
import { decodeKid } from "../../src/wire/kid.js";
import { ReplayWindow } from "../../src/wire/replay-window.js";
import { PADDING_RECORD, readSenmlPack, SenmlError, type SenmlRecord } from "../../src/wire/senml.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { parseNodeTopic } from "../../src/uplink/topics.js";
import type { Keyring } from "./keyring.js";

/** Why a message was rejected. */
export type RejectCause =
  | "topic" // not a civicnode summary or health topic
  | "oversized"
  | "malformed" // not a well-formed COSE_Encrypt0
  | "unsupported" // another algorithm or header layout
  | "unknown-device" // kid or topic names a device the keyring does not hold
  | "kid-mismatch" // kid names another device than the topic, or the zone differs
  | "epoch" // kid names a key epoch the device cannot have reached
  | "replay" // counter already accepted, or older than the replay window
  | "authentication" // AEAD tag mismatch: forged, altered, wrong key or wrong topic
  | "payload"; // authenticated but not a valid civicnode SenML summary

/** Epochs behind a device's newest one whose replay windows are kept (late queue flushes). */
export const RETAINED_EPOCHS = 64;

export const REJECT_CAUSES: readonly RejectCause[] = [
  "topic",
  "oversized",
  "malformed",
  "unsupported",
  "unknown-device",
  "kid-mismatch",
  "epoch",
  "replay",
  "authentication",
  "payload",
];

/** One channel of a decoded summary: its released statistics, or the status that replaced them. */
export interface ChannelSummary {
  unit?: string;
  count?: number;
  mean?: number;
  min?: number;
  max?: number;
  leq?: number;
  l10?: number;
  l50?: number;
  l90?: number;
  /** A count, or the reason it was withheld ("suppressed", "budget-exhausted"). */
  sum?: number | string;
  distinct?: number | string;
  status?: string;
  [stat: string]: number | string | undefined;
}

export interface DecodedSummary {
  readonly zone: string;
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  /** Window start, Unix seconds. */
  readonly windowStart: number;
  readonly windowSeconds: number;
  readonly channels: Record<string, ChannelSummary>;
}

/** One sensor's state in a health report. */
export interface SensorHealthSummary {
  status?: string;
  readings?: number;
  faults?: number;
  drops: Record<string, number>;
}

export interface DecodedHealth {
  readonly zone: string;
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  /** Time of the report (end of the window it follows), Unix seconds. */
  readonly time: number;
  /** Node-level counters: uptime (s), queue, dropped, delivered, sealFailures. */
  readonly node: Record<string, number>;
  /** ε left today per noisy channel. */
  readonly budget: Record<string, number>;
  /** Downlink commands since boot, by outcome (accepted, replay, authentication, bounds, ...). */
  readonly commands: Record<string, number>;
  /** Audit entries since the previous report: time (Unix s) and "event detail". */
  readonly audit: Array<{ time: number; entry: string }>;
  readonly sensors: Record<string, SensorHealthSummary>;
}

export type OpenResult =
  | { readonly ok: true; readonly kind: "summary"; readonly summary: DecodedSummary }
  | { readonly ok: true; readonly kind: "health"; readonly health: DecodedHealth }
  | { readonly ok: false; readonly cause: RejectCause; readonly detail: string };

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
}

export class MessageOpener {
  readonly #keyring: Keyring;
  readonly #maxMessageBytes: number;
  readonly #replaySize: number;
  readonly #keyCacheSize: number;
  /** Replay windows by "device/epoch"; one per known device and epoch seen with a valid tag. */
  readonly #windows = new Map<string, ReplayWindow>();
  readonly #keys = new Map<string, EpochKeys>();
  /** Per device, the highest chain key derived so far, to step forward from instead of from the root. */
  readonly #chains = new Map<string, { epoch: number; chain: Uint8Array }>();
  /** Per device, the newest epoch of an authentic message. */
  readonly #newestEpoch = new Map<string, number>();
  readonly #epochSlack: number;
  readonly #now: () => number;

  constructor(keyring: Keyring, options: MessageOpenerOptions = {}) {
    this.#keyring = keyring;
    this.#maxMessageBytes = options.maxMessageBytes ?? 4096;
    this.#replaySize = Math.max(64, options.replayWindow ?? 128);
    this.#keyCacheSize = options.keyCacheSize ?? 256;
    this.#epochSlack = options.epochSlack ?? 1024;
    this.#now = options.now ?? Date.now;
  }

  /** The replay windows, for the collector to persist across restarts ("device/epoch" -> bytes). */
  exportReplayState(): Map<string, Uint8Array> {
    return new Map([...this.#windows].map(([key, window]) => [key, window.export()]));
  }

  /** Restores replay windows saved by exportReplayState(); entries that do not fit are skipped. */
  importReplayState(state: ReadonlyMap<string, Uint8Array>): void {
    for (const [key, bytes] of state) {
      const window = ReplayWindow.import(bytes, this.#replaySize);
      if (!window) continue;
      this.#windows.set(key, window);
      const slash = key.lastIndexOf("/");
      const device = key.slice(0, slash);
      const epoch = Number(key.slice(slash + 1));
      if (epoch > (this.#newestEpoch.get(device) ?? -1)) this.#newestEpoch.set(device, epoch);
    }
  }

  open(topic: string, payload: Uint8Array): OpenResult {
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
    const window = this.#windows.get(windowKey);
    const newest = this.#newestEpoch.get(kid.device) ?? 0;
    if (!window && kid.epoch + RETAINED_EPOCHS < newest) {
      // Its replay window was retired: an epoch this old cannot be told from a replay any more.
      return reject("replay", `epoch ${kid.epoch} is more than ${RETAINED_EPOCHS} epochs behind ${newest}`);
    }
    if (window) {
      const verdict = window.check(envelope.counter);
      if (verdict !== "new") return reject("replay", `${verdict}: counter ${envelope.counter}`);
    }

    let plaintext;
    try {
      plaintext = openEncrypt0(envelope, this.#epochKeys(windowKey, entry.rootKey, kid.device, kid.epoch), utf8Encode(topic));
    } catch (error) {
      if (error instanceof CoseOpenError) return reject("authentication", error.message);
      throw error;
    }

    let result: OpenResult;
    try {
      const records = readSenmlPack(plaintext);
      result =
        parsedTopic.kind === "summary"
          ? { ok: true, kind: "summary", summary: summaryFromRecords(records, parsedTopic.zone, kid.device, kid.epoch, envelope.counter) }
          : { ok: true, kind: "health", health: healthFromRecords(records, parsedTopic.zone, kid.device, kid.epoch, envelope.counter) };
    } catch (error) {
      if (error instanceof SenmlError) return reject("payload", error.message);
      throw error;
    } finally {
      plaintext.fill(0);
    }

    // Authentic and well-formed: only now does the counter count as seen.
    if (window) window.accept(envelope.counter);
    else {
      const fresh = new ReplayWindow(this.#replaySize);
      fresh.accept(envelope.counter);
      this.#windows.set(windowKey, fresh);
    }
    if (kid.epoch > newest) {
      this.#newestEpoch.set(kid.device, kid.epoch);
      // Retire the windows of epochs too old to matter, so memory stays bounded per device.
      for (const key of this.#windows.keys()) {
        const slash = key.lastIndexOf("/");
        if (key.slice(0, slash) === kid.device && Number(key.slice(slash + 1)) + RETAINED_EPOCHS < kid.epoch) this.#windows.delete(key);
      }
    }
    return result;
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

function reject(cause: RejectCause, detail: string): OpenResult {
  return { ok: false, cause, detail };
}

/** Groups "<device>/<channel>/<stat>" records into channels; checks the pack is this device's summary. */
function summaryFromRecords(records: readonly SenmlRecord[], zone: string, device: string, epoch: number, counter: number): DecodedSummary {
  const prefix = `${device}/`;
  let windowSeconds: number | undefined;
  const channels: Record<string, ChannelSummary> = {};
  const windowStart = records[0]?.time;
  if (windowStart === undefined || !Number.isInteger(windowStart)) throw new SenmlError("summary has no integer base time");
  for (const record of records) {
    if (!record.name.startsWith(prefix)) throw new SenmlError(`record ${record.name} does not belong to ${device}`);
    if (record.time !== windowStart) throw new SenmlError("records of one summary must share the window time");
    const local = record.name.slice(prefix.length);
    if (local === PADDING_RECORD) continue; // fills the summary to its fixed size
    if (local === "window") {
      if (record.value === undefined || record.unit !== "s") throw new SenmlError("window record must be a value in seconds");
      windowSeconds = record.value;
      continue;
    }
    const slash = local.indexOf("/");
    if (slash <= 0 || slash === local.length - 1) throw new SenmlError(`record name ${record.name} is not <channel>/<stat>`);
    const channelName = local.slice(0, slash);
    const stat = local.slice(slash + 1);
    if (stat === "unit") throw new SenmlError("reserved statistic name");
    const channel = (channels[channelName] ??= {});
    if (stat === "status") {
      if (record.stringValue === undefined) throw new SenmlError(`${record.name} must carry a string`);
      channel.status = record.stringValue;
    } else if (record.stringValue !== undefined) {
      // A value the release gate withheld: "suppressed", "budget-exhausted".
      channel[stat] = record.stringValue;
    } else {
      if (record.value === undefined) throw new SenmlError(`${record.name} must carry a number`);
      channel[stat] = record.value;
      if (record.unit !== undefined) channel.unit = record.unit;
    }
  }
  if (windowSeconds === undefined) throw new SenmlError("summary has no window record");
  return { zone, device, epoch, counter, windowStart, windowSeconds, channels };
}

/** Reads a health report: node counters, and per sensor its status, readings, faults and drops. */
function healthFromRecords(records: readonly SenmlRecord[], zone: string, device: string, epoch: number, counter: number): DecodedHealth {
  const prefix = `${device}/`;
  const time = records[0]?.time;
  if (time === undefined || !Number.isFinite(time)) throw new SenmlError("health report has no base time");
  const node: Record<string, number> = {};
  const budget: Record<string, number> = {};
  const commands: Record<string, number> = {};
  const audit: Array<{ time: number; entry: string }> = [];
  const sensors: Record<string, SensorHealthSummary> = {};
  for (const record of records) {
    if (!record.name.startsWith(prefix)) throw new SenmlError(`record ${record.name} does not belong to ${device}`);
    const parts = record.name.slice(prefix.length).split("/");
    if (parts.length === 1 && parts[0] === "audit" && record.stringValue !== undefined) {
      audit.push({ time: record.time, entry: record.stringValue });
      continue;
    }
    if (parts.length === 2 && parts[0] === "commands" && record.value !== undefined) {
      commands[parts[1]!] = record.value;
      continue;
    }
    if (parts.length === 1) {
      if (record.value === undefined) throw new SenmlError(`${record.name} must carry a number`);
      node[parts[0]!] = record.value;
      continue;
    }
    if (parts.length === 2 && parts[0] === "budget" && record.value !== undefined) {
      budget[parts[1]!] = record.value;
      continue;
    }
    const sensor = (sensors[parts[0]!] ??= { drops: {} });
    if (parts.length === 2 && parts[1] === "status" && record.stringValue !== undefined) sensor.status = record.stringValue;
    else if (parts.length === 2 && parts[1] === "readings" && record.value !== undefined) sensor.readings = record.value;
    else if (parts.length === 2 && parts[1] === "faults" && record.value !== undefined) sensor.faults = record.value;
    else if (parts.length === 3 && parts[1] === "drops" && record.value !== undefined) sensor.drops[parts[2]!] = record.value;
    else throw new SenmlError(`unexpected health record ${record.name}`);
  }
  return { zone, device, epoch, counter, time, node, budget, commands, audit, sensors };
}
