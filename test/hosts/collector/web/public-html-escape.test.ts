/**
 * The public page's HTML is safe by construction: every value placed in a template is escaped for
 * text and quoted attributes, lists and nested templates keep their markup, and the QR code's SVG
 * is trusted only in the shape the library draws it.
 */
import { describe, expect, it } from "vitest";
import { escapeHtml, html, Html, trustedMarkup } from "../../../../hosts/collector/web/html-escape.js";
import { qrCodeMarkup, qrCodeSvg } from "../../../../hosts/collector/web/qr-code.js";

describe("html", () => {
  it("escapes every value, in text and in attributes", () => {
    const value = `<script>alert(1)</script>"><img src=x onerror=alert(2)>'&`;
    expect(html`<dd title="${value}">${value}</dd>`.toString()).toBe(
      '<dd title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&amp;</dd>',
    );
    expect(escapeHtml("&amp;")).toBe("&amp;amp;");
  });

  it("keeps the markup of nested templates and lists, and writes nothing for undefined, null and false", () => {
    const items = ["a<b", "c"];
    expect(html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>${undefined}${null}${false}${0}`.toString()).toBe("<ul><li>a&lt;b</li><li>c</li></ul>0");
    expect(html`${trustedMarkup("<b>made here</b>")}`.toString()).toBe("<b>made here</b>");
  });

  it("cannot be made from a string outside this module", () => {
    expect(() => new Html("<script>", Symbol("html") as never)).toThrow(TypeError);
    expect(() => html`${{ toString: () => "<script>" } as never}`).toThrow(TypeError);
  });
});

describe("the QR code", () => {
  it("is an SVG of paths only, labelled with its address (escaped)", async () => {
    const svg = await qrCodeSvg("http://127.0.0.1:8080/nodes/lamp-1");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox="0 0 \d+ \d+" shape-rendering="crispEdges"><path /);
    expect(svg).not.toContain("lamp-1");
    const markup = (await qrCodeMarkup('http://x.example/nodes/a"><script>')).toString();
    expect(markup).toContain('aria-label="QR code of http://x.example/nodes/a&quot;&gt;&lt;script&gt;"');
    expect(markup).not.toContain("<script>");
  });
});
