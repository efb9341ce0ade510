/**
 * The opaque cursor of a page: the sort key of the page's last row, as base64url of its JSON, so
 * the next page starts after it (keyset pagination: stable while rows are added, and as fast on the
 * thousandth page as on the first). A cursor that is not one of the list's is a QueryParameterError
 * naming `cursor`, which the API answers with a 400.
 */

/** A query parameter that cannot be used; `parameter` names it. */
export class QueryParameterError extends Error {
  override name = "QueryParameterError";
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter}: ${message}`);
  }
}

export type CursorKey = ReadonlyArray<number | string>;

export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify(key), "utf8").toString("base64url");
}

/** The key in `cursor`, checked against the kinds of its parts ("number" or "string"). */
export function decodeCursor(cursor: string, shape: ReadonlyArray<"number" | "string">): Array<number | string> {
  let key: unknown;
  try {
    if (cursor.length > 1024 || !/^[A-Za-z0-9_-]*$/.test(cursor)) throw new Error();
    key = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new QueryParameterError("cursor", "not a cursor this list gave");
  }
  if (!Array.isArray(key) || key.length !== shape.length || !key.every((part, i) => (shape[i] === "number" ? Number.isFinite(part) : typeof part === "string"))) {
    throw new QueryParameterError("cursor", "not a cursor this list gave");
  }
  return key as Array<number | string>;
}

/** Checks a page size: an integer from 1 to `max`. */
export function checkLimit(limit: number, max: number): number {
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new QueryParameterError("limit", `must be an integer from 1 to ${max}`);
  return limit;
}
