/**
 * The statistics of every channel over the current wall-clock window, in fixed memory: one
 * ChannelStatistics per channel, reset when the window closes. No reading is stored.
 */
import type { ChannelStatistics } from "./channel-statistics.js";
import { windowStartFor } from "./window-clock.js";

export class WindowAggregator {
  windowMs: number;
  readonly channels: readonly ChannelStatistics[];
  /** Start and end of the open window (Unix ms). */
  startMs = 0;
  endMs = 0;

  constructor(channels: readonly ChannelStatistics[], windowSeconds: number) {
    this.windowMs = windowSeconds * 1000;
    this.channels = channels;
  }

  /** Seconds the open window spans. */
  get seconds(): number {
    return (this.endMs - this.startMs) / 1000;
  }

  /**
   * Opens the window that contains `wallMs`, forgetting everything of the previous one. After the
   * window length changed, the first new window starts where the previous one ended (windows never
   * overlap) and ends at the next boundary of the new length, so it can be shorter.
   */
  open(wallMs: number): void {
    const aligned = windowStartFor(wallMs, this.windowMs);
    this.startMs = Math.max(aligned, this.endMs);
    this.endMs = windowStartFor(this.startMs, this.windowMs) + this.windowMs;
    for (const stats of this.channels) stats.reset(this.startMs);
  }

  /**
   * Windows opened from now on start at `wallMs` or later (the end of the newest window sealed,
   * window-mark.ts), even when the clock reads earlier.
   */
  resumeAfter(wallMs: number): void {
    if (wallMs > this.endMs) this.endMs = wallMs;
  }

  /** Forgets what the open window took, keeping its start and end (its readings were mistimed). */
  reset(): void {
    for (const stats of this.channels) stats.reset(this.startMs);
  }

  /** The length of windows opened from now on (a downlink command); the open one keeps its length. */
  setWindowSeconds(windowSeconds: number): void {
    this.windowMs = windowSeconds * 1000;
  }

  add(channel: number, value: number): void {
    this.channels[channel]!.add(value);
  }
}
