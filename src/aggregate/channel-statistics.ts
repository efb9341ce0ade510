/**
 * The statistics a window keeps for one channel, chosen by what the channel's numbers mean:
 * levels get count/mean/min/max (Welford), decibel levels get the energy average and percentile
 * levels, counts and durations get their sum. All of them use fixed memory and add a value
 * without allocating.
 */
import type { StatName } from "../policy/node-config.js";
import type { SensorOutput } from "../sensors/sensor-driver.js";
import { LevelStats } from "./level-stats.js";
import { RunningStats } from "./running-stats.js";

export interface ChannelStatistics {
  /** Values added since the last reset. */
  readonly count: number;
  add(value: number): void;
  /** Forgets the window; `windowStartMs` is the start of the next one. */
  reset(windowStartMs: number): void;
  /** The statistic's value over the window, NaN when it has none. */
  value(stat: StatName): number;
}

/** The statistics each kind of output can release. */
export function statsAllowedFor(output: SensorOutput): readonly StatName[] {
  if (output.kind === "identifiers") return ["distinct"];
  if (output.kind !== "level") return ["sum"];
  return output.logarithmic ? ["count", "min", "max", "leq", "l10", "l50", "l90"] : ["count", "mean", "min", "max"];
}

/** Statistics for level, count and duration outputs (identifiers: see privacy/distinct-devices.ts). */
export function statisticsFor(output: SensorOutput): ChannelStatistics {
  if (output.kind === "identifiers") throw new Error("identifiers are counted by the privacy engine (DistinctDevices)");
  if (output.kind !== "level") return new SumStatistics();
  return output.logarithmic ? new DecibelStatistics() : new LevelStatistics();
}

/** count, mean, min, max of a measured level. */
export class LevelStatistics implements ChannelStatistics {
  readonly #stats = new RunningStats();

  get count(): number {
    return this.#stats.count;
  }

  add(value: number): void {
    this.#stats.add(value);
  }

  reset(): void {
    this.#stats.reset();
  }

  value(stat: StatName): number {
    const s = this.#stats;
    if (s.count === 0) return NaN;
    switch (stat) {
      case "count":
        return s.count;
      case "mean":
        return s.mean;
      case "min":
        return s.min;
      case "max":
        return s.max;
      default:
        return NaN;
    }
  }
}

/** Leq, percentile levels, min and max of a decibel level: never an arithmetic mean of decibels. */
export class DecibelStatistics implements ChannelStatistics {
  readonly #levels = new LevelStats();

  get count(): number {
    return this.#levels.count;
  }

  add(value: number): void {
    this.#levels.add(value);
  }

  reset(): void {
    this.#levels.reset();
  }

  value(stat: StatName): number {
    const l = this.#levels;
    if (l.count === 0) return NaN;
    switch (stat) {
      case "count":
        return l.count;
      case "min":
        return l.min;
      case "max":
        return l.max;
      case "leq":
        return l.leq;
      case "l10":
        return l.exceeded(10);
      case "l50":
        return l.exceeded(50);
      case "l90":
        return l.exceeded(90);
      default:
        return NaN;
    }
  }
}

/** The sum of events or seconds over the window. */
export class SumStatistics implements ChannelStatistics {
  count = 0;
  #sum = 0;

  add(value: number): void {
    this.count++;
    this.#sum += value;
  }

  reset(): void {
    this.count = 0;
    this.#sum = 0;
  }

  value(stat: StatName): number {
    return stat === "sum" && this.count > 0 ? this.#sum : NaN;
  }
}
