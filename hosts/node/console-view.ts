/**
 * The simulator's live console: one line per decoded summary (node, window, the figures a passer-by
 * would ask for), a health line when a sensor is faulty or dropped readings, and a status line with
 * simulated time, progress and message counts. On a terminal the status line redraws in place; in
 * a pipe or CI log it is printed every few seconds instead.
 *
 * Every line fits CONSOLE_COLUMNS (120), so that a terminal of that width never wraps one; the
 * dashboard has the rest (ranges, percentiles, PM1 and PM10, loop occupancy, causes by count). A
 * line is made in its fullest form first; too wide, it gives up details in a fixed order (a
 * summary its double spaces, a health line its drop causes, the status line what formatStatus
 * says), and only as the last resort is it cut at a space, ending in "…". On a terminal the status
 * line (redrawn in place, so it must never wrap) and free-text messages (setup, warnings, alerts:
 * wrapped at spaces, continued with an indent) also fit a terminal narrower than 120 columns; in a
 * pipe messages stay whole lines, for whoever searches the log.
 *
 * Markers, never numbers, where a figure is not released: `n/a` (a faulty part's channel), `<k`
 * (a count below the policy's k, suppressed), `[budget]` (the day's privacy budget is spent).
 */
import type { ChannelSummary, RejectCause } from "../collector/message-opener.js";
import type { HealthLine, SummaryLine } from "../collector/collector.js";

/** The widest line the console prints. */
export const CONSOLE_COLUMNS = 120;

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
/** The channels of the reference street, in the order and with the labels the console shows them. */
const CHANNEL_LABEL: Record<string, string> = { temperature: "T", humidity: "RH", co2: "CO2", pm2_5: "PM2.5", noise: "noise", people: "people", vehicles: "vehicles", devices: "devices" };
/** On the dashboard, not on the console: the line has room for one figure a channel, and these add least to it. */
const DASHBOARD_ONLY = new Set(["pm1", "pm10", "occupancy"]);
/** What a withheld count shows instead of a number. */
const WITHHELD: Record<string, string> = { suppressed: "<k", "budget-exhausted": "[budget]" };

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
    this.#out.write(`${this.#interactive ? wrapText(text, this.#columns()) : text}\n`);
  }

  summary(line: SummaryLine): void {
    this.#line(formatSummary(line));
  }

  /** A health report: shown when a sensor is faulty or dropped readings since the node's previous report. */
  health(line: HealthLine, previous: HealthLine | undefined): void {
    const text = formatHealth(line, previous);
    if (text) this.#line(text);
  }

  status(status: ViewStatus, force = false): void {
    if (this.#interactive) {
      // Redrawn in place: a line wider than the terminal would wrap, and the redraw would leave its first part behind.
      this.#out.write(`\r\x1b[2K${formatStatus(status, this.#columns())}`);
      this.#statusShown = true;
    } else if (force || Date.now() - this.#lastPlainStatus >= 5000) {
      this.#out.write(`${formatStatus(status)}\n`);
      this.#lastPlainStatus = Date.now();
    }
  }

  /** Leaves the status line on screen and moves below it. */
  finish(): void {
    if (this.#interactive && this.#statusShown) this.#out.write("\n");
    this.#statusShown = false;
  }

  #line(text: string): void {
    this.#clearStatus();
    this.#out.write(`${text}\n`);
  }

  /** The terminal's width, at most CONSOLE_COLUMNS. */
  #columns(): number {
    const columns = this.#out.columns;
    return typeof columns === "number" && columns > 0 ? Math.min(columns, CONSOLE_COLUMNS) : CONSOLE_COLUMNS;
  }

  #clearStatus(): void {
    if (this.#interactive && this.#statusShown) {
      this.#out.write("\r\x1b[2K");
      this.#statusShown = false;
    }
  }
}

/** Columns a line takes: one per code point (the console's own text has no wide or combining characters). */
export function columnsOf(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** "02:35Z street-01  #12   T 1.9°C  RH 87%  CO2 458ppm  PM2.5 19µg/m³  noise 56dB  people 6  vehicles 11  devices <k" */
export function formatSummary(line: SummaryLine): string {
  const time = new Date(line.windowStart * 1000).toISOString().slice(11, 16);
  const shown = Object.entries(line.channels).filter(([name]) => !DASHBOARD_ONLY.has(name));
  // The reference street's channels in their order, then any other a policy names.
  const order = Object.keys(CHANNEL_LABEL);
  const rank = (name: string) => (order.includes(name) ? order.indexOf(name) : order.length);
  shown.sort(([a], [b]) => rank(a) - rank(b));
  const channels = shown.map(([name, channel]) => `${CHANNEL_LABEL[name] ?? name} ${formatChannel(channel)}`);
  return fit(`${time}Z ${line.device.padEnd(10)} #${String(line.counter).padEnd(4)} `, [channels.join("  "), channels.join(" ")]);
}

function formatChannel(channel: ChannelSummary): string {
  if (channel.status !== undefined) return channel.status === "missing" ? "n/a" : `[${channel.status}]`;
  const unit = channel.unit === undefined ? "" : (UNIT_LABEL[channel.unit] ?? channel.unit);
  // Units follow their number without a space: the line has no columns to spare.
  if (channel.leq !== undefined) return `${whole(channel.leq)}${unit}`;
  const count = channel.sum ?? channel.distinct;
  if (typeof count === "string") return WITHHELD[count] ?? `[${count}]`;
  if (count !== undefined) return `${whole(count)}${unit}`;
  if (channel.mean === undefined) return "?";
  // A tenth of a degree is what a thermometer shows; other means read well enough whole.
  return `${unit === "°C" ? channel.mean.toFixed(1) : whole(channel.mean)}${unit}`;
}

function whole(value: number): string {
  return Math.round(value).toString();
}

/**
 * "02:00Z street-03  health: pm FAULTY (checksum +12, frame +3); radar ok (bus +2)", or "" when all
 * is well and quiet. Faulty sensors first; too wide, the drops go as totals, then the sensors that
 * are not faulty as a count.
 */
export function formatHealth(line: HealthLine, previous: HealthLine | undefined): string {
  const sensors: Array<{ faulty: boolean; full: string; brief: string }> = [];
  for (const [id, sensor] of Object.entries(line.sensors)) {
    const before = previous?.sensors[id]?.drops ?? {};
    const newDrops = Object.entries(sensor.drops)
      .map(([cause, count]) => [cause, count - (before[cause] ?? 0)] as const)
      .filter(([cause, delta]) => delta > 0 && cause !== "not-ready");
    const faulty = sensor.status === "faulty";
    if (!faulty && newDrops.length === 0) continue;
    const state = `${id} ${faulty ? "FAULTY" : "ok"}`;
    const dropped = newDrops.reduce((sum, [, delta]) => sum + delta, 0);
    sensors.push({ faulty, full: `${state}${newDrops.length ? ` (${newDrops.map(([cause, delta]) => `${cause} +${delta}`).join(", ")})` : ""}`, brief: `${state}${dropped ? ` (+${dropped})` : ""}` });
  }
  if (sensors.length === 0) return "";
  sensors.sort((a, b) => Number(b.faulty) - Number(a.faulty));
  const faulty = sensors.filter((sensor) => sensor.faulty).map((sensor) => sensor.brief);
  const others = sensors.length - faulty.length;
  const time = new Date(line.time * 1000).toISOString().slice(11, 16);
  return fit(`${time}Z ${line.device.padEnd(10)} health: `, [
    sensors.map((sensor) => sensor.full).join("; "),
    sensors.map((sensor) => sensor.brief).join("; "),
    [...faulty, ...(others > 0 ? [`${others} more dropped readings`] : [])].join("; "),
  ]);
}

/**
 * The status line, at most `columns` wide. Storage trouble comes first, after the time, where the
 * eye falls: it costs messages. When the line is too wide it gives up, in this order, the causes of
 * rejection, what is well (all sensors ok, an empty queue, every node online), the date and what
 * is not well (nodes offline, faulty sensors, a queue); then the trouble stays, naming as many
 * failing stores as fit (the first one always, with its cause), and what follows is cut. The
 * dashboard has all of it.
 */
export function formatStatus(s: ViewStatus, columns = CONSOLE_COLUMNS): string {
  const [date, time] = new Date(s.simWallMs).toISOString().slice(0, 16).split("T") as [string, string];
  const progress = s.windowsGoal === undefined ? `${s.windowsDone} windows/node` : `${Math.min(s.windowsDone, s.windowsGoal)}/${s.windowsGoal} windows/node`;
  const causes = Object.entries(s.rejectedByCause)
    .filter(([, n]) => n > 0)
    .map(([cause, n]) => `${cause} ${n}`)
    .join(", ");
  const failures = s.storeFailures ?? [];
  const allOnline = s.brokerConnected === s.nodes;
  const emptyQueue = s.queued === 0 && !s.dropped;
  const line = (keep: { date: boolean; causes: boolean; wellness: boolean; named: number; illness: boolean; rest: boolean }) => {
    const parts = [`sim ${keep.date ? `${date} ` : ""}${time}Z x${s.speed}`];
    if (failures.length > 0) {
      const named = failures.slice(0, keep.named).join(", ");
      const more = failures.length - keep.named;
      parts.push(`STORE FAILING: ${more > 0 ? `${named} +${more} more` : named}`);
    } else if (s.storeErrors) parts.push(`${s.storeErrors} store error(s)`);
    if (s.sealFailures) parts.push(`${s.sealFailures} seal failure(s)`);
    if (s.collectorStoreFailure) parts.push(`COLLECTOR CANNOT STORE: ${s.collectorStoreFailure}`);
    if (!keep.rest) return parts.join(" | ");
    if (allOnline ? keep.wellness : keep.illness) parts.push(`${s.brokerConnected}/${s.nodes} nodes online`);
    parts.push(progress, `${s.accepted} decrypted, ${s.rejected} rejected${s.rejected > 0 && keep.causes ? ` (${causes})` : ""}`);
    if (emptyQueue ? keep.wellness : keep.illness) parts.push(`queued ${s.queued}${s.dropped ? ` (${s.dropped} dropped)` : ""}`);
    if (s.faultySensors === 0 ? keep.wellness : keep.illness) parts.push(s.faultySensors === 0 ? "all sensors ok" : `${s.faultySensors} sensor(s) faulty`);
    return parts.join(" | ");
  };
  const full = { date: true, causes: true, wellness: true, named: failures.length, illness: true, rest: true };
  const forms = [full, { ...full, causes: false }, { ...full, causes: false, wellness: false }, { ...full, causes: false, wellness: false, date: false }];
  const least = { ...forms.at(-1)!, illness: false };
  forms.push(least);
  // Still too wide: the trouble stays, naming as many failing stores as fit (one at least, with its
  // cause), and what follows it is cut.
  let named = failures.length;
  while (named > 1 && columnsOf(line({ ...least, named, rest: false })) > columns - 2) named--;
  for (const form of [...forms, { ...least, named }]) {
    const text = line(form);
    if (columnsOf(text) <= columns) return text;
  }
  // Cut between two parts after the trouble when there is such a place, else at a space.
  const text = line({ ...least, named });
  const trouble = line({ ...least, named, rest: false }).length;
  const limit = columns - 2;
  let cut = text.lastIndexOf(" | ", limit);
  if (cut < trouble) cut = text.lastIndexOf(" ", limit);
  return `${text.slice(0, cut)} …`;
}

/**
 * `prefix` and the first of `forms` (fullest first) that fits `columns`; when none does, the last
 * form cut at a space to fit, ending in " …" (mid-word only for a word wider than the line).
 */
function fit(prefix: string, forms: readonly string[], columns = CONSOLE_COLUMNS): string {
  for (const form of forms) {
    const line = prefix + form;
    if (columnsOf(line) <= columns) return line;
  }
  const kept = [...(prefix + forms.at(-1)!)].slice(0, columns - 1).join("");
  const space = kept.lastIndexOf(" ", kept.length - 1);
  return space > columnsOf(prefix) ? `${kept.slice(0, space)} …` : `${kept}…`;
}

/** `text` wrapped at spaces to `columns`, continued with a two-space indent; a word wider than that is cut. */
export function wrapText(text: string, columns = CONSOLE_COLUMNS): string {
  return text
    .split("\n")
    .map((paragraph) => {
      const lines: string[] = [];
      let line = "";
      for (const word of paragraph.split(" ")) {
        const candidate = line === "" ? word : `${line} ${word}`;
        if (columnsOf(candidate) <= columns || line.trim() === "") line = candidate;
        else {
          lines.push(line);
          line = `  ${word}`;
        }
        while (columnsOf(line) > columns) {
          const chars = [...line];
          lines.push(chars.slice(0, columns).join(""));
          line = `  ${chars.slice(columns).join("")}`;
        }
      }
      lines.push(line);
      return lines.join("\n");
    })
    .join("\n");
}
