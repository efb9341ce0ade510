/**
 * The fault campaign's table: one row per scenario and broker, the columns that must be zero marked,
 * so a reader sees at once whether nothing was lost, duplicated or sealed twice under one nonce.
 */
import type { ScenarioResult } from "./campaign.js";

interface Column {
  readonly title: string;
  readonly value: (result: ScenarioResult) => string | number;
  /** A column whose every value must be 0. */
  readonly mustBeZero?: boolean;
}

const COLUMNS: readonly Column[] = [
  { title: "scenario", value: (r) => r.scenario },
  { title: "broker", value: (r) => r.broker },
  { title: "sim h", value: (r) => r.simulatedHours },
  { title: "windows", value: (r) => r.windowsProduced },
  { title: "delivered", value: (r) => r.summariesDelivered },
  { title: "dup stored", value: (r) => r.duplicatesStored, mustBeZero: true },
  { title: "lost uncounted", value: (r) => r.lostUncounted, mustBeZero: true },
  { title: "msgs dropped (counted)", value: (r) => r.droppedCounted },
  { title: "drops unreported", value: (r) => r.dropsUnreported, mustBeZero: true },
  { title: "nonce reuse", value: (r) => `${r.nonceReuses}/${r.noncePairs}` },
  { title: "crashes", value: (r) => r.crashes, mustBeZero: true },
  { title: "peak queue", value: (r) => `${(r.peakQueueBytes / 1024).toFixed(1)} KB` },
  { title: "cuts (in write)", value: (r) => `${r.powerCuts} (${r.cutsMidWrite})` },
  { title: "copies dropped", value: (r) => r.copiesDropped },
  { title: "real s", value: (r) => r.realSeconds },
];

/** True when every column that must be zero is zero, nonce reuse included. */
export function campaignPassed(results: readonly ScenarioResult[]): boolean {
  return results.every((r) => r.nonceReuses === 0 && r.lostFromRam === 0 && COLUMNS.every((column) => !column.mustBeZero || column.value(r) === 0));
}

export function formatCampaignTable(results: readonly ScenarioResult[]): string {
  const cells = results.map((result) => COLUMNS.map((column) => String(column.value(result))));
  const widths = COLUMNS.map((column, c) => Math.max(column.title.length, ...cells.map((row) => row[c]!.length)));
  const line = (row: readonly string[]) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  const lines = [line(COLUMNS.map((column) => column.title)), line(widths.map((width) => "-".repeat(width))), ...cells.map(line)];
  const ramLost = results.filter((r) => r.lostFromRam > 0);
  if (ramLost.length > 0) lines.push(`lost from RAM while the flash refused writes and the power failed: ${ramLost.map((r) => `${r.scenario}/${r.broker} ${r.lostFromRam}`).join(", ")}`);
  lines.push(
    `must be 0: ${COLUMNS.filter((column) => column.mustBeZero)
      .map((column) => column.title)
      .join(", ")}, and nonce reuse (reuses/pairs checked)` + ` — ${campaignPassed(results) ? "all zero" : "NOT ALL ZERO"}`,
  );
  return lines.join("\n");
}
