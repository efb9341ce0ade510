/**
 * A node's configuration: who it is, what it measures and how it reports. It arrives as JSON (the
 * manifest's config on the device, a file or the built-in street in the simulator) and is validated
 * here once, at boot, with errors that name the offending key, e.g.
 *   sensors[0].channels[1].decimals: must be an integer from 0 to 6
 */
import { isDayAlignedWindow } from "../aggregate/window-clock.js";
import { isValidId } from "../uplink/topics.js";

/** Statistics a channel can release for a window. */
export type StatName = "count" | "mean" | "min" | "max";
export const STAT_NAMES: readonly StatName[] = ["count", "mean", "min", "max"];

/** Parts the firmware has drivers for. */
export type PartName = "sht4x";
export const PART_NAMES: readonly PartName[] = ["sht4x"];

export interface ChannelConfig {
  /** Name on the wire, e.g. "temperature" (records are "<name>/<stat>"). */
  readonly name: string;
  /** The driver output it takes, e.g. "temperature". */
  readonly output: string;
  /** Released values are rounded to this many decimals (coarsening). */
  readonly decimals: number;
  readonly stats: readonly StatName[];
}

export interface SensorConfig {
  readonly id: string;
  readonly part: PartName;
  /** Board bus name (docs/board.md) and 7-bit I2C address. */
  readonly bus: string;
  readonly address: number;
  readonly intervalSeconds: number;
  /** Consecutive failed readings after which the part is reported faulty. */
  readonly faultyAfter: number;
  readonly channels: readonly ChannelConfig[];
}

export interface UplinkConfig {
  /** Sealed summaries kept while offline; the oldest is dropped (and counted) beyond this. */
  readonly outboxCapacity: number;
  /** QoS 1 messages awaiting PUBACK at once. */
  readonly maxInFlight: number;
  /** Counter values reserved per store write (see SealCounter). */
  readonly counterBlock: number;
}

export interface NodeConfig {
  readonly zone: string;
  readonly device: string;
  readonly windowSeconds: number;
  readonly sensors: readonly SensorConfig[];
  readonly uplink: UplinkConfig;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Limits that keep a node's memory bounded whatever the configuration says. */
export const CONFIG_LIMITS = {
  sensors: 16,
  channelsPerSensor: 8,
  outboxCapacity: 256,
  maxInFlight: 16,
} as const;

/** Validates `raw` and fills defaults; throws ConfigError naming the first offending key. */
export function parseNodeConfig(raw: unknown): NodeConfig {
  const root = object(raw, "config");
  const zone = id(root.zone, "zone");
  const device = id(root.device, "device");
  const windowSeconds = integer(root.windowSeconds ?? 300, "windowSeconds", 60, 86400);
  if (!isDayAlignedWindow(windowSeconds)) throw new ConfigError("windowSeconds: must divide a day (86400 s) so windows align to midnight");
  const sensorList = array(root.sensors, "sensors", 1, CONFIG_LIMITS.sensors);
  const sensors = sensorList.map((entry, i) => parseSensor(entry, `sensors[${i}]`, windowSeconds));
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
  const uplink: UplinkConfig = {
    outboxCapacity: integer(uplinkRaw.outboxCapacity ?? 96, "uplink.outboxCapacity", 1, CONFIG_LIMITS.outboxCapacity),
    maxInFlight: integer(uplinkRaw.maxInFlight ?? 4, "uplink.maxInFlight", 1, CONFIG_LIMITS.maxInFlight),
    counterBlock: integer(uplinkRaw.counterBlock ?? 32, "uplink.counterBlock", 1, 65536),
  };
  rejectUnknown(root, ["zone", "device", "windowSeconds", "sensors", "uplink"], "config");
  rejectUnknown(uplinkRaw, ["outboxCapacity", "maxInFlight", "counterBlock"], "uplink");
  return { zone, device, windowSeconds, sensors, uplink };
}

function parseSensor(raw: unknown, path: string, windowSeconds: number): SensorConfig {
  const sensor = object(raw, path);
  const part = oneOf(sensor.part, `${path}.part`, PART_NAMES);
  const channelsRaw = array(sensor.channels, `${path}.channels`, 1, CONFIG_LIMITS.channelsPerSensor);
  const intervalSeconds = number(sensor.intervalSeconds ?? 10, `${path}.intervalSeconds`, 0.1, windowSeconds);
  rejectUnknown(sensor, ["id", "part", "bus", "address", "intervalSeconds", "faultyAfter", "channels"], path);
  return {
    id: id(sensor.id, `${path}.id`),
    part,
    bus: id(sensor.bus, `${path}.bus`),
    address: integer(sensor.address, `${path}.address`, 0x08, 0x77),
    intervalSeconds,
    faultyAfter: integer(sensor.faultyAfter ?? 5, `${path}.faultyAfter`, 1, 1000),
    channels: channelsRaw.map((entry, j) => parseChannel(entry, `${path}.channels[${j}]`)),
  };
}

function parseChannel(raw: unknown, path: string): ChannelConfig {
  const channel = object(raw, path);
  const statsRaw = array(channel.stats ?? ["count", "mean", "min", "max"], `${path}.stats`, 1, STAT_NAMES.length);
  const stats = statsRaw.map((stat, k) => oneOf(stat, `${path}.stats[${k}]`, STAT_NAMES));
  if (new Set(stats).size !== stats.length) throw new ConfigError(`${path}.stats: a statistic is listed twice`);
  rejectUnknown(channel, ["name", "output", "decimals", "stats"], path);
  return {
    name: id(channel.name, `${path}.name`),
    output: text(channel.output, `${path}.output`),
    decimals: integer(channel.decimals ?? 2, `${path}.decimals`, 0, 6),
    stats,
  };
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
    if (!known.includes(key)) throw new ConfigError(`${path}.${key}: unknown key`);
  }
}
