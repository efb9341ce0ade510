/**
 * The API's answers for what it will not serve, as JSON (errorSchema in api-schemas.ts):
 *   {"error": "bad-parameter", "parameter": "limit", "in": "query", "message": "limit must be <= 1000: the most items in one page: ..."}
 * A 400 names the parameter and its rule; a 404 names what is not there; a defect is a 500 with
 * the request id under which it was logged, and never a stack trace or an error's own text, which
 * may name files, queries or values.
 */
import type { FastifySchemaValidationError } from "fastify";
import type { ERROR_CODES, ParameterSchema } from "./api-schemas.js";

export type ErrorCode = (typeof ERROR_CODES)[number];
export type ParameterLocation = "path" | "query";

export interface ErrorBody {
  readonly error: ErrorCode;
  readonly message: string;
  readonly parameter?: string;
  readonly in?: ParameterLocation;
  readonly requestId?: string;
}

/** What a route throws to answer with an error status; anything else thrown is a defect (500). */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  readonly body: ErrorBody;

  constructor(status: number, body: ErrorBody) {
    super(body.message);
    this.status = status;
    this.body = body;
  }

  static badParameter(parameter: string, location: ParameterLocation, message: string): ApiError {
    return new ApiError(400, { error: "bad-parameter", parameter, in: location, message });
  }

  static notFound(message: string): ApiError {
    return new ApiError(404, { error: "not-found", message });
  }
}

/**
 * The 400 for a request that fastify's Ajv refused: the first error, the parameter it concerns, and
 * that parameter's rule from its schema's description (an unknown parameter: the known ones).
 */
export function validationError(errors: readonly FastifySchemaValidationError[], context: string | undefined, schema: ParameterSchema | undefined): ApiError {
  const location: ParameterLocation = context === "params" ? "path" : "query";
  const first = errors[0];
  const params = (first?.params ?? {}) as { additionalProperty?: unknown; missingProperty?: unknown };
  const known = Object.keys(schema?.properties ?? {});
  if (typeof params.additionalProperty === "string") {
    const name = params.additionalProperty;
    return ApiError.badParameter(name, location, `unknown ${location} parameter ${name}: ${known.length > 0 ? `the ${location} parameters are ${known.join(", ")}` : "this endpoint takes none"}`);
  }
  const name = typeof params.missingProperty === "string" ? params.missingProperty : (first?.instancePath ?? "").replace(/^\//, "").split("/")[0] || "(unknown)";
  const rule = schema?.properties[name]?.description;
  const what = typeof params.missingProperty === "string" ? "is required" : plainAjvMessage(first);
  return ApiError.badParameter(name, location, `${name} ${what}${typeof rule === "string" ? `: ${rule}` : ""}`);
}

/** Ajv's message, without a pattern's regular expression (the rule says it in words). */
function plainAjvMessage(error: FastifySchemaValidationError | undefined): string {
  if (error === undefined) return "is not valid";
  if (error.keyword === "pattern") return "is not in the expected form";
  if (error.keyword === "enum") return `must be one of ${((error.params as { allowedValues?: unknown[] }).allowedValues ?? []).join(", ")}`;
  return error.message ?? "is not valid";
}
