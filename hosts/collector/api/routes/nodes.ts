/**
 * GET /api/nodes: every node, its zone, its newest window, whether it is reporting and where it is
 * as its disclosure publishes it (public). Nothing of its health or its keys: that is for staff
 * (GET /api/nodes/{device}/health).
 */
import { knownDevices, type ApiContext, type ApiRoute } from "../api-route.js";
import { cursorParameter, limitParameter, nodeSchema, pageSchema, parameters } from "../api-schemas.js";
import { nodeStatus } from "../node-status.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { isoSeconds } from "../time-parameter.js";

export function nodesRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes",
    operationId: "listNodes",
    summary: "The nodes, with their zone, newest window and status",
    description: "Every node the collector knows, by device id, in pages. Public: no health or security detail.",
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
      const nowSeconds = Math.floor(context.now() / 1000);
      const nodes = [];
      for (const row of rows) {
        const lastWindowStart = row.lastWindowStart;
        const windowSeconds = lastWindowStart === undefined ? undefined : await windowLength(context, row.device, lastWindowStart);
        nodes.push({
          device: row.device,
          zone: row.zone,
          lastWindowStart: lastWindowStart ?? null,
          lastWindowStartIso: lastWindowStart === undefined ? null : isoSeconds(lastWindowStart),
          windowSeconds: windowSeconds ?? null,
          status: nodeStatus(lastWindowStart, windowSeconds, nowSeconds),
          location: await publishedLocation(context, row.device),
        });
      }
      const last = rows.at(-1);
      const next = start >= 0 && start + query.limit < devices.length && last ? encodeCursor(scope, last.device) : undefined;
      return { kind: "json", body: { nodes, cursor: next ?? null }, next };
    },
  };
}

/** The length of the node's window that starts at `windowStart` (the store keeps it with the summary). */
async function windowLength(context: ApiContext, device: string, windowStart: number): Promise<number | undefined> {
  const page = await context.db.summaries({ device, from: windowStart, to: windowStart + 1, limit: 1 });
  return page.items[0]?.windowSeconds;
}

/** The node's position as its stored disclosure publishes it (coarsened by the node: src/policy/coarse-position.ts). */
async function publishedLocation(context: ApiContext, device: string): Promise<{ latitude: number; longitude: number; precisionMeters: number; verified: boolean } | null> {
  const stored = await context.disclosures?.disclosure(device);
  if (!stored) return null;
  try {
    const location = (JSON.parse(new TextDecoder().decode(stored.document)) as { location?: Record<string, unknown> }).location;
    const { latitude, longitude, precisionMeters } = location ?? {};
    if (typeof latitude !== "number" || typeof longitude !== "number" || typeof precisionMeters !== "number") return null;
    return { latitude, longitude, precisionMeters, verified: stored.verified };
  } catch {
    return null;
  }
}
