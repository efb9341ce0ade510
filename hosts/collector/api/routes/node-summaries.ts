/** GET /api/nodes/{device}/summaries: one node's window summaries (staff). */
import { knownDevice, type ApiContext, type ApiRoute } from "../api-route.js";
import { deviceParameter, parameters } from "../api-schemas.js";
import { SUMMARIES_DESCRIPTION, summariesPage, summariesQuery, summariesResponse } from "./summaries-page.js";

export function nodeSummariesRoute(context: ApiContext): ApiRoute {
  return {
    path: "/api/nodes/{device}/summaries",
    operationId: "listNodeSummaries",
    summary: "A node's window summaries",
    description: SUMMARIES_DESCRIPTION,
    tag: "summaries",
    access: "staff",
    params: parameters({ device: deviceParameter }, ["device"]),
    query: summariesQuery,
    ok: { description: "a page of summaries", schema: summariesPage, csv: true },
    notFound: "no such device",
    async handle(request) {
      const { device } = await knownDevice(context, request.params.device as string);
      return summariesResponse(context, request, { device });
    },
  };
}
