/**
 * The node's clock and timers on Moddable: `Time.ticks` for monotonic time, `Date.now()` for the
 * wall clock, `Timer` for callbacks.
 *
 * `Time.ticks` is a 32-bit millisecond counter on ESP32 and wraps after 49.7 days; a street node
 * runs for years. The monotonic time therefore accumulates `Time.delta` between calls, which is
 * correct across a wrap as long as calls come less than 24 days apart (the node samples every
 * few seconds).
 */
import Time from "time";
import Timer from "timer";
import type { Clock, TimerHandle, Timers } from "../../src/platform.js";

export class ModdableClock implements Clock, Timers {
  #lastTicks = Time.ticks;
  #monotonicMs = 0;
  #wallSynced: boolean;

  /** `wallSynced`: the wall clock is right from the start (a desktop simulator runs on the host's clock). */
  constructor(wallSynced: boolean) {
    this.#wallSynced = wallSynced;
  }

  monotonicMs(): number {
    const ticks = Time.ticks;
    this.#monotonicMs += Time.delta(this.#lastTicks, ticks);
    this.#lastTicks = ticks;
    return this.#monotonicMs;
  }

  wallMs(): number {
    return Date.now();
  }

  wallSynced(): boolean {
    return this.#wallSynced;
  }

  /** Sets the wall clock (from SNTP) and marks it trustworthy. */
  setWall(unixSeconds: number): void {
    Time.set(unixSeconds);
    this.#wallSynced = true;
  }

  once(callback: () => void, ms: number): TimerHandle {
    return Timer.set(() => callback(), Math.max(0, ms));
  }

  repeat(callback: () => void, ms: number): TimerHandle {
    return Timer.repeat(() => callback(), Math.max(1, ms));
  }

  clear(handle: TimerHandle): void {
    Timer.clear(handle as Timer); // harmless for a fired one-shot timer (modTimer.c returns early)
  }
}
