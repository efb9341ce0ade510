/**
 * The collector's HTTP API (docs/api.md): JSON over HTTP/1.1 on fastify 5, read-only, over the
 * collector's database. One route per module in routes/, each described once (api-route.ts) and
 * registered here from its description, which also writes /api/openapi.json.
 *
 *   request -> route found? (404) -> staff route: bearer token or session cookie? (401) -> parameters valid? (400,
 *     by the route's JSON Schema) -> handle (404 for an unknown device) -> response shaped by its
 *     schema -> security headers
 *
 * Nothing answers with a stack trace or an error's own text: a defect is a 500 carrying a request
 * id, and the defect is logged under that id. A database that cannot be reached is a 503.
 * Headers on every answer: `X-Content-Type-Options: nosniff`, a Content-Security-Policy that
 * allows nothing (an HTML page, when there is one, brings its own), `Referrer-Policy: no-referrer`;
 * `Cache-Control: no-store` on staff data and every error, `no-cache` on public answers.
 *
 * It listens on a free port of 127.0.0.1 unless told otherwise. The token's path is logged, never
 * its value. A browser gets in with a one-time login link instead (staffLoginUrl, redeemed at
 * /login by the dashboard's pages for a session cookie the staff routes admit: staff-sessions.ts).
 * GET /api/events is a stream (routes/events.ts): handed the raw response, closed at close().
 *
 * What a host needs to serve it (hosts/collector/collector-service.ts does this for `npm start`
 * and `npm run collector`):
 *   startApi(options: ApiOptions)   db (opened, migrated: the API only reads), tokenFile (required:
 *                                   `<state>/${API_TOKEN_FILE}`, made on first run), and optional
 *                                   keyring, disclosures, host, port, log, now, policyGraceMs;
 *                                   resolves once listening, rejects with ApiTokenError or the
 *                                   listen error
 *   API_TOKEN_FILE                  from ./api-token.ts: "api-token"
 *   parseHttpAddress(text)          from ./http-address.ts: `--http HOST:PORT` -> { host, port },
 *                                   HttpAddressError saying what is wrong; `--http off` is the
 *                                   caller's to recognise (no API at all); DEFAULT_HTTP_ADDRESS is
 *                                   127.0.0.1 on port 0 (a free one)
 *   ApiServer                       url (print it), tokenFile (print it, never its content),
 *                                   staffLoginUrl() (print it: a fresh one-time link), close()
 *
 * Example:
 *   const api = await startApi({ db, keyring, tokenFile: join(stateDir, API_TOKEN_FILE), log });
 *   console.log(`API on ${api.url}/api/nodes, staff token in ${api.tokenFile}`);
 *   await api.close();
 */
import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import { fastify, type FastifyReply, type FastifyRequest, type FastifySchema } from "fastify";
import type { Log } from "../../../src/platform.js";
import type { CollectorDb } from "../db/collector-db.js";
import { CollectorDbError } from "../db/db-errors.js";
import { QueryParameterError } from "../db/page-cursor.js";
import type { Keyring } from "../keyring.js";
import { ApiError, validationError } from "./api-errors.js";
import type { Access, ApiContext, ApiRequest, ApiResponse, ApiRoute, DisclosureSource } from "./api-route.js";
import { errorSchema } from "./api-schemas.js";
import { ApiToken } from "./api-token.js";
import { StaffSessions } from "./staff-sessions.js";
import { DEFAULT_HTTP_ADDRESS, isLoopback } from "./http-address.js";
import { openApiDocument } from "./openapi-document.js";
import { alertsRoute } from "./routes/alerts.js";
import { commandsRoute } from "./routes/commands.js";
import { eventsRoute, isStreamRoute, type StreamRoute } from "./routes/events.js";
import { nodeAuditRoute } from "./routes/node-audit.js";
import { nodeMessagesRoute } from "./routes/node-messages.js";
import { streetRoute } from "./routes/street.js";
import { operatorKeyRoute } from "./routes/operator-key.js";
import { nodeDisclosureRoute } from "./routes/node-disclosure.js";
import { nodeHealthRoute } from "./routes/node-health.js";
import { nodeSummariesRoute } from "./routes/node-summaries.js";
import { nodeVerificationRoute } from "./routes/node-verification.js";
import { nodesRoute } from "./routes/nodes.js";
import { openApiRoute } from "./routes/openapi.js";
import { rejectionsRoute } from "./routes/rejections.js";
import { zoneSummariesRoute } from "./routes/zone-summaries.js";
import type { WebPages } from "../web/web-pages.js";

/** The API's own version, in its OpenAPI document: its major number changes when a client would break. */
export const API_VERSION = "1.0.0";

/** Nothing at all: the API serves no HTML (the pages of web/ set their own policy). */
const STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** A request's whole exchange: a slow client cannot hold a connection open for longer. */
const REQUEST_TIMEOUT_MS = 30_000;
/** The API takes no bodies (every route is a GET): anything longer is refused before it is read. */
const BODY_LIMIT_BYTES = 1024;
/** Seconds a 503 asks the client to wait. */
const RETRY_AFTER_S = 5;

export interface ApiOptions {
  readonly db: CollectorDb;
  /** Devices provisioned but not yet in the database are known too (empty lists rather than 404). */
  readonly keyring?: Keyring;
  /** Where disclosures are kept; without one, every disclosure is a 404. */
  readonly disclosures?: DisclosureSource;
  /** The operator's public key, served at /api/operator. */
  readonly operatorKey?: Uint8Array;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** The token file, `<state>/api-token` (API_TOKEN_FILE): made on first run. */
  readonly tokenFile: string;
  readonly log?: Log;
  /** The time now (Unix ms), for node status; default Date.now. */
  readonly now?: () => number;
  /** The collector's policyMismatchGraceMs, so that a node's verification judges as its alerts do; default 15 minutes. */
  readonly policyGraceMs?: number;
  /** The HTML pages served beside the API (hosts/collector/web/web-pages.ts); default none. */
  readonly pages?: readonly WebPages[];
}

export interface ApiServer {
  /** Where it listens: http://127.0.0.1:41234 (no trailing slash). */
  readonly url: string;
  readonly tokenFile: string;
  /**
   * A link that logs one browser in as staff: `<url>/login?code=<a fresh one-time code>`, valid
   * for LOGIN_CODE_MS and once (staff-sessions.ts; the dashboard serves /login). Print it; it is
   * not the token, which is never printed.
   */
  staffLoginUrl(): string;
  /** The routes it serves ("GET /api/nodes/:device/summaries"), as fastify registered them. */
  readonly routes: readonly string[];
  close(): Promise<void>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
  }
  interface FastifyInstance {
    /** The staff sessions a page module logs browsers in with (/login: web/dashboard-pages.ts). */
    staffSessions: StaffSessions;
  }
}

/** The headers every answer carries, for a stream that writes its own (onSend does not run for it). */
const STREAM_HEADERS: Readonly<Record<string, string>> = { "X-Content-Type-Options": "nosniff", "Content-Security-Policy": STRICT_CSP, "Referrer-Policy": "no-referrer" };

/** Starts the API; throws ApiTokenError for a token file it cannot read or make, or the listen error. */
export async function startApi(options: ApiOptions): Promise<ApiServer> {
  const log: Log = options.log ?? (() => {});
  const { token, created } = ApiToken.loadOrCreate(options.tokenFile);
  if (created) log("info", "api-token-created", { path: token.path });
  if (token.exposed) log("warn", "api-token-exposed", { path: token.path, advice: `chmod 600 ${token.path}: others can read the staff token` });
  const sessions = new StaffSessions((authorization) => token.admits(authorization));

  const context: ApiContext = {
    db: options.db,
    keyring: options.keyring,
    disclosures: options.disclosures,
    operatorKey: options.operatorKey,
    now: options.now ?? Date.now,
    ...(options.policyGraceMs === undefined ? {} : { policyGraceMs: options.policyGraceMs }),
  };
  const routes: ApiRoute[] = [
    nodesRoute(context),
    nodeDisclosureRoute(context),
    nodeVerificationRoute(context),
    operatorKeyRoute(context),
    nodeSummariesRoute(context),
    zoneSummariesRoute(context),
    nodeHealthRoute(context),
    rejectionsRoute(context),
    alertsRoute(context),
    commandsRoute(context),
    streetRoute(context),
    nodeMessagesRoute(context),
    nodeAuditRoute(context),
    eventsRoute(context, log),
  ];
  let document: Record<string, unknown> = {};
  routes.push(openApiRoute(() => document));
  document = openApiDocument(routes, API_VERSION);

  const app = fastify({
    logger: false,
    genReqId: () => randomUUID(),
    requestIdHeader: false, // a client does not choose the id its defect is logged under
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    forceCloseConnections: true,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 64, ignoreTrailingSlash: false },
    ajv: {
      // Unknown parameters are refused, not dropped (a typo would silently widen a query); one
      // error at a time, about one parameter; query strings are text, coerced to the schema's types.
      customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false, useDefaults: true },
    },
  });

  const registered: string[] = [];
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) if (method !== "HEAD") registered.push(`${method} ${route.url}`);
  });

  app.addHook("onRequest", async (request, reply) => {
    if (request.routeOptions.config.access !== "staff") return;
    if (token.admits(request.headers.authorization)) return;
    // A browser logged in at /login (staff-sessions.ts): its session cookie, never from another site.
    if (sessions.admits(request.headers.cookie, request.headers["sec-fetch-site"])) return;
    // RFC 6750 section 3: the scheme and, when a token was sent, that it was refused.
    const sent = request.headers.authorization !== undefined;
    // The file's name only: where the state folder is on the server is none of an anonymous client's business.
    reply.header("WWW-Authenticate", sent ? 'Bearer realm="civicnode", error="invalid_token"' : 'Bearer realm="civicnode"');
    return reply.code(401).send({ error: "unauthorized", message: `this endpoint is for city staff: send Authorization: Bearer <the token in ${basename(token.path)} in the collector's state folder>` });
  });

  app.addHook("onSend", async (request, reply) => {
    reply.header("X-Content-Type-Options", "nosniff");
    if (!reply.hasHeader("Content-Security-Policy")) reply.header("Content-Security-Policy", STRICT_CSP);
    reply.header("Referrer-Policy", "no-referrer");
    const publicAnswer = request.routeOptions.config.access === "public" && reply.statusCode < 400;
    reply.header("Cache-Control", publicAnswer ? "no-cache" : "no-store");
  });

  // No route takes a body: whatever one comes with (an unmatched POST, a DELETE with an empty JSON
  // body) is read up to the limit and dropped, so the answer is the route's (a 404), not a parser's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, _body, done) => done(null, undefined));

  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: "not-found", message: "no such endpoint: the API's endpoints are listed in /api/openapi.json" });
  });

  app.setErrorHandler((error, request, reply) => {
    const failure = error instanceof ApiError ? error : asApiError(error, request, log);
    if (failure.status === 503) reply.header("Retry-After", String(RETRY_AFTER_S));
    void reply.code(failure.status).send(failure.body);
  });

  const streams = routes.filter(isStreamRoute);
  // Before the server stops taking connections: an open stream would hold the process.
  app.addHook("preClose", async () => {
    for (const stream of streams) stream.close();
  });

  for (const route of routes) {
    app.get(fastifyPath(route.path), { schema: fastifySchema(route), config: { access: route.access } }, async (request, reply) => {
      if (isStreamRoute(route)) return openStream(route, request, reply);
      const apiRequest: ApiRequest = {
        params: request.params as Record<string, unknown>,
        query: request.query as Record<string, unknown>,
        accept: request.headers.accept,
      };
      return send(reply, request, await route.handle(apiRequest));
    });
  }
  // The HTML pages, under the same hooks (the token for staff pages, the security headers).
  app.decorate("staffSessions", sessions);
  for (const pages of options.pages ?? []) pages(app, context);

  const url = await app.listen({ host: options.host ?? DEFAULT_HTTP_ADDRESS.host, port: options.port ?? DEFAULT_HTTP_ADDRESS.port });
  sessions.listening(Number(new URL(url).port));
  const host = options.host ?? DEFAULT_HTTP_ADDRESS.host;
  if (!isLoopback(host)) log("warn", "api-not-loopback", { host, advice: "the API speaks plain HTTP: serve it beyond this machine only behind a TLS reverse proxy" });
  log("info", "api-listening", { url, tokenFile: token.path });
  return {
    url,
    tokenFile: token.path,
    routes: registered,
    staffLoginUrl: () => `${url}/login?code=${sessions.issueCode()}`,
    close: () => app.close(),
  };
}

/** Hands the response to an event stream, or answers 503 when it has as many clients as it takes. */
function openStream(route: StreamRoute, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (request.method === "HEAD") return reply.type("text/event-stream; charset=utf-8").send("");
  if (!route.hasRoom) throw new ApiError(503, { error: "unavailable", message: `${route.path} has as many listeners as it takes: try again in a few seconds` });
  reply.hijack();
  route.attach(reply.raw, STREAM_HEADERS);
  return reply;
}

/** /api/nodes/{device} -> /api/nodes/:device */
function fastifyPath(path: string): string {
  return path.replace(/\{([a-z]+)\}/gi, ":$1");
}

function fastifySchema(route: ApiRoute): FastifySchema {
  const response: Record<number, unknown> = {};
  if (route.ok.mediaType === undefined) {
    response[200] = route.ok.csv ? { content: { "application/json": { schema: route.ok.schema }, "text/csv": { schema: { type: "string" } } } } : route.ok.schema;
  }
  for (const status of [400, ...(route.notFound === undefined ? [] : [404]), 401, 500, 503]) response[status] = errorSchema;
  return {
    ...(route.params ? { params: route.params } : {}),
    querystring: route.query ?? { type: "object", properties: {}, additionalProperties: false },
    response,
  };
}

function send(reply: FastifyReply, request: FastifyRequest, response: ApiResponse): FastifyReply {
  if (response.kind === "bytes") return reply.headers(response.headers ?? {}).type(response.type).send(Buffer.from(response.body));
  if (response.next !== undefined) reply.header("Link", `<${nextPageUrl(request.url, response.next)}>; rel="next"`);
  if (response.kind === "csv") return reply.type("text/csv; charset=utf-8; header=present").send(response.body);
  return reply.type("application/json; charset=utf-8").send(response.body);
}

/** The request's own path and query, with the next page's cursor. */
function nextPageUrl(requestUrl: string, cursor: string): string {
  const url = new URL(requestUrl, "http://api.invalid");
  url.searchParams.set("cursor", cursor);
  return `${url.pathname}${url.search}`;
}

/**
 * What fastify or a route threw, other than an ApiError: a refused parameter (400), a request
 * fastify would not take (its 4xx), a database out of reach (503), or a defect (500, logged).
 */
function asApiError(error: unknown, request: FastifyRequest, log: Log): ApiError {
  const fault = error as { validation?: unknown; validationContext?: string; statusCode?: unknown; code?: unknown };
  if (Array.isArray(fault.validation)) {
    const schema = fault.validationContext === "params" ? request.routeOptions.schema?.params : request.routeOptions.schema?.querystring;
    return validationError(fault.validation, fault.validationContext, schema as Parameters<typeof validationError>[2]);
  }
  if (typeof fault.statusCode === "number" && fault.statusCode >= 400 && fault.statusCode < 500) {
    return new ApiError(fault.statusCode, { error: "bad-request", message: `the request was refused (HTTP ${fault.statusCode})` });
  }
  if (error instanceof QueryParameterError) {
    // The store's own check of what it was asked (the API checks first, so this is rare).
    return ApiError.badParameter(error.parameter, "query", error.message);
  }
  if (error instanceof CollectorDbError && (error.failure === "unavailable" || error.failure === "busy")) {
    log("warn", "api-db-unavailable", { requestId: request.id, route: request.routeOptions.url ?? "", code: error.code });
    return new ApiError(503, { error: "unavailable", message: `the database cannot be reached (${error.failure}): try again in a few seconds` });
  }
  const { name, message, stack } = (error ?? {}) as { name?: unknown; message?: unknown; stack?: unknown };
  log("error", "api-defect", {
    requestId: request.id,
    method: request.method,
    route: request.routeOptions.url ?? "",
    error: `${String(name ?? "Error")}: ${String(message ?? error)}`.slice(0, 500),
    stack: typeof stack === "string" ? stack.split("\n").slice(1, 6).join(" | ").slice(0, 800) : "",
  });
  return new ApiError(500, { error: "internal", message: `an internal error: it is logged under request id ${request.id}`, requestId: request.id });
}
