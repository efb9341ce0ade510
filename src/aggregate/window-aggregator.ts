/**
 * The statistics of every channel over the current wall-clock window, in fixed memory: one
 * ChannelStatistics per channel, reset when the window closes. No reading is stored.
 */
import type { ChannelStatistics } from "./channel-statistics.js";
import { windowStartFor } from "./window-clock.js";

export class WindowAggregator {
  readonly windowMs: number;
  readonly channels: readonly ChannelStatistics[];
  /** Start of the open window (Unix ms). */
  startMs = 0;

  constructor(channels: readonly ChannelStatistics[], windowSeconds: number) {
    this.windowMs = windowSeconds * 1000;
    this.channels = channels;
  }

  get endMs(): number {
    return this.startMs + this.windowMs;
  }

  /** Opens the window that contains `wallMs`, forgetting everything of the previous one. */
  open(wallMs: number): void {
    this.startMs = windowStartFor(wallMs, this.windowMs);
    for (const stats of this.channels) stats.reset(this.startMs);
  }

  add(channel: number, value: number): void {
    this.channels[channel]!.add(value);
  }
}
