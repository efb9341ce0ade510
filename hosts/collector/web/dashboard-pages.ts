/**
 * The staff dashboard (issue 14), served by the collector at `/` beside the API (web-pages.ts):
 *
 *   GET /                          the page: a shell, its own Content-Security-Policy (dashboard-html.ts)
 *   GET /dashboard/dashboard.js    the browser code, bundled at start (dashboard-bundle.ts)
 *   GET /dashboard/dashboard.css   its stylesheet; /dashboard/uplot.css uPlot's; /dashboard/icon.svg
 *   GET /login?code=<code>         redeems a one-time login code (ApiServer.staffLoginUrl prints
 *                                  the link): a session cookie, then 303 to /; an unknown, used or
 *                                  expired code: 303 to /?login=expired
 *   GET /login with the bearer token  (the page's login form) opens a session the same way: 204
 *   GET /logout                    ends the session: 303 to /
 *   GET /login/status              {"staff": true|false}: whether this browser has a session (the
 *                                  page asks before it asks the staff API, so a visitor without one
 *                                  sees the login, not a failed request)
 *
 * The page and its assets are public: they hold no data (the script reads it from the staff API,
 * whose routes admit the session cookie: staff-sessions.ts). /login and /logout are neither public
 * data nor staff data (/login/status too): their answers are never cached (no-store), and they
 * need nothing to be called.
 */
import type { FastifyReply } from "fastify";
import type { Log } from "../../../src/platform.js";
import type { WebPages } from "./web-pages.js";
import { buildDashboardAssets, type DashboardAssets } from "./dashboard-bundle.js";
import { DASHBOARD_CSP, DASHBOARD_HTML, DASHBOARD_ICON } from "./dashboard-html.js";

export interface DashboardPagesOptions {
  /** Where a bundle that cannot be built is logged. */
  readonly log?: Log;
  /** The assets, when already built (tests that start many servers); default: built at registration. */
  readonly assets?: Promise<DashboardAssets>;
}

const loginQuery = {
  type: "object",
  properties: { code: { type: "string", pattern: "^[A-Za-z0-9_-]{1,64}$", description: "the one-time login code the collector printed" } },
  additionalProperties: false,
} as const;

export function dashboardPages(options: DashboardPagesOptions = {}): WebPages {
  return (app) => {
    const log = options.log ?? (() => {});
    let logged = false;
    const assets = options.assets ?? buildDashboardAssets();
    // Never an unhandled rejection: a bundle that cannot be built is answered (503) and logged when asked for.
    assets.catch(() => undefined);
    const asset = async (reply: FastifyReply, type: string, pick: (a: DashboardAssets) => string) => {
      let built: DashboardAssets;
      try {
        built = await assets;
      } catch (error) {
        if (!logged) log("error", "dashboard-bundle-failed", { message: String((error as Error)?.message ?? error).slice(0, 500) });
        logged = true;
        return reply.code(503).header("Retry-After", "60").send({ error: "unavailable", message: "the dashboard's script could not be built from hosts/collector/web/dashboard-client: is that folder deployed beside dist/?" });
      }
      return reply.type(type).send(pick(built));
    };
    const page = { config: { access: "public" as const } };

    app.get("/", page, async (_request, reply) => reply.header("Content-Security-Policy", DASHBOARD_CSP).type("text/html; charset=utf-8").send(DASHBOARD_HTML));
    app.get("/dashboard/dashboard.js", page, async (_request, reply) => asset(reply, "text/javascript; charset=utf-8", (a) => a.script));
    app.get("/dashboard/dashboard.css", page, async (_request, reply) => asset(reply, "text/css; charset=utf-8", (a) => a.styles));
    app.get("/dashboard/uplot.css", page, async (_request, reply) => asset(reply, "text/css; charset=utf-8", (a) => a.uplotStyles));
    app.get("/dashboard/icon.svg", page, async (_request, reply) => reply.type("image/svg+xml").send(DASHBOARD_ICON));

    // Neither public nor staff (no access): not cached, and reachable without a credential.
    app.get("/login", { schema: { querystring: loginQuery } }, async (request, reply) => {
      const sessions = app.staffSessions;
      const { code } = request.query as { code?: string };
      if (code !== undefined) {
        const session = sessions.redeem(code);
        if (session === undefined) return reply.redirect("/?login=expired", 303);
        return reply.header("Set-Cookie", sessions.cookie(session)).redirect("/", 303);
      }
      if (request.headers.authorization !== undefined) {
        const session = sessions.openForBearer(request.headers.authorization);
        if (session === undefined) {
          return reply.code(401).header("WWW-Authenticate", 'Bearer realm="civicnode", error="invalid_token"').send({ error: "unauthorized", message: "that is not the staff token (api-token in the collector's state folder)" });
        }
        return reply.header("Set-Cookie", sessions.cookie(session)).code(204).send();
      }
      return reply.redirect("/", 303);
    });
    app.get("/login/status", { schema: { querystring: { type: "object", properties: {}, additionalProperties: false } } }, async (request, reply) =>
      reply.type("application/json; charset=utf-8").send({ staff: app.staffSessions.admits(request.headers.cookie, request.headers["sec-fetch-site"]) }),
    );
    app.get("/logout", { schema: { querystring: { type: "object", properties: {}, additionalProperties: false } } }, async (request, reply) => {
      app.staffSessions.end(request.headers.cookie);
      return reply.header("Set-Cookie", app.staffSessions.clearingCookie()).redirect("/", 303);
    });
  };
}
