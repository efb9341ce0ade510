/**
 * HTML that is safe by construction: a page is written with the `html` template tag, which escapes
 * every value placed in it, so a string from a node, a message or a request (a disclosure whose
 * organisation is `<script>...`, a refusal reason, a Host header) can only ever be text. The only
 * markup that is not escaped is markup this code wrote: other `html` templates, and what
 * `trustedMarkup` was given (the QR code's SVG, checked for its shape first: qr-code.ts).
 *
 * Values are escaped for both text and double-quoted attribute values (the five characters of
 * the HTML standard's "escapable raw text" and attribute states: & < > " '), which is all the
 * templates use: no value is placed in an unquoted attribute, a tag name, a comment, a script or a
 * style (the public pages have neither scripts nor inline styles: their CSP forbids both).
 *
 * Example:
 *   html`<dd>${organisation}</dd>`.toString()   // "<dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>"
 *   html`<ul>${purposes.map((p) => html`<li>${p}</li>`)}</ul>`
 */

/** Markup this code wrote, or text already escaped. Made only by `html` and `trustedMarkup`. */
export class Html {
  readonly #markup: string;

  /** @internal: use `html` or `trustedMarkup`. */
  constructor(markup: string, token: typeof MADE_HERE) {
    if (token !== MADE_HERE) throw new TypeError("Html is made by the html template tag");
    this.#markup = markup;
  }

  toString(): string {
    return this.#markup;
  }
}

const MADE_HERE = Symbol("html");

/** What a template takes: text and numbers (escaped), markup, lists of them; nothing for undefined, null and false. */
export type HtmlValue = Html | string | number | undefined | null | false | readonly HtmlValue[];

const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** `text` as HTML text or a double-quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** The template tag: the literal parts as they are, every value escaped (or placed, if it is Html). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out, MADE_HERE);
}

/** Markup placed as it is: only for markup this code produced and checked (never a string from outside). */
export function trustedMarkup(markup: string): Html {
  return new Html(markup, MADE_HERE);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.toString();
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join("");
  if (value === undefined || value === null || value === false) return "";
  if (typeof value === "number") return escapeHtml(String(value));
  if (typeof value === "string") return escapeHtml(value);
  throw new TypeError(`an HTML template takes text, numbers and markup, not ${typeof value}`);
}
