/**
 * The statistics of every channel over the current wall-clock window, in fixed memory: one
 * RunningStats per channel, reset when the window closes. No reading is stored.
 */
import { RunningStats } from "./running-stats.js";
import { windowStartFor } from "./window-clock.js";

export class WindowAggregator {
  readonly windowMs: number;
  readonly channels: readonly RunningStats[];
  /** Start of the open window (Unix ms). */
  startMs = 0;

  constructor(channelCount: number, windowSeconds: number) {
    this.windowMs = windowSeconds * 1000;
    this.channels = Array.from({ length: channelCount }, () => new RunningStats());
  }

  get endMs(): number {
    return this.startMs + this.windowMs;
  }

  /** Opens the window that contains `wallMs`, forgetting everything of the previous one. */
  open(wallMs: number): void {
    this.startMs = windowStartFor(wallMs, this.windowMs);
    for (const stats of this.channels) stats.reset();
  }

  add(channel: number, value: number): void {
    this.channels[channel]!.add(value);
  }
}
