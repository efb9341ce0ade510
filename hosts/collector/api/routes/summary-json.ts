/**
 * A stored summary as the API shows it (summarySchema): times as Unix seconds and ISO 8601, every
 * statistic with its value or its status, absent fields as null.
 */
import type { StoredSummary } from "../../db/collector-db.js";
import { isoMs, isoSeconds } from "../time-parameter.js";

export interface StatisticJson {
  readonly channel: string;
  readonly stat: string;
  readonly value: number | null;
  readonly unit: string | null;
  readonly status: string | null;
}

export interface SummaryJson {
  readonly device: string;
  readonly zone: string;
  readonly windowStart: number;
  readonly windowStartIso: string;
  readonly windowSeconds: number;
  readonly epoch: number;
  readonly counter: number;
  readonly receivedAt: string;
  readonly statistics: readonly StatisticJson[];
  /** The signed policy the summary was produced under (serial, SHA-256 hex); null for a node without one. */
  readonly policy: { readonly serial: number; readonly sha256: string } | null;
}

export function summaryJson(summary: StoredSummary): SummaryJson {
  return {
    device: summary.device,
    zone: summary.zone,
    windowStart: summary.windowStart,
    windowStartIso: isoSeconds(summary.windowStart),
    windowSeconds: summary.windowSeconds,
    epoch: summary.epoch,
    counter: summary.counter,
    receivedAt: isoMs(summary.receivedAtMs),
    statistics: summary.statistics.map((s) => ({ channel: s.channel, stat: s.stat, value: s.value ?? null, unit: s.unit ?? null, status: s.status ?? null })),
    policy: summary.policy ? { serial: summary.policy.serial, sha256: summary.policy.sha256 } : null,
  };
}
