/// <reference lib="dom" />
/**
 * A node's audit trail (GET /api/nodes/{device}/audit): whether its hash chain holds across the
 * stored health reports, as the collector checks it, what does not hold, and the entries, newest
 * first, a page at a time.
 */
import type { AuditTrail } from "./api-types.js";
import { el, replace } from "./dom.js";
import { count, utcMinute } from "./format.js";
import { Pager } from "./pager.js";

type Entry = AuditTrail["entries"][number];

export class AuditPanel {
  readonly element: HTMLElement;
  readonly #verdict = el("div", { class: "audit-verdict" });
  readonly #findings = el("ol", { class: "audit-findings" });
  readonly #entries = el("ol", { class: "audit-entries" });
  readonly #pager = new Pager<Entry>(this.#entries, (e) => this.#entry(e), 20, "no audit entry reported", "audit entries");

  constructor() {
    this.element = el("div", { class: "audit-panel" }, this.#verdict, this.#findings, el("h3", {}, "Entries, newest first"), this.#entries, this.#pager.controls);
  }

  show(trail: AuditTrail): void {
    const state = trail.chained === 0 ? "none" : trail.holds ? "holds" : "broken";
    const words =
      state === "none"
        ? `No stored health report of this node carries its audit chain (${count(trail.reports, "report")} read).`
        : state === "holds"
          ? `The audit chain holds: ${count(trail.entriesTotal, "entry", "entries")} over ${count(trail.chained, "report")}, each hashing from the one before, no entry missing, none rewritten.`
          : `The audit chain does not hold: ${count(trail.findings.length, "finding")} over ${count(trail.chained, "report")}.`;
    replace(this.#verdict, el("p", { class: `verdict verdict-${state}`, "data-holds": String(trail.holds), "data-state": state }, words), trail.truncated ? el("p", { class: "note" }, "More reports are stored than one answer reads: the oldest are shown.") : null);
    replace(
      this.#findings,
      ...trail.findings.map((f) =>
        el("li", { class: `finding finding-${f.kind}`, "data-kind": f.kind }, el("strong", {}, f.kind + (f.cause ? ` (${f.cause})` : f.how ? ` (${f.how})` : "")), ` at the report of ${utcMinute(Date.parse(f.reportTimeIso) / 1000)}: `, f.detail, f.settled ? null : el("em", {}, " (the missing report may still arrive)")),
      ),
    );
    this.#pager.set([...trail.entries].reverse());
  }

  #entry(e: Entry): HTMLElement {
    return el("li", { "data-seq": e.seq }, el("span", { class: "seq" }, `#${e.seq}`), el("time", {}, e.time === 0 ? "before the clock was set" : utcMinute(e.time)), el("strong", {}, ` ${e.event}`), e.detail ? ` ${e.detail}` : null);
  }
}
