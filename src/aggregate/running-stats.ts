/**
 * Count, minimum, maximum, mean and variance of a stream in constant memory, by Welford's update
 * (numerically stable where the naive sum of squares cancels). Adding a value allocates nothing.
 */
export class RunningStats {
  count = 0;
  min = Infinity;
  max = -Infinity;
  mean = 0;
  #m2 = 0;

  add(value: number): void {
    this.count++;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.#m2 += delta * (value - this.mean);
  }

  /** Sample variance (n - 1); 0 for fewer than two values. */
  get variance(): number {
    return this.count > 1 ? this.#m2 / (this.count - 1) : 0;
  }

  reset(): void {
    this.count = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.mean = 0;
    this.#m2 = 0;
  }
}
