/**
 * Turns a closed window into the SenML records a summary releases: the window length, then per
 * channel its configured statistics rounded to the channel's declared precision, or a "missing"
 * status when the channel had no valid reading (a faulty or absent part is reported, never faked).
 */
import type { ChannelConfig, StatName } from "../policy/node-config.js";
import type { SenmlRecordOut } from "../wire/senml.js";
import type { RunningStats } from "./running-stats.js";

export interface ReleasedChannel {
  readonly config: ChannelConfig;
  /** SenML unit of the channel's values. */
  readonly unit: string;
}

/** Record names, built once at boot so closing a window does not concatenate strings. */
export class WindowSummaryLayout {
  readonly #channels: readonly ReleasedChannel[];
  readonly #statNames: readonly (readonly string[])[];
  readonly #statusNames: readonly string[];

  constructor(channels: readonly ReleasedChannel[]) {
    this.#channels = channels;
    this.#statNames = channels.map(({ config }) => config.stats.map((stat) => `${config.name}/${stat}`));
    this.#statusNames = channels.map(({ config }) => `${config.name}/status`);
  }

  records(windowSeconds: number, stats: readonly RunningStats[]): SenmlRecordOut[] {
    const records: SenmlRecordOut[] = [{ name: "window", unit: "s", value: windowSeconds }];
    this.#channels.forEach(({ config, unit }, c) => {
      const channel = stats[c]!;
      if (channel.count === 0) {
        records.push({ name: this.#statusNames[c]!, status: "missing" });
        return;
      }
      config.stats.forEach((stat, s) => {
        const value = statValue(channel, stat);
        const isCount = stat === "count";
        records.push({
          name: this.#statNames[c]![s]!,
          unit: isCount ? undefined : unit,
          value: isCount ? value : roundTo(value, config.decimals),
        });
      });
    });
    return records;
  }
}

function statValue(stats: RunningStats, stat: StatName): number {
  switch (stat) {
    case "count":
      return stats.count;
    case "mean":
      return stats.mean;
    case "min":
      return stats.min;
    case "max":
      return stats.max;
  }
}

/** Rounds to `decimals` places; dividing by a power of ten gives the double nearest the decimal. */
export function roundTo(value: number, decimals: number): number {
  const scale = Math.pow(10, decimals);
  const rounded = Math.round(value * scale) / scale;
  return rounded === 0 ? 0 : rounded; // no -0 on the wire
}
