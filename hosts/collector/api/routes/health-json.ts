/**
 * A stored health report as the API shows it (healthReportSchema): its time both ways, when it
 * arrived, and what it says: node counters, budget left, commands, audit entries, sensors. The
 * shape GET /api/nodes/{device}/health answers with, for the routes that show a report beside
 * other things (a message in the inspector).
 */
import type { StoredHealth } from "../../db/collector-db.js";
import { isoMs, isoSeconds } from "../time-parameter.js";

export function healthJson(row: StoredHealth) {
  const { report } = row;
  return {
    time: row.time,
    timeIso: isoSeconds(row.time),
    epoch: row.epoch,
    counter: row.counter,
    receivedAt: isoMs(row.receivedAtMs),
    node: report.node,
    budget: report.budget,
    commands: report.commands,
    audit: report.audit,
    sensors: report.sensors,
  };
}
