/**
 * GET /api/rejections: rejected messages counted by cause over time (staff). Without `from` and
 * `to`, the last day; never more than MAX_BUCKETS buckets, so an answer stays small.
 */
import type { ApiContext, ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { bucketParameter, fromParameter, MAX_BUCKETS, parameters, rejectionBucketSchema, toParameter } from "../api-schemas.js";
import { isoSeconds, parseTimeRange } from "../time-parameter.js";

const DEFAULT_SPAN_SECONDS = 86_400;

export function rejectionsRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/rejections",
    operationId: "countRejections",
    summary: "Rejected messages by cause over time",
    description:
      "Messages the collector refused (forgeries, replays, copies, malformed or unknown senders), counted by cause in buckets " +
      "of `bucket` seconds aligned to Unix time, from `from` (default: a day before `to`) to `to` (default: now). " +
      "Buckets without a rejection are left out. Never the bytes of a rejected message.",
    tag: "operations",
    access: "staff",
    query: parameters({ from: fromParameter, to: toParameter, bucket: bucketParameter }),
    ok: {
      description: "counts by cause, per bucket",
      schema: {
        type: "object",
        required: ["from", "to", "bucketSeconds", "buckets"],
        additionalProperties: false,
        properties: {
          from: { type: "integer", description: "Unix s, included" },
          to: { type: "integer", description: "Unix s, excluded" },
          bucketSeconds: { type: "integer" },
          buckets: { type: "array", items: rejectionBucketSchema },
        },
      },
    },
    async handle(request) {
      const query = request.query as { from?: string; to?: string; bucket: number };
      const range = parseTimeRange(query);
      const to = range.to ?? Math.ceil(context.now() / 1000);
      const from = range.from ?? to - DEFAULT_SPAN_SECONDS;
      if (to <= from) throw ApiError.badParameter("from", "query", "from must be earlier than to (default: now)");
      const bucketSeconds = query.bucket;
      const buckets = Math.ceil(to / bucketSeconds) - Math.floor(from / bucketSeconds);
      if (buckets > MAX_BUCKETS) {
        throw ApiError.badParameter("bucket", "query", `bucket of ${bucketSeconds} s makes ${buckets} buckets from from to to, more than ${MAX_BUCKETS}: choose a longer bucket or a shorter span`);
      }
      const counts = await context.db.rejections({ from, to, bucketSeconds });
      return {
        kind: "json",
        body: {
          from,
          to,
          bucketSeconds,
          buckets: [...counts.buckets].sort((a, b) => a.start - b.start).map((b) => ({ start: b.start, startIso: isoSeconds(b.start), counts: b.counts })),
        },
      };
    },
  };
}
