/**
 * A page of summaries, of one device or of a zone, as JSON or CSV: what the two summaries routes
 * share. CSV is chosen by `format=csv`, or by an Accept header that prefers text/csv to JSON;
 * `format=json` forces JSON.
 */
import type { SummaryQuery } from "../../db/collector-db.js";
import type { ApiContext, ApiRequest, ApiResponse } from "../api-route.js";
import {
  channelParameter,
  cursorParameter,
  formatParameter,
  fromParameter,
  limitParameter,
  pageSchema,
  parameters,
  summarySchema,
  toParameter,
} from "../api-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { summariesCsv } from "../summaries-csv.js";
import { parseTimeRange } from "../time-parameter.js";
import { summaryJson } from "./summary-json.js";

export const summariesQuery = parameters({ from: fromParameter, to: toParameter, channel: channelParameter, limit: limitParameter, cursor: cursorParameter, format: formatParameter });
export const summariesPage = pageSchema("summaries", summarySchema);
export const SUMMARIES_DESCRIPTION =
  "Window summaries, oldest window first, in pages: every released statistic with its unit, and every status " +
  "(missing, suppressed, budget-exhausted) as a status. `from` and `to` bound the window starts; `channel` keeps one channel. " +
  "As CSV with format=csv or Accept: text/csv: one row per statistic, the next page in a Link header.";

export async function summariesResponse(context: ApiContext, request: ApiRequest, subject: { device: string } | { zone: string }): Promise<ApiResponse> {
  const query = request.query as { from?: string; to?: string; channel?: string; limit: number; cursor?: string; format?: "json" | "csv" };
  const { from, to } = parseTimeRange(query);
  const scope = cursorScope("summaries", { ...subject, from, to, channel: query.channel });
  const selection: SummaryQuery = { ...subject, from, to, channel: query.channel, limit: query.limit, cursor: decodeCursor(scope, query.cursor) };
  const page = await context.db.summaries(selection);
  const summaries = page.items.map(summaryJson);
  const next = encodeCursor(scope, page.cursor);
  if (wantsCsv(query.format, request.accept)) return { kind: "csv", body: summariesCsv(summaries), next };
  return { kind: "json", body: { summaries, cursor: next ?? null }, next };
}

/** format=csv, or no format and an Accept header whose most preferred of JSON and CSV is CSV. */
export function wantsCsv(format: "json" | "csv" | undefined, accept: string | undefined): boolean {
  if (format !== undefined) return format === "csv";
  if (accept === undefined) return false;
  let csv = 0;
  let json = 0;
  for (const range of accept.split(",")) {
    const [type, ...options] = range.trim().toLowerCase().split(";");
    const qOption = options.map((o) => o.trim()).find((o) => o.startsWith("q="));
    const q = qOption === undefined ? 1 : Number(qOption.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === "text/csv") csv = Math.max(csv, q);
    if (type === "application/json") json = Math.max(json, q);
  }
  return csv > 0 && csv > json;
}
