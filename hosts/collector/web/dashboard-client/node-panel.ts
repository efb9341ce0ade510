/// <reference lib="dom" />
/**
 * The selected node: its channels over time (a plot per channel: channel-plot.ts), its health,
 * its audit trail, and its messages, one tab at a time; the inspector under them shows the message
 * of a window picked on a plot or in the list. The time span is counted back from the node's
 * newest window, not from now: a simulated street runs ahead of the wall clock, and a silent node
 * still shows its last day.
 */
import type { AuditTrail, DisclosedPrivacy, HealthReport, StreetNode, Summary } from "./api-types.js";
import { ApiFailure, getAll, getJson, nodePath } from "./api-client.js";
import { AuditPanel } from "./audit-panel.js";
import { ChannelPlot } from "./channel-plot.js";
import { button, el, replace } from "./dom.js";
import { utcMinute } from "./format.js";
import { HealthPanel } from "./health-panel.js";
import { Inspector } from "./inspector.js";
import { Pager } from "./pager.js";
import { STATE_LABEL } from "./street-plan.js";
import { channelSeries, type WindowPoint } from "./window-series.js";

type Tab = "data" | "health" | "audit" | "messages";
const TABS: ReadonlyArray<readonly [Tab, string]> = [
  ["data", "Data"],
  ["health", "Health"],
  ["audit", "Audit trail"],
  ["messages", "Messages"],
];
const SPANS: ReadonlyArray<readonly [number, string]> = [
  [6 * 3600, "6 hours"],
  [86_400, "1 day"],
  [7 * 86_400, "7 days"],
];
/** Windows fetched again behind the newest on a live update, for a late window an outbox flush brings. */
const LIVE_OVERLAP_WINDOWS = 12;

type Listed = { readonly kind: "summary"; readonly summary: Summary } | { readonly kind: "health"; readonly report: HealthReport };

export class NodePanel {
  readonly element: HTMLElement;
  readonly #onError: (error: unknown) => void;
  readonly #title = el("h2", { class: "node-title" });
  readonly #facts = el("p", { class: "node-facts" });
  readonly #tabs = el("div", { class: "tabs", role: "tablist" });
  readonly #span = el("select", { "aria-label": "time span", class: "span-select" });
  readonly #views: Record<Tab, HTMLElement> = {
    data: el("div", { class: "tab-view view-data", role: "tabpanel" }),
    health: el("div", { class: "tab-view view-health", role: "tabpanel" }),
    audit: el("div", { class: "tab-view view-audit", role: "tabpanel" }),
    messages: el("div", { class: "tab-view view-messages", role: "tabpanel" }),
  };
  readonly #plots = new Map<string, ChannelPlot>();
  readonly #plotArea = el("div", { class: "plots" });
  readonly #health = new HealthPanel();
  readonly #audit = new AuditPanel();
  readonly #inspector = new Inspector();
  readonly #messageList = el("ol", { class: "message-list" });
  readonly #messages = new Pager<Listed>(this.#messageList, (m) => this.#messageRow(m), 20, "no message stored", "messages");
  readonly #showHealthMessages = el("input", { type: "checkbox", class: "list-health" });
  #node: StreetNode | undefined;
  #tab: Tab = "data";
  #spanSeconds = 86_400;
  #summaries = new Map<number, Summary>();
  #reports: HealthReport[] = [];
  #privacy = new Map<string, DisclosedPrivacy>();
  #busy: Promise<void> = Promise.resolve();
  #liveQueued = false;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
    for (const [seconds, label] of SPANS) this.#span.append(el("option", { value: seconds, selected: seconds === this.#spanSeconds }, label));
    this.#span.addEventListener("change", () => {
      this.#spanSeconds = Number(this.#span.value);
      void this.#run(() => this.#load());
    });
    for (const [tab, label] of TABS) this.#tabs.append(button(label, () => this.#open(tab), { role: "tab", "data-tab": tab, class: "tab" }));
    this.#views.data.append(el("p", { class: "note" }, "Each point is a window, at its start; a shaded band is a window without a value, and the list under each plot says why. Click a point to see its message."), this.#plotArea);
    this.#views.health.append(this.#health.element);
    this.#views.audit.append(this.#audit.element);
    this.#showHealthMessages.addEventListener("change", () => void this.#run(() => this.#listMessages()));
    this.#views.messages.append(el("label", { class: "inline" }, this.#showHealthMessages, " health reports instead of summaries"), this.#messageList, this.#messages.controls);
    this.element = el("section", { class: "node-panel", "aria-live": "polite" }, el("header", {}, this.#title, this.#facts, el("div", { class: "node-controls" }, this.#tabs, el("label", {}, "span ", this.#span))), ...Object.values(this.#views), this.#inspector.element);
    this.#open("data", false);
    replace(this.#title, "No node selected");
  }

  get device(): string | undefined {
    return this.#node?.device;
  }

  /** Shows `node` (its street entry), loading its data when it is another node. */
  select(node: StreetNode | undefined): void {
    const other = node?.device !== this.#node?.device;
    this.#node = node;
    this.#showFacts();
    if (!other) return;
    this.#summaries = new Map();
    this.#reports = [];
    for (const plot of this.#plots.values()) plot.destroy();
    this.#plots.clear();
    replace(this.#plotArea);
    this.#inspector.clear();
    if (node) void this.#run(() => this.#load());
  }

  /** The node's street entry changed (a live event): its facts, and its newer windows. */
  changed(node: StreetNode): void {
    if (node.device !== this.#node?.device) return;
    this.#node = node;
    this.#showFacts();
    this.#liveSoon();
  }

  /** Loads everything again (after a reconnection). */
  reload(): void {
    if (this.#node) void this.#run(() => this.#load());
  }

  /** One load at a time, in order. */
  async #run(work: () => Promise<void>): Promise<void> {
    const previous = this.#busy;
    this.#busy = (async () => {
      await previous;
      try {
        await work();
      } catch (error) {
        this.#onError(error);
      }
    })();
    await this.#busy;
  }

  /** A live update, coalesced: however many events arrive meanwhile, one runs after the current work. */
  #liveSoon(): void {
    if (this.#liveQueued) return;
    this.#liveQueued = true;
    void this.#run(async () => {
      this.#liveQueued = false;
      await this.#live();
    });
  }

  #open(tab: Tab, load = true): void {
    this.#tab = tab;
    for (const [name, view] of Object.entries(this.#views)) view.hidden = name !== tab;
    for (const b of this.#tabs.querySelectorAll("button")) b.setAttribute("aria-selected", String(b.getAttribute("data-tab") === tab));
    if (load && this.#node) void this.#run(() => this.#loadTab());
  }

  #showFacts(): void {
    const node = this.#node;
    if (!node) {
      replace(this.#title, "No node selected");
      replace(this.#facts);
      return;
    }
    replace(this.#title, node.device, el("span", { class: `badge state-${node.state}`, "data-state": node.state }, STATE_LABEL[node.state]));
    const where = node.location ? `published position ${node.location.latitude}, ${node.location.longitude} (a ${node.location.precisionMeters} m cell${node.location.verified ? "" : ", unverified"})` : "no published position";
    replace(this.#facts, `zone ${node.zone} · ${node.lastWindowStart === null ? "no window stored" : `newest window ${utcMinute(node.lastWindowStart)} (${node.windowSeconds} s)`} · ${where} · `, el("a", { href: `/nodes/${encodeURIComponent(node.device)}` }, "its public page"));
  }

  /** The node's disclosure (its channels' privacy parameters) and its windows over the span, then the open tab. */
  async #load(): Promise<void> {
    const node = this.#node;
    if (!node) return;
    this.#privacy = await disclosedPrivacy(node.device);
    const from = this.#from();
    const summaries = from === undefined ? [] : await getAll<Summary>(`${nodePath(node.device, "summaries")}?from=${from}&limit=1000`, "summaries");
    if (node.device !== this.#node?.device) return;
    this.#summaries = new Map(summaries.map((s) => [s.windowStart, s]));
    this.#drawPlots();
    await this.#loadTab();
  }

  /** Newer windows, with some behind the newest for late ones. */
  async #live(): Promise<void> {
    const node = this.#node;
    if (!node) return;
    const known = [...this.#summaries.values()];
    const newest = known.reduce((max, s) => Math.max(max, s.windowStart), -Infinity);
    const step = known.find((s) => s.windowStart === newest)?.windowSeconds ?? node.windowSeconds ?? 300;
    const from = Number.isFinite(newest) ? newest - LIVE_OVERLAP_WINDOWS * step : this.#from();
    if (from === undefined) return;
    const fresh = await getAll<Summary>(`${nodePath(node.device, "summaries")}?from=${Math.max(0, Math.floor(from))}&limit=1000`, "summaries");
    if (node.device !== this.#node?.device) return;
    for (const s of fresh) this.#summaries.set(s.windowStart, s);
    const start = this.#from();
    if (start !== undefined) for (const key of [...this.#summaries.keys()]) if (key < start) this.#summaries.delete(key);
    this.#drawPlots();
    if (this.#tab !== "data") await this.#loadTab();
  }

  async #loadTab(): Promise<void> {
    const node = this.#node;
    if (!node) return;
    if (this.#tab === "health" || (this.#tab === "messages" && this.#showHealthMessages.checked)) {
      const from = this.#from();
      this.#reports = from === undefined ? [] : await getAll<HealthReport>(`${nodePath(node.device, "health")}?from=${from}&limit=1000`, "reports");
      if (this.#tab === "health") this.#health.show(this.#reports);
    }
    if (this.#tab === "audit") this.#audit.show(await getJson<AuditTrail>(nodePath(node.device, "audit")));
    if (this.#tab === "messages") await this.#listMessages();
  }

  async #listMessages(): Promise<void> {
    if (this.#showHealthMessages.checked && this.#reports.length === 0 && this.#node) {
      const from = this.#from();
      this.#reports = from === undefined ? [] : await getAll<HealthReport>(`${nodePath(this.#node.device, "health")}?from=${from}&limit=1000`, "reports");
    }
    const listed: Listed[] = this.#showHealthMessages.checked
      ? [...this.#reports].sort((a, b) => b.time - a.time).map((report) => ({ kind: "health", report }))
      : [...this.#summaries.values()].sort((a, b) => b.windowStart - a.windowStart).map((summary) => ({ kind: "summary", summary }));
    this.#messages.set(listed);
  }

  /** From the newest window's end back over the span (Unix s); undefined for a node without a window. */
  #from(): number | undefined {
    const node = this.#node;
    if (!node || node.lastWindowStart === null) return undefined;
    return Math.max(0, node.lastWindowStart + (node.windowSeconds ?? 0) - this.#spanSeconds);
  }

  #drawPlots(): void {
    const series = channelSeries([...this.#summaries.values()]);
    const seen = new Set<string>();
    for (const s of series) {
      seen.add(s.channel);
      const plot = this.#plots.get(s.channel);
      if (plot) plot.update(s);
      else this.#plots.set(s.channel, new ChannelPlot(s, { privacy: this.#privacy.get(s.channel), onPick: (point) => this.#pick(point) }));
    }
    for (const [channel, plot] of this.#plots) {
      if (seen.has(channel)) continue;
      plot.destroy();
      this.#plots.delete(channel);
    }
    if (series.length === 0) replace(this.#plotArea, el("p", { class: "empty" }, "No window of this node is stored in this span."));
    else replace(this.#plotArea, ...series.map((s) => this.#plots.get(s.channel)!.element));
  }

  #pick(point: WindowPoint): void {
    const summary = point.summary;
    if (!summary || !this.#node) return;
    void this.#inspector.show(this.#node.device, summary.epoch, summary.counter).catch(this.#onError);
    this.#inspector.element.scrollIntoView({ block: "nearest" });
  }

  #messageRow(listed: Listed): HTMLElement {
    const device = this.#node?.device ?? "";
    if (listed.kind === "summary") {
      const s = listed.summary;
      const withheld = s.statistics.filter((st) => st.status !== null).map((st) => `${st.channel} ${st.status}`);
      const inspect = button("inspect", () => void this.#inspector.show(device, s.epoch, s.counter).catch(this.#onError), { class: "inspect", "data-epoch": s.epoch, "data-counter": s.counter });
      return el("li", { "data-window": s.windowStart }, inspect, ` window ${utcMinute(s.windowStart)} · message ${s.epoch}/${s.counter} · ${s.statistics.length} statistics`, withheld.length > 0 ? el("span", { class: "withheld" }, ` · withheld: ${withheld.join(", ")}`) : null);
    }
    const r = listed.report;
    const inspect = button("inspect", () => void this.#inspector.show(device, r.epoch, r.counter).catch(this.#onError), { class: "inspect", "data-epoch": r.epoch, "data-counter": r.counter });
    return el("li", { "data-time": r.time }, inspect, ` health report ${utcMinute(r.time)} · message ${r.epoch}/${r.counter}`);
  }
}

/**
 * Per channel, the privacy parameters of the node's disclosure (public); empty without one. Its
 * verification says first whether the collector holds one (state "absent" when not), so that a
 * node without a disclosure costs no failed request.
 */
async function disclosedPrivacy(device: string): Promise<Map<string, DisclosedPrivacy>> {
  const privacy = new Map<string, DisclosedPrivacy>();
  const { state } = await getJson<{ state: string }>(nodePath(device, "verification"));
  if (state === "absent" || state === "forged") return privacy;
  let document: { dataTypes?: unknown };
  try {
    document = await getJson<{ dataTypes?: unknown }>(nodePath(device, "disclosure"));
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) return privacy;
    throw error;
  }
  for (const type of Array.isArray(document.dataTypes) ? document.dataTypes : []) {
    const { channel, privacy: p } = (type ?? {}) as { channel?: unknown; privacy?: unknown };
    if (typeof channel !== "string" || typeof p !== "object" || p === null) continue;
    const { kAnonymity, epsilonPerRelease, sensitivity, dailyEpsilon } = p as Record<string, unknown>;
    privacy.set(channel, {
      ...(typeof kAnonymity === "number" ? { kAnonymity } : {}),
      ...(typeof epsilonPerRelease === "number" ? { epsilonPerRelease } : {}),
      ...(typeof sensitivity === "number" ? { sensitivity } : {}),
      ...(typeof dailyEpsilon === "number" ? { dailyEpsilon } : {}),
    });
  }
  return privacy;
}
