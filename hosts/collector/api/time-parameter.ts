/**
 * `from` and `to`: Unix seconds (`1790841600`), or an RFC 3339 date-time, the profile of ISO 8601
 * with a time zone (`2026-10-01T08:00:00Z`, `2026-10-01T10:00:00+02:00`). A date without a time,
 * or a time without a zone, is refused: it would mean another instant in every time zone. The
 * schema's pattern checks the form; this checks the calendar (Date.parse takes 30 February for 2
 * March), since a query for a day that does not exist is a mistake worth saying.
 *
 * Window starts are whole seconds, so a fractional time rounds up: `from` 08:00:00.5 includes no
 * window starting at 08:00:00, and `to` 08:00:00.5 excludes none after it.
 */
import { ApiError } from "./api-errors.js";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Unix seconds of a time parameter; throws a 400 naming it. */
export function parseTime(parameter: string, text: string): number {
  if (/^\d{1,11}$/.test(text)) return Number(text);
  const match = RFC3339.exec(text);
  const bad = (why: string) => ApiError.badParameter(parameter, "query", `${parameter} ${why}: Unix seconds, or an RFC 3339 date-time with its time zone such as 2026-10-01T08:00:00Z`);
  if (!match) throw bad("is not a time");
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fraction = match[7] === undefined ? 0 : Number(`0${match[7]}`);
  const sign = match[8] === "-" ? -1 : 1;
  const offsetHours = match[9] === undefined ? 0 : Number(match[9]);
  const offsetMinutes = match[10] === undefined ? 0 : Number(match[10]);
  if (offsetHours > 23 || offsetMinutes > 59) throw bad("has a time zone offset out of range");
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(ms);
  if (
    month < 1 || back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day ||
    back.getUTCHours() !== hour || back.getUTCMinutes() !== minute || back.getUTCSeconds() !== second
  ) {
    throw bad("is not a date and time of the calendar");
  }
  return Math.ceil(ms / 1000 + fraction) - sign * (offsetHours * 3600 + offsetMinutes * 60);
}

/** `from` and `to` of a query (either may be absent); `to` must be later than `from`. */
export function parseTimeRange(query: { readonly from?: unknown; readonly to?: unknown }): { from: number | undefined; to: number | undefined } {
  const from = typeof query.from === "string" ? parseTime("from", query.from) : undefined;
  const to = typeof query.to === "string" ? parseTime("to", query.to) : undefined;
  if (from !== undefined && to !== undefined && to <= from) throw ApiError.badParameter("to", "query", "to must be later than from (to is excluded)");
  return { from, to };
}

/** ISO 8601 in UTC, whole seconds. */
export function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** ISO 8601 in UTC, with milliseconds. */
export function isoMs(unixMs: number): string {
  return new Date(unixMs).toISOString();
}
