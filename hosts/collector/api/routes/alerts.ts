/** GET /api/alerts: what an operator must know about and act on, oldest first (staff). */
import type { ApiContext, ApiRoute } from "../api-route.js";
import { alertSchema, cursorParameter, limitParameter, pageSchema, parameters } from "../api-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";

export function alertsRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/alerts",
    operationId: "listAlerts",
    summary: "Alerts",
    description:
      "Alerts (counter reuse and restarts, epoch jumps, window conflicts, rejection bursts, silent nodes and their return, store failures and recoveries, " +
      "audit-chain gaps, rewrites and resets, forged disclosures, messages produced under another policy than the disclosed one; docs/alerts.md), " +
      "oldest first, in pages: each with what happened and what to do.",
    tag: "operations",
    access: "staff",
    query: parameters({ limit: limitParameter, cursor: cursorParameter }),
    ok: { description: "a page of alerts", schema: pageSchema("alerts", alertSchema) },
    async handle(request) {
      const query = request.query as { limit: number; cursor?: string };
      const scope = cursorScope("alerts", {});
      const page = await context.db.alerts({ limit: query.limit, cursor: decodeCursor(scope, query.cursor) });
      const next = encodeCursor(scope, page.cursor);
      return { kind: "json", body: { alerts: page.items, cursor: next ?? null }, next };
    },
  };
}
