/**
 * Summaries as CSV, on the function itself: RFC 4180 quoting, and every character OWASP lists as
 * starting a spreadsheet formula (= + - @ tab CR) defused with a ' in every text field a node
 * chooses, while numbers (a negative one too) are written as they are. The end-to-end test of the
 * same over HTTP, with text a genuine sealed summary carries, is in api-server.test.ts.
 */
import { describe, expect, it } from "vitest";
import { SUMMARY_CSV_COLUMNS, summariesCsv } from "../../../../hosts/collector/api/summaries-csv.js";
import type { StatisticJson, SummaryJson } from "../../../../hosts/collector/api/routes/summary-json.js";

function summary(statistics: StatisticJson[]): SummaryJson {
  return { device: "lamp-1", zone: "old-town", windowStart: 1790841600, windowStartIso: "2026-10-01T08:00:00Z", windowSeconds: 300, epoch: 0, counter: 4, receivedAt: "2026-10-01T08:05:02.000Z", statistics, policy: null };
}
const PREFIX = "lamp-1,old-town,2026-10-01T08:00:00Z,1790841600,300";

describe("summaries as CSV", () => {
  it("writes a header row, then one CRLF-ended row per statistic, a status never as a number", () => {
    const csv = summariesCsv([
      summary([
        { channel: "noise", stat: "leq", value: -3.5, unit: "dB", status: null },
        { channel: "people", stat: "sum", value: null, unit: null, status: "suppressed" },
      ]),
    ]);
    expect(csv).toBe(`${SUMMARY_CSV_COLUMNS.join(",")}\r\n${PREFIX},noise,leq,-3.5,dB,\r\n${PREFIX},people,sum,,,suppressed\r\n`);
    expect(summariesCsv([])).toBe(`${SUMMARY_CSV_COLUMNS.join(",")}\r\n`);
  });

  it("quotes a field with a comma, a quote, CR or LF, doubling its quotes", () => {
    const csv = summariesCsv([summary([{ channel: "pm2_5", stat: "mean", value: 1, unit: 'ug/m3, "raw"\nx', status: null }])]);
    expect(csv).toContain(`,pm2_5,mean,1,"ug/m3, ""raw""\nx",\r\n`);
  });

  it.each(["=", "+", "-", "@", "\t", "\r"])("defuses text starting with %j in channel, stat, unit and status", (start) => {
    const csv = summariesCsv([summary([{ channel: `${start}a`, stat: `${start}b`, value: null, unit: `${start}c`, status: `${start}d` }])]);
    const row = csv.split("\r\n")[1]!;
    const quote = (field: string) => (/[",\r\n]/.test(field) ? `"${field}"` : field);
    expect(row).toBe(`${PREFIX},${quote(`'${start}a`)},${quote(`'${start}b`)},,${quote(`'${start}c`)},${quote(`'${start}d`)}`);
  });

  it("leaves numbers and text that starts otherwise as they are", () => {
    const csv = summariesCsv([summary([{ channel: "a=b", stat: "l90", value: -0.25, unit: "m/s", status: null }])]);
    expect(csv.split("\r\n")[1]).toBe(`${PREFIX},a=b,l90,-0.25,m/s,`);
  });
});
