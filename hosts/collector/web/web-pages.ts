/**
 * The collector's HTML pages and their assets, served by the API's server beside /api (issue 14):
 * each module registers its own routes on the fastify instance, under the server's hooks (the staff
 * token for `config: { access: "staff" }` routes, the security and cache headers). A page sets its
 * own Content-Security-Policy; without one an answer gets the API's, which allows nothing.
 *
 * A module: `(app, context) => void`, registering with `app.get(path, { config: { access } }, handler)`.
 */
import type { FastifyInstance } from "fastify";
import type { Log } from "../../../src/platform.js";
import type { ApiContext } from "../api/api-route.js";
import { dashboardPages } from "./dashboard-pages.js";
import { publicPages } from "./public-page.js";

export type WebPages = (app: FastifyInstance, context: ApiContext) => void;

export interface CollectorPagesOptions {
  /** The address the public pages (and their QR codes) are published under: `--public-url`. */
  readonly publicBaseUrl?: string;
  readonly log?: Log;
}

/** Every page module of the collector, in the order they register; throws PublicBaseUrlError for a bad publicBaseUrl. */
export function collectorPages(options: CollectorPagesOptions = {}): WebPages[] {
  return [
    dashboardPages(options.log === undefined ? {} : { log: options.log }),
    publicPages(options.publicBaseUrl === undefined ? {} : { publicBaseUrl: options.publicBaseUrl }),
  ];
}
