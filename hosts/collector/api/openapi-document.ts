/**
 * The API's OpenAPI 3.1 document, written from the routes' own descriptions (api-route.ts): the
 * parameter schemas fastify validates with and the response schemas it serializes with. Schema
 * objects in OpenAPI 3.1 are JSON Schema 2020-12 (OpenAPI 3.1.1 section 4.8.24), so they are used
 * as they are, without translation.
 */
import type { ApiRoute } from "./api-route.js";
import { errorSchema, type JsonSchema, type ParameterSchema } from "./api-schemas.js";

const JSON_TYPE = "application/json";
const CSV_TYPE = "text/csv";

const ERROR_RESPONSES: Record<number, string> = {
  400: "a parameter is unknown or not valid: the body names it and its rule",
  401: "no bearer token, or not the collector's",
  500: "a defect: the body gives the request id under which it was logged",
  503: "the database cannot be reached; try again later",
};

export function openApiDocument(routes: readonly ApiRoute[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    paths[route.path] = { ...paths[route.path], get: operation(route) };
  }
  return {
    openapi: "3.1.1",
    info: {
      title: "civicnode collector API",
      version,
      summary: "Window summaries, health, rejections, alerts and commands of a civicnode street, and its nodes' public disclosures",
      description:
        "Public endpoints (the node list, disclosures, this document) need no credential. Staff endpoints need " +
        "`Authorization: Bearer <token>`, the token being the content of `api-token` in the collector's state folder. " +
        "Lists come in pages: the items under one key and `cursor` beside them (null on the last page); pass it back as " +
        "`cursor` with the other parameters unchanged. Times are Unix seconds or RFC 3339 date-times. See docs/api.md.",
      license: { name: "MIT", identifier: "MIT" },
    },
    jsonSchemaDialect: "https://json-schema.org/draft/2020-12/schema",
    servers: [{ url: "/" }],
    tags: [
      { name: "nodes", description: "public: what is on the street and what it discloses" },
      { name: "summaries", description: "staff: the data" },
      { name: "operations", description: "staff: health, rejections, alerts, commands" },
      { name: "meta", description: "this document" },
    ],
    components: {
      securitySchemes: { staffToken: { type: "http", scheme: "bearer", description: "the token in <state>/api-token" } },
      schemas: { Error: errorSchema },
    },
    paths,
  };
}

function operation(route: ApiRoute): Record<string, unknown> {
  const content: Record<string, unknown> = { [route.ok.mediaType ?? JSON_TYPE]: { schema: route.ok.schema } };
  if (route.ok.csv) content[CSV_TYPE] = { schema: { type: "string", description: "RFC 4180 CSV, a header row then one row per statistic" } };
  const responses: Record<string, unknown> = {
    200: { description: route.ok.description, content, ...(route.ok.csv ? { headers: { Link: linkHeader } } : pagedHeaders(route.ok.schema)) },
  };
  // Every route refuses an unknown parameter, so every one documents a 400.
  const statuses = [400, ...(route.notFound === undefined ? [] : [404]), ...(route.access === "staff" ? [401] : []), 500, 503];
  for (const status of statuses) {
    const description = status === 404 ? route.notFound! : ERROR_RESPONSES[status];
    responses[status] = { description, content: { [JSON_TYPE]: { schema: { $ref: "#/components/schemas/Error" } } } };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    description: route.description,
    tags: [route.tag],
    security: route.access === "staff" ? [{ staffToken: [] }] : [],
    parameters: [...parametersOf(route.params, "path"), ...parametersOf(route.query, "query")],
    responses,
  };
}

const linkHeader = { description: 'the next page: <url>; rel="next" (RFC 8288); absent on the last page', schema: { type: "string" } };

/** A paged list also names its next page in a Link header. */
function pagedHeaders(schema: JsonSchema): Record<string, unknown> {
  const properties = schema.properties as Record<string, unknown> | undefined;
  return properties && "cursor" in properties ? { headers: { Link: linkHeader } } : {};
}

function parametersOf(schema: ParameterSchema | undefined, location: "path" | "query"): Array<Record<string, unknown>> {
  if (!schema) return [];
  return Object.entries(schema.properties).map(([name, property]) => {
    const { description, ...rest } = property as { description?: string };
    return { name, in: location, required: location === "path" || (schema.required ?? []).includes(name), description, schema: rest };
  });
}
