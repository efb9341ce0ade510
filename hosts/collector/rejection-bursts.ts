/**
 * Bursts of refused messages from one source: the topics of one keyring device (a forger
 * publishing as lamp-7, or lamp-7 sealing under a key this collector does not hold), else the
 * topic itself. A burst is at least `threshold` refusals within `windowMs`: by default 20 within
 * 10 minutes, which a healthy node never comes near (it sends a summary per window and a health
 * report per quarter hour, none refused) while a flood crosses it in seconds. QoS 1 copies
 * (`duplicate`) are harmless and not counted.
 *
 *   refusal -> its source -> the source's last `threshold` refusal times: the oldest within
 *     windowMs of the newest? -> a burst: raised when it starts, the rest of it counted
 *
 * Once per episode: a source stays in its burst while it has `threshold` refusals within
 * `windowMs`; a burst that starts again within `windowMs` of the source's last alert continues
 * that episode. Over all sources, at most `maxAlerts` bursts are raised per `windowMs` (a forger
 * with many topics must not flood the alerts either); those not raised are counted and said in the
 * next alert. Every refusal is counted by cause all the same (stats.rejected, GET /api/rejections).
 *
 * Bounded memory: at most `maxSources` sources are tracked, each with its last `threshold` times
 * (9 bytes each). A source refused nothing for `windowMs` gives its place to a new one; while all
 * places are taken by sources refused within `windowMs`, new sources are counted together as one,
 * "untracked", which bursts like any other: inventing topics fills the table, it does not hide a
 * flood.
 *
 * Per collector instance: the instances of a group each see their share of a burst, about
 * 1/k of it with k instances, so a group's members may want a threshold k times lower.
 *
 * Example:
 *   const bursts = new RejectionBursts((device) => keyring.get(device) !== undefined);
 *   const alert = bursts.note("authentication", topic, Date.now());   // an Alert when a burst starts
 */
import { parseNodeTopic } from "../../src/uplink/topics.js";
import { rejectionBurstAlert, type Alert, type BurstSource } from "./alerts.js";
import { REJECT_CAUSES, type RejectCause } from "./message-opener.js";

export interface RejectionBurstOptions {
  /** Refusals within `windowMs` that make a burst (2 to 1,000); default 20. */
  readonly threshold?: number;
  /** The span a burst's refusals fall within (1 s to a day); default 10 minutes. */
  readonly windowMs?: number;
  /** Sources tracked at most (1 to 65,536); default 1,024. */
  readonly maxSources?: number;
  /** Bursts raised per `windowMs` at most, over all sources (1 to 1,000); default 10. */
  readonly maxAlerts?: number;
}

export const REJECTION_BURST_DEFAULTS = { threshold: 20, windowMs: 10 * 60_000, maxSources: 1024, maxAlerts: 10 } as const;

/** Longest topic kept as a source's name (the collector logs topics cut to the same length). */
const TOPIC_CHARS = 200;

interface Source {
  readonly source: BurstSource;
  /** Ring of the last `threshold` refusal times (ms), and their causes (index in REJECT_CAUSES). */
  readonly times: Float64Array;
  readonly causes: Uint8Array;
  next: number;
  filled: number;
  bursting: boolean;
  alertedAtMs: number;
}

export interface RejectionBurstStats {
  /** Bursts raised as alerts. */
  raised: number;
  /** Bursts not raised, for the bound on alerts per window. */
  unraised: number;
  /** Refusals counted under "untracked" (every place taken). */
  untracked: number;
}

export class RejectionBursts {
  readonly stats: RejectionBurstStats = { raised: 0, unraised: 0, untracked: 0 };
  readonly #isDevice: (device: string) => boolean;
  readonly #threshold: number;
  readonly #windowMs: number;
  readonly #maxSources: number;
  readonly #maxAlerts: number;
  /** Tracked sources, least recently refused first (a Map keeps insertion order; a refusal re-inserts). */
  readonly #sources = new Map<string, Source>();
  #untracked: Source | undefined;
  /** When the latest bursts were raised, at most maxAlerts of them. */
  readonly #raisedAt: number[] = [];
  #unraisedSinceAlert = 0;

  constructor(isDevice: (device: string) => boolean, options: RejectionBurstOptions = {}) {
    this.#isDevice = isDevice;
    this.#threshold = bounded(options.threshold ?? REJECTION_BURST_DEFAULTS.threshold, 2, 1000, "rejectionBurst.threshold");
    this.#windowMs = bounded(options.windowMs ?? REJECTION_BURST_DEFAULTS.windowMs, 1000, 86_400_000, "rejectionBurst.windowMs");
    this.#maxSources = bounded(options.maxSources ?? REJECTION_BURST_DEFAULTS.maxSources, 1, 65_536, "rejectionBurst.maxSources");
    this.#maxAlerts = bounded(options.maxAlerts ?? REJECTION_BURST_DEFAULTS.maxAlerts, 1, 1000, "rejectionBurst.maxAlerts");
  }

  /** Sources tracked now (untracked included): never more than maxSources + 1. */
  get tracked(): number {
    return this.#sources.size + (this.#untracked ? 1 : 0);
  }

  /** Counts a refusal of a message on `topic` at `nowMs`; the alert when it starts a burst. */
  note(cause: RejectCause, topic: string, nowMs: number): Alert | undefined {
    if (cause === "duplicate") return undefined;
    const source = this.#sourceOf(topic, nowMs);
    source.times[source.next] = nowMs;
    source.causes[source.next] = REJECT_CAUSES.indexOf(cause);
    source.next = (source.next + 1) % this.#threshold;
    source.filled = Math.min(source.filled + 1, this.#threshold);
    // With the ring full, `next` points at the oldest of the last `threshold` refusals.
    const inBurst = source.filled === this.#threshold && nowMs - source.times[source.next]! <= this.#windowMs;
    if (!inBurst) {
      source.bursting = false;
      return undefined;
    }
    if (source.bursting) return undefined;
    source.bursting = true;
    if (nowMs - source.alertedAtMs < this.#windowMs) return undefined; // the same episode, after a dip
    while (this.#raisedAt.length > 0 && nowMs - this.#raisedAt[0]! >= this.#windowMs) this.#raisedAt.shift();
    if (this.#raisedAt.length >= this.#maxAlerts) {
      this.stats.unraised++;
      this.#unraisedSinceAlert++;
      return undefined;
    }
    this.#raisedAt.push(nowMs);
    source.alertedAtMs = nowMs;
    this.stats.raised++;
    const causes: Partial<Record<RejectCause, number>> = {};
    for (const index of source.causes) causes[REJECT_CAUSES[index]!] = (causes[REJECT_CAUSES[index]!] ?? 0) + 1;
    const alert = rejectionBurstAlert({ source: source.source, causes, count: this.#threshold, windowMs: this.#windowMs, unraised: this.#unraisedSinceAlert }, new Date(nowMs));
    this.#unraisedSinceAlert = 0;
    return alert;
  }

  /** The source a topic's refusals count under, made (or moved to the most recent end) for this refusal. */
  #sourceOf(topic: string, nowMs: number): Source {
    const parsed = parseNodeTopic(topic);
    const device = parsed !== undefined && this.#isDevice(parsed.device) ? parsed.device : undefined;
    const key = device !== undefined ? `device\0${device}` : `topic\0${topic.slice(0, TOPIC_CHARS)}`;
    const known = this.#sources.get(key);
    if (known) {
      this.#sources.delete(key);
      this.#sources.set(key, known);
      return known;
    }
    if (this.#sources.size >= this.#maxSources) {
      const [oldestKey, oldest] = this.#sources.entries().next().value!;
      const newest = oldest.times[(oldest.next + this.#threshold - 1) % this.#threshold]!;
      if (nowMs - newest <= this.#windowMs) {
        this.stats.untracked++;
        this.#untracked ??= this.#newSource({ untracked: true });
        return this.#untracked;
      }
      this.#sources.delete(oldestKey);
    }
    const made = this.#newSource(device !== undefined ? { device } : { topic: topic.slice(0, TOPIC_CHARS) });
    this.#sources.set(key, made);
    return made;
  }

  #newSource(source: BurstSource): Source {
    return { source, times: new Float64Array(this.#threshold), causes: new Uint8Array(this.#threshold), next: 0, filled: 0, bursting: false, alertedAtMs: -Infinity };
  }
}

function bounded(value: number, min: number, max: number, name: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  return value;
}
