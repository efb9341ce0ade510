/// <reference lib="dom" />
/**
 * A node's health over time, from its stored health reports (GET /api/nodes/{device}/health):
 * each sensor's status report by report, its readings dropped by cause, the outbox's depth and
 * its drops, and the privacy budget (ε) left today per channel. Counters are as the node reports
 * them: readings and drops since its boot (a reboot starts them over), outbox drops since it was
 * provisioned.
 */
import type { HealthReport } from "./api-types.js";
import { append, el, replace, svg } from "./dom.js";
import { utcMinute, value } from "./format.js";
import { LinePlot, type LineSeries } from "./line-plot.js";

export class HealthPanel {
  readonly element: HTMLElement;
  readonly #latest = el("div", { class: "health-latest" });
  readonly #strip = el("div", { class: "sensor-strips" });
  readonly #drops = new LinePlot("Readings dropped, by sensor and cause", "Since the node's boot, as each report says: a fall to 0 is a reboot.", "no report says a reading was dropped", { name: "drops" });
  readonly #outbox = new LinePlot("Outbox", "queue: messages waiting to be sent; dropped: messages the full outbox gave up, since provisioning.", "no health report gives the outbox", { name: "outbox" });
  readonly #budget = new LinePlot("Privacy budget left today (ε), per channel", "The daily ε budget of each noisy channel; at 0 its counts are withheld as budget-exhausted until the day ends.", "no noisy channel reports a budget", { name: "budget" });

  constructor() {
    this.element = el(
      "div",
      { class: "health-panel" },
      el("h3", {}, "Newest report"),
      this.#latest,
      el("h3", {}, "Sensor status, report by report"),
      this.#strip,
      this.#drops.element,
      this.#outbox.element,
      this.#budget.element,
    );
  }

  show(reports: readonly HealthReport[]): void {
    const ordered = [...reports].sort((a, b) => a.time - b.time);
    const x = ordered.map((r) => r.time);
    this.#showLatest(ordered.at(-1));
    this.#showStrips(ordered);
    this.#drops.update(x, keyed(ordered, (r) => Object.entries(r.sensors ?? {}).flatMap(([sensor, s]) => Object.entries(s.drops ?? {}).map(([cause, n]) => [`${sensor} ${cause}`, n] as const))));
    this.#outbox.update(x, keyed(ordered, (r) => (["queue", "dropped", "droppedCorrupt"] as const).filter((k) => r.node?.[k] !== undefined).map((k) => [k, r.node[k]!] as const)));
    this.#budget.update(x, keyed(ordered, (r) => Object.entries(r.budget ?? {})));
  }

  #showLatest(report: HealthReport | undefined): void {
    if (!report) {
      replace(this.#latest, el("p", { class: "empty" }, "No health report of this node is stored yet (a node reports every 15 minutes of its clock)."));
      return;
    }
    const sensors = Object.entries(report.sensors ?? {});
    const node = report.node ?? {};
    replace(
      this.#latest,
      el("p", {}, `${utcMinute(report.time)} · uptime ${value(node.uptime)} s · outbox ${value(node.queue)} queued, ${value(node.dropped)} dropped · commands since boot: ${Object.entries(report.commands ?? {}).map(([k, n]) => `${k} ${n}`).join(", ") || "none"}`),
      el(
        "table",
        { class: "sensor-table" },
        el("thead", {}, el("tr", {}, ...["sensor", "status", "readings", "faults", "dropped, by cause"].map((h) => el("th", { scope: "col" }, h)))),
        el(
          "tbody",
          {},
          ...sensors.map(([name, s]) =>
            el(
              "tr",
              { "data-sensor": name, class: s.status && s.status !== "ok" ? "faulty" : "" },
              el("th", { scope: "row" }, name),
              el("td", {}, s.status ?? ""),
              el("td", {}, value(s.readings)),
              el("td", {}, value(s.faults)),
              el("td", {}, Object.entries(s.drops ?? {}).map(([cause, n]) => `${cause} ${n}`).join(", ")),
            ),
          ),
        ),
      ),
    );
  }

  /** Per sensor, a cell per report: ok, faulty, or not in the report. */
  #showStrips(reports: readonly HealthReport[]): void {
    const sensors = [...new Set(reports.flatMap((r) => Object.keys(r.sensors ?? {})))];
    if (sensors.length === 0) {
      replace(this.#strip, el("p", { class: "empty" }, "no sensor status reported"));
      return;
    }
    const cell = Math.max(2, Math.min(10, Math.floor(700 / Math.max(1, reports.length))));
    const rows = sensors.map((sensor) => {
      const strip = svg("svg", { class: "strip", width: reports.length * cell, height: 12, role: "img", "aria-label": `${sensor}: status in each report` });
      reports.forEach((r, i) => {
        const status = r.sensors?.[sensor]?.status;
        const kind = status === undefined ? "none" : status === "ok" ? "ok" : "faulty";
        append(strip, svg("rect", { class: `strip-${kind}`, x: i * cell, y: 0, width: Math.max(1, cell - 1), height: 12 }, svg("title", {}, `${utcMinute(r.time)}: ${status ?? "not reported"}`)));
      });
      return el("div", { class: "strip-row" }, el("span", { class: "strip-name" }, sensor), strip);
    });
    replace(this.#strip, ...rows, el("p", { class: "note" }, "Green: ok; red: faulty; grey: the report does not name the sensor."));
  }
}

/** Series keyed by name across reports: each report's value, or null where it does not carry that name. */
function keyed(reports: readonly HealthReport[], pick: (r: HealthReport) => ReadonlyArray<readonly [string, number]>): LineSeries[] {
  const names: string[] = [];
  const rows = reports.map((r) => {
    const entries = new Map(pick(r));
    for (const name of entries.keys()) if (!names.includes(name)) names.push(name);
    return entries;
  });
  return names.map((name) => ({ label: name, values: rows.map((row) => row.get(name) ?? null) }));
}
