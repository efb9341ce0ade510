/** GET /api/nodes/{device}/health: a node's health reports (staff). */
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { cursorParameter, deviceParameter, fromParameter, healthReportSchema, limitParameter, pageSchema, parameters, toParameter } from "../api-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { healthJson } from "./health-json.js";
import { parseTimeRange } from "../time-parameter.js";

export function nodeHealthRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/health",
    operationId: "listNodeHealth",
    summary: "A node's health reports",
    description:
      "Health reports, oldest first, in pages: uptime, outbox, drops, store errors, sensor faults, privacy budget left, " +
      "downlink commands by outcome and audit-log entries. `from` and `to` bound the reports' times.",
    tag: "operations",
    access: "staff",
    params: parameters({ device: deviceParameter }, ["device"]),
    query: parameters({ from: fromParameter, to: toParameter, limit: limitParameter, cursor: cursorParameter }),
    ok: { description: "a page of health reports", schema: pageSchema("reports", healthReportSchema) },
    notFound: "no such device",
    async handle(request) {
      const { device } = await knownDevice(context, request.params.device as string);
      const query = request.query as { from?: string; to?: string; limit: number; cursor?: string };
      const { from, to } = parseTimeRange(query);
      const scope = cursorScope("health", { device, from, to });
      const page = await context.db.health(device, { from, to, limit: query.limit, cursor: decodeCursor(scope, query.cursor) });
      const next = encodeCursor(scope, page.cursor);
      return { kind: "json", body: { reports: page.items.map(healthJson), cursor: next ?? null }, next };
    },
  };
}
