/**
 * The timers of one simulated node on a clock shared by a whole street: when the node loses power,
 * `clearAll()` stops every timer it had, as a reset stops a real board, while the street's clock
 * and the other nodes go on. Portable (Node and XS).
 */
import type { TimerHandle, Timers } from "../../src/platform.js";

export class ScopedTimers implements Timers {
  readonly #inner: Timers;
  /** Live handles: repeat timers until cleared, one-shots until they fire or are cleared. */
  readonly #live = new Set<TimerHandle>();
  #dead = false;

  constructor(inner: Timers) {
    this.#inner = inner;
  }

  once(callback: () => void, ms: number): TimerHandle {
    if (this.#dead) return {};
    const handle: TimerHandle = this.#inner.once(() => {
      this.#live.delete(handle);
      callback();
    }, ms);
    this.#live.add(handle);
    return handle;
  }

  repeat(callback: () => void, ms: number): TimerHandle {
    if (this.#dead) return {};
    const handle = this.#inner.repeat(callback, ms);
    this.#live.add(handle);
    return handle;
  }

  clear(handle: TimerHandle): void {
    if (this.#live.delete(handle)) this.#inner.clear(handle);
  }

  /** Stops every timer and refuses new ones: the node is off. */
  clearAll(): void {
    this.#dead = true;
    for (const handle of this.#live) this.#inner.clear(handle);
    this.#live.clear();
  }

  /** Timers still live (for tests). */
  get live(): number {
    return this.#live.size;
  }
}
