/**
 * Turns a closed window into the SenML records a summary releases: the window length, then per
 * channel its configured statistics rounded to the channel's declared precision, or a "missing"
 * status when the channel had no valid reading (a faulty or absent part is reported, never faked).
 */
import type { ChannelConfig } from "../policy/node-config.js";
import type { SenmlRecordOut } from "../wire/senml.js";
import type { SensorOutput } from "../sensors/sensor-driver.js";
import type { ChannelStatistics } from "./channel-statistics.js";

export interface ReleasedChannel {
  readonly config: ChannelConfig;
  /** The driver output the channel takes (unit, kind). */
  readonly output: SensorOutput;
}

/** Record names and units, built once at boot so closing a window does not concatenate strings. */
export class WindowSummaryLayout {
  readonly #channels: readonly ReleasedChannel[];
  readonly #statNames: readonly (readonly string[])[];
  readonly #statUnits: readonly (readonly (string | undefined)[])[];
  readonly #statusNames: readonly string[];

  constructor(channels: readonly ReleasedChannel[]) {
    this.#channels = channels;
    this.#statNames = channels.map(({ config }) => config.stats.map((stat) => `${config.name}/${stat}`));
    this.#statUnits = channels.map(({ config, output }) => config.stats.map((stat) => (stat === "count" || output.unit === "" ? undefined : output.unit)));
    this.#statusNames = channels.map(({ config }) => `${config.name}/status`);
  }

  get channels(): readonly ReleasedChannel[] {
    return this.#channels;
  }

  records(windowSeconds: number, stats: readonly ChannelStatistics[]): SenmlRecordOut[] {
    const records: SenmlRecordOut[] = [{ name: "window", unit: "s", value: windowSeconds }];
    this.#channels.forEach(({ config }, c) => {
      const channel = stats[c]!;
      if (channel.count === 0) {
        records.push({ name: this.#statusNames[c]!, status: "missing" });
        return;
      }
      config.stats.forEach((stat, s) => {
        const value = channel.value(stat);
        records.push({
          name: this.#statNames[c]![s]!,
          unit: this.#statUnits[c]![s],
          value: stat === "count" ? value : roundTo(value, config.decimals),
        });
      });
    });
    return records;
  }
}

/** Rounds to `decimals` places; dividing by a power of ten gives the double nearest the decimal. */
export function roundTo(value: number, decimals: number): number {
  const scale = Math.pow(10, decimals);
  const rounded = Math.round(value * scale) / scale;
  return rounded === 0 ? 0 : rounded; // no -0 on the wire
}
