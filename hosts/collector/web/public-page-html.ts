/**
 * A node's public page as HTML, for a resident who scanned the code on the lamppost: its verified
 * disclosure in the DTPR categories (accountable, purpose, technology, data type, processing,
 * storage, access, retention), every privacy parameter in a sentence (privacy-sentences.ts), what
 * it never collects, whether the disclosure verifies (verification-words.ts), the history of its
 * policy, and the QR code of the page's own address.
 *
 * Server-rendered and complete without JavaScript: the page has no script, no inline style and no
 * form, and loads only its stylesheet and icon from the collector (its CSP: public-page.ts). Every
 * value in it goes through the `html` tag (html-escape.ts), so nothing a node or a request says
 * can become markup. Each DTPR section carries `data-dtpr`, each privacy parameter `data-parameter`
 * and `data-value` (the disclosure's figure), for the tests and for anyone who reads the page by
 * program.
 */
import type { NodeVerification } from "../api/node-verification.js";
import type { PolicyRun, ReportedAuditEntry } from "../db/collector-db.js";
import { dataTypeWords, durationAdjective, durationWords, KNOWN_PARTS, partWords, statisticWords, unitWords } from "./disclosure-words.js";
import { html, type Html } from "./html-escape.js";
import { PUBLIC_ICON_PATH, PUBLIC_STYLESHEET_PATH } from "./public-assets.js";
import type { DisclosedDataType, ResidentDisclosure } from "./public-disclosure.js";
import { privacyExplanations } from "./privacy-sentences.js";
import { verdictWords } from "./verification-words.js";

export interface PublicPageView {
  readonly device: string;
  readonly zone: string;
  /** The page's absolute address, as printed on the sign and in its QR code. */
  readonly address: string;
  readonly qrCode: Html;
  readonly verification: NodeVerification;
  /** The stored disclosure, read; undefined when none is stored, or it could not be read (`unreadable`). */
  readonly disclosure: ResidentDisclosure | undefined;
  readonly unreadable?: boolean;
  /** When the stored disclosure arrived (Unix ms). */
  readonly disclosedAtMs?: number;
  /** When a disclosure that did not verify was last refused (Unix ms). */
  readonly forgedAtMs?: number;
  readonly policyRuns: readonly PolicyRun[];
  readonly policyEntries: readonly ReportedAuditEntry[];
}

/** The page; links are relative to it (/nodes/<device>), so it works behind a proxy that serves it under a prefix. */
export function publicPageHtml(view: PublicPageView): string {
  const d = view.disclosure;
  const title = `Street sensor ${view.device}`;
  const body = html`
<header>
  <p class="eyebrow">Street sensor · ${view.zone}</p>
  <h1>${view.device}</h1>
  <p class="lede">What this sensor collects, why, and how your privacy is protected, as the city's operator signed it.</p>
  ${d ? locationLine(d) : false}
</header>
<main>
  ${verdictSection(view)}
  ${d ? disclosureSections(d) : noDisclosureSection(view)}
  ${historySection(view)}
  ${signSection(view)}
</main>
<footer>
  <p>${d ? html`The disclosure as the sensor published it: <a href="${view.device}/disclosure.json">${view.device}/disclosure.json</a>. ` : false}Anyone can check its signature with the operator's public key: <a href="../api/operator">/api/operator</a> (COSE_Sign1, Ed25519).</p>
</footer>`;
  return document(title, body);
}

/** The page for a device the collector does not know. */
export function notFoundPageHtml(device: string): string {
  return document(
    "No such street sensor",
    html`
<main>
  <h1>No such street sensor</h1>
  <p>The city's collector knows no sensor called <code>${device}</code>. Check the address on the sign, or scan its code again.</p>
</main>`,
  );
}

function document(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="stylesheet" href="..${PUBLIC_STYLESHEET_PATH}">
<link rel="icon" href="..${PUBLIC_ICON_PATH}" type="image/svg+xml">
</head>
<body>
<div class="page">${body}
</div>
</body>
</html>
`.toString();
}

function locationLine(d: ResidentDisclosure): Html | false {
  const { latitude, longitude, precisionMeters } = d.location;
  if (latitude === undefined || longitude === undefined) return false;
  return html`<p class="muted">Published position: ${latitude}, ${longitude}${precisionMeters === undefined ? false : html` (the centre of a <span data-parameter="precisionMeters" data-value="${precisionMeters}">${precisionMeters} m square: its exact position is not published</span>)`}.</p>`;
}

function verdictSection(view: PublicPageView): Html {
  const words = verdictWords(view.verification);
  return html`<section class="verdict verdict-${words.tone}" data-verification="${view.verification.state}" aria-labelledby="verdict-title">
  <h2 id="verdict-title">${words.title}</h2>
  ${words.sentences.map((s) => html`<p>${s}</p>`)}
  ${view.disclosedAtMs === undefined ? false : html`<p class="muted">Disclosure received ${dateWords(view.disclosedAtMs)}.</p>`}
  ${view.forgedAtMs !== undefined && view.disclosure ? html`<p>On ${dateWords(view.forgedAtMs)}, a disclosure the operator did not sign was published for this sensor: it was refused, and is not shown.</p>` : false}
  ${view.unreadable ? html`<p>The stored disclosure could not be read (it is not a JSON document), so nothing of it is shown.</p>` : false}
</section>`;
}

function noDisclosureSection(view: PublicPageView): Html {
  return html`<section data-dtpr="none">
  <h2>What it collects</h2>
  <p>${view.verification.state === "forged" ? "Nothing trustworthy can be shown until the sensor publishes a disclosure signed by the operator." : "This sensor has not published its disclosure yet: this page will show it once it does."}</p>
</section>`;
}

function disclosureSections(d: ResidentDisclosure): Html {
  const window = d.windowSeconds;
  const protectedChannels = d.dataTypes.filter((c) => c.privacy);
  return html`
<section data-dtpr="accountable">
  <h2>Who is accountable</h2>
  <dl class="facts">
    <dt>Organisation</dt><dd data-field="organisation">${d.accountable.organisation ?? notStated()}</dd>
    <dt>Contact</dt><dd data-field="contact">${d.accountable.contact ?? notStated()}</dd>
  </dl>
</section>
<section data-dtpr="purpose">
  <h2>Why it is here</h2>
  ${list(d.purposes, (purpose) => html`<li>${purpose}</li>`)}
</section>
<section data-dtpr="technology">
  <h2>What it is made of</h2>
  ${list(d.technology, (part) => html`<li data-part="${part}">${partWords(part)}</li>`)}
</section>
<section data-dtpr="data-type">
  <h2>What it measures</h2>
  <p>Every ${window === undefined ? "window" : durationWords(window)}, the sensor publishes a summary of what it measured, never the readings themselves:</p>
  ${d.dataTypes.map((channel) => dataTypeArticle(channel))}
</section>
<section data-dtpr="processing">
  <h2>What happens to the data on the sensor</h2>
  <p>In the operator's words:</p>
  ${list(d.processing, (sentence) => html`<li class="quote">${sentence}</li>`)}
  <h3>What that means</h3>
  ${window === undefined ? false : parameter("windowSeconds", window, [`Readings are summarised every ${durationWords(window)} on the sensor itself; only the summaries leave it, and the readings are forgotten.`])}
  ${d.pseudonymEpochSeconds === undefined
    ? false
    : parameter("pseudonymEpochSeconds", d.pseudonymEpochSeconds, [
        `The key that turns each Bluetooth address into a pseudonym lives only in the sensor's memory and is replaced every ${durationWords(d.pseudonymEpochSeconds)}: a phone cannot be followed from one ${durationAdjective(d.pseudonymEpochSeconds)} period to the next, nor from day to day.`,
      ])}
  ${protectedChannels.map((channel) => privacyArticle(channel, window))}
</section>
<section data-dtpr="storage">
  <h2>Where it is kept</h2>
  ${d.storage === undefined ? html`<p>${notStated()}</p>` : html`<p class="quote">${d.storage}</p>`}
  <p>${window === undefined ? "On the sensor, raw readings are kept no longer than one window, in memory." : `On the sensor, raw readings are kept no longer than one ${durationAdjective(window)} window, in memory.`} What leaves it is encrypted, and only the city's collector can read it.</p>
</section>
<section data-dtpr="access">
  <h2>Who can see it</h2>
  ${d.access.length === 0 ? html`<p>${notStated()}</p>` : html`<dl class="facts">${d.access.map(({ who, data }) => html`<dt>${who}</dt><dd>${data}</dd>`)}</dl>`}
</section>
<section data-dtpr="retention">
  <h2>How long it is kept</h2>
  <dl class="facts">
    <dt>Raw readings</dt><dd>${d.retention.rawReadings ?? notStated()}</dd>
    <dt>Device addresses</dt><dd>${d.retention.identifiers ?? notStated()}</dd>
    <dt>Window summaries</dt><dd>${days("summariesDays", d.retention.summariesDays, "then deleted by the city's collector")}</dd>
    <dt>Health reports</dt><dd>${days("healthDays", d.retention.healthDays, "then deleted (they say how the sensor itself is doing, nothing about people)")}</dd>
  </dl>
</section>
${neverCollectedSection(d)}`;
}

function dataTypeArticle(channel: DisclosedDataType): Html {
  return html`<article class="channel" data-channel="${channel.channel}">
  <h3>${channel.channel}${channel.dataType ? html` <span class="muted">(${dataTypeWords(channel.dataType)})</span>` : false}</h3>
  ${channel.meaning ? html`<p class="quote">${channel.meaning}</p>` : false}
  <dl class="facts">
    <dt>Measures</dt><dd>${channel.quantity ?? notStated()}${channel.unit ? `, in ${unitWords(channel.unit)}` : false}${channel.part ? `, by ${channel.part}` : false}</dd>
    <dt>Published</dt><dd>${channel.released.length === 0 ? notStated() : channel.released.map(statisticWords).join("; ")}</dd>
    ${channel.decimals === undefined ? false : html`<dt>Precision</dt><dd>${parameterSpan("decimals", channel.decimals, precisionWords(channel.decimals))}</dd>`}
    ${channel.privacy ? html`<dt>Privacy</dt><dd>small counts withheld and noise added: <a href="#privacy-${channel.channel}">how</a></dd>` : false}
  </dl>
</article>`;
}

function privacyArticle(channel: DisclosedDataType, windowSeconds: number | undefined): Html {
  return html`<article class="channel" id="privacy-${channel.channel}" data-channel="${channel.channel}">
  <h3>${channel.channel}: how you are protected</h3>
  ${privacyExplanations(channel, windowSeconds).map((explanation) => parameter(explanation.parameter, explanation.value, explanation.sentences))}
</article>`;
}

function neverCollectedSection(d: ResidentDisclosure): Html {
  const unknown = d.technology.filter((part) => !KNOWN_PARTS.has(part));
  const hearsAddresses = d.technology.includes("ble-scan");
  return html`<section data-dtpr="never" id="never">
  <h2>What it never collects</h2>
  <ul>
    ${unknown.length === 0
      ? html`<li><strong>Sound recordings.</strong> None of its sensors records sound${d.technology.includes("sound-level-meter") ? ": the sound-level meter measures only how loud it is" : false}.</li>
    <li><strong>Images or video.</strong> None of its sensors is a camera: no faces, no number plates.</li>`
      : html`<li>It has parts this page does not know (${unknown.join(", ")}): ask the contact above what they can record.</li>`}
    <li><strong>Device addresses.</strong> ${hearsAddresses
      ? "Each Bluetooth address is replaced by a pseudonym the moment it is heard, counted, and forgotten: no address is stored or sent."
      : "It has no receiver that could hear the addresses of phones or other devices."}</li>
    <li><strong>Who you are.</strong> Nothing it publishes names or follows a person: it publishes counts and levels for each window, never a reading, an address or a pseudonym.</li>
  </ul>
</section>`;
}

function historySection(view: PublicPageView): Html {
  const named = view.disclosure?.policy;
  const healthDays = view.disclosure?.retention.healthDays;
  return html`<section data-dtpr="history" id="history">
  <h2>Its policy, and every change to it</h2>
  <p>The sensor runs only on a policy the operator signed. A change that weakens privacy also needs the countersignature of the city's data-ethics board, which the sensor checks itself. It records every change it takes or refuses in a tamper-evident log, which it reports to the city.</p>
  <h3>Policies it has run</h3>
  ${view.policyRuns.length === 0
    ? html`<p>No data of this sensor produced under a signed policy is kept by the city.</p>`
    : html`<table data-history="policies">
    <thead><tr><th>Serial</th><th>Fingerprint</th><th>First window</th><th>Last window</th><th>Windows kept</th></tr></thead>
    <tbody>${view.policyRuns.map(
      (run) => html`<tr data-serial="${run.serial}"><td>${run.serial}${named?.sha256 === run.sha256 ? html` <span class="muted">(this disclosure's)</span>` : false}</td><td><code class="fingerprint">${run.sha256.slice(0, 12)}</code></td><td>${dateWords(run.firstWindowStart * 1000)}</td><td>${dateWords(run.lastWindowStart * 1000)}</td><td>${run.windows}</td></tr>`,
    )}</tbody>
  </table>`}
  <h3>Changes it recorded</h3>
  ${view.policyEntries.length === 0
    ? html`<p>No policy change, taken or refused, is in the sensor's reports that the city keeps${healthDays === undefined ? "" : ` (${healthDays} days)`}.</p>`
    : html`<table data-history="changes">
    <thead><tr><th>When</th><th>What</th></tr></thead>
    <tbody>${view.policyEntries.map((entry) => html`<tr data-event="${entry.event}"><td>${entryDate(entry)}</td><td>${entryWords(entry)}</td></tr>`)}</tbody>
  </table>`}
</section>`;
}

function signSection(view: PublicPageView): Html {
  return html`<section data-dtpr="sign" id="sign">
  <h2>This page</h2>
  <div class="sign">
    <figure>${view.qrCode}</figure>
    <p>Its address: <span class="address" data-field="address">${view.address}</span>. The city prints this code on the sign on the sensor's lamppost, so that anyone can find this page.</p>
  </div>
</section>`;
}

/** One privacy parameter: its figure (data-value) and the sentences that explain it. */
function parameter(name: string, value: number, sentences: readonly string[]): Html {
  return html`<div class="parameter" data-parameter="${name}" data-value="${value}">${sentences.map((s) => html`<p>${s}</p>`)}</div>`;
}

/** 0 -> "rounded to whole numbers", 1 -> "rounded to 1 decimal". */
export function precisionWords(decimals: number): string {
  return decimals === 0 ? "rounded to whole numbers" : `rounded to ${decimals} decimal${decimals === 1 ? "" : "s"}`;
}

function parameterSpan(name: string, value: number, text: string): Html {
  return html`<span data-parameter="${name}" data-value="${value}">${text}</span>`;
}

function days(name: string, value: number | undefined, then: string): Html {
  if (value === undefined) return notStated();
  return parameterSpan(name, value, `${value} day${value === 1 ? "" : "s"}, ${then}`);
}

function list<T>(items: readonly T[], item: (value: T) => Html): Html {
  return items.length === 0 ? html`<p>${notStated()}</p>` : html`<ul>${items.map(item)}</ul>`;
}

function notStated(): Html {
  return html`<span class="muted">not stated in the disclosure</span>`;
}

/** "serial 2 two keys" -> taken, countersigned; "serial 2 weakens /channels/7/privacy/k" -> refused, why. */
function entryWords(entry: ReportedAuditEntry): string {
  const match = /^serial (\d+)(?: (.*))?$/.exec(entry.detail);
  const serial = match ? `serial ${match[1]}` : undefined;
  const rest = match ? (match[2] ?? "") : entry.detail;
  if (entry.event === "policy-updated") {
    const keys = rest === "two keys" ? "signed by the operator and countersigned by the data-ethics board" : "signed by the operator";
    return `Took policy ${serial ?? "(serial not stated)"}, ${keys}${rest !== "" && rest !== "two keys" ? ` (${rest})` : ""}.`;
  }
  const why = rest.startsWith("weakens ") ? `it would weaken privacy (${rest.slice("weakens ".length)}) without the countersignature it needs` : rest;
  return `Refused ${serial ? `policy ${serial}` : "a policy change"}: ${why}.`;
}

function entryDate(entry: ReportedAuditEntry): string {
  return entry.time > 0 ? dateWords(entry.time * 1000) : `before its clock was set (reported ${dateWords(entry.reportTime * 1000)})`;
}

/** "2026-10-01 08:05 UTC". */
function dateWords(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

