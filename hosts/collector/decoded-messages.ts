/**
 * A node's messages as the collector decodes them from their SenML records (src/wire/senml.ts):
 * a summary's channels and statistics, a health report's counters. Throws SenmlError for a pack
 * that is not this device's summary or report.
 */
import { PADDING_RECORD, SenmlError, type SenmlRecord } from "../../src/wire/senml.js";

/** One channel of a decoded summary: its released statistics, or the status that replaced them. */
export interface ChannelSummary {
  unit?: string;
  count?: number;
  mean?: number;
  min?: number;
  max?: number;
  leq?: number;
  l10?: number;
  l50?: number;
  l90?: number;
  /** A count, or the reason it was withheld ("suppressed", "budget-exhausted"). */
  sum?: number | string;
  distinct?: number | string;
  status?: string;
  [stat: string]: number | string | undefined;
}

export interface DecodedSummary {
  readonly zone: string;
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  /** Window start, Unix seconds. */
  readonly windowStart: number;
  readonly windowSeconds: number;
  readonly channels: Record<string, ChannelSummary>;
}

/** One sensor's state in a health report. */
export interface SensorHealthSummary {
  status?: string;
  readings?: number;
  faults?: number;
  drops: Record<string, number>;
}

export interface DecodedHealth {
  readonly zone: string;
  readonly device: string;
  readonly epoch: number;
  readonly counter: number;
  /** Time of the report (end of the window it follows), Unix seconds. */
  readonly time: number;
  /** Node-level counters: uptime (s), queue, dropped, delivered, sealFailures. */
  readonly node: Record<string, number>;
  /** ε left today per noisy channel. */
  readonly budget: Record<string, number>;
  /** Downlink commands since boot, by outcome (accepted, replay, authentication, bounds, ...). */
  readonly commands: Record<string, number>;
  /** Audit entries since the previous report: time (Unix s) and "event detail". */
  readonly audit: Array<{ time: number; entry: string }>;
  readonly sensors: Record<string, SensorHealthSummary>;
}

/** Groups "<device>/<channel>/<stat>" records into channels; checks the pack is this device's summary. */
export function summaryFromRecords(records: readonly SenmlRecord[], zone: string, device: string, epoch: number, counter: number): DecodedSummary {
  const prefix = `${device}/`;
  let windowSeconds: number | undefined;
  // Names come from the plaintext: objects without a prototype, so that a record named
  // "__proto__/x" or "constructor/y" is a channel like any other and reaches no shared object.
  const channels: Record<string, ChannelSummary> = Object.create(null);
  const windowStart = records[0]?.time;
  if (windowStart === undefined || !Number.isInteger(windowStart)) throw new SenmlError("summary has no integer base time");
  for (const record of records) {
    if (!record.name.startsWith(prefix)) throw new SenmlError(`record ${record.name} does not belong to ${device}`);
    if (record.time !== windowStart) throw new SenmlError("records of one summary must share the window time");
    const local = record.name.slice(prefix.length);
    if (local === PADDING_RECORD) continue; // fills the summary to its fixed size
    if (local === "window") {
      if (record.value === undefined || record.unit !== "s") throw new SenmlError("window record must be a value in seconds");
      windowSeconds = record.value;
      continue;
    }
    const slash = local.indexOf("/");
    if (slash <= 0 || slash === local.length - 1) throw new SenmlError(`record name ${record.name} is not <channel>/<stat>`);
    const channelName = local.slice(0, slash);
    const stat = local.slice(slash + 1);
    if (stat === "unit") throw new SenmlError("reserved statistic name");
    const channel = (channels[channelName] ??= Object.create(null) as ChannelSummary);
    if (stat === "status") {
      if (record.stringValue === undefined) throw new SenmlError(`${record.name} must carry a string`);
      channel.status = record.stringValue;
    } else if (record.stringValue !== undefined) {
      // A value the release gate withheld: "suppressed", "budget-exhausted".
      channel[stat] = record.stringValue;
    } else {
      if (record.value === undefined) throw new SenmlError(`${record.name} must carry a number`);
      channel[stat] = record.value;
      if (record.unit !== undefined) channel.unit = record.unit;
    }
  }
  if (windowSeconds === undefined) throw new SenmlError("summary has no window record");
  return { zone, device, epoch, counter, windowStart, windowSeconds, channels };
}

/** Reads a health report: node counters, and per sensor its status, readings, faults and drops. */
export function healthFromRecords(records: readonly SenmlRecord[], zone: string, device: string, epoch: number, counter: number): DecodedHealth {
  const prefix = `${device}/`;
  const time = records[0]?.time;
  if (time === undefined || !Number.isFinite(time)) throw new SenmlError("health report has no base time");
  const node: Record<string, number> = Object.create(null);
  const budget: Record<string, number> = Object.create(null);
  const commands: Record<string, number> = Object.create(null);
  const audit: Array<{ time: number; entry: string }> = [];
  const sensors: Record<string, SensorHealthSummary> = Object.create(null);
  for (const record of records) {
    if (!record.name.startsWith(prefix)) throw new SenmlError(`record ${record.name} does not belong to ${device}`);
    const parts = record.name.slice(prefix.length).split("/");
    if (parts.length === 1 && parts[0] === "audit" && record.stringValue !== undefined) {
      audit.push({ time: record.time, entry: record.stringValue });
      continue;
    }
    if (parts.length === 2 && parts[0] === "commands" && record.value !== undefined) {
      commands[parts[1]!] = record.value;
      continue;
    }
    if (parts.length === 1) {
      if (record.value === undefined) throw new SenmlError(`${record.name} must carry a number`);
      node[parts[0]!] = record.value;
      continue;
    }
    if (parts.length === 2 && parts[0] === "budget" && record.value !== undefined) {
      budget[parts[1]!] = record.value;
      continue;
    }
    const sensor = (sensors[parts[0]!] ??= Object.assign(Object.create(null) as SensorHealthSummary, { drops: Object.create(null) as Record<string, number> }));
    if (parts.length === 2 && parts[1] === "status" && record.stringValue !== undefined) sensor.status = record.stringValue;
    else if (parts.length === 2 && parts[1] === "readings" && record.value !== undefined) sensor.readings = record.value;
    else if (parts.length === 2 && parts[1] === "faults" && record.value !== undefined) sensor.faults = record.value;
    else if (parts.length === 3 && parts[1] === "drops" && record.value !== undefined) sensor.drops[parts[2]!] = record.value;
    else throw new SenmlError(`unexpected health record ${record.name}`);
  }
  return { zone, device, epoch, counter, time, node, budget, commands, audit, sensors };
}
