/**
 * The audit chain on Node and in the XS engine: the same seeded run of the node's audit log
 * (hosts/sim/audit-scenario.ts) gives the same reports and the same records, byte for byte; and the
 * collector's check of those reports finds exactly what the storyline did to the log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findingsOf, type ChainReport } from "../../../hosts/collector/audit-continuity.js";
import { runAuditScenario, type AuditScenarioResult } from "../../../hosts/sim/audit-scenario.js";
import { startScenarioWorker, type ScenarioWorker } from "../../support/xs-scenario-worker.js";

const OPTIONS = { startS: Date.UTC(2026, 2, 9, 6, 0, 0) / 1000, seed: "audit-conformance" };

describe("conformance: Node and XS chain the audit log the same", () => {
  let worker: ScenarioWorker;
  let onNode: AuditScenarioResult;
  let onXs: AuditScenarioResult;

  beforeAll(async () => {
    worker = await startScenarioWorker();
    onNode = runAuditScenario(OPTIONS);
    onXs = (await worker.run("audit", JSON.stringify(OPTIONS))).result as AuditScenarioResult;
  });

  afterAll(async () => worker?.close());

  it("makes identical reports and records", () => {
    expect(onXs.reports.length).toBe(onNode.reports.length);
    onNode.reports.forEach((report, i) => expect(onXs.reports[i], `report ${i}`).toEqual(report));
    expect(onXs).toEqual(onNode);
  });

  it("is a storyline the collector judges as it happened: entries evicted once, one reset, nothing else", () => {
    const { reports, resetReasons, records } = onNode;
    expect(resetReasons).toEqual(["no record", null, null, "corrupt record"]);
    const texts = reports.flatMap((r) => r.entries.map((e) => `${e.event} ${e.detail}`));
    expect(texts).toContain("command-accepted rotate-epoch");
    expect(texts.filter((t) => t.startsWith("refusals "))).toEqual([
      `refusals authentication 14 ${OPTIONS.startS} ${OPTIONS.startS + 39}`,
      `refusals malformed 13 ${OPTIONS.startS + 1} ${OPTIONS.startS + 37}`,
      `refusals replay 13 ${OPTIONS.startS + 2} ${OPTIONS.startS + 38}`,
      expect.stringMatching(/^refusals kid 4 /), // the tally as of its write before the power cut
    ]);
    expect(reports.map((r) => [r.entries.length, r.pending, r.lost])).toEqual([
      [6, 0, 0],
      [12, 20, 3], // 35 entries after the first report: 3 evicted, 32 carried over three reports
      [12, 8, 3],
      [8, 0, 3],
      [1, 0, 3],
      [2, 0, 3],
      [2, 0, 0],
    ]);
    const stored: ChainReport[] = [];
    const findings = reports.flatMap((r, i) => {
      const { prev, markHex: _mark, time, ...chain } = r;
      stored.push({ chain: { ...chain, ...(prev === null ? {} : { prev }), entries: [...chain.entries] }, time, epoch: 0, counter: i, receivedAtMs: i * 900_000, dropped: 0 });
      return findingsOf(stored.at(-1)!, stored, 0);
    });
    expect(findings.map((f) => (f.kind === "gap" ? `gap ${f.cause} ${f.from}..${f.to}` : f.kind === "reset" ? `reset ${f.reason}` : f.kind))).toEqual(["gap evicted 6..8", "reset corrupt record"]);
    expect(records["audit.refused"]).toBeNull();
  });
});
