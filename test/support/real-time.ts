/**
 * The platform's `Clock` and `Timers` on real time, for tests that run portable code (written
 * against the injected interfaces) over real sockets: setTimeout and performance.now underneath.
 */
import { performance } from "node:perf_hooks";
import type { Clock, TimerHandle, Timers } from "../../src/platform.js";

export const realClock: Clock = {
  monotonicMs: () => performance.now(),
  wallMs: () => Date.now(),
  wallSynced: () => true,
};

/** Real timers that count how many are pending, so tests can check that none is left behind. */
export class RealTimers implements Timers {
  readonly #pending = new Set<NodeJS.Timeout>();

  once(callback: () => void, ms: number): TimerHandle {
    const handle = setTimeout(() => {
      this.#pending.delete(handle);
      callback();
    }, ms);
    this.#pending.add(handle);
    return handle;
  }

  repeat(callback: () => void, ms: number): TimerHandle {
    const handle = setInterval(callback, ms);
    this.#pending.add(handle);
    return handle;
  }

  clear(handle: TimerHandle): void {
    clearTimeout(handle as NodeJS.Timeout);
    this.#pending.delete(handle as NodeJS.Timeout);
  }

  /** Timers created and neither fired (once) nor cleared. */
  get pending(): number {
    return this.#pending.size;
  }
}
