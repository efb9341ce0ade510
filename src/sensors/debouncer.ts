/**
 * A timestamp debouncer for a contact input (a relay or opto-coupler output): it needs no timer and
 * allocates nothing, so it can run in an interrupt handler.
 *
 * Relay contacts bounce for a few milliseconds at every transition. Instead of waiting out the bounce
 * with a timer, the debouncer keeps the time of the last raw edge: a raw level that has stayed put
 * for at least `debounceMs` is accepted, as of the time of that last edge (so the accepted timeline
 * is exact, only learnt late). A pulse shorter than `debounceMs` never becomes a level. The caller
 * feeds it on every edge (`edge`) and whenever it looks at the pin otherwise (`poll`, e.g. in
 * `sample()`); each call accepts at most one transition, reported by its return value, with the new
 * level in `level` and its time in `changedAtMs`.
 *
 * Finality: after a call at time `now`, the accepted level is final for every time up to
 * `now - debounceMs`. A raw edge at or before that horizon either was followed by another edge
 * within `debounceMs` (a bounce: rejected) or has been stable for `debounceMs` (accepted by this
 * call). Hence every transition accepted later lies after the horizon.
 *
 * Example:
 *   const d = new Debouncer(30);
 *   d.reset(0, clock.monotonicMs());
 *   // in the edge handler:
 *   if (d.edge(pin.read(), clock.monotonicMs())) onTransition(d.level, d.changedAtMs);
 */
export class Debouncer {
  readonly #debounceMs: number;
  /** The last raw level seen, and when it was last seen to change (or to bounce). */
  #raw: 0 | 1 = 0;
  #rawSinceMs = 0;
  #level: 0 | 1 = 0;
  #changedAtMs = 0;

  /** `debounceMs`: how long a raw level must stay put to count (>= 0). */
  constructor(debounceMs: number) {
    if (!(debounceMs >= 0) || !Number.isFinite(debounceMs)) throw new RangeError("debounceMs must be a finite number >= 0");
    this.#debounceMs = debounceMs;
  }

  /** The accepted (debounced) level. */
  get level(): 0 | 1 {
    return this.#level;
  }

  /** When the accepted level last changed: the time of the raw edge that started it. */
  get changedAtMs(): number {
    return this.#changedAtMs;
  }

  /** Starts over at `level`, taken as stable since `nowMs`. */
  reset(level: 0 | 1, nowMs: number): void {
    this.#raw = level;
    this.#rawSinceMs = nowMs;
    this.#level = level;
    this.#changedAtMs = nowMs;
  }

  /**
   * An edge interrupt at `nowMs`, with the level read then. Returns true when a transition was accepted.
   * A read that shows the same level as before still restarts the stability time: the pin moved and
   * came back before the handler could read it, which is bounce too.
   */
  edge(level: 0 | 1, nowMs: number): boolean {
    const accepted = this.#settle(nowMs);
    this.#raw = level;
    this.#rawSinceMs = nowMs;
    return accepted;
  }

  /**
   * A look at the pin outside an interrupt at `nowMs`. Returns true when a transition was accepted.
   * A level that differs from the last raw level means an edge was missed; it counts as an edge now.
   */
  poll(level: 0 | 1, nowMs: number): boolean {
    const accepted = this.#settle(nowMs);
    if (level !== this.#raw) {
      this.#raw = level;
      this.#rawSinceMs = nowMs;
    }
    return accepted;
  }

  /** Accepts the raw level when it has been stable for the debounce time. */
  #settle(nowMs: number): boolean {
    if (this.#raw === this.#level || nowMs - this.#rawSinceMs < this.#debounceMs) return false;
    this.#level = this.#raw;
    this.#changedAtMs = this.#rawSinceMs;
    return true;
  }
}
