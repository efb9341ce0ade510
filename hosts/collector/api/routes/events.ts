/**
 * GET /api/events: the dashboard's live stream (staff), Server-Sent Events (live-events.ts). A
 * route like the others in its description (OpenAPI, access, parameters: none), but answered as a
 * stream on the raw response rather than by `handle`: the server (api-server.ts) hands it over
 * with `attach` once the token or a session admitted it, and closes every stream on shutdown.
 */
import type { ServerResponse } from "node:http";
import type { Log } from "../../../../src/platform.js";
import type { ApiContext, ApiRoute } from "../api-route.js";
import { parameters } from "../api-schemas.js";
import { HEARTBEAT_MS, LiveEvents, MAX_CLIENTS, MAX_QUEUED, POLL_MS, RETRY_MS, type LiveEventsOptions } from "./live-events.js";
import { storeReads } from "./store-reads.js";

/** A route answered as an event stream. */
export interface StreamRoute extends ApiRoute {
  /** Whether another stream may open now (else a 503). */
  readonly hasRoom: boolean;
  attach(response: ServerResponse, headers: Readonly<Record<string, string>>): void;
  close(): void;
}

export function isStreamRoute(route: ApiRoute): route is StreamRoute {
  return typeof (route as Partial<StreamRoute>).attach === "function";
}

export function eventsRoute(context: ApiContext, log: Log, options: LiveEventsOptions = {}): StreamRoute {
  const live = new LiveEvents(context, () => storeReads(context.db), { log, ...options });
  return {
    path: "/api/events",
    operationId: "streamEvents",
    summary: "What changes in the store, live (Server-Sent Events)",
    description:
      "A text/event-stream (HTML Living Standard, Server-Sent Events) for the dashboard: `event: ready` once it watches, then `event: node` with the device's entry of " +
      "GET /api/street each time a message of it is stored, `event: alerts` with {\"newest\": n} when an alert is recorded, and a comment every " +
      `${HEARTBEAT_MS / 1000} s. The store is looked at every ${POLL_MS / 1000} s while a client listens. At most ${MAX_CLIENTS} streams at once (then 503); ` +
      `a client that does not read gets at most ${MAX_QUEUED} events queued, then its stream is closed; \`retry\` asks it to reconnect after ${RETRY_MS / 1000} s. ` +
      "A browser's EventSource sends the session cookie of /login; other clients the bearer token.",
    tag: "operations",
    access: "staff",
    query: parameters({}),
    ok: { description: "the event stream, open until the client or the server closes it", schema: { type: "string" }, mediaType: "text/event-stream" },
    get hasRoom() {
      return live.hasRoom;
    },
    attach: (response, headers) => live.attach(response, headers),
    close: () => live.close(),
    async handle() {
      throw new TypeError("GET /api/events is served as a stream (attach), never by handle");
    },
  };
}
