/**
 * The JSON Schemas of the API: its parameters and its responses. The same objects validate the
 * requests (fastify's Ajv), shape the responses (fastify's serializer writes the properties a
 * schema names and nothing else, so a public response cannot carry a field it does not document)
 * and make the OpenAPI 3.1 document (openapi-document.ts), so the three cannot drift apart.
 *
 * The keywords used are common to JSON Schema draft-07 (Ajv's default in fastify) and 2020-12
 * (OpenAPI 3.1's dialect): type (arrays of types for null), properties, required,
 * additionalProperties, items, enum, pattern, minimum, maximum, default, description.
 *
 * A parameter's `description` states its rule: a 400 quotes it beside what was wrong.
 */
import { REJECT_CAUSES } from "../message-opener.js";
import { ALERT_KINDS } from "../alerts.js";
import { MAX_PAGE } from "../db/collector-db.js";
import { VERIFICATION_STATES } from "./node-verification.js";

/** A JSON Schema, as a plain object. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** The schema of a route's path or query parameters: an object of named parameters, no others. */
export interface ParameterSchema extends JsonSchema {
  readonly type: "object";
  readonly properties: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties: false;
}

export function parameters(properties: Record<string, JsonSchema>, required: readonly string[] = []): ParameterSchema {
  return { type: "object", properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false };
}

/** Device and zone ids, as src/uplink/topics.ts defines them (checked against isValidId in the tests). */
export const ID_PATTERN = "^[a-z0-9][a-z0-9-]{0,31}$";
/** Channel names, as the node's configuration allows them (src/policy/node-config.ts). */
export const CHANNEL_PATTERN = "^[a-z][a-z0-9_-]{0,31}$";
/** Unix seconds, or an RFC 3339 date-time (ISO 8601 with a time zone): the calendar is checked after. */
export const TIME_PATTERN = "^(?:[0-9]{1,11}|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]{1,9})?(?:Z|z|[+-][0-9]{2}:[0-9]{2}))$";
/** A cursor this API gave out: base64url. */
export const CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,1024}$";

/** The store's largest page. */
export const MAX_LIMIT = MAX_PAGE;
export const DEFAULT_LIMIT = 100;
/** Rejection counts: buckets from a minute to a week, at most this many per answer. */
export const MIN_BUCKET_SECONDS = 60;
export const MAX_BUCKET_SECONDS = 7 * 86_400;
export const MAX_BUCKETS = 10_000;

export const deviceParameter: JsonSchema = { type: "string", pattern: ID_PATTERN, description: "a device id: 1 to 32 characters of a-z, 0-9 and -, not starting with -" };
export const zoneParameter: JsonSchema = { type: "string", pattern: ID_PATTERN, description: "a zone id: 1 to 32 characters of a-z, 0-9 and -, not starting with -" };
export const fromParameter: JsonSchema = {
  type: "string",
  pattern: TIME_PATTERN,
  description: "the earliest time included: Unix seconds (1790841600) or an RFC 3339 date-time with its time zone (2026-10-01T08:00:00Z)",
};
export const toParameter: JsonSchema = {
  type: "string",
  pattern: TIME_PATTERN,
  description: "the time before which to stop, excluded, later than from: Unix seconds or an RFC 3339 date-time with its time zone",
};
export const channelParameter: JsonSchema = { type: "string", pattern: CHANNEL_PATTERN, description: "only this channel: 1 to 32 characters of a-z, 0-9, _ and -, starting with a letter" };
export const limitParameter: JsonSchema = {
  type: "integer",
  minimum: 1,
  maximum: MAX_LIMIT,
  default: DEFAULT_LIMIT,
  description: `the most items in one page: an integer from 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`,
};
export const cursorParameter: JsonSchema = {
  type: "string",
  pattern: CURSOR_PATTERN,
  description: "where the next page starts: the cursor of the previous page, as given, with the query's other parameters unchanged",
};
export const formatParameter: JsonSchema = {
  type: "string",
  enum: ["json", "csv"],
  description: "json or csv; overrides the Accept header (text/csv asks for CSV too)",
};
export const bucketParameter: JsonSchema = {
  type: "integer",
  minimum: MIN_BUCKET_SECONDS,
  maximum: MAX_BUCKET_SECONDS,
  default: 3600,
  description: `the length of a bucket in seconds: an integer from ${MIN_BUCKET_SECONDS} to ${MAX_BUCKET_SECONDS} (default 3600), at most ${MAX_BUCKETS} buckets from from to to`,
};

const string: JsonSchema = { type: "string" };
const nullableString: JsonSchema = { type: ["string", "null"] };
const integer: JsonSchema = { type: "integer" };
const isoTime: JsonSchema = { type: "string", description: "ISO 8601, UTC" };
const numberMap: JsonSchema = { type: "object", additionalProperties: { type: "number" } };
const cursor: JsonSchema = { type: ["string", "null"], description: "the next page's cursor; null on the last page" };

export const NODE_STATUSES = ["reporting", "late", "silent"] as const;

/** What anyone may know of a node: no health, no security detail. */
export const nodeSchema: JsonSchema = {
  type: "object",
  required: ["device", "zone", "lastWindowStart", "lastWindowStartIso", "windowSeconds", "status", "location"],
  additionalProperties: false,
  properties: {
    device: string,
    zone: string,
    location: {
      type: ["object", "null"],
      description: "where the node is, as its disclosure publishes it: the centre of a grid cell of the policy's precision, never the exact position; null until a disclosure is stored",
      required: ["latitude", "longitude", "precisionMeters", "verified"],
      additionalProperties: false,
      properties: {
        latitude: { type: "number" },
        longitude: { type: "number" },
        precisionMeters: { type: "number" },
        verified: { type: "boolean", description: "the disclosure it comes from verified under the operator's key" },
      },
    },
    lastWindowStart: { type: ["integer", "null"], description: "start of the newest window stored (Unix s); null if none" },
    lastWindowStartIso: nullableString,
    windowSeconds: { type: ["number", "null"], description: "length of that window (s)" },
    status: {
      type: "string",
      enum: [...NODE_STATUSES],
      description: "reporting: its newest window closed at most 2 window lengths ago; late: at most 6; silent: longer ago, or never",
    },
  },
};

/** The public verification verdict of a node (node-verification.ts). */
export const verificationSchema: JsonSchema = {
  type: "object",
  required: ["device", "state", "policy", "producedUnder"],
  additionalProperties: false,
  properties: {
    device: string,
    state: {
      type: "string",
      enum: [...VERIFICATION_STATES],
      description:
        "verified: the disclosure's signature holds under the operator's key and the newest stored summary was produced under the policy it names; " +
        "awaiting-summary: the signature holds, no summary under its policy is stored yet (none at all, or the newest was produced before the disclosure arrived: an update on its way); " +
        "mismatch: the signature holds, but the newest summary was produced under another policy; signature-only: the signature holds, the disclosure names no policy hash; " +
        "unchecked: the collector has no operator key; forged: only disclosures that do not verify were published; absent: none was published",
    },
    policy: {
      type: ["object", "null"],
      description: "the policy the disclosure names; null without a disclosure",
      required: ["name", "serial", "sha256"],
      additionalProperties: false,
      properties: { name: string, serial: { type: ["integer", "null"] }, sha256: { type: ["string", "null"], pattern: "^[0-9a-f]{64}$" } },
    },
    producedUnder: {
      type: ["object", "null"],
      description: "the policy the newest stored summary was produced under; null when none is stored, or it carries none",
      required: ["serial", "sha256"],
      additionalProperties: false,
      properties: { serial: { type: "integer" }, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
    },
  },
};

export const statisticSchema: JsonSchema = {
  type: "object",
  required: ["channel", "stat", "value", "unit", "status"],
  additionalProperties: false,
  properties: {
    channel: string,
    stat: { type: "string", description: 'count, mean, min, max, leq, l10, l50, l90, sum, distinct; "status" for a status of the whole channel' },
    value: { type: ["number", "null"], description: "the value released; null where a status stands for it" },
    unit: nullableString,
    status: { type: ["string", "null"], description: "missing, suppressed or budget-exhausted where no value was released; never a number" },
  },
};

export const summarySchema: JsonSchema = {
  type: "object",
  required: ["device", "zone", "windowStart", "windowStartIso", "windowSeconds", "epoch", "counter", "receivedAt", "statistics", "policy"],
  additionalProperties: false,
  properties: {
    device: string,
    zone: string,
    policy: {
      type: ["object", "null"],
      description: "the signed policy the summary was produced under (the node bound its hash into the message); null for a node without one",
      required: ["serial", "sha256"],
      additionalProperties: false,
      properties: { serial: { type: "integer" }, sha256: { type: "string", pattern: "^[0-9a-f]{64}$" } },
    },
    windowStart: { type: "integer", description: "Unix s" },
    windowStartIso: isoTime,
    windowSeconds: { type: "number", description: "s" },
    epoch: { type: "integer", description: "the key epoch it was sealed under" },
    counter: { type: "integer", description: "its message counter in that epoch" },
    receivedAt: isoTime,
    statistics: { type: "array", items: statisticSchema },
  },
};

const sensorHealthSchema: JsonSchema = {
  type: "object",
  required: ["drops"],
  additionalProperties: false,
  properties: {
    status: { type: "string", description: "ok or faulty" },
    readings: integer,
    faults: integer,
    drops: { type: "object", additionalProperties: { type: "integer" }, description: "readings dropped, by cause" },
  },
};

export const healthReportSchema: JsonSchema = {
  type: "object",
  required: ["time", "timeIso", "epoch", "counter", "receivedAt", "node", "budget", "commands", "audit", "sensors"],
  additionalProperties: false,
  properties: {
    time: { type: "number", description: "Unix s: the end of the window the report follows" },
    timeIso: isoTime,
    epoch: integer,
    counter: integer,
    receivedAt: isoTime,
    node: { ...numberMap, description: "uptime, queue, queueBytes, queueRam, dropped, droppedCorrupt, delivered, sealFailures, storeErrors, clockBehind, windowsDiscarded, epoch" },
    budget: { ...numberMap, description: "differential-privacy budget (epsilon) left today, by channel" },
    commands: { type: "object", additionalProperties: { type: "integer" }, description: "downlink commands since boot, by outcome" },
    audit: {
      type: "array",
      items: { type: "object", required: ["time", "entry"], additionalProperties: false, properties: { time: { type: "number" }, entry: string } },
      description: "audit-log entries made since the previous report: time (Unix s) and event",
    },
    sensors: { type: "object", additionalProperties: sensorHealthSchema },
  },
};

export const rejectionBucketSchema: JsonSchema = {
  type: "object",
  required: ["start", "startIso", "counts"],
  additionalProperties: false,
  properties: {
    start: { type: "integer", description: "Unix s" },
    startIso: isoTime,
    counts: {
      type: "object",
      additionalProperties: false,
      properties: Object.fromEntries(REJECT_CAUSES.map((cause) => [cause, integer])),
      description: "rejected messages by cause; causes with none are left out",
    },
  },
};

export const alertSchema: JsonSchema = {
  type: "object",
  required: ["time", "kind", "detail", "action"],
  additionalProperties: false,
  properties: {
    time: isoTime,
    kind: { type: "string", enum: [...ALERT_KINDS] },
    device: string,
    epoch: integer,
    detail: string,
    action: { type: "string", description: "what to do about it" },
  },
};

export const commandSchema: JsonSchema = {
  type: "object",
  required: ["device", "name", "args", "counter", "sentAt", "outcome"],
  additionalProperties: false,
  properties: {
    device: string,
    name: { type: "string", description: "rotate-epoch, set-window, set-interval, republish-disclosure" },
    args: { type: "object", additionalProperties: { type: ["number", "string"] } },
    counter: { type: "integer", description: "its downlink counter" },
    sentAt: isoTime,
    outcome: { type: ["string", "null"], description: "what the node made of it, once its health report says; null until then" },
  },
};

export const ERROR_CODES = ["bad-parameter", "bad-request", "unauthorized", "not-found", "unavailable", "internal"] as const;

export const errorSchema: JsonSchema = {
  type: "object",
  required: ["error", "message"],
  additionalProperties: false,
  properties: {
    error: { type: "string", enum: [...ERROR_CODES] },
    message: { type: "string", description: "for people: what was wrong and, for a parameter, its rule" },
    parameter: { type: "string", description: "bad-parameter: the parameter at fault" },
    in: { type: "string", enum: ["path", "query"], description: "bad-parameter: where that parameter is" },
    requestId: { type: "string", description: "internal: the id under which the collector logged the defect" },
  },
};

/** A page of a list: the items under one key, the cursor beside them. */
export function pageSchema(key: string, item: JsonSchema): JsonSchema {
  return {
    type: "object",
    required: [key, "cursor"],
    additionalProperties: false,
    properties: { [key]: { type: "array", items: item }, cursor },
  };
}
