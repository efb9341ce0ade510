/**
 * A channel's filter chain, in the spirit of ESPHome's sensor filters: each value a driver
 * delivers passes the configured steps in order before it enters the window. A step returns NaN
 * to drop the value. Every step has fixed memory (the median keeps its last N values, N <= 15) and
 * allocates nothing per value.
 *
 *   calibrate  value * slope + offset
 *   median     the median of the last N values: one wild reading cannot move it
 *   clamp      limited to [min, max], by default the part's physical range
 *   throttle   at most one value per interval
 */
import type { FilterConfig } from "../policy/node-config.js";

interface FilterStep {
  apply(value: number, nowMs: number): number;
}

class Calibrate implements FilterStep {
  constructor(
    readonly slope: number,
    readonly offset: number,
  ) {}

  apply(value: number): number {
    return value * this.slope + this.offset;
  }
}

/** A sliding median over the last `size` values; until it is full, the median of those it has. */
class Median implements FilterStep {
  readonly #window: Float64Array;
  readonly #sorted: Float64Array;
  #next = 0;
  #filled = 0;

  constructor(size: number) {
    this.#window = new Float64Array(size);
    this.#sorted = new Float64Array(size);
  }

  apply(value: number): number {
    this.#window[this.#next] = value;
    this.#next = (this.#next + 1) % this.#window.length;
    if (this.#filled < this.#window.length) this.#filled++;
    // Insertion sort of at most 15 values into a preallocated array: cheap and allocation-free.
    const n = this.#filled;
    const sorted = this.#sorted;
    for (let i = 0; i < n; i++) {
      const v = this.#window[i]!;
      let j = i - 1;
      while (j >= 0 && sorted[j]! > v) {
        sorted[j + 1] = sorted[j]!;
        j--;
      }
      sorted[j + 1] = v;
    }
    return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  }
}

class Clamp implements FilterStep {
  constructor(
    readonly min: number,
    readonly max: number,
  ) {}

  apply(value: number): number {
    return value < this.min ? this.min : value > this.max ? this.max : value;
  }
}

class Throttle implements FilterStep {
  readonly #intervalMs: number;
  #lastMs = -Infinity;

  constructor(seconds: number) {
    this.#intervalMs = seconds * 1000;
  }

  apply(value: number, nowMs: number): number {
    if (nowMs - this.#lastMs < this.#intervalMs) return NaN;
    this.#lastMs = nowMs;
    return value;
  }
}

export class FilterChain {
  readonly #steps: readonly FilterStep[];

  /** `range`: the part's physical limits, the default bounds of a clamp. */
  constructor(filters: readonly FilterConfig[], range: { readonly min: number; readonly max: number }) {
    this.#steps = filters.map((filter): FilterStep => {
      if ("calibrate" in filter) return new Calibrate(filter.calibrate.slope, filter.calibrate.offset);
      if ("median" in filter) return new Median(filter.median);
      if ("clamp" in filter) return new Clamp(filter.clamp.min ?? range.min, filter.clamp.max ?? range.max);
      return new Throttle(filter.throttle);
    });
  }

  get empty(): boolean {
    return this.#steps.length === 0;
  }

  /** The value after every step, or NaN when a step dropped it. */
  apply(value: number, nowMs: number): number {
    let v = value;
    for (let i = 0; i < this.#steps.length; i++) {
      v = this.#steps[i]!.apply(v, nowMs);
      if (Number.isNaN(v)) return NaN;
    }
    return v;
  }
}
