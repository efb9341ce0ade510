/**
 * GET /api/nodes/{device}/disclosure: what the node says it collects and why, its privacy
 * parameters and its retention (public): the document exactly as the operator signed it and the
 * node published it (src/policy/disclosure.ts, docs/wire-format.md "Disclosure document"). The
 * header `Disclosure-Verified` says whether its signature held under the operator's key
 * (disclosure-store.ts); `Disclosure-Verification` whether, beyond that, the node's newest summary
 * was produced under the policy it names (node-verification.ts: verified, awaiting-summary,
 * mismatch, ...). A forgery published since is never served in its place.
 */
import { knownDevices, type ApiContext, type ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { deviceParameter, parameters } from "../api-schemas.js";
import { newestSummary, verificationOf } from "../node-entry.js";

export function nodeDisclosureRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/disclosure",
    operationId: "getNodeDisclosure",
    summary: "A node's public disclosure",
    description:
      "The node's disclosure document (format civicnode-disclosure, version 2: the signed policy it runs on, accountable, purposes, " +
      "published location, technology, data types with their privacy parameters, processing, storage, access, retention), the payload " +
      "of the COSE_Sign1 the node published. Header Disclosure-Verified: true when its signature holds under the operator's key " +
      "(GET /api/operator), false when the collector has no key to check it with. Header Disclosure-Verification: the node's verification " +
      "(GET /api/nodes/{device}/verification): verified only when the signature holds and the newest summary was produced under the policy it names. 404 until one is stored.",
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
      const row = (await knownDevices(context)).get(request.params.device as string);
      if (!row) throw ApiError.notFound(`no device ${request.params.device as string}`);
      const stored = await context.disclosures?.disclosure(row.device);
      if (stored === undefined) throw ApiError.notFound(`no disclosure of ${row.device} stored yet`);
      const newest = row.lastWindowStart === undefined ? undefined : await newestSummary(context, row.device, row.lastWindowStart);
      const { state } = await verificationOf(context, row.device, newest);
      return { kind: "bytes", body: stored.document, type: "application/json; charset=utf-8", headers: { "disclosure-verified": String(stored.verified), "disclosure-verification": state } };
    },
  };
}
