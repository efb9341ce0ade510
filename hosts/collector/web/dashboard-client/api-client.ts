/// <reference lib="dom" />
/**
 * The staff API as the page calls it: same-origin GETs that carry the session cookie (never a
 * token: the page holds none), JSON answers, pages followed through their cursors. A 401 means
 * the session is gone (expired, or the collector restarted): the page shows its login again.
 */

export class Unauthorized extends Error {
  override name = "Unauthorized";
}

export class ApiFailure extends Error {
  override name = "ApiFailure";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** GET `path` as JSON; throws Unauthorized for a 401 and ApiFailure, with the API's message, for any other error. */
export async function getJson<T>(path: string): Promise<T> {
  const response = await fetch(path, { credentials: "same-origin", headers: { accept: "application/json" } });
  if (response.status === 401) throw new Unauthorized("the staff session is gone");
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = ((await response.json()) as { message?: string }).message ?? message;
    } catch {
      // not JSON: the status says it
    }
    throw new ApiFailure(response.status, message);
  }
  return (await response.json()) as T;
}

/** Every item of a paged list (`key` holds them), following cursors up to `maxPages` pages. */
export async function getAll<T>(path: string, key: string, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < maxPages; page++) {
    const url: string = cursor === null ? path : `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}`;
    const body = await getJson<Record<string, unknown> & { cursor: string | null }>(url);
    items.push(...((body[key] as T[] | undefined) ?? []));
    cursor = body.cursor;
    if (cursor === null) break;
  }
  return items;
}

/** `/api/nodes/<device>/...` with the device escaped for a URL. */
export function nodePath(device: string, rest: string): string {
  return `/api/nodes/${encodeURIComponent(device)}/${rest}`;
}
