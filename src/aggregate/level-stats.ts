/**
 * The window statistics of a decibel channel (an output with `logarithmic: true`), in fixed memory:
 * the equivalent continuous level Leq and the percentile levels L10, L50, L90 that noise maps and
 * environmental noise reports use (ISO 1996-1, and the usual practice of logging "statistical levels"
 * of a fast-weighted level sampled at regular intervals).
 *
 * Why not RunningStats: decibels are logarithms of energy, so their arithmetic mean is wrong. Samples
 * of 60 and 70 dB average to 67.4 dB of sound energy, not 65: the louder second carries ten times the
 * energy. Leq is therefore the energy average 10·log10(mean(10^(L/10))).
 *
 * Memory: a histogram of `Uint32Array` bins, one per `resolutionDb` step over [minDb, maxDb] (defaults
 * 0..150 dB at 0.1 dB: 1501 bins, 6 KB; sound-level meters read 30..130 dBA, so the defaults leave room
 * for any calibration). The bin of level L is round((L - minDb) / resolutionDb): bin i stands for the
 * level minDb + i·resolutionDb and collects the values within half a step of it. Values below minDb fall
 * into the first bin, values above maxDb into the last; non-finite values (NaN, ±Infinity) are ignored.
 * A Uint32 bin holds 4·10^9 samples, 15 years at 8 Hz. `add()` allocates nothing and is O(1);
 * `exceeded()` walks the bins (O(bins)), once per window close.
 *
 * Precision: Leq, min and max use the exact values; percentiles are reported at bin resolution
 * (within resolutionDb / 2 of the exact sample level).
 *
 * Definition of L_N (`exceeded(N)`), "the level exceeded N % of the time": the lowest sample level x (at
 * bin resolution) such that at most N % of the samples lie above x, i.e. count(samples > x) <= N·n/100.
 * Equivalently, by nearest rank: sort the n binned samples ascending; L_N is the sample of rank
 * r = n - floor(N·n/100) (1-based), or rank 1 when that is 0. So L0 is the maximum, L100 the minimum,
 * and for ten samples 50, 51, ..., 59: L10 = 58 (only 59 lies above), L50 = 54 (55..59, 5 samples, lie
 * above), L90 = 50 (51..59, 9 samples, lie above). L_N never increases with N.
 *
 * Example:
 *   const stats = new LevelStats();
 *   for (const db of levels) stats.add(db);
 *   stats.leq; stats.exceeded(10); stats.exceeded(90);
 */

/** Most bins a LevelStats may have (fixed memory: 256 KB of bins). */
const MAX_BINS = 65_536;

export interface LevelStatsOptions {
  /** Lowest histogram level, dB; default 0. */
  readonly minDb?: number;
  /** Highest histogram level, dB; default 150. */
  readonly maxDb?: number;
  /** Bin width, dB; default 0.1. */
  readonly resolutionDb?: number;
}

export class LevelStats {
  readonly minDb: number;
  readonly maxDb: number;
  readonly resolutionDb: number;
  readonly #bins: Uint32Array;
  /** Bins per dB (1 / resolution): a division by it gives correctly rounded levels such as 58.3. */
  readonly #binsPerDb: number;
  /** Energies are summed relative to this level, so that the terms stay near 1 (no overflow at 150 dB). */
  readonly #referenceDb: number;
  #count = 0;
  #energy = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(options: LevelStatsOptions = {}) {
    const minDb = options.minDb ?? 0;
    const maxDb = options.maxDb ?? 150;
    const resolutionDb = options.resolutionDb ?? 0.1;
    if (!Number.isFinite(minDb) || !Number.isFinite(maxDb) || !(maxDb > minDb)) {
      throw new RangeError(`LevelStats: need finite minDb < maxDb, got ${minDb}..${maxDb}`);
    }
    if (!(resolutionDb > 0) || !Number.isFinite(resolutionDb)) {
      throw new RangeError(`LevelStats: resolutionDb must be a positive finite number, got ${resolutionDb}`);
    }
    const bins = Math.round((maxDb - minDb) / resolutionDb) + 1;
    if (bins > MAX_BINS) {
      throw new RangeError(`LevelStats: ${bins} bins exceed the limit of ${MAX_BINS}; widen resolutionDb`);
    }
    this.minDb = minDb;
    this.maxDb = maxDb;
    this.resolutionDb = resolutionDb;
    this.#bins = new Uint32Array(bins);
    this.#binsPerDb = 1 / resolutionDb;
    this.#referenceDb = maxDb;
  }

  /** Adds one level (dB). Non-finite values are ignored. */
  add(db: number): void {
    if (!Number.isFinite(db)) return;
    const bins = this.#bins;
    let index = Math.round((db - this.minDb) * this.#binsPerDb);
    if (index < 0) index = 0;
    else if (index >= bins.length) index = bins.length - 1;
    bins[index]!++;
    this.#count++;
    this.#energy += Math.pow(10, (db - this.#referenceDb) / 10);
    if (db < this.#min) this.#min = db;
    if (db > this.#max) this.#max = db;
  }

  /** Forgets every value (a new window). */
  reset(): void {
    this.#bins.fill(0);
    this.#count = 0;
    this.#energy = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }

  /** Values added since the last reset. */
  get count(): number {
    return this.#count;
  }

  /** The lowest value added (exact), NaN when empty. */
  get min(): number {
    return this.#count > 0 ? this.#min : Number.NaN;
  }

  /** The highest value added (exact), NaN when empty. */
  get max(): number {
    return this.#count > 0 ? this.#max : Number.NaN;
  }

  /** Equivalent continuous level: 10·log10(mean(10^(L/10))), from the exact values; NaN when empty. */
  get leq(): number {
    if (this.#count === 0) return Number.NaN;
    return this.#referenceDb + 10 * Math.log10(this.#energy / this.#count);
  }

  /**
   * L_N: the level exceeded `percent` % of the time, at bin resolution (see the file comment for the
   * exact definition); NaN when empty. Throws a RangeError for a percent outside 0..100.
   */
  exceeded(percent: number): number {
    if (!(percent >= 0 && percent <= 100)) throw new RangeError(`LevelStats.exceeded: percent must be in 0..100, got ${percent}`);
    const n = this.#count;
    if (n === 0) return Number.NaN;
    // At most `allowedAbove` samples may lie above the answer, so it is the (allowedAbove + 1)-th
    // largest sample (the smallest one when every sample may lie above). The tiny tolerance keeps
    // floor(10 · 30 / 100) at 3 despite binary fractions.
    const allowedAbove = Math.floor((percent * n) / 100 + 1e-9);
    const target = allowedAbove >= n ? n : allowedAbove + 1;
    const bins = this.#bins;
    let seen = 0;
    for (let i = bins.length - 1; i >= 0; i--) {
      seen += bins[i]!;
      if (seen >= target) return this.minDb + i / this.#binsPerDb;
    }
    return this.minDb; // not reached: the bins hold n samples
  }
}
