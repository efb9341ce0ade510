/**
 * A public page for every node (issue 14), served beside the API under its hooks, to anyone, no
 * token:
 *
 *   GET /nodes/<device>                  the node's disclosure for a resident (public-page-html.ts):
 *                                        server-rendered HTML, no script; 404 page for a device the
 *                                        collector does not know; a page saying so for a node
 *                                        without a disclosure yet
 *   GET /nodes/<device>/disclosure.json  the disclosure document as the node published it, with
 *                                        the API's Disclosure-Verified and -Verification headers
 *                                        (the same route as GET /api/nodes/{device}/disclosure)
 *   GET /nodes/<device>/qr.svg           the page's QR code alone, for the city's sign printer
 *   GET /assets/public.css, /assets/public-icon.svg
 *
 * The page's address, in its QR code and printed on it, is what the city prints on the lamppost.
 * Behind a reverse proxy the request's Host is the proxy's view of the collector, not the public
 * one, so a city gives `publicBaseUrl` (https://sensors.example.city, or with a path prefix); only
 * without one is the address taken from the request (its Host header when it is a well-formed
 * host, else the address the request came in on). X-Forwarded-* headers are never believed: any
 * client could send them.
 *
 * The pages forbid everything but their own stylesheet and icon (PUBLIC_CSP): no script at all,
 * no inline style, no frame, no form; the rest of the security headers are the API server's.
 *
 * Example (the collector's service: collector-service.ts passes it on from the CLI):
 *   startApi({ ..., pages: [publicPages({ publicBaseUrl: "https://sensors.example.city" })] })
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { knownDevices, type ApiContext } from "../api/api-route.js";
import { newestSummary, verificationOf } from "../api/node-entry.js";
import { nodeDisclosureRoute } from "../api/routes/node-disclosure.js";
import { ID_PATTERN } from "../api/api-schemas.js";
import { qrCodeMarkup, qrCodeSvg } from "./qr-code.js";
import { PUBLIC_ICON, PUBLIC_ICON_PATH, PUBLIC_STYLESHEET, PUBLIC_STYLESHEET_PATH } from "./public-assets.js";
import { DisclosureReadError, readDisclosure, type ResidentDisclosure } from "./public-disclosure.js";
import { notFoundPageHtml, publicPageHtml } from "./public-page-html.js";
import type { WebPages } from "./web-pages.js";

/** Nothing but the collector's own stylesheet and images; no script, no frame, no form, no base. */
export const PUBLIC_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** The audit events the page lists as the policy's history (src/uplink/policy-update-receiver.ts). */
export const POLICY_HISTORY_EVENTS = ["policy-updated", "policy-refused"] as const;
/** Health reports holding a policy entry that the page reads, newest first: a bound on a page's work whatever a node sent. */
const POLICY_HISTORY_REPORTS = 200;

const DEVICE_ID = new RegExp(ID_PATTERN);
/** A Host header worth repeating: a DNS name or an IP literal, and an optional port (RFC 9110 section 7.2). */
const HOST_HEADER = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?$/i;

export interface PublicPageOptions {
  /**
   * Where residents reach the collector's pages, as the city publishes it: an http(s) URL without
   * query or fragment, optionally with a path prefix (https://example.city/sensors). The page of
   * lamp-1 is then <publicBaseUrl>/nodes/lamp-1. Default: from each request.
   */
  readonly publicBaseUrl?: string;
}

export class PublicBaseUrlError extends Error {
  override name = "PublicBaseUrlError";
}

/** The public pages' module for startApi's `pages`; throws PublicBaseUrlError for a publicBaseUrl that is no such URL. */
export function publicPages(options: PublicPageOptions = {}): WebPages {
  const base = options.publicBaseUrl === undefined ? undefined : publicBaseUrl(options.publicBaseUrl);
  return (app, context) => {
    const publicRoute = { config: { access: "public" as const } };
    const disclosureRoute = nodeDisclosureRoute(context);

    app.get(PUBLIC_STYLESHEET_PATH, publicRoute, async (_request, reply) => reply.type("text/css; charset=utf-8").send(PUBLIC_STYLESHEET));
    app.get(PUBLIC_ICON_PATH, publicRoute, async (_request, reply) => reply.type("image/svg+xml; charset=utf-8").send(PUBLIC_ICON));

    app.get("/nodes/:device", publicRoute, async (request, reply) => {
      const device = (request.params as { device: string }).device;
      const known = await knownDevice(context, device);
      reply.header("Content-Security-Policy", PUBLIC_CSP);
      if (!known) return reply.code(404).type("text/html; charset=utf-8").send(notFoundPageHtml(device));
      const newest = known.lastWindowStart === undefined ? undefined : await newestSummary(context, device, known.lastWindowStart);
      const verification = await verificationOf(context, device, newest);
      const stored = await context.disclosures?.disclosure(device);
      let disclosure: ResidentDisclosure | undefined;
      let unreadable = false;
      try {
        disclosure = stored === undefined ? undefined : readDisclosure(stored.document);
      } catch (error) {
        if (!(error instanceof DisclosureReadError)) throw error;
        unreadable = true;
      }
      const [policyRuns, policyEntries] = await Promise.all([
        context.db.policiesProducedUnder(device),
        context.db.auditEntries(device, { events: POLICY_HISTORY_EVENTS, limit: POLICY_HISTORY_REPORTS }),
      ]);
      const address = pageAddress(request, device, base);
      const forgedAtMs = context.disclosures?.forgedAtMs?.(device);
      const page = publicPageHtml({
        device,
        zone: known.zone,
        address,
        qrCode: await qrCodeMarkup(address),
        verification,
        disclosure,
        ...(unreadable ? { unreadable } : {}),
        ...(stored === undefined ? {} : { disclosedAtMs: stored.receivedAtMs }),
        ...(forgedAtMs === undefined ? {} : { forgedAtMs }),
        policyRuns,
        policyEntries,
      });
      return reply.type("text/html; charset=utf-8").send(page);
    });

    app.get("/nodes/:device/disclosure.json", publicRoute, async (request, reply) => {
      const device = (request.params as { device: string }).device;
      if (!(await knownDevice(context, device))) return notFound(reply, `no device ${device}`);
      const response = await disclosureRoute.handle({ params: { device }, query: {}, accept: request.headers.accept });
      if (response.kind !== "bytes") throw new TypeError("the disclosure route answers with the document's bytes");
      return reply.headers(response.headers ?? {}).type(response.type).send(Buffer.from(response.body));
    });

    app.get("/nodes/:device/qr.svg", publicRoute, async (request, reply) => {
      const device = (request.params as { device: string }).device;
      if (!(await knownDevice(context, device))) return notFound(reply, `no device ${device}`);
      return reply
        .type("image/svg+xml; charset=utf-8")
        .header("Content-Disposition", `inline; filename="${device}-qr.svg"`)
        .send(await qrCodeSvg(pageAddress(request, device, base)));
    });
  };
}

/** The device's row when the collector knows it (its database or its keyring); never for a malformed id. */
async function knownDevice(context: ApiContext, device: string) {
  return DEVICE_ID.test(device) ? (await knownDevices(context)).get(device) : undefined;
}

function notFound(reply: FastifyReply, message: string): FastifyReply {
  return reply.code(404).type("application/json; charset=utf-8").send({ error: "not-found", message });
}

/** The page's absolute address: under the public base URL, or where the request says it was sent. */
export function pageAddress(request: FastifyRequest, device: string, base: string | undefined): string {
  const path = `/nodes/${encodeURIComponent(device)}`;
  if (base !== undefined) return `${base}${path}`;
  const host = request.headers.host;
  if (host !== undefined && HOST_HEADER.test(host)) return `${request.protocol}://${host.toLowerCase()}${path}`;
  const { localAddress, localPort } = request.socket;
  const literal = localAddress?.includes(":") ? `[${localAddress}]` : (localAddress ?? "localhost");
  return `${request.protocol}://${literal}:${localPort}${path}`;
}

/** `text` as an origin and path prefix without a trailing slash; PublicBaseUrlError naming what is wrong. */
export function publicBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new PublicBaseUrlError(`publicBaseUrl ${JSON.stringify(text)}: expected an absolute http(s) URL, e.g. https://sensors.example.city`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new PublicBaseUrlError(`publicBaseUrl ${JSON.stringify(text)}: must be http or https, not ${url.protocol.slice(0, -1)}`);
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    throw new PublicBaseUrlError(`publicBaseUrl ${JSON.stringify(text)}: must have no query, fragment or credentials: the pages' addresses are built under it`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}
