/**
 * The collector's HTML pages and their assets, served by the API's server beside /api (issue 14):
 * each module registers its own routes on the fastify instance, under the server's hooks (the staff
 * token for `config: { access: "staff" }` routes, the security and cache headers). A page sets its
 * own Content-Security-Policy; without one an answer gets the API's, which allows nothing.
 *
 * A module: `(app, context) => void`, registering with `app.get(path, { config: { access } }, handler)`.
 */
import type { FastifyInstance } from "fastify";
import type { ApiContext } from "../api/api-route.js";
import { dashboardPages } from "./dashboard-pages.js";
import { publicPages } from "./public-page.js";

export type WebPages = (app: FastifyInstance, context: ApiContext) => void;

/** Every page module of the collector, in the order they register. */
export function collectorPages(): WebPages[] {
  return [
    dashboardPages(),
    publicPages(),
  ];
}
