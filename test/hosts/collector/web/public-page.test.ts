/**
 * A node's public page in a real browser (Debian's Chromium, headless), with JavaScript and
 * without: the collector's API with the public pages on a real SQLite database, the node's signed
 * disclosure and its messages through the real collector (public-street.ts). The page shows every
 * DTPR category and every privacy parameter of the node's disclosure, each checked against the
 * disclosure's own figures; what it never collects; the policy's history from the node's audit
 * entries and stored summaries; the verification verdict in words (verified, awaiting its data,
 * mismatch, forged, absent); a QR code that decodes, from a screenshot, to the page's own address;
 * and it loads with no console error, no failed request and nothing from elsewhere. Screenshots go
 * to test-artifacts/ (and to docs/images/public-page.png with CIVICNODE_DOCS_IMAGES=1).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import REFERENCE from "../../../../src/policy/reference-street.policy.json" with { type: "json" };
import { publicPages, PUBLIC_CSP } from "../../../../hosts/collector/web/public-page.js";
import { noiseSpread } from "../../../../hosts/collector/web/privacy-sentences.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";
import { launchBrowser, type TestBrowser } from "../../../support/browser.js";
import { testCollectorDb } from "../../../support/collector-db.js";
import { startTestApi } from "../api/api-fixture.js";
import { keyringOf } from "../sealed-messages.js";
import { decodeQrCode, visit, type Visit } from "./public-browser.js";
import { disclosureDocument, publicStreet, signedDocument, signedPolicy, windowStartMs, type DisclosureDocument, type PublicStreet } from "./public-street.js";

const DEVICE = "lamp-1";
const FIRST = signedPolicy(DEVICE, 1);
const SECOND = signedPolicy(DEVICE, 2);
/** Another policy the operator signed under serial 2: a node running it does not run what its disclosure says. */
const SECOND_OTHER = signedPolicy(DEVICE, 2, "old-town-2-other");
const ARTIFACTS = join(process.cwd(), "test-artifacts");
const DTPR = ["accountable", "purpose", "technology", "data-type", "processing", "storage", "access", "retention"];

type Api = Awaited<ReturnType<typeof startTestApi>>;

const closers: Array<() => Promise<void>> = [];
let withScript: TestBrowser;
let withoutScript: TestBrowser;

beforeAll(async () => {
  [withScript, withoutScript] = await Promise.all([launchBrowser(), launchBrowser({ javaScriptEnabled: false })]);
  closers.push(() => withScript.close(), () => withoutScript.close());
});
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A street whose node ran FIRST, refused and then took an update to SECOND, disclosed SECOND, and sent windows under it; and the API over it. */
async function updatedStreet(): Promise<{ street: PublicStreet; api: Api; document: DisclosureDocument }> {
  const street = await publicStreet(await testCollectorDb(), DEVICE, [FIRST, SECOND, SECOND_OTHER], FIRST);
  await street.disclose(disclosureDocument(DEVICE, FIRST), windowStartMs(0) - 60_000);
  for (let w = 0; w < 3; w++) await street.deliver(w);
  street.node.audit.append(windowStartMs(3) / 1000 + 40, "policy-refused", "serial 2 weakens /channels/7/privacy/k");
  street.node.audit.append(windowStartMs(3) / 1000 + 90, "policy-updated", "serial 2 two keys");
  await street.deliver(3);
  street.node.run(SECOND);
  const document = disclosureDocument(DEVICE, SECOND);
  await street.disclose(document, windowStartMs(5) + 1000);
  for (let w = 4; w < 8; w++) await street.deliver(w);
  const api = await startTestApi({ db: street.collector.db, keyring: keyringOf(DEVICE), disclosures: street.collector.disclosures, now: street.now, pages: [publicPages()] });
  closers.push(() => api.close(), () => street.close());
  return { street, api, document };
}

const text = async (visit: Visit, selector: string) => (await visit.page.locator(selector).first().textContent())?.replace(/\s+/g, " ").trim() ?? "";

/** What the page says for `parameter` in `scope`: its data-value and its words. */
async function parameter(visit: Visit, scope: string, parameter: string): Promise<{ value: string | null; words: string }> {
  const element = visit.page.locator(`${scope} [data-parameter="${parameter}"]`);
  expect(await element.count(), `${scope} ${parameter}`).toBe(1);
  return { value: await element.getAttribute("data-value"), words: (await element.textContent())!.replace(/\s+/g, " ") };
}

describe("a node's public page", () => {
  let api: Api;
  let document: DisclosureDocument;
  beforeAll(async () => {
    ({ api, document } = await updatedStreet());
  });

  it.each([
    ["with JavaScript", () => withScript],
    ["without JavaScript", () => withoutScript],
  ])("renders every DTPR category and every privacy parameter of the disclosure, %s", async (_, browser) => {
    const page = await visit(browser().context, `${api.api.url}/nodes/${DEVICE}`);
    expect(page.response.status()).toBe(200);
    expect(page.problems).toEqual([]);
    expect(await page.page.locator("script").count()).toBe(0);
    for (const category of DTPR) {
      const section = page.page.locator(`section[data-dtpr="${category}"]`);
      expect(await section.count(), category).toBe(1);
      expect(await section.locator("h2").isVisible(), category).toBe(true);
    }
    const accountable = document.accountable as { organisation: string; contact: string };
    expect(await text(page, '[data-field="organisation"]')).toBe(accountable.organisation);
    expect(await text(page, '[data-field="contact"]')).toBe(accountable.contact);
    expect(await page.page.locator('[data-dtpr="purpose"] li').allTextContents()).toEqual(document.purposes);
    expect(await page.page.locator('[data-dtpr="technology"] li').evaluateAll((items) => items.map((li) => li.getAttribute("data-part")))).toEqual(document.technology);
    expect(await page.page.locator('[data-dtpr="processing"] li.quote').allTextContents()).toEqual(document.processing);
    expect(await text(page, '[data-dtpr="storage"] .quote')).toBe(document.storage);
    for (const { who, data } of document.access as Array<{ who: string; data: string }>) expect(await text(page, '[data-dtpr="access"]')).toContain(`${who}${data}`);

    // Per channel: what it measures, its precision; and for the protected ones every privacy parameter.
    for (const channel of document.dataTypes) {
      const scope = `[data-dtpr="data-type"] [data-channel="${channel.channel}"]`;
      expect(await page.page.locator(scope).count(), channel.channel as string).toBe(1);
      expect(await parameter(page, scope, "decimals")).toEqual({ value: String(channel.decimals), words: channel.decimals === 0 ? "rounded to whole numbers" : `rounded to ${channel.decimals} decimal${channel.decimals === 1 ? "" : "s"}` });
      const privacy = channel.privacy as { kAnonymity: number; epsilonPerRelease: number; sensitivity: number; dailyEpsilon: number } | undefined;
      const protection = `[data-dtpr="processing"] [data-channel="${channel.channel}"]`;
      if (!privacy) {
        expect(await page.page.locator(protection).count()).toBe(0);
        continue;
      }
      const k = await parameter(page, protection, "kAnonymity");
      expect(k.value).toBe(String(privacy.kAnonymity));
      expect(k.words).toContain(`Counts below ${privacy.kAnonymity} are never published`);
      const delta = await parameter(page, protection, "sensitivity");
      expect(delta.value).toBe(String(privacy.sensitivity));
      expect(delta.words).toContain(`changing a window's count by at most ${privacy.sensitivity}`);
      const epsilon = await parameter(page, protection, "epsilonPerRelease");
      expect(epsilon.value).toBe(String(privacy.epsilonPerRelease));
      expect(epsilon.words).toContain(`within ${noiseSpread(privacy.epsilonPerRelease, privacy.sensitivity)} of the true count`);
      expect(epsilon.words).toContain(`For someone walking past once, in one 5-minute window (ε = ${privacy.epsilonPerRelease})`);
      const daily = await parameter(page, protection, "dailyEpsilon");
      expect(daily.value).toBe(String(privacy.dailyEpsilon));
      expect(daily.words).toContain(`The daily budget is ε = ${privacy.dailyEpsilon} per calendar day (UTC): it pays for ${Math.floor(privacy.dailyEpsilon / privacy.epsilonPerRelease)} published counts`);
      expect(daily.words).toContain("Someone who is here all day");
    }
    expect(await parameter(page, '[data-dtpr="processing"]', "windowSeconds")).toMatchObject({ value: String(REFERENCE.windowSeconds) });
    expect((await parameter(page, '[data-dtpr="processing"]', "pseudonymEpochSeconds")).value).toBe(String(REFERENCE.pseudonymEpochSeconds));
    const location = document.location as { precisionMeters: number };
    expect((await parameter(page, "header", "precisionMeters")).value).toBe(String(location.precisionMeters));
    const retention = document.retention as { summariesDays: number; healthDays: number };
    expect(await parameter(page, '[data-dtpr="retention"]', "summariesDays")).toMatchObject({ value: String(retention.summariesDays), words: expect.stringContaining(`${retention.summariesDays} days`) });
    expect(await parameter(page, '[data-dtpr="retention"]', "healthDays")).toMatchObject({ value: String(retention.healthDays), words: expect.stringContaining(`${retention.healthDays} days`) });

    const never = await text(page, '[data-dtpr="never"]');
    for (const item of ["Sound recordings.", "Images or video.", "Device addresses.", "no address is stored or sent"]) expect(never).toContain(item);
    await page.page.close();
  });

  it("says it verifies, and shows the policy's history: the serials it ran and the changes it recorded, with their dates", async () => {
    const page = await visit(withoutScript.context, `${api.api.url}/nodes/${DEVICE}`);
    expect(await page.page.locator("[data-verification]").getAttribute("data-verification")).toBe("verified");
    expect(await text(page, "[data-verification] h2")).toBe("Verified");
    expect(await text(page, "[data-verification]")).toContain(`policy "${SECOND.name}", serial 2 (fingerprint ${SECOND.sha256.slice(0, 12)})`);
    const runs = await page.page.locator('[data-history="policies"] tbody tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent!.trim())));
    expect(runs).toEqual([
      ["1", FIRST.sha256.slice(0, 12), "2026-10-01 08:00 UTC", "2026-10-01 08:15 UTC", "4"],
      ["2 (this disclosure's)", SECOND.sha256.slice(0, 12), "2026-10-01 08:20 UTC", "2026-10-01 08:35 UTC", "4"],
    ]);
    const changes = await page.page.locator('[data-history="changes"] tbody tr').evaluateAll((rows) => rows.map((r) => [r.getAttribute("data-event"), ...[...r.querySelectorAll("td")].map((td) => td.textContent!.trim())]));
    expect(changes).toEqual([
      ["policy-refused", "2026-10-01 08:15 UTC", "Refused policy serial 2: it would weaken privacy (/channels/7/privacy/k) without the countersignature it needs."],
      ["policy-updated", "2026-10-01 08:16 UTC", "Took policy serial 2, signed by the operator and countersigned by the data-ethics board."],
    ]);
    await page.page.close();
  });

  it("has a QR code that decodes, from a screenshot, to the page's own address, which it also prints", async () => {
    for (const browser of [withScript, withoutScript]) {
      const page = await visit(browser.context, `${api.api.url}/nodes/${DEVICE}`);
      const address = `${api.api.url}/nodes/${DEVICE}`;
      expect(await decodeQrCode(page.page)).toBe(address);
      expect(await text(page, '[data-field="address"]')).toBe(address);
      expect(page.page.url()).toBe(address);
      await page.page.close();
    }
    const svg = await api.get(`/nodes/${DEVICE}/qr.svg`, { token: null });
    expect([svg.status, svg.headers.get("content-type")]).toEqual([200, "image/svg+xml; charset=utf-8"]);
    expect(await svg.text()).toMatch(/^<svg /);
  });

  it("is sent with a CSP that allows no script and nothing from elsewhere, and loads only the collector's stylesheet and icon", async () => {
    const page = await visit(withScript.context, `${api.api.url}/nodes/${DEVICE}`);
    const headers = page.response.headers();
    expect(headers["content-security-policy"]).toBe(PUBLIC_CSP);
    expect(PUBLIC_CSP).not.toMatch(/script-src|unsafe-inline|unsafe-eval|https?:|\*/);
    expect(headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["cache-control"]).toBe("no-cache");
    // Headless Chromium asks for no icon; a browser with a tab bar does.
    const paths = page.requests.map((url) => new URL(url).pathname);
    expect(paths).toEqual(expect.arrayContaining([`/nodes/${DEVICE}`, "/assets/public.css"]));
    expect(paths.filter((path) => ![`/nodes/${DEVICE}`, "/assets/public.css", "/assets/public-icon.svg"].includes(path))).toEqual([]);
    const icon = await api.get("/assets/public-icon.svg", { token: null });
    expect([icon.status, icon.headers.get("content-type")]).toEqual([200, "image/svg+xml; charset=utf-8"]);
    expect(page.problems).toEqual([]);
    // The stylesheet applies (a file, since the CSP allows no inline style).
    expect(await page.page.locator(".verdict").evaluate((el) => getComputedStyle(el).borderLeftStyle)).toBe("solid");
    await page.page.setViewportSize({ width: 1000, height: 1400 });
    mkdirSync(ARTIFACTS, { recursive: true });
    const full = await page.page.screenshot({ fullPage: true });
    writeFileSync(join(ARTIFACTS, "public-page.png"), full);
    if (process.env.CIVICNODE_DOCS_IMAGES === "1") writeFileSync(join(process.cwd(), "docs", "images", "public-page.png"), await page.page.screenshot());
    await page.page.close();
  });

  it("serves the disclosure as the node published it at disclosure.json, with its verification", async () => {
    const response = await api.get(`/nodes/${DEVICE}/disclosure.json`, { token: null });
    expect(response.status).toBe(200);
    expect([response.headers.get("content-type"), response.headers.get("disclosure-verified"), response.headers.get("disclosure-verification")]).toEqual(["application/json; charset=utf-8", "true", "verified"]);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(utf8Encode(JSON.stringify(document)));
    expect((await api.get("/nodes/lamp-9/disclosure.json", { token: null })).status).toBe(404);
    expect((await api.get("/nodes/-bad/disclosure.json", { token: null })).status).toBe(404);
  });

  it("answers a device the collector does not know with a 404 page", async () => {
    const page = await visit(withoutScript.context, `${api.api.url}/nodes/lamp-9`);
    expect(page.response.status()).toBe(404);
    expect(page.response.headers()["content-security-policy"]).toBe(PUBLIC_CSP);
    expect(await text(page, "h1")).toBe("No such street sensor");
    expect(await text(page, "main")).toContain("knows no sensor called lamp-9");
    // Chromium reports the page's own 404 on its console; nothing else may go wrong.
    expect(page.problems).toEqual(["console error: Failed to load resource: the server responded with a status of 404 (Not Found)"]);
    expect(page.requests.map((url) => new URL(url).pathname)).not.toContain("/nodes/lamp-9/disclosure.json");
    await page.page.close();
  });
});

describe("the verification a page shows", () => {
  /** The node's page after `setup`, in the browser without JavaScript: its verdict and its words. */
  async function verdict(setup: (street: PublicStreet) => Promise<void>, runs = FIRST) {
    const street = await publicStreet(await testCollectorDb(), DEVICE, [FIRST, SECOND, SECOND_OTHER], runs);
    const api = await startTestApi({ db: street.collector.db, keyring: keyringOf(DEVICE), disclosures: street.collector.disclosures, now: street.now, pages: [publicPages()] });
    closers.push(() => api.close(), () => street.close());
    await setup(street);
    const page = await visit(withoutScript.context, `${api.api.url}/nodes/${DEVICE}`);
    expect(page.problems).toEqual([]);
    const state = await page.page.locator("[data-verification]").getAttribute("data-verification");
    const words = await text(page, "[data-verification]");
    const api_state = ((await (await api.get(`/api/nodes/${DEVICE}/verification`, { token: null })).json()) as { state: string }).state;
    const sections = await page.page.locator("section[data-dtpr]").evaluateAll((all) => all.map((s) => s.getAttribute("data-dtpr")));
    const qr = await decodeQrCode(page.page);
    await page.page.close();
    expect(state).toBe(api_state); // the page and the API say the same
    expect(qr).toBe(`${api.api.url}/nodes/${DEVICE}`);
    return { state, words, sections };
  }

  it("mismatch: its newest data was produced under another policy than the disclosure names", async () => {
    const { state, words, sections } = await verdict(async (street) => {
      await street.disclose(disclosureDocument(DEVICE, SECOND), windowStartMs(0) - 60_000);
      await street.deliver(0);
    }, SECOND_OTHER);
    expect(state).toBe("mismatch");
    expect(words).toContain("Warning: the sensor's data does not match this disclosure");
    expect(words).toContain(`names policy "${SECOND.name}", serial 2 (fingerprint ${SECOND.sha256.slice(0, 12)}), but the newest data the sensor sent was produced under policy serial 2 (fingerprint ${SECOND_OTHER.sha256.slice(0, 12)})`);
    expect(sections).toEqual(expect.arrayContaining(DTPR));
  });

  it("forged: only disclosures the operator did not sign were published, and none is shown", async () => {
    const { state, words, sections } = await verdict(async (street) => {
      const forged = disclosureDocument(DEVICE, FIRST);
      forged.accountable = { organisation: "Not the city", contact: "someone else" };
      await street.disclose(forged, windowStartMs(0), new Uint8Array(32).fill(3));
      await street.deliver(0);
    });
    expect(state).toBe("forged");
    expect(words).toContain("Warning: forged disclosures");
    expect(sections).toEqual(["none", "history", "sign"]);
  });

  it("absent: a node without a disclosure yet gets a page that says so", async () => {
    const { state, words, sections } = await verdict(async (street) => street.deliver(0));
    expect(state).toBe("absent");
    expect(words).toContain("No disclosure yet");
    expect(sections).toEqual(["none", "history", "sign"]);
  });

  it("awaiting its data: the signature holds, and no summary under its policy has arrived", async () => {
    const { state, words } = await verdict(async (street) => street.disclose(disclosureDocument(DEVICE, FIRST), windowStartMs(0)));
    expect(state).toBe("awaiting-summary");
    expect(words).toContain("Signed, not yet confirmed by the sensor's data");
  });

  it("verified, with a forgery refused since: it says so", async () => {
    const { state, words } = await verdict(async (street) => {
      await street.disclose(disclosureDocument(DEVICE, FIRST), windowStartMs(0) - 60_000);
      await street.deliver(0);
      const forged = signedDocument(DEVICE, { format: "civicnode-disclosure", version: 2, device: DEVICE }, new Uint8Array(32).fill(3));
      await street.collector.handle(forged.topic, forged.payload);
    });
    expect(state).toBe("verified");
    expect(words).toContain("a disclosure the operator did not sign was published for this sensor: it was refused, and is not shown");
  });
});
