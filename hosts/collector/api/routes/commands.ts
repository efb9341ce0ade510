/** GET /api/commands: downlink commands sent, and what became of them, oldest first (staff). */
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { commandSchema, cursorParameter, deviceParameter, limitParameter, pageSchema, parameters } from "../api-schemas.js";
import { cursorScope, decodeCursor, encodeCursor } from "../page-cursor.js";
import { isoMs } from "../time-parameter.js";

export function commandsRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/commands",
    operationId: "listCommands",
    summary: "Downlink commands sent",
    description: "Commands sent to nodes (npm run cmd), oldest first, in pages, with their outcome; `device` keeps one node's.",
    tag: "operations",
    access: "staff",
    query: parameters({ device: { ...deviceParameter, description: `only this device's commands: ${String(deviceParameter.description)}` }, limit: limitParameter, cursor: cursorParameter }),
    ok: { description: "a page of commands", schema: pageSchema("commands", commandSchema) },
    notFound: "no such device (the device parameter)",
    async handle(request) {
      const query = request.query as { device?: string; limit: number; cursor?: string };
      if (query.device !== undefined) await knownDevice(context, query.device);
      const scope = cursorScope("commands", { device: query.device });
      const page = await context.db.commands({ device: query.device, limit: query.limit, cursor: decodeCursor(scope, query.cursor) });
      const next = encodeCursor(scope, page.cursor);
      const commands = page.items.map((c) => ({ device: c.device, name: c.name, args: c.args, counter: c.counter, sentAt: isoMs(c.sentAtMs), outcome: c.outcome ?? null }));
      return { kind: "json", body: { commands, cursor: next ?? null }, next };
    },
  };
}
