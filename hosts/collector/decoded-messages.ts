/**
 * A node's messages as the collector decodes them from their SenML records (src/wire/senml.ts):
 * a summary's channels and statistics, a health report's counters. Throws SenmlError for a pack
 * that is not this device's summary or report.
 */
import { PADDING_RECORD, SenmlError, type SenmlRecord } from "../../src/wire/senml.js";
import { parseAuditText } from "../../src/policy/audit-chain.js";

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
  /** The audit chain's head and the entries this report carries (undefined from firmware before the chain). */
  readonly auditChain?: DecodedAuditChain;
  readonly sensors: Record<string, SensorHealthSummary>;
}

/** One chained audit entry, as a health report carries it. */
export interface DecodedAuditEntry {
  readonly seq: number;
  /** Unix seconds; 0: made before the node's clock was set. */
  readonly time: number;
  readonly event: string;
  readonly detail: string;
}

/**
 * What a health report says of the node's audit chain (src/policy/audit-log.ts): the head it
 * vouches for, the hash before the first entry it carries, the entries. Hashes in lowercase hex.
 */
export interface DecodedAuditChain {
  /** The chain's id, 16 hex digits. */
  readonly chain: string;
  readonly seq: number;
  readonly head: string;
  /** hash(entries[0].seq - 1); present exactly when entries are. */
  readonly prev?: string;
  /** Entries of the chain the node evicted before a report carried them (since the chain began). */
  readonly lost: number;
  /** Entries the node holds for its next report. */
  readonly pending: number;
  /** In sequence order; the last one's seq is `seq`. */
  readonly entries: DecodedAuditEntry[];
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
  const chain = new AuditChainReader();
  const sensors: Record<string, SensorHealthSummary> = Object.create(null);
  for (const record of records) {
    if (!record.name.startsWith(prefix)) throw new SenmlError(`record ${record.name} does not belong to ${device}`);
    const parts = record.name.slice(prefix.length).split("/");
    if (parts.length === 1 && parts[0] === "audit" && record.stringValue !== undefined) {
      audit.push({ time: record.time, entry: record.stringValue }); // firmware before the chain
      continue;
    }
    if (parts.length === 2 && parts[0] === "audit") {
      const entry = chain.read(parts[1]!, record);
      if (entry) audit.push({ time: entry.time, entry: record.stringValue! });
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
  const auditChain = chain.result();
  return auditChain ? { zone, device, epoch, counter, time, node, budget, commands, audit, auditChain, sensors } : { zone, device, epoch, counter, time, node, budget, commands, audit, sensors };
}

const HEX_CHAIN = /^[0-9a-f]{16}$/;
const HEX_HASH = /^[0-9a-f]{32}$/;
const SEQUENCE = /^(0|[1-9][0-9]{0,15})$/;

/** Collects a health report's audit/<field> records; throws SenmlError for what the node never writes. */
class AuditChainReader {
  #chain: string | undefined;
  #seq: number | undefined;
  #head: string | undefined;
  #prev: string | undefined;
  #lost = 0;
  #pending = 0;
  readonly #entries: DecodedAuditEntry[] = [];
  readonly #seen = new Set<string>();

  /** Reads one record; returns it when it is an entry. */
  read(field: string, record: SenmlRecord): DecodedAuditEntry | undefined {
    if (this.#seen.has(field)) throw new SenmlError(`${record.name} appears twice`);
    this.#seen.add(field);
    const text = record.stringValue;
    const count = record.value !== undefined && Number.isSafeInteger(record.value) && record.value >= 0 ? record.value : undefined;
    switch (field) {
      case "chain":
        if (text === undefined || !HEX_CHAIN.test(text)) throw new SenmlError(`${record.name} must be 16 hex digits`);
        this.#chain = text;
        return undefined;
      case "head":
      case "prev":
        if (text === undefined || !HEX_HASH.test(text)) throw new SenmlError(`${record.name} must be 32 hex digits`);
        if (field === "head") this.#head = text;
        else this.#prev = text;
        return undefined;
      case "seq":
      case "lost":
      case "pending":
        if (count === undefined) throw new SenmlError(`${record.name} must be a non-negative integer`);
        if (field === "seq") this.#seq = count;
        else if (field === "lost") this.#lost = count;
        else this.#pending = count;
        return undefined;
    }
    if (!SEQUENCE.test(field)) throw new SenmlError(`unexpected health record ${record.name}`);
    const parsed = text === undefined ? undefined : parseAuditText(text);
    if (!parsed) throw new SenmlError(`${record.name} must be the text "<event> <detail>"`);
    if (!Number.isSafeInteger(record.time) || record.time < 0) throw new SenmlError(`${record.name} must have a time in whole seconds`);
    const seq = Number(field);
    const previous = this.#entries[this.#entries.length - 1];
    if (previous && seq <= previous.seq) throw new SenmlError(`${record.name} comes after entry ${previous.seq}`);
    const entry = { seq, time: record.time, ...parsed };
    this.#entries.push(entry);
    return entry;
  }

  /** The chain, or undefined when the report had no audit/<field> record. */
  result(): DecodedAuditChain | undefined {
    if (this.#seen.size === 0) return undefined;
    if (this.#chain === undefined || this.#seq === undefined || this.#head === undefined) throw new SenmlError("an audit chain needs audit/chain, audit/seq and audit/head");
    const last = this.#entries[this.#entries.length - 1];
    if (last ? this.#prev === undefined || last.seq !== this.#seq : this.#prev !== undefined) throw new SenmlError("audit/prev goes with entries, and the last entry is audit/seq");
    const base = { chain: this.#chain, seq: this.#seq, head: this.#head, lost: this.#lost, pending: this.#pending, entries: this.#entries };
    return this.#prev === undefined ? base : { ...base, prev: this.#prev };
  }
}
