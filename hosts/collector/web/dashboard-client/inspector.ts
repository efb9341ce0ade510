/// <reference lib="dom" />
/**
 * "What left the device": one stored message (GET /api/nodes/{device}/messages?epoch=&counter=)
 * as it was on the wire, beside what the collector read in it. On the left the sealed bytes in hex,
 * their size in the MQTT packet that carried them, and the COSE_Encrypt0 envelope anyone on the
 * wire can read (the device and key epoch in the kid, the counter in the partial IV; the rest is
 * ciphertext). On the right the decoded summary or health report, and how big the same window
 * would have been as one small JSON message per reading (the API's estimate: a lower bound).
 */
import type { StoredMessage } from "./api-types.js";
import { getJson, nodePath } from "./api-client.js";
import { el, replace } from "./dom.js";
import { count, utcMinute, utcSecond, value } from "./format.js";

export class Inspector {
  readonly element: HTMLElement;
  readonly #body = el("div", { class: "inspector-body" });

  constructor() {
    this.element = el("section", { class: "inspector", "aria-live": "polite" }, el("h3", {}, "What left the device"), this.#body);
    this.clear();
  }

  /** Shows no message (another node was selected). */
  clear(): void {
    replace(this.#body, el("p", { class: "empty" }, "Pick a window (click it on a plot, or in the Messages list) to see its message as it was sealed."));
  }

  async show(device: string, epoch: number, counter: number): Promise<void> {
    replace(this.#body, el("p", { class: "loading" }, `reading ${device}'s message ${epoch}/${counter}…`));
    const page = await getJson<{ messages: StoredMessage[] }>(`${nodePath(device, "messages")}?epoch=${epoch}&counter=${counter}&limit=1`);
    const message = page.messages[0];
    if (!message) {
      replace(this.#body, el("p", { class: "empty" }, `The collector stores no message ${epoch}/${counter} of ${device} (a summary imported without its sealed bytes, or deleted by retention).`));
      return;
    }
    replace(this.#body, el("div", { class: "inspector-columns" }, wire(message), decoded(message)));
  }
}

function wire(m: StoredMessage): HTMLElement {
  const e = m.envelope;
  return el(
    "div",
    { class: "wire" },
    el("h4", {}, "Sealed, as received"),
    el("p", { class: "sizes" }, el("strong", { class: "sealed-bytes", "data-bytes": m.bytes }, count(m.bytes, "byte")), ` sealed; ${count(m.mqttPublishBytes, "byte")} on the wire as one MQTT PUBLISH at QoS 1 on `, el("code", {}, m.topic)),
    el(
      "dl",
      { class: "envelope" },
      ...(e
        ? [
            ["COSE", `Encrypt0 (CBOR tag ${e.coseTag}), ${e.headerBytes} bytes of tag, array and headers`],
            ["algorithm", `${e.algorithm}: ChaCha20/Poly1305 (protected header)`],
            ["kid", `${e.kid} = device ${e.kidDevice ?? "?"}, key epoch ${e.kidEpoch ?? "?"}`],
            ["partial IV", `${e.partialIv} = counter ${e.counter}`],
            ["ciphertext", `${e.ciphertextBytes} bytes, the last ${e.authTagBytes} its Poly1305 tag: unreadable without the device's key`],
          ]
        : [["COSE", "not a COSE_Encrypt0 the collector can parse"]]
      ).flatMap(([term, description]) => [el("dt", {}, term!), el("dd", {}, description!)]),
    ),
    el("pre", { class: "hex", "data-bytes": m.bytes, "aria-label": `the ${m.bytes} sealed bytes in hex` }, hexDump(m.hex)),
    el("p", { class: "note" }, `Sealed at ${utcSecond(m.sealedAtIso)} (the node's clock), received ${utcSecond(m.receivedAt)}.`),
  );
}

function decoded(m: StoredMessage): HTMLElement {
  const parts: Node[] = [el("h4", {}, "Decoded by the collector")];
  if (m.summary) {
    const s = m.summary;
    parts.push(el("p", {}, `Summary of the ${s.windowSeconds} s window from ${utcMinute(s.windowStart)}, epoch ${s.epoch}, counter ${s.counter}.`));
    parts.push(
      el(
        "table",
        { class: "decoded" },
        el("thead", {}, el("tr", {}, ...["channel", "statistic", "value", "unit"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...s.statistics.map((st) => el("tr", { "data-channel": st.channel, "data-stat": st.stat }, el("td", {}, st.channel), el("td", {}, st.stat), el("td", {}, st.status ?? value(st.value)), el("td", {}, st.unit ?? "")))),
      ),
    );
  } else if (m.health) {
    const h = m.health;
    parts.push(el("p", {}, `Health report of ${utcMinute(h.time)}.`));
    parts.push(el("pre", { class: "decoded-health" }, JSON.stringify({ node: h.node, budget: h.budget, commands: h.commands, sensors: h.sensors, audit: h.audit }, null, 2)));
  } else {
    parts.push(el("p", { class: "empty" }, "Its decoded content is not stored (a window stored from another copy of it)."));
  }
  const raw = m.perReadingStream;
  if (raw) {
    const ratio = raw.bytes > 0 ? raw.bytes / m.mqttPublishBytes : 0;
    parts.push(
      el("h4", {}, "The same window, one message per reading"),
      el(
        "p",
        { class: "per-reading", "data-messages": raw.messages, "data-bytes": raw.bytes },
        `${count(raw.messages, "message")}, ${count(raw.bytes, "byte")} on the wire as small JSON messages at QoS 0${ratio > 0 ? `: ${ratio.toFixed(0)} times this summary` : ""}. `,
        "Estimated from the summary's counts of readings, one message per reading of each sensor (a Tasmota-style firmware); ",
        raw.uncounted.length > 0 ? `channels without a count (${raw.uncounted.join(", ")}) are left out, so it is a lower bound.` : "a lower bound.",
      ),
      el(
        "table",
        { class: "per-reading-sensors" },
        el("thead", {}, el("tr", {}, ...["sensor", "messages", "bytes", "one of them"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...raw.sensors.map((s) => el("tr", {}, el("td", {}, s.sensor), el("td", {}, value(s.readings)), el("td", {}, value(s.bytes)), el("td", {}, el("code", {}, `${s.topic} ${s.example}`))))),
      ),
    );
  }
  return el("div", { class: "decoded-side" }, ...parts);
}

/** "0000  d0 83 44 a1 …" lines of 16 bytes. */
function hexDump(hex: string): string {
  const lines: string[] = [];
  for (let offset = 0; offset * 2 < hex.length; offset += 16) {
    const bytes = hex.slice(offset * 2, (offset + 16) * 2).match(/../g) ?? [];
    lines.push(`${offset.toString(16).padStart(4, "0")}  ${bytes.join(" ")}`);
  }
  return lines.join("\n");
}
