/**
 * The node's health report (`civicnode/<zone>/<device>/health`, sealed like a summary): how long it
 * has been up, how its uplink is doing, and per sensor whether it is faulty, how many readings it
 * took and how many it dropped, by cause. Counters are since boot, so a lost report loses nothing.
 *
 * Records (SenML, base name "<device>/", base time the end of the window it follows):
 *   uptime (s), queue (messages waiting), queueBytes (bytes their records take in the store),
 *   queueRam (messages held in RAM only, because the store failed), dropped (oldest messages
 *   dropped from a full queue) and droppedCorrupt (corrupt records skipped), both since the node
 *   was provisioned (persisted, so a reboot forgets no drop), delivered, sealFailures, storeErrors
 *   (store writes that failed), clockBehind (times the clock read earlier than the open window)
 *   and windowsDiscarded (windows whose readings a set-back clock made untrustworthy), since boot,
 *   <sensor>/status ("ok" | "faulty"), <sensor>/readings, <sensor>/faults (episodes),
 *   <sensor>/drops/<cause> for every cause that happened,
 *   budget/<channel>: ε left today for each channel released with noise,
 *   epoch (the uplink key epoch), commands/<outcome> for outcomes that occurred,
 *   the audit chain (policy/audit-log.ts): audit/chain (vs, its id in hex), audit/seq and audit/head
 *   (the head this report vouches for: its sequence number, and its hash in hex), audit/prev (the
 *   hash before the first entry carried), one audit/<seq> per entry carried (vs "event detail", t
 *   its time relative to the base time, so that an entry made before the clock was set reads as
 *   time 0), audit/lost and audit/pending when not 0.
 *
 * The audit records take at most 1,400 bytes (six of about 200 in all, and twelve entries of at
 * most 100: a 9-digit sequence number, a 73-character text, a 5-byte time), so a report of the
 * reference board stays under 2,200 of the 3,072 bytes a plaintext may take.
 */
import { DROP_CAUSES, type SensorHealth } from "../sensors/sensor-health.js";
import type { SenmlRecordOut } from "../wire/senml.js";
import { auditText } from "../policy/audit-chain.js";
import type { AuditReport } from "../policy/audit-log.js";
import type { Outbox } from "./outbox.js";

export interface HealthSource {
  readonly id: string;
  readonly health: SensorHealth;
}

export interface HealthExtras {
  readonly epoch: number;
  readonly commands: Readonly<Record<string, number>>;
  readonly audit: AuditReport;
  /** The report's base time (Unix s): audit times are written relative to it. */
  readonly baseTimeS: number;
}

export interface NodeCounters {
  readonly sealFailures: number;
  readonly storeErrors?: number;
  readonly clockBehind?: number;
  readonly windowsDiscarded?: number;
}

export class HealthReport {
  readonly #sensors: readonly HealthSource[];
  /** Record names, built once. */
  readonly #names: ReadonlyArray<{ status: string; readings: string; faults: string; drops: readonly string[] }>;

  readonly #budgetNames: readonly string[];

  constructor(sensors: readonly HealthSource[], budgetChannels: readonly string[] = []) {
    this.#sensors = sensors;
    this.#budgetNames = budgetChannels.map((name) => `budget/${name}`);
    this.#names = sensors.map(({ id }) => ({
      status: `${id}/status`,
      readings: `${id}/readings`,
      faults: `${id}/faults`,
      drops: DROP_CAUSES.map((cause) => `${id}/drops/${cause}`),
    }));
  }

  records(uptimeSeconds: number, outbox: Outbox, counters: NodeCounters, budgetLeft: readonly number[] = [], extra?: HealthExtras): SenmlRecordOut[] {
    const records: SenmlRecordOut[] = [
      { name: "uptime", unit: "s", value: uptimeSeconds },
      { name: "queue", value: outbox.depth },
      { name: "queueBytes", unit: "B", value: outbox.storedBytes },
      { name: "queueRam", value: outbox.ramOnly },
      { name: "dropped", value: outbox.stats.dropped },
      { name: "droppedCorrupt", value: outbox.stats.droppedCorrupt },
      { name: "delivered", value: outbox.stats.delivered },
      { name: "sealFailures", value: counters.sealFailures },
      { name: "storeErrors", value: counters.storeErrors ?? 0 },
      { name: "clockBehind", value: counters.clockBehind ?? 0 },
      { name: "windowsDiscarded", value: counters.windowsDiscarded ?? 0 },
    ];
    this.#sensors.forEach(({ health }, s) => {
      const names = this.#names[s]!;
      records.push({ name: names.status, status: health.faulty ? "faulty" : "ok" });
      records.push({ name: names.readings, value: health.readings });
      records.push({ name: names.faults, value: health.faultEpisodes });
      DROP_CAUSES.forEach((cause, c) => {
        const count = health.drops[cause];
        if (count > 0) records.push({ name: names.drops[c]!, value: count });
      });
    });
    this.#budgetNames.forEach((name, b) => records.push({ name, value: Math.round(budgetLeft[b]! * 1000) / 1000 }));
    if (extra) {
      records.push({ name: "epoch", value: extra.epoch });
      for (const [outcome, count] of Object.entries(extra.commands)) if (count > 0) records.push({ name: `commands/${outcome}`, value: count });
      const audit = extra.audit;
      records.push({ name: "audit/chain", status: audit.chain });
      records.push({ name: "audit/seq", value: audit.seq });
      records.push({ name: "audit/head", status: audit.head });
      if (audit.prev !== undefined) records.push({ name: "audit/prev", status: audit.prev });
      for (const entry of audit.entries) records.push({ name: `audit/${entry.seq}`, status: auditText(entry.event, entry.detail), time: entry.time - extra.baseTimeS });
      if (audit.lost > 0) records.push({ name: "audit/lost", value: audit.lost });
      if (audit.pending > 0) records.push({ name: "audit/pending", value: audit.pending });
    }
    return records;
  }
}
