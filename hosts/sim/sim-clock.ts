/**
 * Virtual time for the simulated world: a discrete-event scheduler that is both the node's `Clock` and its
 * `Timers`. Nothing happens until the driver of the simulation calls `advanceTo` / `advanceBy`; then every
 * timer that falls due runs, in due-time order, with the clock set to that timer's due time.
 *
 * Portable: no Node APIs; runs on XS as it does on Node.
 *
 * Rules, so that simulated runs are reproducible and cannot hang:
 * - Monotonic time starts at 0 and never goes backwards. Wall time is `startWallMs + monotonic` until
 *   `setWall` jumps it (a jump moves wall time only, never monotonic time or timers).
 * - Timers with equal due times run in the order they were created (a repeat timer keeps its creation rank).
 * - Delays and intervals below 1 ms (zero, negative, NaN) count as 1 ms, so a callback that re-arms itself
 *   always moves time forward and `advanceTo` always terminates.
 * - A repeat timer is rescheduled at `due + interval` before its callback runs: no drift, however late the
 *   advance, and `clear` from inside the callback works.
 * - Timers created by a callback run within the same advance if they fall due by its target.
 * - Errors: with an `onError` option, a throwing callback is reported there and the advance carries on.
 *   Without one, the error is rethrown from `advanceTo` with the scheduler consistent: the clock stands at
 *   the failing timer's due time, a failing repeat timer is already rescheduled, and the next `advanceTo`
 *   continues with the timers still due.
 * - `advanceTo` from inside a timer callback throws (callbacks never run re-entrantly, as on the node).
 */

import type { Clock, TimerHandle, Timers } from "../../src/platform.js";

export interface SimClockOptions {
  /** Wall time (Unix ms) at monotonic time 0. */
  readonly startWallMs: number;
  /** Whether the wall clock counts as synced from the start (default true); `setWall` syncs it. */
  readonly synced?: boolean;
  /** Receives errors thrown by timer callbacks; without it they are rethrown from `advanceTo`. */
  readonly onError?: (error: unknown, handle: TimerHandle) => void;
}

/** One scheduled timer; its instance is the opaque `TimerHandle` handed out. */
class SimTimer {
  /** True while the timer may still fire. */
  live = true;
  /** True while the timer sits in the owner's heap. */
  queued = false;

  constructor(
    readonly owner: SimClock,
    readonly callback: () => void,
    /** Interval of a repeat timer, undefined for a one-shot. */
    readonly intervalMs: number | undefined,
    /** Creation rank: breaks ties between equal due times. */
    readonly rank: number,
    public dueMs: number,
  ) {}
}

const MIN_DELAY_MS = 1;

function sanitizeDelay(ms: number): number {
  return ms >= MIN_DELAY_MS ? ms : MIN_DELAY_MS; // NaN fails the comparison too
}

function earlier(x: SimTimer, y: SimTimer): boolean {
  return x.dueMs < y.dueMs || (x.dueMs === y.dueMs && x.rank < y.rank);
}

export class SimClock implements Clock, Timers {
  private nowMs = 0;
  private wallBaseMs: number;
  private synced: boolean;
  private readonly onError: ((error: unknown, handle: TimerHandle) => void) | undefined;
  /** Binary min-heap of queued timers, ordered by (dueMs, rank). Cleared timers leave lazily. */
  private readonly heap: SimTimer[] = [];
  /** Cleared timers still in the heap. */
  private deadQueued = 0;
  private nextRank = 0;
  private advancing = false;

  constructor(options: SimClockOptions) {
    if (!Number.isFinite(options.startWallMs)) throw new RangeError("SimClock: startWallMs must be finite");
    this.wallBaseMs = options.startWallMs;
    this.synced = options.synced ?? true;
    this.onError = options.onError;
  }

  // Clock

  monotonicMs(): number {
    return this.nowMs;
  }

  wallMs(): number {
    return this.wallBaseMs + this.nowMs;
  }

  wallSynced(): boolean {
    return this.synced;
  }

  /** Sets the wall clock to `wallMs` now (a jump, forwards or backwards) and marks it synced. */
  setWall(wallMs: number): void {
    if (!Number.isFinite(wallMs)) throw new RangeError("SimClock.setWall: wallMs must be finite");
    this.wallBaseMs = wallMs - this.nowMs;
    this.synced = true;
  }

  // Timers

  once(callback: () => void, ms: number): TimerHandle {
    return this.schedule(callback, sanitizeDelay(ms), undefined);
  }

  repeat(callback: () => void, ms: number): TimerHandle {
    const interval = sanitizeDelay(ms);
    return this.schedule(callback, interval, interval);
  }

  clear(handle: TimerHandle): void {
    if (!(handle instanceof SimTimer) || handle.owner !== this || !handle.live) return;
    handle.live = false;
    if (handle.queued) {
      this.deadQueued++;
      if (this.deadQueued > 32 && this.deadQueued * 2 > this.heap.length) this.compact();
    }
  }

  /**
   * Takes cleared timers out of the queue now rather than when they would have fallen due, so that
   * what they hold can be collected: a heap measured after it counts live timers only.
   */
  purgeCleared(): void {
    if (this.deadQueued > 0) this.compact();
  }

  /**
   * Arms a one-shot timer again, `ms` from now, reusing its handle: a simulated part that raises
   * one event after another (edges, radio packets) then allocates nothing per event. The timer
   * must have fired or been cleared; a pending one throws.
   */
  rearm(handle: TimerHandle, ms: number): void {
    if (!(handle instanceof SimTimer) || handle.owner !== this) throw new TypeError("SimClock.rearm: not a timer of this clock");
    if (handle.intervalMs !== undefined) throw new TypeError("SimClock.rearm: only one-shot timers can be re-armed");
    if (handle.live && handle.queued) throw new Error("SimClock.rearm: the timer is still pending");
    if (handle.queued) {
      // cleared but still in the heap: drop it first so it is not queued twice
      this.compact();
    }
    handle.live = true;
    handle.dueMs = this.nowMs + sanitizeDelay(ms);
    this.push(handle);
  }

  // Driving the simulation

  /** Due time of the earliest live timer, or undefined when none is scheduled. */
  nextDueMs(): number | undefined {
    return this.peekLive()?.dueMs;
  }

  /** Number of live scheduled timers. */
  get pendingTimers(): number {
    return this.heap.length - this.deadQueued;
  }

  /** Advances monotonic time by `ms` (>= 0), running every timer that falls due. */
  advanceBy(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`SimClock.advanceBy: ms must be >= 0, got ${ms}`);
    this.advanceTo(this.nowMs + ms);
  }

  /**
   * Advances monotonic time to `targetMs` (>= now), running every timer due at or before it in due-time
   * order, the clock set to each timer's due time while it runs. Ends with the clock at `targetMs`.
   */
  advanceTo(targetMs: number): void {
    if (this.advancing) throw new Error("SimClock.advanceTo: called from inside a timer callback");
    if (!(targetMs >= this.nowMs) || targetMs === Number.POSITIVE_INFINITY) {
      throw new RangeError(`SimClock.advanceTo: target ${targetMs} is not a finite time >= now (${this.nowMs})`);
    }
    this.advancing = true;
    try {
      for (;;) {
        const timer = this.peekLive();
        if (timer === undefined || timer.dueMs > targetMs) break;
        this.popTop();
        this.nowMs = timer.dueMs;
        if (timer.intervalMs !== undefined) {
          timer.dueMs += timer.intervalMs;
          this.push(timer);
        } else {
          timer.live = false;
        }
        if (this.onError === undefined) {
          timer.callback();
        } else {
          try {
            timer.callback();
          } catch (error) {
            this.onError(error, timer);
          }
        }
      }
      this.nowMs = targetMs;
    } finally {
      this.advancing = false;
    }
  }

  /**
   * Advances to the earliest due timer and runs it together with every other timer due at that instant.
   * Returns false (time unchanged) when no timer is scheduled.
   */
  advanceToNextDue(): boolean {
    const due = this.nextDueMs();
    if (due === undefined) return false;
    this.advanceTo(due);
    return true;
  }

  // Heap internals

  private schedule(callback: () => void, delayMs: number, intervalMs: number | undefined): TimerHandle {
    if (typeof callback !== "function") throw new TypeError("SimClock: callback must be a function");
    const timer = new SimTimer(this, callback, intervalMs, this.nextRank++, this.nowMs + delayMs);
    this.push(timer);
    return timer;
  }

  /** The earliest live timer, dropping cleared ones from the top of the heap. */
  private peekLive(): SimTimer | undefined {
    const heap = this.heap;
    while (heap.length > 0 && !heap[0]!.live) {
      this.popTop();
      this.deadQueued--;
    }
    return heap[0];
  }

  private push(timer: SimTimer): void {
    const heap = this.heap;
    timer.queued = true;
    let index = heap.length;
    heap.push(timer);
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const above = heap[parent]!;
      if (!earlier(timer, above)) break;
      heap[index] = above;
      index = parent;
    }
    heap[index] = timer;
  }

  private popTop(): void {
    const heap = this.heap;
    const top = heap[0]!;
    top.queued = false;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    const length = heap.length;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && earlier(heap[right]!, heap[left]!) ? right : left;
      if (!earlier(heap[child]!, last)) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
  }

  /** Rebuilds the heap without cleared timers. */
  private compact(): void {
    const liveTimers: SimTimer[] = [];
    for (const timer of this.heap) {
      if (timer.live) liveTimers.push(timer);
      else timer.queued = false;
    }
    this.heap.length = 0;
    this.deadQueued = 0;
    for (const timer of liveTimers) this.push(timer);
  }
}
