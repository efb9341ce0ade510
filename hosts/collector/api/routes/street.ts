/**
 * GET /api/street: every node as the staff dashboard's plan shows it (staff): the public entry of
 * GET /api/nodes, and whether its newest health report names a faulty sensor (street-entry.ts).
 */
import { knownDevices, type ApiContext, type ApiRoute } from "../api-route.js";
import { cursorParameter, limitParameter, pageSchema, parameters } from "../api-schemas.js";
import { streetNodeSchema } from "../dashboard-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { storeReads } from "./store-reads.js";
import { streetEntry } from "./street-entry.js";

export function streetRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/street",
    operationId: "listStreet",
    summary: "The street as staff see it: every node with its state",
    description:
      "Every node the collector knows, by device id, in pages: the public entry of GET /api/nodes, when a message of it was last stored, its newest health report in short " +
      "(faulty sensors, outbox, drops), and `state`: silent, else sensor-faulty when a sensor of its newest health report is not ok, else late or reporting.",
    tag: "operations",
    access: "staff",
    query: parameters({ limit: limitParameter, cursor: cursorParameter }),
    ok: { description: "a page of nodes", schema: pageSchema("nodes", streetNodeSchema) },
    async handle(request) {
      const query = request.query as { limit: number; cursor?: string };
      const scope = cursorScope("street", {});
      const after = decodeCursor(scope, query.cursor);
      const devices = [...(await knownDevices(context)).values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
      const start = after === undefined ? 0 : devices.findIndex((row) => row.device > after);
      const rows = start < 0 ? [] : devices.slice(start, start + query.limit);
      const reads = storeReads(context.db);
      const nodes = [];
      for (const row of rows) nodes.push(await streetEntry(context, reads, row));
      const last = rows.at(-1);
      const next = start >= 0 && start + query.limit < devices.length && last ? encodeCursor(scope, last.device) : undefined;
      return { kind: "json", body: { nodes, cursor: next ?? null }, next };
    },
  };
}
