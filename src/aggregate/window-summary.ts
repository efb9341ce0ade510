/**
 * Turns a closed window into the SenML records a summary releases: the window length, then per
 * channel its configured statistics, through the release gate (k-anonymity, noise) and rounded to
 * the channel's declared precision; a "missing" status when the channel had no valid reading (a
 * faulty or absent part is reported, never faked); and a status in place of a value the gate
 * withheld ("suppressed", "budget-exhausted").
 */
import type { ChannelConfig } from "../policy/node-config.js";
import { CborWriter } from "../wire/cbor-writer.js";
import type { SenmlRecordOut } from "../wire/senml.js";
import type { SensorOutput } from "../sensors/sensor-driver.js";
import type { ChannelStatistics } from "./channel-statistics.js";
import type { ReleaseCandidate, ReleaseGate } from "../privacy/release-gate.js";

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

  /**
   * The longest record list a window can produce: every statistic in its longest form (a double,
   * or the longest status the gate can put in its place), or the channel's "missing" status where
   * that is longer. Summaries are padded to its encoded size.
   */
  worstCaseRecords(windowSeconds: number): SenmlRecordOut[] {
    const records: SenmlRecordOut[] = [{ name: "window", unit: "s", value: windowSeconds }];
    this.#channels.forEach(({ config }, c) => {
      const stats: SenmlRecordOut[] = config.stats.map((_, s) => {
        const name = this.#statNames[c]![s]!;
        const asNumber = { name, unit: this.#statUnits[c]![s], value: -0.1 }; // not exact in float32: 9 bytes
        const asStatus = { name, status: LONGEST_STATUS };
        return encodedLength(asNumber) >= encodedLength(asStatus) ? asNumber : asStatus;
      });
      const missing = [{ name: this.#statusNames[c]!, status: "missing" }];
      records.push(...(stats.reduce((n, r) => n + encodedLength(r), 0) >= encodedLength(missing[0]!) ? stats : missing));
    });
    return records;
  }

  records(windowSeconds: number, stats: readonly ChannelStatistics[], gate?: ReleaseGate, windowStartMs = 0): SenmlRecordOut[] {
    const candidates: ReleaseCandidate[] = [];
    this.#channels.forEach(({ config }, c) => {
      const channel = stats[c]!;
      for (const stat of config.stats) candidates.push({ channel: c, stat, value: channel.count === 0 ? NaN : channel.value(stat), status: undefined });
    });
    gate?.apply(candidates, windowStartMs);

    const records: SenmlRecordOut[] = [{ name: "window", unit: "s", value: windowSeconds }];
    let next = 0;
    this.#channels.forEach(({ config }, c) => {
      if (stats[c]!.count === 0) {
        records.push({ name: this.#statusNames[c]!, status: "missing" });
        next += config.stats.length;
        return;
      }
      config.stats.forEach((stat, s) => {
        const candidate = candidates[next++]!;
        const name = this.#statNames[c]![s]!;
        if (candidate.status !== undefined) records.push({ name, status: candidate.status });
        else records.push({ name, unit: this.#statUnits[c]![s], value: stat === "count" ? candidate.value : roundTo(candidate.value, config.decimals) });
      });
    });
    return records;
  }
}

/** The longest status the release gate writes in place of a value. */
const LONGEST_STATUS = "budget-exhausted";

/** Bytes of one record as writeSenmlPack encodes it (not the first one, which adds bn and bt). */
function encodedLength(record: SenmlRecordOut): number {
  const writer = new CborWriter(256);
  writer.map(2 + (record.unit !== undefined ? 1 : 0)).int(0).text(record.name);
  if (record.unit !== undefined) writer.int(1).text(record.unit);
  if (record.value !== undefined) writer.int(2).number(record.value);
  else writer.int(3).text(record.status!);
  return writer.length;
}

/** Rounds to `decimals` places; dividing by a power of ten gives the double nearest the decimal. */
export function roundTo(value: number, decimals: number): number {
  const scale = Math.pow(10, decimals);
  const rounded = Math.round(value * scale) / scale;
  return rounded === 0 ? 0 : rounded; // no -0 on the wire
}
