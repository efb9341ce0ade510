/**
 * The simulator's live console: one line per decoded summary (node, window, values) and a status
 * line with simulated time, progress and message counts. On a terminal the status line redraws in
 * place; in a pipe or CI log it is printed every few seconds instead.
 */
import type { ChannelSummary, RejectCause } from "../collector/summary-opener.js";
import type { SummaryLine } from "../collector/collector.js";

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
}

const UNIT_LABEL: Record<string, string> = { Cel: "°C", "%RH": "%RH", s: "s" };

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
  const time = new Date(line.windowStart * 1000).toISOString().slice(0, 16).replace("T", " ");
  const channels = Object.entries(line.channels)
    .map(([name, channel]) => `${name} ${formatChannel(channel)}`)
    .join("  ");
  return `${time}Z  ${line.device.padEnd(10)} #${String(line.counter).padEnd(4)} ${channels}`;
}

function formatChannel(channel: ChannelSummary): string {
  if (channel.status !== undefined) return `[${channel.status}]`;
  const unit = channel.unit === undefined ? "" : ` ${UNIT_LABEL[channel.unit] ?? channel.unit}`;
  const mean = channel.mean === undefined ? "?" : formatNumber(channel.mean);
  const range = channel.min !== undefined && channel.max !== undefined ? ` (${formatNumber(channel.min)}..${formatNumber(channel.max)})` : "";
  const count = channel.count !== undefined ? ` n=${channel.count}` : "";
  return `${mean}${unit}${range}${count}`;
}

function formatNumber(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function formatStatus(s: ViewStatus): string {
  const time = new Date(s.simWallMs).toISOString().slice(0, 16).replace("T", " ");
  const progress = s.windowsGoal === undefined ? `${s.windowsDone} windows/node` : `${Math.min(s.windowsDone, s.windowsGoal)}/${s.windowsGoal} windows/node`;
  const causes = Object.entries(s.rejectedByCause)
    .filter(([, n]) => n > 0)
    .map(([cause, n]) => `${cause} ${n}`)
    .join(", ");
  const rejected = s.rejected === 0 ? "0 rejected" : `${s.rejected} rejected (${causes})`;
  return `sim ${time}Z x${s.speed} | ${s.brokerConnected}/${s.nodes} nodes online | ${progress} | ${s.accepted} decrypted, ${rejected} | queued ${s.queued}`;
}
