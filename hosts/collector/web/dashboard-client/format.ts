/**
 * Times and numbers as the dashboard writes them: times in UTC, as the API gives them (a node's
 * window is the same instant wherever its reader is), numbers as the node released them.
 */

/** "2026-10-01 08:05Z" (Unix s). */
export function utcMinute(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(0, 16).replace("T", " ") + "Z";
}

/** "2026-10-01 08:05:03Z" from an ISO 8601 time. */
export function utcSecond(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toISOString().slice(0, 19).replace("T", " ") + "Z";
}

/** "08:05Z" (Unix s): within a day's list. */
export function utcTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().slice(11, 16) + "Z";
}

/** A value as released: no rounding of its own, a thousands separator only for large integers. */
export function value(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  if (Number.isInteger(n) && Math.abs(n) >= 10_000) return n.toLocaleString("en-US");
  return String(n);
}

/** "1,059 bytes", "1 message". */
export function count(n: number, noun: string, plural = `${noun}s`): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? noun : plural}`;
}

/** How long ago an ISO time was, roughly: "12 s ago", "4 min ago", "3 h ago". */
export function ago(iso: string | null, nowMs: number): string {
  if (iso === null) return "never";
  const s = Math.round((nowMs - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 0) return "just now";
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.round(s / 60)} min ago`;
  if (s < 172_800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} days ago`;
}

/** Labels of a time axis in UTC: "08:05", and the date where the day changes ("10-01 00:00"). */
export function utcTicks(splits: readonly number[]): string[] {
  let day = "";
  return splits.map((s) => {
    const iso = new Date(s * 1000).toISOString();
    const today = iso.slice(5, 10);
    const label = today === day ? iso.slice(11, 16) : `${today} ${iso.slice(11, 16)}`;
    day = today;
    return label;
  });
}
