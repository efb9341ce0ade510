/**
 * Summaries as CSV (RFC 4180): a header row, then one row per statistic, CRLF line ends, and a
 * field quoted (its quotes doubled) when it holds a comma, a quote, CR or LF. A statistic the node
 * withheld has an empty value and its status (missing, suppressed, budget-exhausted) in `status`:
 * a status is never written as a number.
 *
 * Text fields come from a node's plaintext (channel, stat, unit, status): one that a spreadsheet
 * would run as a formula (starting with =, +, -, @, tab or CR) is prefixed with ' (OWASP, "CSV
 * injection"). Channel names and units of a genuine node never start so; numbers are not touched.
 */
import type { SummaryJson } from "./routes/summary-json.js";

export const SUMMARY_CSV_COLUMNS = ["device", "zone", "window_start", "window_start_unix", "window_seconds", "channel", "stat", "value", "unit", "status"] as const;

export function summariesCsv(summaries: readonly SummaryJson[]): string {
  const rows: string[] = [SUMMARY_CSV_COLUMNS.join(",")];
  for (const summary of summaries) {
    for (const statistic of summary.statistics) {
      rows.push(
        [
          text(summary.device),
          text(summary.zone),
          summary.windowStartIso,
          String(summary.windowStart),
          String(summary.windowSeconds),
          text(statistic.channel),
          text(statistic.stat),
          statistic.value === null ? "" : String(statistic.value),
          statistic.unit === null ? "" : text(statistic.unit),
          statistic.status === null ? "" : text(statistic.status),
        ].join(","),
      );
    }
  }
  return rows.map((row) => `${row}\r\n`).join("");
}

function text(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
