/**
 * GET /api/nodes/{device}/messages: what left the device (staff): its stored messages in the order
 * they were received, each with its sealed bytes exactly as they arrived (hex, and their size in an
 * MQTT packet), the COSE envelope anyone on the wire can read (sealed-envelope.ts), what the
 * collector decoded from it (the summary or the health report), and for a summary the size of the
 * same window as a one-message-per-reading stream (per-reading-stream.ts). `epoch` and `counter`
 * find one message: the one a summary names (its epoch and counter).
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { cursorParameter, deviceParameter, pageSchema, parameters } from "../api-schemas.js";
import { counterParameter, epochParameter, kindParameter, messageSchema, messagesLimitParameter } from "../dashboard-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { isoMs, isoSeconds } from "../time-parameter.js";
import { healthJson } from "./health-json.js";
import { mqttPublishBytes, perReadingStream, type DisclosedChannel } from "./per-reading-stream.js";
import { sealedEnvelope } from "./sealed-envelope.js";
import { storeReads, type StoredMessage } from "./store-reads.js";
import { summaryJson } from "./summary-json.js";

export function nodeMessagesRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/messages",
    operationId: "listNodeMessages",
    summary: "What left a node: its stored messages, sealed and decoded",
    description:
      "The node's stored messages (summaries and health reports) in the order they were received, in pages: each with its sealed bytes as they arrived (hex), " +
      "their size as an MQTT PUBLISH packet, the COSE_Encrypt0 envelope readable without a key (kid, partial IV), what the collector decoded from it, and for a summary " +
      "the estimated size of the same window as one JSON message per reading. `epoch` and `counter` (together) find the message a summary names.",
    tag: "operations",
    access: "staff",
    params: parameters({ device: deviceParameter }, ["device"]),
    query: parameters({ kind: kindParameter, epoch: epochParameter, counter: counterParameter, limit: messagesLimitParameter, cursor: cursorParameter }),
    ok: { description: "a page of messages", schema: pageSchema("messages", messageSchema) },
    notFound: "no such device",
    async handle(request) {
      const { device } = await knownDevice(context, request.params.device as string);
      const query = request.query as { kind?: "summary" | "health"; epoch?: number; counter?: number; limit: number; cursor?: string };
      if ((query.epoch === undefined) !== (query.counter === undefined)) {
        const missing = query.epoch === undefined ? "epoch" : "counter";
        throw ApiError.badParameter(missing, "query", `${missing} is required with ${missing === "epoch" ? "counter" : "epoch"}: the two name one message together`);
      }
      const scope = cursorScope("messages", { device, kind: query.kind, epoch: query.epoch, counter: query.counter });
      const inner = decodeCursor(scope, query.cursor);
      const reads = storeReads(context.db);
      const rows = await reads.messages({ device, kind: query.kind, epoch: query.epoch, counter: query.counter, after: inner === undefined ? undefined : Number(inner), limit: query.limit });
      const page = rows.slice(0, query.limit);
      const channels = await disclosedChannels(context, device);
      const messages = [];
      for (const row of page) messages.push(await messageJson(context, row, channels));
      const next = rows.length > query.limit ? encodeCursor(scope, String(page.at(-1)!.id)) : undefined;
      return { kind: "json", body: { messages, cursor: next ?? null }, next };
    },
  };
}

async function messageJson(context: ApiContext, row: StoredMessage, channels: ReadonlyMap<string, DisclosedChannel>) {
  const summary = row.windowStart === undefined ? undefined : (await context.db.summaries({ device: row.device, from: row.windowStart, to: row.windowStart + 1, limit: 1 })).items[0];
  const summaryBody = summary ? summaryJson(summary) : null;
  let health = null;
  if (row.healthTime !== undefined) {
    const from = Math.floor(row.healthTime);
    const reports = await context.db.health(row.device, { from, to: from + 1, limit: 100 });
    const report = reports.items.find((h) => h.epoch === row.epoch && h.counter === row.counter);
    health = report ? healthJson(report) : null;
  }
  return {
    device: row.device,
    kind: row.kind,
    topic: row.topic,
    epoch: row.epoch,
    counter: row.counter,
    receivedAt: isoMs(row.receivedAtMs),
    sealedAt: row.sealedAt,
    sealedAtIso: isoSeconds(Math.floor(row.sealedAt)),
    bytes: row.sealed.length,
    hex: bytesToHex(row.sealed),
    mqttPublishBytes: mqttPublishBytes(row.topic, row.sealed.length, 1),
    envelope: sealedEnvelope(row.sealed),
    summary: summaryBody,
    health,
    perReadingStream: summaryBody ? perReadingStream(summaryBody, channels) : null,
  };
}

/** Which part measures each channel, and its decimals, as the node's stored disclosure says; empty without one. */
async function disclosedChannels(context: ApiContext, device: string): Promise<Map<string, DisclosedChannel>> {
  const channels = new Map<string, DisclosedChannel>();
  const stored = await context.disclosures?.disclosure(device);
  if (!stored) return channels;
  try {
    const document = JSON.parse(new TextDecoder().decode(stored.document)) as { dataTypes?: unknown };
    for (const type of Array.isArray(document.dataTypes) ? document.dataTypes : []) {
      const { channel, part, decimals } = (type ?? {}) as { channel?: unknown; part?: unknown; decimals?: unknown };
      if (typeof channel === "string" && typeof part === "string") channels.set(channel, { part, ...(typeof decimals === "number" ? { decimals } : {}) });
    }
  } catch {
    // A disclosure that is not JSON says nothing of its parts: each channel counts alone.
  }
  return channels;
}
