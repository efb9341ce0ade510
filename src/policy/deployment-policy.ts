/**
 * The deployment policy (`policy.json`): what a deployment's nodes collect, why, how each channel is
 * protected, who answers for it, how long the city keeps it and who may see it. City staff edit
 * it instead of code; the operator signs it; each node enforces it and publishes it as its
 * disclosure. The hardware (which part sits on which bus) is the board's configuration, not
 * policy: the policy names the board's sensors, and a sensor the policy does not name is not read.
 *
 * Its JSON Schema (draft 2020-12) is `policy.schema.json` beside this file. The host validates
 * with the schema (ajv) at provisioning; this parser runs on the device at boot and applies the
 * same rules, named as the schema names them (`minimum`, `required`, `additionalProperties`, ...),
 * at the same JSON Pointer, so that both report an error the same way, e.g.
 *   /channels/7/privacy/k: must not be 1: it would withhold nothing (not)
 * plus the rules JSON Schema cannot state, named `x-...` (a pseudonym epoch that is a multiple of
 * the window, unique channel names, ε with at most three decimals, ...). The first error stops it:
 * a node refuses to start on an invalid policy rather than run on defaults.
 */
import type { ChannelPrivacyConfig, DownlinkConfig, FilterConfig, StatName } from "./node-config.js";
import { STAT_NAMES } from "./node-config.js";

export const POLICY_FORMAT = "civicnode-policy";
export const POLICY_VERSION = 1;

/** What a channel's values are about, in the disclosure's terms; the three counts need a privacy treatment. */
export type DataType = "environment" | "sound-level" | "activity" | "people-count" | "vehicle-count" | "device-count";
export const DATA_TYPES: readonly DataType[] = ["environment", "sound-level", "activity", "people-count", "vehicle-count", "device-count"];
const COUNTS_OF_PEOPLE_OR_THEIR_THINGS: readonly DataType[] = ["people-count", "vehicle-count", "device-count"];

/**
 * Text that is a fill-in rather than an answer: "(set ...)", TODO/TBD/FIXME/XXX, "change me",
 * lorem ipsum, <slot> and {{slot}} templates, and the domains reserved for examples (RFC 2606).
 * The schema's `$defs/text/not/pattern` is this source, character for character (a test checks).
 */
export const PLACEHOLDER_PATTERN =
  "\\(set [^)]*\\)|\\b(TODO|TBD|FIXME|XXX)\\b|[Cc]hange ?[Mm]e|[Ll]orem [Ii]psum|<[^<>]*>|\\{\\{[^{}]*\\}\\}|\\bexample\\.(com|org|net)\\b|\\.example\\b";

export interface PolicyChannel {
  readonly name: string;
  /** The board's sensor that measures it. */
  readonly sensor: string;
  /** The sensor's output it takes. */
  readonly output: string;
  readonly dataType: DataType;
  readonly decimals: number;
  readonly stats: readonly StatName[];
  readonly filters: readonly FilterConfig[];
  readonly privacy: ChannelPrivacyConfig | undefined;
}

export interface AccessGrant {
  readonly who: string;
  readonly data: string;
}

/** What the node's disclosure tells residents beyond its channels. */
export interface PolicyFacts {
  readonly accountable: { readonly organisation: string; readonly contact: string };
  readonly purposes: readonly string[];
  /** Published positions are coarsened to a grid of this many metres. */
  readonly publishedPrecisionMeters: number;
  /** Days the city's collector keeps window summaries and health reports. */
  readonly retention: { readonly summariesDays: number; readonly healthDays: number };
  readonly access: readonly AccessGrant[];
}

export interface DeploymentPolicy extends PolicyFacts {
  readonly name: string;
  readonly windowSeconds: number;
  readonly pseudonymEpochSeconds: number;
  readonly channels: readonly PolicyChannel[];
  readonly totals: ReadonlyArray<{ readonly total: string; readonly parts: readonly string[] }>;
  readonly downlink: DownlinkConfig;
}

export class PolicyError extends Error {
  override name = "PolicyError";
  /** JSON Pointer (RFC 6901) of the offending value; "" for the whole document. */
  readonly path: string;
  /** The JSON Schema keyword broken, or an `x-` rule of the parser's own. */
  readonly rule: string;

  constructor(path: string, rule: string, message: string) {
    super(`${path || "/"}: ${message} (${rule})`);
    this.path = path;
    this.rule = rule;
  }
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const CHANNEL_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
const OUTPUT_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const MEDIAN_SIZES = [3, 5, 7, 9, 11, 13, 15];
const DAY = 86400;

/** Validates `raw` (a parsed policy.json) and fills its defaults; throws PolicyError at the first broken rule. */
export function parsePolicy(raw: unknown): DeploymentPolicy {
  const root = object(raw, "", ["$schema", "format", "version", "name", "accountable", "purposes", "location", "windowSeconds", "pseudonymEpochSeconds", "channels", "totals", "retention", "access", "downlink"], [
    "format",
    "version",
    "name",
    "accountable",
    "purposes",
    "location",
    "windowSeconds",
    "channels",
    "retention",
    "access",
  ]);
  if (root.$schema !== undefined) string(root.$schema, "/$schema", 300);
  if (root.format !== POLICY_FORMAT) throw new PolicyError("/format", "const", `must be "${POLICY_FORMAT}"`);
  if (root.version !== POLICY_VERSION) throw new PolicyError("/version", "const", `must be ${POLICY_VERSION} (this firmware reads policy version ${POLICY_VERSION})`);
  const name = pattern(root.name, "/name", ID, 'must be 1-32 characters of a-z, 0-9 and "-", not starting with "-"');

  const facts = parsePolicyFacts(root, "");
  const windowSeconds = window(root.windowSeconds, "/windowSeconds");

  const channels = array(root.channels, "/channels", 1, 64).map((entry, i) => parseChannel(entry, `/channels/${i}`, DAY / windowSeconds));
  const pseudonymEpochSeconds = root.pseudonymEpochSeconds === undefined ? windowSeconds : integer(root.pseudonymEpochSeconds, "/pseudonymEpochSeconds", 60, DAY);
  if (pseudonymEpochSeconds % windowSeconds !== 0) throw new PolicyError("/pseudonymEpochSeconds", "x-multiple-of-window", `must be a multiple of windowSeconds (${windowSeconds})`);
  const names = new Set<string>();
  channels.forEach((channel, i) => {
    if (names.has(channel.name)) throw new PolicyError(`/channels/${i}/name`, "x-unique-channel-names", `channel "${channel.name}" is listed twice`);
    names.add(channel.name);
  });

  const totals = (root.totals === undefined ? [] : array(root.totals, "/totals", 0, 8)).map((entry, g) => {
    const path = `/totals/${g}`;
    const group = object(entry, path, ["total", "parts"], ["total", "parts"]);
    const total = pattern(group.total, `${path}/total`, CHANNEL_NAME, CHANNEL_NAME_RULE);
    const parts = array(group.parts, `${path}/parts`, 2, 8).map((part, j) => pattern(part, `${path}/parts/${j}`, CHANNEL_NAME, CHANNEL_NAME_RULE));
    [total, ...parts].forEach((channel, j) => {
      const at = j === 0 ? `${path}/total` : `${path}/parts/${j - 1}`;
      if (!names.has(channel)) throw new PolicyError(at, "x-known-channel", `no channel named "${channel}"`);
    });
    if (new Set([total, ...parts]).size !== parts.length + 1) throw new PolicyError(path, "x-unique-channel-names", "a channel appears twice");
    return { total, parts };
  });

  const downlinkRaw = root.downlink === undefined ? {} : object(root.downlink, "/downlink", ["allowedWindowSeconds", "maxIntervalFactor"], []);
  const allowed = downlinkRaw.allowedWindowSeconds === undefined ? [windowSeconds] : array(downlinkRaw.allowedWindowSeconds, "/downlink/allowedWindowSeconds", 1, 16);
  const allowedWindowSeconds = allowed.map((seconds, i) => window(seconds, `/downlink/allowedWindowSeconds/${i}`));
  unique(allowedWindowSeconds, "/downlink/allowedWindowSeconds");
  const maxIntervalFactor = downlinkRaw.maxIntervalFactor === undefined ? 10 : number(downlinkRaw.maxIntervalFactor, "/downlink/maxIntervalFactor", 1, 100);

  return {
    name,
    ...facts,
    windowSeconds,
    pseudonymEpochSeconds,
    channels,
    totals,
    downlink: { allowedWindowSeconds, maxIntervalFactor },
  };
}

/**
 * The facts a disclosure publishes (who answers, why, how precisely the position is published, how
 * long the city keeps what, who may see it), read from `record` (the policy's root, or a compiled
 * node configuration's `disclosure`, which carries the same fields) at JSON Pointer `at`.
 */
export function parsePolicyFacts(record: Record<string, unknown>, at: string): PolicyFacts {
  for (const key of ["accountable", "purposes", "location", "retention", "access"]) {
    if (record[key] === undefined) throw new PolicyError(`${at}/${key}`, "required", "is required");
  }
  const accountableRaw = object(record.accountable, `${at}/accountable`, ["organisation", "contact"], ["organisation", "contact"]);
  const accountable = { organisation: text(accountableRaw.organisation, `${at}/accountable/organisation`), contact: text(accountableRaw.contact, `${at}/accountable/contact`) };
  const purposes = array(record.purposes, `${at}/purposes`, 1, 8).map((purpose, i) => text(purpose, `${at}/purposes/${i}`));
  const location = object(record.location, `${at}/location`, ["publishedPrecisionMeters"], ["publishedPrecisionMeters"]);
  const publishedPrecisionMeters = integer(location.publishedPrecisionMeters, `${at}/location/publishedPrecisionMeters`, 10, 10000);
  const retentionRaw = object(record.retention, `${at}/retention`, ["summariesDays", "healthDays"], ["summariesDays", "healthDays"]);
  const retention = {
    summariesDays: integer(retentionRaw.summariesDays, `${at}/retention/summariesDays`, 1, 3650),
    healthDays: integer(retentionRaw.healthDays, `${at}/retention/healthDays`, 1, 3650),
  };
  const access = array(record.access, `${at}/access`, 1, 8).map((entry, i) => {
    const grant = object(entry, `${at}/access/${i}`, ["who", "data"], ["who", "data"]);
    return { who: text(grant.who, `${at}/access/${i}/who`), data: text(grant.data, `${at}/access/${i}/data`) };
  });
  return { accountable, purposes, publishedPrecisionMeters, retention, access };
}

/** Text shown to residents: 1 to 300 characters, never a placeholder. */
function text(value: unknown, path: string): string {
  if (typeof value !== "string") throw new PolicyError(path, "type", "must be a string");
  if (value.length < 1) throw new PolicyError(path, "minLength", "must not be empty");
  if (value.length > 300) throw new PolicyError(path, "maxLength", "must be at most 300 characters");
  if (new RegExp(PLACEHOLDER_PATTERN, "u").test(value)) throw new PolicyError(path, "placeholder", `"${value.slice(0, 60)}" is a placeholder: say who, what or how`);
  return value;
}

const CHANNEL_NAME_RULE = 'must be 1-32 characters of a-z, 0-9, "_" and "-", starting with a letter';

function parseChannel(raw: unknown, path: string, windowsPerDay: number): PolicyChannel {
  const channel = object(raw, path, ["name", "sensor", "output", "dataType", "decimals", "stats", "filters", "privacy"], ["name", "sensor", "output", "dataType", "decimals", "stats"]);
  const name = pattern(channel.name, `${path}/name`, CHANNEL_NAME, CHANNEL_NAME_RULE);
  const sensor = pattern(channel.sensor, `${path}/sensor`, ID, 'must be 1-32 characters of a-z, 0-9 and "-", not starting with "-"');
  const output = pattern(channel.output, `${path}/output`, OUTPUT_NAME, 'must be 1-32 characters of a-z, 0-9 and "_", starting with a letter');
  const dataType = oneOf(channel.dataType, `${path}/dataType`, DATA_TYPES);
  const decimals = integer(channel.decimals, `${path}/decimals`, 0, 6);
  const stats = array(channel.stats, `${path}/stats`, 1, 10).map((stat, k) => oneOf(stat, `${path}/stats/${k}`, STAT_NAMES));
  unique(stats, `${path}/stats`);
  const filters = (channel.filters === undefined ? [] : array(channel.filters, `${path}/filters`, 0, 6)).map((entry, k) => parseFilter(entry, `${path}/filters/${k}`));
  if (channel.privacy === undefined && COUNTS_OF_PEOPLE_OR_THEIR_THINGS.includes(dataType)) {
    throw new PolicyError(`${path}/privacy`, "required", `a ${dataType} channel needs a privacy treatment (k, epsilon)`);
  }
  const privacy = channel.privacy === undefined ? undefined : parsePrivacy(channel.privacy, `${path}/privacy`, windowsPerDay);
  return { name, sensor, output, dataType, decimals, stats, filters, privacy };
}

function parsePrivacy(raw: unknown, path: string, windowsPerDay: number): ChannelPrivacyConfig {
  const privacy = object(raw, path, ["k", "epsilon", "sensitivity", "dailyEpsilon"], ["k", "epsilon", "sensitivity"]);
  const k = integer(privacy.k, `${path}/k`, 0, 1000);
  if (k === 1) throw new PolicyError(`${path}/k`, "not", "must not be 1: it would withhold nothing (0 for none, or 2 and more)");
  const epsilon = number(privacy.epsilon, `${path}/epsilon`, 0, 10);
  if (epsilon !== 0 && epsilon < 0.01) throw new PolicyError(`${path}/epsilon`, "anyOf", "must be 0 (no noise) or at least 0.01");
  const sensitivity = integer(privacy.sensitivity, `${path}/sensitivity`, 1, 1000);
  const dailyEpsilon =
    privacy.dailyEpsilon === undefined ? Math.round(epsilon * windowsPerDay * 1000) / 1000 : number(privacy.dailyEpsilon, `${path}/dailyEpsilon`, 0, 100000);
  if (k === 0 && epsilon === 0) throw new PolicyError(path, "not", "k and epsilon are both 0: set k, epsilon or both");
  if (Math.abs(epsilon * 1000 - Math.round(epsilon * 1000)) > 1e-9) throw new PolicyError(`${path}/epsilon`, "x-three-decimals", "at most three decimals (the noise is drawn in integer arithmetic)");
  if (epsilon > 0 && dailyEpsilon < epsilon) throw new PolicyError(`${path}/dailyEpsilon`, "x-one-release", `must allow at least one release (${epsilon})`);
  return { k, epsilon, sensitivity, dailyEpsilon };
}

const FILTER_KINDS = ["calibrate", "median", "clamp", "throttle"];

function parseFilter(raw: unknown, path: string): FilterConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new PolicyError(path, "oneOf", "must be an object with one of calibrate, median, clamp, throttle");
  const keys = Object.keys(raw);
  if (keys.length !== 1 || !FILTER_KINDS.includes(keys[0]!)) throw new PolicyError(path, "oneOf", "must have exactly one of calibrate, median, clamp, throttle");
  const filter = raw as Record<string, unknown>;
  switch (keys[0]) {
    case "calibrate": {
      const c = object(filter.calibrate, `${path}/calibrate`, ["slope", "offset"], []);
      const slope = c.slope === undefined ? 1 : number(c.slope, `${path}/calibrate/slope`, -1e6, 1e6);
      const offset = c.offset === undefined ? 0 : number(c.offset, `${path}/calibrate/offset`, -1e6, 1e6);
      return { calibrate: { slope, offset } };
    }
    case "median":
      return { median: oneOf(filter.median, `${path}/median`, MEDIAN_SIZES) };
    case "clamp": {
      const c = object(filter.clamp, `${path}/clamp`, ["min", "max"], []);
      const min = c.min === undefined ? undefined : number(c.min, `${path}/clamp/min`, -1e9, 1e9);
      const max = c.max === undefined ? undefined : number(c.max, `${path}/clamp/max`, -1e9, 1e9);
      if (min !== undefined && max !== undefined && min > max) throw new PolicyError(`${path}/clamp`, "x-min-below-max", "min is above max");
      return { clamp: { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) } };
    }
    default:
      return { throttle: number(filter.throttle, `${path}/throttle`, 0.05, DAY) };
  }
}

function object(value: unknown, path: string, known: readonly string[], required: readonly string[]): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PolicyError(path, "type", "must be an object");
  const record = value as Record<string, unknown>;
  for (const key of required) if (record[key] === undefined) throw new PolicyError(`${path}/${pointerToken(key)}`, "required", "is required");
  for (const key of Object.keys(record)) if (!known.includes(key)) throw new PolicyError(`${path}/${pointerToken(key)}`, "additionalProperties", "is not a policy field");
  return record;
}

/** RFC 6901: "~" and "/" in a key are escaped. */
function pointerToken(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

function array(value: unknown, path: string, min: number, max: number): unknown[] {
  if (!Array.isArray(value)) throw new PolicyError(path, "type", "must be an array");
  if (value.length < min) throw new PolicyError(path, "minItems", `must have at least ${min} entries`);
  if (value.length > max) throw new PolicyError(path, "maxItems", `must have at most ${max} entries`);
  return value;
}

function unique(values: readonly unknown[], path: string): void {
  if (new Set(values).size !== values.length) throw new PolicyError(path, "uniqueItems", "lists an entry twice");
}

function string(value: unknown, path: string, maxLength: number): string {
  if (typeof value !== "string") throw new PolicyError(path, "type", "must be a string");
  if (value.length > maxLength) throw new PolicyError(path, "maxLength", `must be at most ${maxLength} characters`);
  return value;
}

function pattern(value: unknown, path: string, rule: RegExp, message: string): string {
  if (typeof value !== "string") throw new PolicyError(path, "type", "must be a string");
  if (!rule.test(value)) throw new PolicyError(path, "pattern", message);
  return value;
}

function number(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new PolicyError(path, "type", "must be a number");
  if (value < min) throw new PolicyError(path, "minimum", `must be at least ${min}`);
  if (value > max) throw new PolicyError(path, "maximum", `must be at most ${max}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new PolicyError(path, "type", "must be an integer");
  return number(value, path, min, max);
}

/** A window length that divides a day, so that windows align to midnight (the schema lists them). */
function window(value: unknown, path: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new PolicyError(path, "type", "must be an integer");
  if (value < 60 || value > DAY || DAY % value !== 0) throw new PolicyError(path, "enum", "must be a number of seconds from 60 that divides a day (86400), e.g. 300 or 900");
  return value;
}

function oneOf<T extends string | number>(value: unknown, path: string, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) throw new PolicyError(path, "enum", `must be one of ${allowed.join(", ")}`);
  return value as T;
}
