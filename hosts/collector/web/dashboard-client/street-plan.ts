/// <reference lib="dom" />
/**
 * The street drawn from what the nodes publish: each node in the grid cell of its disclosure's
 * coarsened position (the cell's centre and size, never closer: src/policy/coarse-position.ts),
 * on a plain plan in SVG, nothing fetched from anywhere. The nodes that share a cell sit side by
 * side in it, in device order, so a cell of 100 m with four lampposts shows four dots; a node whose
 * disclosure gives no position waits in a row below the plan.
 *
 * Readable at 256 nodes: the scale is chosen so that the fullest cell still gives every dot room
 * (a long street scrolls sideways rather than shrinking its dots to nothing). Live updates change a
 * dot's state in place; the plan is laid out again only when the nodes or their cells change.
 *
 * Colour says the state (reporting, late, silent, sensor-faulty: street-entry.ts), and so does the
 * shape of its outline, for readers who do not tell the colours apart; each dot's title names it.
 */
import type { StreetNode, StreetState } from "./api-types.js";
import { append, el, replace, svg } from "./dom.js";

const METERS_PER_DEGREE = 111_320;
const DOT_PX = 9;
const DOT_GAP_PX = 3;
const MARGIN_PX = 16;
const TARGET_WIDTH_PX = 1320;
const MAX_CELL_PX = 96;

export const STATE_LABEL: Record<StreetState, string> = {
  reporting: "reporting",
  late: "late",
  silent: "silent",
  "sensor-faulty": "sensor faulty",
};

interface Cell {
  readonly key: string;
  readonly latitude: number;
  readonly longitude: number;
  readonly meters: number;
  readonly nodes: StreetNode[];
}

export class StreetPlan {
  readonly element: HTMLElement;
  readonly #onSelect: (device: string) => void;
  readonly #canvas = el("div", { class: "plan-canvas" });
  readonly #legend = el("ul", { class: "plan-legend" });
  readonly #dots = new Map<string, SVGRectElement>();
  #layout = "";

  constructor(onSelect: (device: string) => void) {
    this.#onSelect = onSelect;
    this.element = el("figure", { class: "plan" }, this.#canvas, el("figcaption", {}, this.#legend, el("p", { class: "note" }, "Each node sits in the grid cell its disclosure publishes, never closer; nodes of one cell are shown side by side.")));
  }

  update(nodes: readonly StreetNode[], selected: string | undefined): void {
    const layout = nodes.map((n) => `${n.device}@${n.location ? `${n.location.latitude},${n.location.longitude},${n.location.precisionMeters}` : "-"}`).join(";");
    if (layout !== this.#layout) {
      this.#layout = layout;
      this.#draw(nodes);
    }
    for (const node of nodes) {
      const dot = this.#dots.get(node.device);
      if (!dot) continue;
      dot.setAttribute("class", `node state-${node.state}${node.device === selected ? " selected" : ""}`);
      dot.setAttribute("data-state", node.state);
      replace(dot.firstChild!, dotTitle(node));
    }
    const counts = new Map<StreetState, number>();
    for (const node of nodes) counts.set(node.state, (counts.get(node.state) ?? 0) + 1);
    replace(
      this.#legend,
      ...(Object.keys(STATE_LABEL) as StreetState[]).map((state) =>
        el("li", { "data-state": state }, el("span", { class: `swatch state-${state}`, "aria-hidden": "true" }), `${STATE_LABEL[state]} ${counts.get(state) ?? 0}`),
      ),
    );
  }

  #draw(nodes: readonly StreetNode[]): void {
    this.#dots.clear();
    const cells = new Map<string, Cell>();
    const unplaced: StreetNode[] = [];
    for (const node of [...nodes].sort((a, b) => (a.device < b.device ? -1 : 1))) {
      const at = node.location;
      if (!at || !Number.isFinite(at.latitude) || !Number.isFinite(at.longitude) || !(at.precisionMeters > 0)) {
        unplaced.push(node);
        continue;
      }
      const key = `${at.latitude},${at.longitude},${at.precisionMeters}`;
      const cell = cells.get(key) ?? { key, latitude: at.latitude, longitude: at.longitude, meters: at.precisionMeters, nodes: [] };
      cell.nodes.push(node);
      cells.set(key, cell);
    }
    const children: Node[] = [];
    if (cells.size > 0) children.push(this.#plan([...cells.values()]));
    if (unplaced.length > 0) {
      children.push(el("p", { class: "note" }, `${unplaced.length} node${unplaced.length === 1 ? "" : "s"} without a published position (no disclosure stored yet, or none in it):`));
      children.push(this.#row(unplaced));
    }
    replace(this.#canvas, ...children);
  }

  /** The cells on a plan: x east, y north, metres from the westmost and northmost cell centre. */
  #plan(cells: readonly Cell[]): SVGSVGElement {
    const meanLatitude = cells.reduce((sum, c) => sum + c.latitude, 0) / cells.length;
    const east = (c: Cell) => c.longitude * METERS_PER_DEGREE * Math.cos((meanLatitude * Math.PI) / 180);
    const south = (c: Cell) => -c.latitude * METERS_PER_DEGREE;
    const west = Math.min(...cells.map(east));
    const north = Math.min(...cells.map(south));
    const width = Math.max(...cells.map(east)) - west;
    const height = Math.max(...cells.map(south)) - north;
    // Room for the fullest cell's dots, then as large as the target width allows, within a bound.
    const needed = Math.max(...cells.map((c) => (side(c.nodes.length) * (DOT_PX + DOT_GAP_PX) + DOT_GAP_PX) / c.meters));
    const fit = width > 0 ? (TARGET_WIDTH_PX - 2 * MARGIN_PX) / (width + Math.max(...cells.map((c) => c.meters))) : Infinity;
    const biggest = Math.max(...cells.map((c) => c.meters));
    const scale = Math.max(needed, Math.min(fit, MAX_CELL_PX / biggest));
    const svgWidth = Math.ceil((width + biggest) * scale + 2 * MARGIN_PX);
    const svgHeight = Math.ceil((height + biggest) * scale + 2 * MARGIN_PX);
    const plan = svg("svg", { class: "plan-svg", width: svgWidth, height: svgHeight, viewBox: `0 0 ${svgWidth} ${svgHeight}`, role: "group", "aria-label": "the street: nodes by their published grid cell" });
    for (const cell of cells) {
      const size = cell.meters * scale;
      const x = MARGIN_PX + (east(cell) - west) * scale + (biggest * scale - size) / 2;
      const y = MARGIN_PX + (south(cell) - north) * scale + (biggest * scale - size) / 2;
      const group = svg("g", { class: "cell" }, svg("rect", { class: "cell-area", x, y, width: size, height: size }, svg("title", {}, `grid cell of ${cell.meters} m around ${cell.latitude}, ${cell.longitude}: ${cell.nodes.length} node${cell.nodes.length === 1 ? "" : "s"}`)));
      const perRow = side(cell.nodes.length);
      const block = perRow * (DOT_PX + DOT_GAP_PX) - DOT_GAP_PX;
      const rows = Math.ceil(cell.nodes.length / perRow);
      const left = x + (size - block) / 2;
      const top = y + (size - (rows * (DOT_PX + DOT_GAP_PX) - DOT_GAP_PX)) / 2;
      cell.nodes.forEach((node, i) => append(group, this.#dot(node, left + (i % perRow) * (DOT_PX + DOT_GAP_PX), top + Math.floor(i / perRow) * (DOT_PX + DOT_GAP_PX))));
      append(plan, group);
    }
    return plan;
  }

  /** Nodes without a position, in a row. */
  #row(nodes: readonly StreetNode[]): SVGSVGElement {
    const perRow = 32;
    const width = perRow * (DOT_PX + DOT_GAP_PX) + 2 * MARGIN_PX;
    const height = Math.ceil(nodes.length / perRow) * (DOT_PX + DOT_GAP_PX) + DOT_GAP_PX;
    const row = svg("svg", { class: "plan-unplaced", width, height, viewBox: `0 0 ${width} ${height}`, role: "group", "aria-label": "nodes without a published position" });
    nodes.forEach((node, i) => append(row, this.#dot(node, MARGIN_PX + (i % perRow) * (DOT_PX + DOT_GAP_PX), DOT_GAP_PX + Math.floor(i / perRow) * (DOT_PX + DOT_GAP_PX))));
    return row;
  }

  #dot(node: StreetNode, x: number, y: number): SVGRectElement {
    const dot = svg("rect", { class: `node state-${node.state}`, x, y, width: DOT_PX, height: DOT_PX, rx: 2, "data-device": node.device, "data-state": node.state, tabindex: 0, role: "button" }, svg("title", {}, dotTitle(node)));
    dot.addEventListener("click", () => this.#onSelect(node.device));
    dot.addEventListener("keydown", (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        this.#onSelect(node.device);
      }
    });
    this.#dots.set(node.device, dot);
    return dot;
  }
}

function side(n: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(n)));
}

function dotTitle(node: StreetNode): string {
  const faulty = node.health && node.health.faultySensors.length > 0 ? `; faulty: ${node.health.faultySensors.join(", ")}` : "";
  const unverified = node.location && !node.location.verified ? "; position from an unverified disclosure" : "";
  return `${node.device} (${node.zone}): ${STATE_LABEL[node.state]}${faulty}${unverified}`;
}
