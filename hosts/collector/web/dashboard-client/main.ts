/// <reference lib="dom" />
/**
 * The staff dashboard in the browser: the street (plan and list), the selected node (plots,
 * health, audit trail, messages and the inspector), and the street's security (alerts, refused
 * messages, commands), kept up to date by the live stream. Everything it shows comes from the
 * collector's staff API under the session cookie /login gave; everything a node or a message says
 * is written into the page as text (dom.ts).
 *
 * The selected node is in the address (#node=street-01), so a link names it and a reload keeps it.
 */
import type { StreetNode } from "./api-types.js";
import { getAll, getJson, Unauthorized } from "./api-client.js";
import { el, replace } from "./dom.js";
import { utcSecond } from "./format.js";
import { LiveStream, type LiveState } from "./live-stream.js";
import { LoginPanel } from "./login.js";
import { NodeList } from "./node-list.js";
import { NodePanel } from "./node-panel.js";
import { SecurityPanel } from "./security-panel.js";
import { StreetPlan } from "./street-plan.js";

/** Street redraws at most this often, however many events arrive (256 nodes at 60x send dozens a second). */
const STREET_REDRAW_MS = 500;

class Dashboard {
  readonly #root: HTMLElement;
  readonly #nodes = new Map<string, StreetNode>();
  readonly #plan = new StreetPlan((device) => this.#select(device));
  readonly #list = new NodeList((device) => this.#select(device));
  readonly #node = new NodePanel((error) => this.#failed(error));
  readonly #security = new SecurityPanel();
  readonly #login = new LoginPanel(() => this.start());
  readonly #banner = el("p", { class: "banner", role: "alert", hidden: true });
  readonly #live = el("span", { class: "live", "data-live": "closed" }, "not live");
  readonly #main: HTMLElement;
  #stream: LiveStream | undefined;
  #redraw: number | undefined;
  #securitySoon: number | undefined;

  constructor(root: HTMLElement) {
    this.#root = root;
    this.#main = el(
      "main",
      { hidden: true },
      el("section", { class: "street" }, el("h2", {}, "The street"), this.#plan.element),
      el("section", { class: "nodes-section" }, el("h2", {}, "Nodes"), this.#list.element),
      this.#node.element,
      el("section", { class: "security" }, el("h2", {}, "Security"), this.#security.element),
    );
    const header = el("header", { class: "top" }, el("h1", {}, "civicnode", el("span", {}, " street dashboard")), this.#live, el("a", { href: "/logout", class: "logout" }, "log out"));
    replace(this.#root, header, this.#banner, this.#login.element, this.#main);
    window.addEventListener("hashchange", () => this.#select(selectedInAddress(), false));
  }

  /** Shows the login when there is no session; otherwise loads the street and follows the stream. */
  start(): void {
    void sessionStatus().then((staff) => (staff ? this.#refreshStreet() : Promise.reject(new Unauthorized("no session")))).then(
      () => {
        this.#login.hide();
        this.#main.hidden = false;
        this.#stream?.close();
        this.#stream = new LiveStream({
          ready: () => this.#ready(),
          node: (node) => this.#changed(node),
          alerts: () => this.#refreshSecuritySoon(),
          state: (state) => this.#liveState(state),
        });
      },
      (error) => this.#failed(error),
    );
  }

  async #refreshStreet(): Promise<void> {
    const nodes = await getAll<StreetNode>("/api/street?limit=1000", "nodes");
    this.#nodes.clear();
    for (const node of nodes) this.#nodes.set(node.device, node);
    const wanted = selectedInAddress();
    this.#select(wanted !== undefined && this.#nodes.has(wanted) ? wanted : this.#node.device ?? firstWithData(nodes), false);
    this.#drawStreet();
  }

  /** The stream watches: fetch what is shown (events follow from now on). */
  #ready(): void {
    void this.#refreshStreet().then(() => {
      this.#node.reload();
      return this.#security.refresh();
    }).catch((error) => this.#failed(error));
  }

  #changed(node: StreetNode): void {
    this.#nodes.set(node.device, node);
    this.#node.changed(node);
    this.#drawStreetSoon();
  }

  #select(device: string | undefined, writeAddress = true): void {
    if (device !== undefined && !this.#nodes.has(device)) return;
    if (writeAddress && device !== undefined) history.replaceState(null, "", `#node=${encodeURIComponent(device)}`);
    this.#node.select(device === undefined ? undefined : this.#nodes.get(device));
    this.#security.select(device);
    if (device !== undefined) this.#list.reveal(device);
    this.#drawStreet();
  }

  #drawStreetSoon(): void {
    if (this.#redraw !== undefined) return;
    this.#redraw = window.setTimeout(() => {
      this.#redraw = undefined;
      this.#drawStreet();
    }, STREET_REDRAW_MS);
  }

  #drawStreet(): void {
    const nodes = [...this.#nodes.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
    this.#plan.update(nodes, this.#node.device);
    this.#list.update(nodes, this.#node.device);
  }

  #refreshSecuritySoon(): void {
    if (this.#securitySoon !== undefined) return;
    this.#securitySoon = window.setTimeout(() => {
      this.#securitySoon = undefined;
      void this.#security.refresh().catch((error) => this.#failed(error));
    }, STREET_REDRAW_MS);
  }

  #liveState(state: LiveState): void {
    this.#live.setAttribute("data-live", state);
    replace(this.#live, state === "open" ? `live since ${utcSecond(new Date().toISOString())}` : state === "connecting" ? "connecting…" : "not live: reload the page");
    if (state === "closed") void this.#refreshStreet().catch((error) => this.#failed(error));
  }

  #failed(error: unknown): void {
    if (error instanceof Unauthorized) {
      this.#stream?.close();
      this.#stream = undefined;
      this.#main.hidden = true;
      const expired = new URLSearchParams(location.search).get("login") === "expired";
      this.#login.show(expired ? "That login link was used already or has expired (a link works once, for 10 minutes)." : "This browser has no staff session (or it ended: sessions last 12 hours, and a collector restart ends them).");
      return;
    }
    replace(this.#banner, `Something went wrong: ${error instanceof Error ? error.message : String(error)}`);
    this.#banner.hidden = false;
  }
}

/** Whether this browser has a staff session: asked without a 401, so a visitor without one sees no failed request. */
async function sessionStatus(): Promise<boolean> {
  return ((await getJson<{ staff?: unknown }>("/login/status")).staff ?? false) === true;
}

function selectedInAddress(): string | undefined {
  const match = /^#node=(.+)$/.exec(location.hash);
  if (!match) return undefined;
  try {
    return decodeURIComponent(match[1]!);
  } catch {
    return undefined;
  }
}

function firstWithData(nodes: readonly StreetNode[]): string | undefined {
  return (nodes.find((n) => n.lastWindowStart !== null) ?? nodes[0])?.device;
}

const root = document.getElementById("dashboard");
if (root) new Dashboard(root).start();
