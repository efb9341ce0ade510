/**
 * GET /api/nodes: every node, its zone, its newest window, whether it is reporting and where it is
 * as its disclosure publishes it (public). Nothing of its health or its keys: that is for staff
 * (GET /api/nodes/{device}/health).
 */
import { knownDevices, type ApiContext, type ApiRoute } from "../api-route.js";
import { cursorParameter, limitParameter, nodeSchema, pageSchema, parameters } from "../api-schemas.js";
import { nodeEntry } from "../node-entry.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";

export function nodesRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes",
    operationId: "listNodes",
    summary: "The nodes, with their zone, newest window and status",
    description: "Every node the collector knows, by device id, in pages. Public: no health or security detail. GET /api/nodes/{device}/verification says whether its disclosure is verified.",
    tag: "nodes",
    access: "public",
    query: parameters({ limit: limitParameter, cursor: cursorParameter }),
    ok: { description: "a page of nodes", schema: pageSchema("nodes", nodeSchema) },
    async handle(request) {
      const query = request.query as { limit: number; cursor?: string };
      const scope = cursorScope("nodes", {});
      const after = decodeCursor(scope, query.cursor);
      const devices = [...(await knownDevices(context)).values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
      const start = after === undefined ? 0 : devices.findIndex((row) => row.device > after);
      const rows = start < 0 ? [] : devices.slice(start, start + query.limit);
      const nodes = [];
      for (const row of rows) nodes.push((await nodeEntry(context, row)).entry);
      const last = rows.at(-1);
      const next = start >= 0 && start + query.limit < devices.length && last ? encodeCursor(scope, last.device) : undefined;
      return { kind: "json", body: { nodes, cursor: next ?? null }, next };
    },
  };
}
