/** GET /api/openapi.json: the API's own description, OpenAPI 3.1 (public). */
import type { ApiRoute } from "../api-route.js";

export function openApiRoute(document: () => unknown): ApiRoute {
  return {
    path: "/api/openapi.json",
    operationId: "getOpenApiDocument",
    summary: "This API, as an OpenAPI 3.1 document",
    description: "Written from the schemas the routes validate their parameters and shape their responses with.",
    tag: "meta",
    access: "public",
    ok: {
      description: "the OpenAPI 3.1 document",
      schema: { type: "object", required: ["openapi", "info", "paths"], properties: { openapi: { type: "string" } }, additionalProperties: true },
    },
    async handle() {
      return { kind: "json", body: document() };
    },
  };
}
