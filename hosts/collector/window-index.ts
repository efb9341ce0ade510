/**
 * One summary per (device, window start): the store's uniqueness rule (issue 12's database makes it
 * a unique key). A second summary for a window already stored, under another counter, is a
 * `duplicate` when it carries the same values (a node that sealed a window again after a restart,
 * unchanged) and a `conflict` when it does not (differently noised or counted: which one is right
 * cannot be told, so the first stays and the second is reported).
 *
 * The values are compared by digest: SHA-256 over the canonical JSON of the window length and the
 * channels (keys sorted), first 8 bytes, so a summary read back from summaries.jsonl digests as it
 * did when it arrived.
 *
 * Bounded per device: the `perDevice` latest windows (default 2016, a week of 5-minute windows;
 * the oldest window start is forgotten first). A node re-seals a window only around a
 * restart or a clock step, and its outbox delivers within its outage, hours rather than days; a
 * summary older than every window the index holds for a full device is stored unchecked, and counted.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { DecodedSummary } from "./decoded-messages.js";

export const DEFAULT_WINDOWS_PER_DEVICE = 2016;

export interface IndexedWindow {
  readonly epoch: number;
  readonly counter: number;
  /** `summaryDigest()` of the stored summary. */
  readonly digest: string;
}

export type WindowPlacement =
  | { readonly verdict: "new"; readonly digest: string; readonly unchecked: boolean }
  | { readonly verdict: "duplicate" | "conflict"; readonly digest: string; readonly stored: IndexedWindow };

/** Per device, [window start (Unix s), epoch, counter, digest] per window. */
export type WindowIndexSnapshot = Map<string, Array<readonly [number, number, number, string]>>;

export class WindowIndex {
  readonly perDevice: number;
  /** Per device, window start -> what is stored for it. */
  readonly #devices = new Map<string, Map<number, IndexedWindow>>();

  constructor(perDevice = DEFAULT_WINDOWS_PER_DEVICE) {
    if (!Number.isInteger(perDevice) || perDevice < 1) throw new RangeError("windows per device must be a positive integer");
    this.perDevice = perDevice;
  }

  /** Where a summary stands against what is stored; changes nothing. */
  place(summary: DecodedSummary): WindowPlacement {
    const digest = summaryDigest(summary);
    const windows = this.#devices.get(summary.device);
    const stored = windows?.get(summary.windowStart);
    if (stored) return { verdict: stored.digest === digest ? "duplicate" : "conflict", digest, stored };
    const unchecked = windows !== undefined && windows.size >= this.perDevice && summary.windowStart < oldestStart(windows);
    return { verdict: "new", digest, unchecked };
  }

  /** Records a stored summary's window. */
  add(device: string, windowStart: number, window: IndexedWindow): void {
    let windows = this.#devices.get(device);
    if (!windows) this.#devices.set(device, (windows = new Map()));
    if (windows.has(windowStart)) return; // the first summary of a window stays
    if (windows.size >= this.perDevice) {
      const oldest = oldestStart(windows);
      if (windowStart < oldest) return; // older than everything held: it would be the one to go
      windows.delete(oldest);
    }
    windows.set(windowStart, window);
  }

  export(): WindowIndexSnapshot {
    return new Map([...this.#devices].map(([device, windows]) => [device, [...windows].map(([start, w]) => [start, w.epoch, w.counter, w.digest] as const)]));
  }

  /** Restores `export()`; entries that are not well-formed are skipped. */
  import(snapshot: WindowIndexSnapshot): void {
    for (const [device, windows] of snapshot) {
      for (const entry of windows) {
        const [start, epoch, counter, digest] = entry;
        if (![start, epoch, counter].every(Number.isSafeInteger) || typeof digest !== "string") continue;
        this.add(device, start, { epoch, counter, digest });
      }
    }
  }
}

function oldestStart(windows: ReadonlyMap<number, IndexedWindow>): number {
  let oldest = Infinity;
  for (const start of windows.keys()) if (start < oldest) oldest = start;
  return oldest;
}

/** The digest of a summary's values: its window length and channels, independent of key order. */
export function summaryDigest(summary: Pick<DecodedSummary, "windowSeconds" | "channels">): string {
  const canonical = canonicalJson({ windowSeconds: summary.windowSeconds, channels: summary.channels });
  return bytesToHex(sha256(Buffer.from(canonical, "utf8")).subarray(0, 8));
}

/** JSON with object keys sorted, as JSON.stringify writes values (so -0 is 0 and NaN null, as after a round trip). */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
