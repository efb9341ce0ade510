/**
 * GET /api/nodes/{device}/disclosure: what the node says it collects and why, its privacy
 * parameters and its retention (public): the document exactly as the operator signed it and the
 * node published it (src/policy/disclosure.ts, docs/wire-format.md "Disclosure document"). The
 * header `Disclosure-Verified` says whether its signature held under the operator's key
 * (disclosure-store.ts); a forgery published since is never served in its place.
 */
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { deviceParameter, parameters } from "../api-schemas.js";

export function nodeDisclosureRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/disclosure",
    operationId: "getNodeDisclosure",
    summary: "A node's public disclosure",
    description:
      "The node's disclosure document (format civicnode-disclosure, version 2: the signed policy it runs on, accountable, purposes, " +
      "published location, technology, data types with their privacy parameters, processing, storage, access, retention), the payload " +
      "of the COSE_Sign1 the node published. Header Disclosure-Verified: true when its signature holds under the operator's key " +
      "(GET /api/operator), false when the collector has no key to check it with. 404 until one is stored.",
    tag: "nodes",
    access: "public",
    params: parameters({ device: deviceParameter }, ["device"]),
    ok: {
      description: "the disclosure document, as published",
      schema: {
        type: "object",
        required: ["format", "version", "device", "zone"],
        properties: { format: { type: "string", enum: ["civicnode-disclosure"] }, version: { type: "integer" }, device: { type: "string" }, zone: { type: "string" } },
        additionalProperties: true,
      },
      mediaType: "application/json",
    },
    notFound: "no such device, or no disclosure of it stored yet",
    async handle(request) {
      const { device } = await knownDevice(context, request.params.device as string);
      const stored = await context.disclosures?.disclosure(device);
      if (stored === undefined) throw ApiError.notFound(`no disclosure of ${device} stored yet`);
      return { kind: "bytes", body: stored.document, type: "application/json; charset=utf-8", headers: { "disclosure-verified": String(stored.verified) } };
    },
  };
}
