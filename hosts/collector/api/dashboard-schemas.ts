/**
 * The JSON Schemas of the dashboard's routes (issue 14), beside the API's others (api-schemas.ts)
 * and used the same three ways (validation, serialization, the OpenAPI document): the street as
 * staff see it, a node's stored messages with their sealed bytes, its audit trail.
 */
import { healthReportSchema, nodeSchema, summarySchema, type JsonSchema } from "./api-schemas.js";

const string: JsonSchema = { type: "string" };
const nullableString: JsonSchema = { type: ["string", "null"] };
const integer: JsonSchema = { type: "integer" };
const isoTime: JsonSchema = { type: "string", description: "ISO 8601, UTC" };

/** What the street plan colours a node by: its status, or sensor-faulty while it reports with a faulty sensor. */
export const STREET_STATES = ["reporting", "late", "silent", "sensor-faulty"] as const;

/** A node as the staff dashboard's street shows it: the public entry, and what its newest health report says. */
export const streetNodeSchema: JsonSchema = {
  type: "object",
  required: [...(nodeSchema.required as string[]), "state", "lastSeenAt", "health"],
  additionalProperties: false,
  properties: {
    ...(nodeSchema.properties as Record<string, JsonSchema>),
    state: {
      type: "string",
      enum: [...STREET_STATES],
      description: "silent, else sensor-faulty when its newest health report names a faulty sensor, else late or reporting (status)",
    },
    lastSeenAt: { type: ["string", "null"], description: "when the collector last stored a message of it (ISO 8601, UTC); null if never" },
    health: {
      type: ["object", "null"],
      description: "its newest health report, in short; null when none is stored",
      required: ["time", "timeIso", "faultySensors", "queue", "dropped"],
      additionalProperties: false,
      properties: {
        time: { type: "number", description: "Unix s" },
        timeIso: isoTime,
        faultySensors: { type: "array", items: string, description: "sensors whose status is not ok" },
        queue: { type: ["number", "null"], description: "messages in its outbox" },
        dropped: { type: ["number", "null"], description: "messages its outbox dropped, since it was provisioned" },
      },
    },
  },
};

/** At most this many messages in one page: each carries its sealed bytes in hex. */
export const MAX_MESSAGES_PAGE = 100;

export const messagesLimitParameter: JsonSchema = {
  type: "integer",
  minimum: 1,
  maximum: MAX_MESSAGES_PAGE,
  default: 10,
  description: `the most messages in one page: an integer from 1 to ${MAX_MESSAGES_PAGE} (default 10)`,
};
export const epochParameter: JsonSchema = {
  type: "integer",
  minimum: 0,
  maximum: 0xffff_ffff,
  description: "only the message sealed under this key epoch (with counter): an integer from 0 to 4294967295",
};
export const counterParameter: JsonSchema = {
  type: "integer",
  minimum: 0,
  maximum: 0xff_ffff_ffff,
  description: "only the message with this counter in its epoch (with epoch): an integer from 0 to 1099511627775",
};
export const kindParameter: JsonSchema = { type: "string", enum: ["summary", "health"], description: "only summaries or only health reports" };

const perReadingSensorSchema: JsonSchema = {
  type: "object",
  required: ["sensor", "channels", "readings", "topic", "example", "bytes"],
  additionalProperties: false,
  properties: {
    sensor: { type: "string", description: "the part, as a Tasmota-style message names it" },
    channels: { type: "array", items: string },
    readings: { type: "integer", description: "messages: the largest count of its channels in the window" },
    topic: string,
    example: { type: "string", description: "one of its messages' payload" },
    bytes: { type: "integer", description: "MQTT PUBLISH packets of all its messages, QoS 0" },
  },
};

/** A stored message: what left the device, and what the collector read in it. */
export const messageSchema: JsonSchema = {
  type: "object",
  required: ["device", "kind", "topic", "epoch", "counter", "receivedAt", "sealedAt", "sealedAtIso", "bytes", "hex", "mqttPublishBytes", "envelope", "summary", "health", "perReadingStream"],
  additionalProperties: false,
  properties: {
    device: string,
    kind: { type: "string", enum: ["summary", "health"] },
    topic: string,
    epoch: integer,
    counter: integer,
    receivedAt: isoTime,
    sealedAt: { type: "number", description: "when the node sealed it (Unix s, the node's clock)" },
    sealedAtIso: isoTime,
    bytes: { type: "integer", description: "the sealed message's length: the MQTT payload" },
    hex: { type: "string", pattern: "^([0-9a-f]{2})*$", description: "the sealed bytes as received, in lowercase hex" },
    mqttPublishBytes: { type: "integer", description: "the MQTT 3.1.1 PUBLISH packet that carried it at QoS 1: its size on the wire" },
    envelope: {
      type: ["object", "null"],
      description: "the COSE_Encrypt0 envelope, readable without a key (RFC 9052 section 5.2)",
      required: ["coseTag", "algorithm", "kid", "kidDevice", "kidEpoch", "partialIv", "counter", "ciphertextBytes", "authTagBytes", "headerBytes"],
      additionalProperties: false,
      properties: {
        coseTag: { type: "integer", description: "16: COSE_Encrypt0" },
        algorithm: { type: "integer", description: "24: ChaCha20/Poly1305 (RFC 9053 section 4.3)" },
        kid: { type: "string", description: "hex: the device id in UTF-8 and the epoch, 4 bytes big-endian" },
        kidDevice: nullableString,
        kidEpoch: { type: ["integer", "null"] },
        partialIv: { type: "string", description: "hex: the message counter" },
        counter: integer,
        ciphertextBytes: { type: "integer", description: "the encrypted SenML pack and its 16-byte tag" },
        authTagBytes: integer,
        headerBytes: { type: "integer", description: "what the envelope adds: CBOR tag, array and headers" },
      },
    },
    summary: { ...summarySchema, type: ["object", "null"], description: "the summary the collector decoded from it; null for a health report, or a summary of a window stored from another message" },
    health: { ...healthReportSchema, type: ["object", "null"], description: "the health report the collector decoded from it; null for a summary" },
    perReadingStream: {
      type: ["object", "null"],
      description:
        "the same window as one JSON message per reading (Tasmota-style, QoS 0; BENCHMARKS.md's method), estimated from the summary's counts: " +
        "readings per sensor are the largest count of its channels (the disclosure says which part measures which channel); channels without a count are left out (uncounted), so it is a lower bound. Null for a health report",
      required: ["messages", "bytes", "sensors", "uncounted"],
      additionalProperties: false,
      properties: {
        messages: integer,
        bytes: integer,
        sensors: { type: "array", items: perReadingSensorSchema },
        uncounted: { type: "array", items: string, description: "channels without a count of readings, not in the estimate" },
      },
    },
  },
};

const auditFindingSchema: JsonSchema = {
  type: "object",
  required: ["kind", "chain", "detail", "settled", "reportTime", "reportTimeIso"],
  additionalProperties: false,
  properties: {
    kind: { type: "string", enum: ["gap", "rewrite", "reset"] },
    settled: {
      type: "boolean",
      description: "false for a gap a report that did not arrive leaves, while that report may still come (the collector's audit-gap alert waits as long, 15 minutes); true otherwise",
    },
    cause: { type: "string", enum: ["evicted", "dropped", "deleted", "missing"], description: "gap: why entries are missing" },
    how: { type: "string", enum: ["head", "twice", "genesis"], description: "rewrite: entries that do not hash to their head, an entry under two hashes, an entry 0 that is not the chain's" },
    chain: { type: "string", description: "the chain concerned (16 hex digits); reset: the new one" },
    from: { type: "integer", description: "gap: the first entry missing" },
    to: { type: "integer", description: "gap: the last entry missing" },
    seq: { type: "integer", description: "rewrite: the entry" },
    count: { type: "integer", description: "gap: entries evicted or messages dropped meanwhile, as the node counts them" },
    reason: { type: "string", description: "reset: what the new chain's entry 0 says" },
    detail: { type: "string", description: "in words" },
    reportTime: { type: "number", description: "the report that shows it (Unix s)" },
    reportTimeIso: isoTime,
  },
};

export const auditTrailSchema: JsonSchema = {
  type: "object",
  required: ["device", "reports", "chained", "holds", "findings", "entries", "entriesTotal", "truncated"],
  additionalProperties: false,
  properties: {
    device: string,
    reports: { type: "integer", description: "health reports read" },
    chained: { type: "integer", description: "of those, the reports that carry the audit chain" },
    holds: { type: "boolean", description: "true when the chain holds across every report read: no gap, no rewrite, no reset" },
    findings: { type: "array", items: auditFindingSchema },
    entries: {
      type: "array",
      description: "the audit entries the reports carried, each once, in chain order (the newest 500 at most)",
      items: {
        type: "object",
        required: ["chain", "seq", "time", "timeIso", "event", "detail"],
        additionalProperties: false,
        properties: { chain: string, seq: integer, time: { type: "number" }, timeIso: isoTime, event: string, detail: string },
      },
    },
    entriesTotal: integer,
    truncated: { type: "boolean", description: "true when there were more reports than one answer reads: narrow from and to" },
  },
};
