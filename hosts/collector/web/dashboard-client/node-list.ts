/// <reference lib="dom" />
/**
 * The street's nodes as a list to find one in: a filter on the device id or zone, one on the
 * state, and a page of 25 at a time (a street of 256 never puts 256 rows in the page).
 */
import type { StreetNode, StreetState } from "./api-types.js";
import { el, replace } from "./dom.js";
import { ago, utcMinute } from "./format.js";
import { Pager } from "./pager.js";
import { STATE_LABEL } from "./street-plan.js";

const PAGE = 25;

export class NodeList {
  readonly element: HTMLElement;
  readonly #onSelect: (device: string) => void;
  readonly #filter = el("input", { type: "search", placeholder: "device or zone", "aria-label": "find a node by device or zone", class: "node-filter" });
  readonly #state = el("select", { "aria-label": "only nodes in this state", class: "node-state-filter" });
  readonly #count = el("p", { class: "node-count" });
  readonly #pager: Pager<StreetNode>;
  #nodes: readonly StreetNode[] = [];
  #selected: string | undefined;

  constructor(onSelect: (device: string) => void) {
    this.#onSelect = onSelect;
    this.#state.append(el("option", { value: "" }, "every state"), ...(Object.keys(STATE_LABEL) as StreetState[]).map((s) => el("option", { value: s }, STATE_LABEL[s])));
    const body = el("ol", { class: "node-list" });
    this.#pager = new Pager(body, (node) => this.#row(node), PAGE, "no node matches", "nodes");
    this.#filter.addEventListener("input", () => this.#apply());
    this.#state.addEventListener("change", () => this.#apply());
    this.element = el("div", { class: "nodes" }, el("div", { class: "node-filters" }, this.#filter, this.#state), this.#count, body, this.#pager.controls);
  }

  update(nodes: readonly StreetNode[], selected: string | undefined): void {
    this.#nodes = nodes;
    this.#selected = selected;
    this.#apply();
  }

  /** Shows the page of the selected node. */
  reveal(device: string): void {
    this.#pager.reveal((n) => n.device === device);
  }

  #apply(): void {
    const text = this.#filter.value.trim().toLowerCase();
    const state = this.#state.value;
    const shown = this.#nodes.filter((n) => (state === "" || n.state === state) && (text === "" || n.device.toLowerCase().includes(text) || n.zone.toLowerCase().includes(text)));
    replace(this.#count, shown.length === this.#nodes.length ? `${this.#nodes.length} nodes` : `${shown.length} of ${this.#nodes.length} nodes`);
    this.#pager.set(shown);
  }

  #row(node: StreetNode): HTMLElement {
    const faulty = node.health?.faultySensors ?? [];
    const select = el("button", { type: "button", class: "node-select", "data-device": node.device, "aria-pressed": String(node.device === this.#selected) }, node.device);
    select.addEventListener("click", () => this.#onSelect(node.device));
    return el(
      "li",
      { class: `node-row state-${node.state}${node.device === this.#selected ? " selected" : ""}`, "data-device": node.device, "data-state": node.state },
      el("span", { class: `swatch state-${node.state}`, "aria-hidden": "true" }),
      select,
      el("span", { class: "node-zone" }, node.zone),
      el(
        "span",
        { class: "node-detail" },
        el("span", { class: "node-state" }, STATE_LABEL[node.state]),
        ` · ${node.lastWindowStart === null ? "no window yet" : `newest window ${utcMinute(node.lastWindowStart)}`} · heard ${ago(node.lastSeenAt, Date.now())}`,
        faulty.length > 0 ? el("span", { class: "node-faulty" }, ` · faulty: ${faulty.join(", ")}`) : null,
      ),
    );
  }
}
