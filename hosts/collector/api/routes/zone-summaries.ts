/** GET /api/zones/{zone}/summaries: the window summaries of every node of a zone (staff). */
import { knownZone, type ApiContext, type ApiRoute } from "../api-route.js";
import { parameters, zoneParameter } from "../api-schemas.js";
import { SUMMARIES_DESCRIPTION, summariesPage, summariesQuery, summariesResponse } from "./summaries-page.js";

export function zoneSummariesRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/zones/{zone}/summaries",
    operationId: "listZoneSummaries",
    summary: "The window summaries of a zone's nodes",
    description: `${SUMMARIES_DESCRIPTION} Windows of several nodes that start together come in the order of their device ids.`,
    tag: "summaries",
    access: "staff",
    params: parameters({ zone: zoneParameter }, ["zone"]),
    query: summariesQuery,
    ok: { description: "a page of summaries", schema: summariesPage, csv: true },
    notFound: "no device in that zone",
    async handle(request) {
      const zone = request.params.zone as string;
      await knownZone(context, zone);
      return summariesResponse(context, request, { zone });
    },
  };
}
