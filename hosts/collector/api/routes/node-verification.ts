/**
 * GET /api/nodes/{device}/verification: whether what the node's public page shows is verified
 * (public): its disclosure's signature holds under the operator's key and its newest summary was
 * produced under the policy the disclosure names; or why not (../node-verification.ts).
 */
import { knownDevices, type ApiContext, type ApiRoute } from "../api-route.js";
import { ApiError } from "../api-errors.js";
import { deviceParameter, parameters, verificationSchema } from "../api-schemas.js";
import { newestSummary, verificationOf } from "../node-entry.js";

export function nodeVerificationRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/verification",
    operationId: "getNodeVerification",
    summary: "Whether a node's disclosure is verified",
    description:
      "verified only when the node's disclosure verified under the operator's key (GET /api/operator) and its newest stored summary was produced " +
      "under the policy that disclosure names (the hash the node bound into it); otherwise why not: awaiting-summary, mismatch, signature-only, " +
      "unchecked, forged, absent (docs/api.md). With the policy the disclosure names and the one the newest summary was produced under. Public.",
    tag: "nodes",
    access: "public",
    params: parameters({ device: deviceParameter }, ["device"]),
    ok: { description: "the node's verification", schema: verificationSchema },
    notFound: "no such device",
    async handle(request) {
      const row = (await knownDevices(context)).get(request.params.device as string);
      if (!row) throw ApiError.notFound(`no device ${request.params.device as string}`);
      const newest = row.lastWindowStart === undefined ? undefined : await newestSummary(context, row.device, row.lastWindowStart);
      return { kind: "json", body: { device: row.device, ...(await verificationOf(context, row.device, newest)) } };
    },
  };
}
