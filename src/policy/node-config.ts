/**
 * A node's configuration: who it is, what it measures and how it reports. It arrives as JSON (the
 * manifest's config on the device, a file or the built-in street in the simulator) and is validated
 * here once, at boot, with errors that name the offending key, e.g.
 *   sensors[0].channels[1].decimals: must be an integer from 0 to 6
 * What depends on a part's outputs (which statistics fit an output) is checked when the driver is
 * opened (src/sensors/catalog.ts), with the same kind of message.
 */
import { isDayAlignedWindow } from "../aggregate/window-clock.js";
import { isValidId } from "../uplink/topics.js";
import { DATA_TYPES, parsePolicyFacts, PolicyError, type DataType, type PolicyFacts } from "./deployment-policy.js";

/**
 * Statistics a channel can release for a window:
 * - of levels: count, mean, min, max; of decibel levels, count, min, max and instead of a mean the
 *   energy average `leq` and the levels exceeded 10, 50 and 90 % of the time (`l10`, `l50`, `l90`);
 * - of counts and durations: their `sum` over the window;
 * - of identifiers: the number of `distinct` pseudonyms (a HyperLogLog estimate).
 */
export type StatName = "count" | "mean" | "min" | "max" | "leq" | "l10" | "l50" | "l90" | "sum" | "distinct";
export const STAT_NAMES: readonly StatName[] = ["count", "mean", "min", "max", "leq", "l10", "l50", "l90", "sum", "distinct"];

/** Parts the firmware has drivers for. */
export type PartName = "sht4x" | "scd4x" | "pms5003" | "sound-level-meter" | "ld2410" | "vehicle-detector" | "ble-scan";
export const PART_NAMES: readonly PartName[] = ["sht4x", "scd4x", "pms5003", "sound-level-meter", "ld2410", "vehicle-detector", "ble-scan"];

/** One step of a channel's filter chain, applied in order to each value before it enters the window. */
export type FilterConfig =
  /** value * slope + offset (a linear calibration). */
  | { readonly calibrate: { readonly slope: number; readonly offset: number } }
  /** The median of the last N values (outlier rejection), N odd, 3..15. */
  | { readonly median: number }
  /** Values limited to [min, max]; a bound left out is the part's physical limit. */
  | { readonly clamp: { readonly min?: number; readonly max?: number } }
  /** At most one value per this many seconds; the others are dropped. */
  | { readonly throttle: number };

/**
 * How a channel that counts people, devices or vehicles is released (src/privacy/release-gate.ts).
 * Applies to its counting statistics (`sum`, `distinct`).
 */
export interface ChannelPrivacyConfig {
  /** k-anonymity: counts from 1 to k - 1 are suppressed; 0 turns it off. */
  readonly k: number;
  /** ε of the discrete Laplace noise per release, with at most three decimals; 0 for none. */
  readonly epsilon: number;
  /** Δ: the most one person can change the count in one window. */
  readonly sensitivity: number;
  /** The channel's ε budget per UTC day (default: ε times the windows in a day). */
  readonly dailyEpsilon: number;
}

export interface ChannelConfig {
  /** Name on the wire, e.g. "temperature" (records are "<name>/<stat>"). */
  readonly name: string;
  /** The driver output it takes, e.g. "temperature". */
  readonly output: string;
  /** What its values are about, as the policy declares it (published in the disclosure). */
  readonly dataType: DataType | undefined;
  /** Released values are rounded to this many decimals (coarsening). */
  readonly decimals: number;
  readonly stats: readonly StatName[];
  readonly filters: readonly FilterConfig[];
  readonly privacy: ChannelPrivacyConfig | undefined;
}

/** Node-wide privacy settings. */
export interface PrivacyConfig {
  /** How long a pseudonym key lives before it is replaced; a multiple of the window (default: one window). */
  readonly pseudonymEpochSeconds: number;
  /** Channels that add up (total = parts): secondary suppression keeps each equation hidden. */
  readonly totals: ReadonlyArray<{ readonly total: string; readonly parts: readonly string[] }>;
}

/** Where a part is connected on the board (docs/board.md); which fields apply depends on its bus. */
export interface BusConfig {
  /** I2C bus name and 7-bit address. */
  readonly bus?: string;
  readonly address?: number;
  /** UART name. */
  readonly port?: string;
  /** Analog or digital pin name. */
  readonly pin?: string;
}

export interface SensorConfig extends BusConfig {
  readonly id: string;
  readonly part: PartName;
  readonly intervalSeconds: number;
  /** Consecutive failed readings after which the part is reported faulty. */
  readonly faultyAfter: number;
  /** Part-specific settings, checked by the driver (e.g. a calibration curve). */
  readonly settings: Readonly<Record<string, unknown>>;
  readonly channels: readonly ChannelConfig[];
}

export interface UplinkConfig {
  /** Sealed messages the outbox holds at most; beyond it the oldest is dropped (and counted). */
  readonly outboxCapacity: number;
  /** Bytes of outbox records the store may hold (flash); beyond it the oldest are dropped (and counted). */
  readonly outboxBytes: number;
  /** Bytes of sealed messages held in RAM while the store cannot take them. */
  readonly outboxRamBytes: number;
  /** QoS 1 messages awaiting PUBACK at once. */
  readonly maxInFlight: number;
  /** Counter values reserved per store write (see SealCounter). */
  readonly counterBlock: number;
  /** A health report every this many seconds, at window ends; a multiple of the window. */
  readonly healthSeconds: number;
  /** Length of an uplink key epoch (the forward-secure ratchet moves on after it). */
  readonly epochSeconds: number;
  /** Messages after which the key epoch moves on anyway. */
  readonly maxMessagesPerEpoch: number;
}

/** What downlink commands may change, and how far (src/uplink/command-receiver.ts). */
export interface DownlinkConfig {
  /** Window lengths a command may set. */
  readonly allowedWindowSeconds: readonly number[];
  /** A command may slow a sensor down to this many times its configured interval, never speed it up. */
  readonly maxIntervalFactor: number;
}

/**
 * What the node's disclosure tells beyond its channels (src/policy/disclosure.ts): the facts of the
 * deployment policy it runs under (deployment-policy.ts), and that policy's name. Required, with
 * no defaults: a node never publishes a placeholder for who answers for it.
 */
export interface DisclosureConfig extends PolicyFacts {
  readonly policy: string;
  /** The signed policy's serial and SHA-256 (hex), when the node runs on one (signed-policy.ts). */
  readonly policySerial: number | undefined;
  readonly policyHash: string | undefined;
  /** The node's exact position, from its signed policy: published only coarsened (coarse-position.ts). */
  readonly position: { readonly latitude: number; readonly longitude: number } | undefined;
}

export interface NodeConfig {
  readonly zone: string;
  readonly device: string;
  readonly windowSeconds: number;
  readonly sensors: readonly SensorConfig[];
  readonly uplink: UplinkConfig;
  readonly privacy: PrivacyConfig;
  readonly downlink: DownlinkConfig;
  readonly disclosure: DisclosureConfig;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Limits that keep a node's memory bounded whatever the configuration says. */
export const CONFIG_LIMITS = {
  sensors: 16,
  channelsPerSensor: 8,
  filtersPerChannel: 6,
  outboxCapacity: 1024,
  /** The outbox's store budget: at most 4 MiB (an ESP32's whole flash). */
  outboxBytes: 4 * 1024 * 1024,
  outboxRamBytes: 1024 * 1024,
  maxInFlight: 16,
} as const;

/**
 * The smallest store budget: the largest sealed message (3,168 bytes plus its record's framing)
 * must fit beside the messages in flight.
 */
const MIN_OUTBOX_BYTES = 16384;

/** Which bus fields each part takes. */
const PART_BUS: Record<PartName, "i2c" | "serial" | "pin" | "radio"> = {
  sht4x: "i2c",
  scd4x: "i2c",
  pms5003: "serial",
  "sound-level-meter": "pin",
  ld2410: "serial",
  "vehicle-detector": "pin",
  "ble-scan": "radio",
};

/** Validates `raw` and fills defaults; throws ConfigError naming the first offending key. */
export function parseNodeConfig(raw: unknown): NodeConfig {
  const root = object(raw, "config");
  rejectUnknown(root, ["zone", "device", "windowSeconds", "sensors", "uplink", "privacy", "downlink", "disclosure"], "config");
  const zone = id(root.zone, "zone");
  const device = id(root.device, "device");
  const windowSeconds = integer(root.windowSeconds ?? 300, "windowSeconds", 60, 86400);
  if (!isDayAlignedWindow(windowSeconds)) throw new ConfigError("windowSeconds: must divide a day (86400 s) so windows align to midnight");
  const sensorList = array(root.sensors, "sensors", 1, CONFIG_LIMITS.sensors);
  const sensors = sensorList.map((entry, i) => parseSensor(entry, `sensors[${i}]`, windowSeconds, 86400 / windowSeconds));
  const sensorIds = new Set<string>();
  const channelNames = new Set<string>();
  sensors.forEach((sensor, i) => {
    if (sensorIds.has(sensor.id)) throw new ConfigError(`sensors[${i}].id: duplicate sensor id "${sensor.id}"`);
    sensorIds.add(sensor.id);
    sensor.channels.forEach((channel, j) => {
      if (channelNames.has(channel.name)) throw new ConfigError(`sensors[${i}].channels[${j}].name: duplicate channel "${channel.name}"`);
      channelNames.add(channel.name);
    });
  });
  const uplinkRaw = object(root.uplink ?? {}, "uplink");
  rejectUnknown(uplinkRaw, ["outboxCapacity", "outboxBytes", "outboxRamBytes", "maxInFlight", "counterBlock", "healthSeconds", "epochSeconds", "maxMessagesPerEpoch"], "uplink");
  const healthSeconds = integer(uplinkRaw.healthSeconds ?? Math.max(900, windowSeconds), "uplink.healthSeconds", windowSeconds, 86400);
  if (healthSeconds % windowSeconds !== 0) throw new ConfigError("uplink.healthSeconds: must be a multiple of windowSeconds");
  const uplink: UplinkConfig = {
    outboxCapacity: integer(uplinkRaw.outboxCapacity ?? 96, "uplink.outboxCapacity", 1, CONFIG_LIMITS.outboxCapacity),
    outboxBytes: integer(uplinkRaw.outboxBytes ?? 65536, "uplink.outboxBytes", MIN_OUTBOX_BYTES, CONFIG_LIMITS.outboxBytes),
    outboxRamBytes: integer(uplinkRaw.outboxRamBytes ?? 16384, "uplink.outboxRamBytes", 0, CONFIG_LIMITS.outboxRamBytes),
    maxInFlight: integer(uplinkRaw.maxInFlight ?? 4, "uplink.maxInFlight", 1, CONFIG_LIMITS.maxInFlight),
    counterBlock: integer(uplinkRaw.counterBlock ?? 32, "uplink.counterBlock", 1, 65536),
    healthSeconds,
    epochSeconds: integer(uplinkRaw.epochSeconds ?? 86400, "uplink.epochSeconds", 3600, 30 * 86400),
    maxMessagesPerEpoch: integer(uplinkRaw.maxMessagesPerEpoch ?? 1 << 20, "uplink.maxMessagesPerEpoch", 16, 2 ** 40),
  };
  const privacyRaw = object(root.privacy ?? {}, "privacy");
  rejectUnknown(privacyRaw, ["pseudonymEpochSeconds", "totals"], "privacy");
  const pseudonymEpochSeconds = integer(privacyRaw.pseudonymEpochSeconds ?? windowSeconds, "privacy.pseudonymEpochSeconds", windowSeconds, 86400);
  if (pseudonymEpochSeconds % windowSeconds !== 0) throw new ConfigError("privacy.pseudonymEpochSeconds: must be a multiple of windowSeconds");
  const totals = array(privacyRaw.totals ?? [], "privacy.totals", 0, 8).map((entry, g) => {
    const path = `privacy.totals[${g}]`;
    const group = object(entry, path);
    rejectUnknown(group, ["total", "parts"], path);
    const total = channelName(group.total, `${path}.total`);
    const parts = array(group.parts, `${path}.parts`, 2, 8).map((part, j) => channelName(part, `${path}.parts[${j}]`));
    for (const name of [total, ...parts]) {
      if (!channelNames.has(name)) throw new ConfigError(`${path}: no channel named "${name}"`);
    }
    if (new Set([total, ...parts]).size !== parts.length + 1) throw new ConfigError(`${path}: a channel appears twice`);
    return { total, parts };
  });
  const downlinkRaw = object(root.downlink ?? {}, "downlink");
  rejectUnknown(downlinkRaw, ["allowedWindowSeconds", "maxIntervalFactor"], "downlink");
  const allowedWindowSeconds = array(downlinkRaw.allowedWindowSeconds ?? [windowSeconds], "downlink.allowedWindowSeconds", 1, 16).map((seconds, i) => {
    const value = integer(seconds, `downlink.allowedWindowSeconds[${i}]`, 60, 86400);
    if (!isDayAlignedWindow(value)) throw new ConfigError(`downlink.allowedWindowSeconds[${i}]: must divide a day`);
    if (uplink.healthSeconds % value !== 0) throw new ConfigError(`downlink.allowedWindowSeconds[${i}]: must divide uplink.healthSeconds (${uplink.healthSeconds})`);
    return value;
  });
  const downlink: DownlinkConfig = {
    allowedWindowSeconds,
    maxIntervalFactor: number(downlinkRaw.maxIntervalFactor ?? 10, "downlink.maxIntervalFactor", 1, 100),
  };
  const disclosureRaw = object(root.disclosure, "disclosure");
  rejectUnknown(disclosureRaw, ["policy", "policySerial", "policyHash", "position", "accountable", "purposes", "location", "retention", "access"], "disclosure");
  const { policySerial, policyHash } = disclosureRaw;
  if (policyHash !== undefined && (typeof policyHash !== "string" || !/^[0-9a-f]{64}$/.test(policyHash))) throw new ConfigError("disclosure.policyHash: must be 64 lowercase hex digits (SHA-256)");
  const disclosure: DisclosureConfig = {
    policy: id(disclosureRaw.policy, "disclosure.policy"),
    policySerial: policySerial === undefined ? undefined : integer(policySerial, "disclosure.policySerial", 1, Number.MAX_SAFE_INTEGER),
    policyHash: policyHash as string | undefined,
    position: disclosureRaw.position === undefined ? undefined : position(disclosureRaw.position),
    ...policyFacts(disclosureRaw),
  };
  return { zone, device, windowSeconds, sensors, uplink, privacy: { pseudonymEpochSeconds, totals }, downlink, disclosure };
}

function position(raw: unknown): { latitude: number; longitude: number } {
  const fields = object(raw, "disclosure.position");
  rejectUnknown(fields, ["latitude", "longitude"], "disclosure.position");
  return { latitude: number(fields.latitude, "disclosure.position.latitude", -90, 90), longitude: number(fields.longitude, "disclosure.position.longitude", -180, 180) };
}

/** The disclosure's facts, checked by the policy's own rules; an error names the key as the rest of this file does. */
function policyFacts(disclosure: Record<string, unknown>): PolicyFacts {
  try {
    return parsePolicyFacts(disclosure, "");
  } catch (error) {
    if (!(error instanceof PolicyError)) throw error;
    const key = error.path.slice(1).replace(/\/(\d+)(?=\/|$)/g, "[$1]").replace(/\//g, ".");
    throw new ConfigError(`disclosure.${key}: ${error.message.slice(error.message.indexOf(": ") + 2)}`);
  }
}

function parseSensor(raw: unknown, path: string, windowSeconds: number, windowsPerDay: number): SensorConfig {
  const sensor = object(raw, path);
  rejectUnknown(sensor, ["id", "part", "bus", "address", "port", "pin", "intervalSeconds", "faultyAfter", "settings", "channels"], path);
  const part = oneOf(sensor.part, `${path}.part`, PART_NAMES);
  const channelsRaw = array(sensor.channels, `${path}.channels`, 1, CONFIG_LIMITS.channelsPerSensor);
  const bus: BusConfig = {};
  switch (PART_BUS[part]) {
    case "i2c":
      Object.assign(bus, { bus: id(sensor.bus, `${path}.bus`), ...(sensor.address === undefined ? {} : { address: integer(sensor.address, `${path}.address`, 0x08, 0x77) }) });
      break;
    case "serial":
      Object.assign(bus, { port: id(sensor.port, `${path}.port`) });
      break;
    case "pin":
      Object.assign(bus, { pin: id(sensor.pin, `${path}.pin`) });
      break;
    case "radio":
      break;
  }
  for (const key of ["bus", "address", "port", "pin"] as const) {
    if (sensor[key] !== undefined && (bus as Record<string, unknown>)[key] === undefined) throw new ConfigError(`${path}.${key}: ${part} is not connected by "${key}"`);
  }
  return {
    id: id(sensor.id, `${path}.id`),
    part,
    ...bus,
    intervalSeconds: number(sensor.intervalSeconds ?? 10, `${path}.intervalSeconds`, 0.05, windowSeconds),
    faultyAfter: integer(sensor.faultyAfter ?? 5, `${path}.faultyAfter`, 1, 1000),
    settings: object(sensor.settings ?? {}, `${path}.settings`),
    channels: channelsRaw.map((entry, j) => parseChannel(entry, `${path}.channels[${j}]`, windowsPerDay)),
  };
}

function parseChannel(raw: unknown, path: string, windowsPerDay: number): ChannelConfig {
  const channel = object(raw, path);
  rejectUnknown(channel, ["name", "output", "dataType", "decimals", "stats", "filters", "privacy"], path);
  const statsRaw = array(channel.stats ?? ["count", "mean", "min", "max"], `${path}.stats`, 1, STAT_NAMES.length);
  const stats = statsRaw.map((stat, k) => oneOf(stat, `${path}.stats[${k}]`, STAT_NAMES));
  if (new Set(stats).size !== stats.length) throw new ConfigError(`${path}.stats: a statistic is listed twice`);
  const filtersRaw = array(channel.filters ?? [], `${path}.filters`, 0, CONFIG_LIMITS.filtersPerChannel);
  return {
    name: channelName(channel.name, `${path}.name`),
    output: text(channel.output, `${path}.output`),
    dataType: channel.dataType === undefined ? undefined : oneOf(channel.dataType, `${path}.dataType`, DATA_TYPES),
    decimals: integer(channel.decimals ?? 2, `${path}.decimals`, 0, 6),
    stats,
    filters: filtersRaw.map((entry, k) => parseFilter(entry, `${path}.filters[${k}]`)),
    privacy: channel.privacy === undefined ? undefined : parsePrivacy(channel.privacy, `${path}.privacy`, windowsPerDay),
  };
}

function parsePrivacy(raw: unknown, path: string, windowsPerDay: number): ChannelPrivacyConfig {
  const privacy = object(raw, path);
  rejectUnknown(privacy, ["k", "epsilon", "sensitivity", "dailyEpsilon"], path);
  const k = integer(privacy.k ?? 0, `${path}.k`, 0, 1000);
  if (k === 1) throw new ConfigError(`${path}.k: 1 suppresses nothing; use 0 for no k-anonymity or 2 and more`);
  const epsilon = number(privacy.epsilon ?? 0, `${path}.epsilon`, 0, 10);
  if (Math.abs(epsilon * 1000 - Math.round(epsilon * 1000)) > 1e-9) throw new ConfigError(`${path}.epsilon: at most three decimals`);
  if (epsilon > 0 && epsilon < 0.01) throw new ConfigError(`${path}.epsilon: must be 0 (no noise) or at least 0.01`);
  const sensitivity = integer(privacy.sensitivity ?? 1, `${path}.sensitivity`, 1, 1000);
  const dailyEpsilon = number(privacy.dailyEpsilon ?? Math.round(epsilon * windowsPerDay * 1000) / 1000, `${path}.dailyEpsilon`, 0, 100000);
  if (epsilon > 0 && dailyEpsilon < epsilon) throw new ConfigError(`${path}.dailyEpsilon: must allow at least one release (${epsilon})`);
  if (k === 0 && epsilon === 0) throw new ConfigError(`${path}: set k, epsilon or both`);
  return { k, epsilon, sensitivity, dailyEpsilon };
}

function parseFilter(raw: unknown, path: string): FilterConfig {
  const filter = object(raw, path);
  const keys = Object.keys(filter);
  if (keys.length !== 1) throw new ConfigError(`${path}: must have exactly one of calibrate, median, clamp, throttle`);
  switch (keys[0]) {
    case "calibrate": {
      const c = object(filter.calibrate, `${path}.calibrate`);
      rejectUnknown(c, ["slope", "offset"], `${path}.calibrate`);
      return { calibrate: { slope: number(c.slope ?? 1, `${path}.calibrate.slope`, -1e6, 1e6), offset: number(c.offset ?? 0, `${path}.calibrate.offset`, -1e6, 1e6) } };
    }
    case "median": {
      const size = integer(filter.median, `${path}.median`, 3, 15);
      if (size % 2 === 0) throw new ConfigError(`${path}.median: must be odd, so that the median is one of the values`);
      return { median: size };
    }
    case "clamp": {
      const c = object(filter.clamp, `${path}.clamp`);
      rejectUnknown(c, ["min", "max"], `${path}.clamp`);
      const min = c.min === undefined ? undefined : number(c.min, `${path}.clamp.min`, -1e9, 1e9);
      const max = c.max === undefined ? undefined : number(c.max, `${path}.clamp.max`, -1e9, 1e9);
      if (min !== undefined && max !== undefined && min > max) throw new ConfigError(`${path}.clamp: min is above max`);
      return { clamp: { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) } };
    }
    case "throttle":
      return { throttle: number(filter.throttle, `${path}.throttle`, 0.05, 86400) };
    default:
      throw new ConfigError(`${path}.${keys[0]}: unknown filter (calibrate, median, clamp, throttle)`);
  }
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(`${path}: must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw new ConfigError(`${path}: must be an array`);
  if (value.length < min || value.length > max) throw new ConfigError(`${path}: must have ${min} to ${max} entries`);
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 64) throw new ConfigError(`${path}: must be a non-empty string of at most 64 characters`);
  return value;
}

function id(value: unknown, path: string): string {
  if (typeof value !== "string" || !isValidId(value)) throw new ConfigError(`${path}: must be 1-32 characters of a-z, 0-9 and "-", not starting with "-"`);
  return value;
}

/** Channel names become SenML record names ("<name>/<stat>"): lower case, digits, "_" and "-". */
function channelName(value: unknown, path: string): string {
  if (typeof value !== "string" || !/^[a-z][a-z0-9_-]{0,31}$/.test(value)) throw new ConfigError(`${path}: must be 1-32 characters of a-z, 0-9, "_" and "-", starting with a letter`);
  return value;
}

function number(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max) throw new ConfigError(`${path}: must be a number from ${min} to ${max}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${path}: must be an integer from ${min} to ${max}`);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) throw new ConfigError(`${path}: must be one of ${allowed.join(", ")}`);
  return value as T;
}

function rejectUnknown(value: Record<string, unknown>, known: readonly string[], path: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ConfigError(`${path === "config" ? "" : `${path}.`}${key}: unknown key`);
  }
}
