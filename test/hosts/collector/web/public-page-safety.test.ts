/**
 * The public page is safe by construction, in a real browser with JavaScript on: a disclosure
 * whose every string is markup (signed by the operator, so it is shown, or published unchecked)
 * shows that markup as text and injects no element, runs no script and fetches nothing; and the
 * page's address, the one in its QR code, comes from the city's public base URL when one is set,
 * otherwise from a well-formed Host header only (X-Forwarded-* never counts).
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publicBaseUrl, PublicBaseUrlError, publicPages } from "../../../../hosts/collector/web/public-page.js";
import { launchBrowser, type TestBrowser } from "../../../support/browser.js";
import { testCollectorDb } from "../../../support/collector-db.js";
import { startTestApi } from "../api/api-fixture.js";
import { keyringOf } from "../sealed-messages.js";
import { decodeQrCode, visit } from "./public-browser.js";
import { disclosureDocument, publicStreet, signedPolicy, windowStartMs, type DisclosureDocument } from "./public-street.js";

const DEVICE = "lamp-1";
const POLICY = signedPolicy(DEVICE, 1);
const SCRIPT = "<script>alert(1)</script>";
const BREAKOUT = '"><img src=x onerror=alert(2)>';
const PURPOSES = ['<iframe src="https://example.com/"></iframe>', "</li></ul><h1>fake</h1>"];

const closers: Array<() => Promise<void>> = [];
let browser: TestBrowser;
beforeAll(async () => {
  browser = await launchBrowser();
  closers.push(() => browser.close());
});
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** The node's own disclosure with markup in every string a page shows. */
function markupDisclosure(): DisclosureDocument {
  const document = disclosureDocument(DEVICE, POLICY);
  document.accountable = { organisation: SCRIPT, contact: BREAKOUT };
  document.purposes = PURPOSES;
  document.technology = ["<svg onload=alert(3)>", "ble-scan"];
  document.processing = ["<style>body { display: none }</style>", "readings are aggregated on the node into 300-second windows; only window statistics leave it"];
  document.storage = "<object data=x></object>";
  document.access = [{ who: "<b>anyone</b>", data: "<a href=javascript:alert(4)>this</a>" }];
  document.retention = { rawReadings: "<!-- -->", identifiers: "<base href=https://example.com/>", summariesDays: 365, healthDays: 90 };
  const people = document.dataTypes.find((c) => c.channel === "people")!;
  people.channel = `pe"ople<script>alert(5)</script>`;
  people.meaning = "<marquee>entries</marquee>";
  people.part = "<img src=y>";
  return document;
}

/** What the page holds that it should not: injected elements, and whether everything shown is the text given. */
async function inspect(url: string) {
  const page = await visit(browser.context, url);
  const injected = await page.page.evaluate(() => [...document.querySelectorAll("script, iframe, img, style, object, embed, marquee, base, b, h1 ~ h1, form")].map((el) => el.outerHTML));
  const svgs = await page.page.locator("svg").count();
  const field = (name: string) => page.page.locator(`[data-field="${name}"]`).textContent();
  const result = { problems: page.problems, requests: page.requests.map((u) => new URL(u).pathname), injected, svgs, organisation: await field("organisation"), contact: await field("contact"), text: (await page.page.locator("body").textContent()) ?? "" };
  await page.page.close();
  return result;
}

describe("a disclosure full of markup", () => {
  it("is shown as text when the operator signed it: no element injected, no script run, nothing fetched", async () => {
    const street = await publicStreet(await testCollectorDb(), DEVICE, [POLICY], POLICY);
    const api = await startTestApi({ db: street.collector.db, keyring: keyringOf(DEVICE), disclosures: street.collector.disclosures, now: street.now, pages: [publicPages()] });
    closers.push(() => api.close(), () => street.close());
    const document = markupDisclosure();
    await street.disclose(document, windowStartMs(0) - 60_000);
    await street.deliver(0);
    expect(street.collector.disclosures.latest(DEVICE)?.verified).toBe(true);

    const page = await inspect(`${api.api.url}/nodes/${DEVICE}`);
    expect(page.problems).toEqual([]);
    expect(page.requests.filter((path) => path !== "/assets/public-icon.svg").sort()).toEqual(["/assets/public.css", `/nodes/${DEVICE}`]);
    expect(page.injected).toEqual([]);
    expect(page.svgs).toBe(1); // the QR code
    expect(page.organisation).toBe(SCRIPT);
    expect(page.contact).toBe(BREAKOUT);
    for (const shown of [...PURPOSES, "<svg onload=alert(3)>", "<style>body { display: none }</style>", "<object data=x></object>", "<b>anyone</b>", "<a href=javascript:alert(4)>this</a>", "<!-- -->", "<marquee>entries</marquee>", `pe"ople<script>alert(5)</script>`]) {
      expect(page.text).toContain(shown);
    }
  });

  it("is shown as text, and said to be unchecked, when the collector has no operator key", async () => {
    const street = await publicStreet(await testCollectorDb(), DEVICE, [], POLICY, { operatorKey: false });
    const api = await startTestApi({ db: street.collector.db, keyring: keyringOf(DEVICE), disclosures: street.collector.disclosures, now: street.now, pages: [publicPages()] });
    closers.push(() => api.close(), () => street.close());
    await street.disclose(markupDisclosure(), windowStartMs(0));
    const page = await inspect(`${api.api.url}/nodes/${DEVICE}`);
    expect(page.problems).toEqual([]);
    expect(page.injected).toEqual([]);
    expect(page.organisation).toBe(SCRIPT);
    expect(page.text).toContain("Not checked");
  });
});

describe("the page's address", () => {
  /** GET `path` with these headers over raw HTTP (fetch will not send another Host), and the address the page prints. */
  function addressWith(url: string, path: string, headers: Record<string, string>): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request({ host: target.hostname, port: target.port, path, headers }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve(/data-field="address">([^<]*)</.exec(body)?.[1]));
      });
      req.on("error", reject);
      req.end();
    });
  }

  async function api(options: Parameters<typeof publicPages>[0]) {
    const db = await testCollectorDb();
    await db.syncDevices([{ device: DEVICE, zone: "old-town", keyId: "00" }]);
    const started = await startTestApi({ db, keyring: keyringOf(DEVICE), pages: [publicPages(options)] });
    closers.push(() => started.close());
    return started;
  }

  it("is the city's public base URL when one is set, whatever the request says, and the QR code says so too", async () => {
    const { api: server } = await api({ publicBaseUrl: "https://sensors.example.city/street/" });
    const page = await visit(browser.context, `${server.url}/nodes/${DEVICE}`);
    expect(await decodeQrCode(page.page)).toBe(`https://sensors.example.city/street/nodes/${DEVICE}`);
    expect(page.problems).toEqual([]);
    await page.page.close();
    expect(await addressWith(server.url, `/nodes/${DEVICE}`, { Host: "evil.example", "X-Forwarded-Host": "evil.example" })).toBe(`https://sensors.example.city/street/nodes/${DEVICE}`);
    const svg = await fetch(`${server.url}/nodes/${DEVICE}/qr.svg`);
    expect(svg.headers.get("content-disposition")).toBe(`inline; filename="${DEVICE}-qr.svg"`);
  });

  it("is the request's Host without one, only when it is a host; X-Forwarded-* is never believed", async () => {
    const { api: server } = await api({});
    const port = new URL(server.url).port;
    expect(await addressWith(server.url, `/nodes/${DEVICE}`, { Host: "Sensors.Example.City:8080", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https" })).toBe(`http://sensors.example.city:8080/nodes/${DEVICE}`);
    expect(await addressWith(server.url, `/nodes/${DEVICE}`, { Host: "[::1]:8080" })).toBe(`http://[::1]:8080/nodes/${DEVICE}`);
    // Not a host: the address the request came in on, and the header's text nowhere in the page.
    for (const host of ['x"><script>alert(1)</script>', "a b", "x.example/path"]) {
      expect(await addressWith(server.url, `/nodes/${DEVICE}`, { Host: host })).toBe(`http://127.0.0.1:${port}/nodes/${DEVICE}`);
    }
  });

  it("refuses a public base URL it could not build addresses under, saying why", () => {
    expect(publicBaseUrl("https://sensors.example.city")).toBe("https://sensors.example.city");
    expect(publicBaseUrl("http://example.city:8080/a/b//")).toBe("http://example.city:8080/a/b");
    for (const [url, why] of [
      ["sensors.example.city", "expected an absolute http(s) URL"],
      ["ftp://example.city", "must be http or https, not ftp"],
      ["https://example.city/?a=1", "no query, fragment or credentials"],
      ["https://example.city/#x", "no query, fragment or credentials"],
      ["https://user:secret@example.city", "no query, fragment or credentials"],
    ] as const) {
      expect(() => publicPages({ publicBaseUrl: url })).toThrow(PublicBaseUrlError);
      expect(() => publicBaseUrl(url)).toThrow(why);
    }
  });
});
