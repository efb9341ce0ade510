/**
 * The cursors the API gives out: the store's cursor for the next page, bound to the query it
 * continues. A page's cursor carries a digest of the query's filters (not its `limit`, which may
 * change from page to page), so a cursor used with other filters is refused with a 400 rather than
 * read as a position in another list; it is base64url, so it goes into a URL as it is.
 *
 *   cursor = base64url(JSON ["<8-byte digest of the scope, base64url>", "<the store's cursor>"])
 *
 * The store's cursor is opaque here: a cursor that was not given out fails the digest, or its
 * JSON, long before it reaches the store.
 */
import { createHash } from "node:crypto";
import { ApiError } from "./api-errors.js";

/** The scope of a query: the route and its filters, in a fixed order. */
export function cursorScope(route: string, filters: Readonly<Record<string, string | number | undefined>>): string {
  return JSON.stringify([route, ...Object.keys(filters).sort().map((key) => [key, filters[key] ?? null])]);
}

export function encodeCursor(scope: string, inner: string | undefined): string | undefined {
  if (inner === undefined) return undefined;
  return Buffer.from(JSON.stringify([digest(scope), inner]), "utf8").toString("base64url");
}

/** The store's cursor inside `cursor`, or undefined without one; throws a 400 naming `cursor`. */
export function decodeCursor(scope: string, cursor: unknown): string | undefined {
  if (cursor === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(String(cursor), "base64url").toString("utf8"));
  } catch {
    decoded = undefined;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || typeof decoded[0] !== "string" || typeof decoded[1] !== "string") {
    throw ApiError.badParameter("cursor", "query", "cursor is not one this API gave out: pass the cursor of the previous page as it was");
  }
  if (decoded[0] !== digest(scope)) {
    throw ApiError.badParameter("cursor", "query", "cursor belongs to another query: keep the query's other parameters as they were for the first page");
  }
  return decoded[1];
}

function digest(scope: string): string {
  return createHash("sha256").update(scope, "utf8").digest().subarray(0, 8).toString("base64url");
}
