/**
 * The simulator's live console: one line per decoded summary (node, window, values) and a status
 * line with simulated time, progress and message counts. On a terminal the status line redraws in
 * place; in a pipe or CI log it is printed every few seconds instead.
 */
import type { ChannelSummary, RejectCause } from "../collector/message-opener.js";
import type { HealthLine, SummaryLine } from "../collector/collector.js";

export interface ViewStatus {
  readonly simWallMs: number;
  readonly speed: number;
  readonly nodes: number;
  /** Summaries decoded per node so far (minimum over nodes) and the goal, if any. */
  readonly windowsDone: number;
  readonly windowsGoal: number | undefined;
  readonly accepted: number;
  readonly rejected: number;
  readonly rejectedByCause: Readonly<Record<RejectCause, number>>;
  readonly queued: number;
  readonly brokerConnected: number;
  /** Sensors reported faulty in the latest health report of each node. */
  readonly faultySensors: number;
  /** Messages the nodes' outboxes dropped (full or corrupt), in all. */
  readonly dropped?: number;
  /** Nodes whose store fails now, with the cause ("street-03 EROFS"). */
  readonly storeFailures?: readonly string[];
  /** Store operations that failed on the nodes since they booted. */
  readonly storeErrors?: number;
  readonly sealFailures?: number;
  /** The cause while the collector cannot write its files. */
  readonly collectorStoreFailure?: string;
}

const UNIT_LABEL: Record<string, string> = { Cel: "°C", "%RH": "%", s: "s", "ug/m3": "µg/m³", ppm: "ppm", dB: "dB" };
const CHANNEL_LABEL: Record<string, string> = { temperature: "T", humidity: "RH", co2: "CO2", pm1: "PM1", pm2_5: "PM2.5", pm10: "PM10", occupancy: "occ" };

export class ConsoleView {
  readonly #out: NodeJS.WriteStream;
  readonly #interactive: boolean;
  #statusShown = false;
  #lastPlainStatus = 0;

  constructor(out: NodeJS.WriteStream = process.stdout) {
    this.#out = out;
    this.#interactive = Boolean(out.isTTY);
  }

  message(text: string): void {
    this.#clearStatus();
    this.#out.write(`${text}\n`);
  }

  summary(line: SummaryLine): void {
    this.message(formatSummary(line));
  }

  /** A health report: shown when a sensor is faulty or dropped readings since the node's previous report. */
  health(line: HealthLine, previous: HealthLine | undefined): void {
    const text = formatHealth(line, previous);
    if (text) this.message(text);
  }

  status(status: ViewStatus, force = false): void {
    const text = formatStatus(status);
    if (this.#interactive) {
      this.#out.write(`\r\x1b[2K${text}`);
      this.#statusShown = true;
    } else if (force || Date.now() - this.#lastPlainStatus >= 5000) {
      this.#out.write(`${text}\n`);
      this.#lastPlainStatus = Date.now();
    }
  }

  /** Leaves the status line on screen and moves below it. */
  finish(): void {
    if (this.#interactive && this.#statusShown) this.#out.write("\n");
    this.#statusShown = false;
  }

  #clearStatus(): void {
    if (this.#interactive && this.#statusShown) {
      this.#out.write("\r\x1b[2K");
      this.#statusShown = false;
    }
  }
}

export function formatSummary(line: SummaryLine): string {
  const time = new Date(line.windowStart * 1000).toISOString().slice(11, 16);
  const channels = Object.entries(line.channels)
    .map(([name, channel]) => `${CHANNEL_LABEL[name] ?? name} ${formatChannel(channel)}`)
    .join("  ");
  return `${time}Z ${line.device.padEnd(10)} #${String(line.counter).padEnd(4)} ${channels}`;
}

function formatChannel(channel: ChannelSummary): string {
  if (channel.status !== undefined) return `[${channel.status}]`;
  const unit = channel.unit === undefined ? "" : (UNIT_LABEL[channel.unit] ?? channel.unit);
  if (channel.leq !== undefined) {
    const percentiles = [channel.l10 !== undefined ? `L10 ${formatNumber(channel.l10)}` : "", channel.l90 !== undefined ? `L90 ${formatNumber(channel.l90)}` : ""].filter(Boolean).join(" ");
    return `Leq ${formatNumber(channel.leq)} ${unit}${percentiles ? ` (${percentiles})` : ""}`;
  }
  const count = channel.sum ?? channel.distinct;
  if (typeof count === "string") return `[${count}]`;
  if (count !== undefined) return `${formatNumber(count)}${unit ? ` ${unit}` : ""}`;
  const mean = channel.mean === undefined ? "?" : formatNumber(channel.mean);
  const range = channel.min !== undefined && channel.max !== undefined ? ` (${formatNumber(channel.min)}..${formatNumber(channel.max)})` : "";
  return `${mean}${unit === "%" ? "%" : unit ? ` ${unit}` : ""}${range}`;
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 || Number.isInteger(value) ? value.toFixed(0) : value.toFixed(1);
}

/** "health street-03: pm FAULTY (checksum +12, frame +3); radar ok (bus +2)", or "" when all is well and quiet. */
export function formatHealth(line: HealthLine, previous: HealthLine | undefined): string {
  const parts: string[] = [];
  let noteworthy = false;
  for (const [id, sensor] of Object.entries(line.sensors)) {
    const before = previous?.sensors[id]?.drops ?? {};
    const newDrops = Object.entries(sensor.drops)
      .map(([cause, count]) => [cause, count - (before[cause] ?? 0)] as const)
      .filter(([cause, delta]) => delta > 0 && cause !== "not-ready")
      .map(([cause, delta]) => `${cause} +${delta}`);
    const faulty = sensor.status === "faulty";
    if (faulty || newDrops.length > 0) {
      noteworthy = true;
      parts.push(`${id} ${faulty ? "FAULTY" : "ok"}${newDrops.length ? ` (${newDrops.join(", ")})` : ""}`);
    }
  }
  if (!noteworthy) return "";
  const time = new Date(line.time * 1000).toISOString().slice(11, 16);
  return `${time}Z ${line.device.padEnd(10)} health: ${parts.join("; ")}`;
}

export function formatStatus(s: ViewStatus): string {
  const time = new Date(s.simWallMs).toISOString().slice(0, 16).replace("T", " ");
  const progress = s.windowsGoal === undefined ? `${s.windowsDone} windows/node` : `${Math.min(s.windowsDone, s.windowsGoal)}/${s.windowsGoal} windows/node`;
  const causes = Object.entries(s.rejectedByCause)
    .filter(([, n]) => n > 0)
    .map(([cause, n]) => `${cause} ${n}`)
    .join(", ");
  const rejected = s.rejected === 0 ? "0 rejected" : `${s.rejected} rejected (${causes})`;
  const faulty = s.faultySensors === 0 ? "all sensors ok" : `${s.faultySensors} sensor(s) faulty`;
  const dropped = s.dropped ? ` (${s.dropped} dropped)` : "";
  // Storage trouble is said where the eye falls, not only in the log: it costs messages.
  const trouble: string[] = [];
  if (s.storeFailures && s.storeFailures.length > 0) trouble.push(`STORE FAILING: ${s.storeFailures.join(", ")}`);
  else if (s.storeErrors) trouble.push(`${s.storeErrors} store error(s)`);
  if (s.sealFailures) trouble.push(`${s.sealFailures} seal failure(s)`);
  if (s.collectorStoreFailure) trouble.push(`COLLECTOR CANNOT STORE: ${s.collectorStoreFailure}`);
  const problems = trouble.length > 0 ? ` | ${trouble.join(" | ")}` : "";
  return `sim ${time}Z x${s.speed} | ${s.brokerConnected}/${s.nodes} nodes online | ${progress} | ${s.accepted} decrypted, ${rejected} | queued ${s.queued}${dropped} | ${faulty}${problems}`;
}
