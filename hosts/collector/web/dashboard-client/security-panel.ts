/// <reference lib="dom" />
/**
 * What an operator must watch for, for the whole street: alerts (newest first, what happened and
 * what to do), messages the collector refused, counted by cause per hour, and the downlink
 * commands sent with their outcome. A node's audit trail is on its own panel.
 */
import type { Alert, Command, RejectionCounts } from "./api-types.js";
import { getAll, getJson } from "./api-client.js";
import { el, replace } from "./dom.js";
import { utcSecond } from "./format.js";
import { LinePlot } from "./line-plot.js";
import { Pager } from "./pager.js";

const HOUR_S = 3600;

export class SecurityPanel {
  readonly element: HTMLElement;
  readonly #alertList = el("ol", { class: "alerts" });
  readonly #alerts = new Pager<Alert>(this.#alertList, (a) => alertRow(a), 10, "no alert", "alerts");
  readonly #onlySelected = el("input", { type: "checkbox", class: "alerts-selected" });
  readonly #rejections = new LinePlot("Refused messages, by cause, per hour (last 24 h)", "Forgeries, replays, copies, malformed and unknown senders; a QoS 1 copy (duplicate) is harmless.", "no message was refused in the last 24 hours", { bars: true, name: "rejections" });
  readonly #commandList = el("ol", { class: "commands" });
  readonly #commands = new Pager<Command>(this.#commandList, (c) => commandRow(c), 10, "no command sent (npm run cmd sends them)", "commands");
  #all: readonly Alert[] = [];
  #selected: string | undefined;

  constructor() {
    const only = el("label", { class: "inline" }, this.#onlySelected, " only the selected node");
    this.#onlySelected.addEventListener("change", () => this.#filter());
    this.element = el(
      "div",
      { class: "security-panel" },
      el("section", { class: "alerts-section" }, el("h3", {}, "Alerts"), only, this.#alertList, this.#alerts.controls),
      this.#rejections.element,
      el("section", { class: "commands-section" }, el("h3", {}, "Commands sent"), this.#commandList, this.#commands.controls),
    );
  }

  select(device: string | undefined): void {
    this.#selected = device;
    this.#filter();
  }

  async refresh(): Promise<void> {
    // The last day by the collector's clock (the API's default span), not this browser's.
    const [alerts, rejections, commands] = await Promise.all([
      getAll<Alert>("/api/alerts?limit=1000", "alerts"),
      getJson<RejectionCounts>(`/api/rejections?bucket=${HOUR_S}`),
      getAll<Command>("/api/commands?limit=1000", "commands"),
    ]);
    this.#all = [...alerts].reverse();
    this.#filter();
    // The API leaves out the hours without a refusal: each is a count of 0 here, every hour of the day drawn.
    const causes = [...new Set(rejections.buckets.flatMap((b) => Object.keys(b.counts)))];
    const step = rejections.bucketSeconds;
    const starts: number[] = [];
    for (let start = Math.floor(rejections.from / step) * step; start < rejections.to; start += step) starts.push(start);
    const byStart = new Map(rejections.buckets.map((b) => [b.start, b.counts]));
    this.#rejections.update(
      causes.length === 0 ? [] : starts,
      causes.map((cause) => ({ label: cause, values: starts.map((start) => byStart.get(start)?.[cause] ?? 0) })),
    );
    this.#commands.set([...commands].reverse());
  }

  #filter(): void {
    const only = this.#onlySelected.checked && this.#selected !== undefined;
    this.#alerts.set(only ? this.#all.filter((a) => a.device === this.#selected) : this.#all);
  }
}

function alertRow(alert: Alert): HTMLElement {
  return el(
    "li",
    { class: `alert alert-${alert.kind}`, "data-kind": alert.kind },
    el("div", { class: "alert-head" }, el("strong", {}, alert.kind), alert.device ? ` ${alert.device}` : null, el("time", {}, ` ${utcSecond(alert.time)}`)),
    el("p", {}, alert.detail),
    el("p", { class: "action" }, "What to do: ", alert.action),
  );
}

function commandRow(command: Command): HTMLElement {
  const args = Object.entries(command.args).map(([k, v]) => `${k}=${v}`).join(" ");
  return el(
    "li",
    { class: `command outcome-${command.outcome ?? "pending"}`, "data-outcome": command.outcome ?? "" },
    el("strong", {}, command.name),
    args ? ` ${args}` : null,
    ` to ${command.device} (downlink #${command.counter}), sent ${utcSecond(command.sentAt)}: `,
    el("span", { class: "outcome" }, command.outcome ?? "no outcome yet (the node's next health report says)"),
  );
}
