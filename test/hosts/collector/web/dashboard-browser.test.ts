/**
 * The staff dashboard in a real browser (Debian's Chromium, test/support/browser.ts) against a
 * real collector on SQLite fed by real nodes (dashboard-street.ts): one summary of street-01 is
 * never received (a missing window), the street's counts are suppressed now and then, and a node
 * of the test's own (lab-01) sends a summary whose every withheld kind shows, and text with markup
 * in it. The page loads through the one-time link with nothing going wrong (no console error, no
 * failed request, nothing fetched from elsewhere), shows every node, plots exactly what the API
 * stores, marks every gap with its reason, draws the noise band of the declared ε and Δ, shows a
 * new window without a reload, shows a message's sealed bytes, and shows a node's markup as text.
 * Screenshots go to test-artifacts/.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { counterReuseAlert } from "../../../../hosts/collector/alerts.js";
import { POLL_MS } from "../../../../hosts/collector/api/routes/live-events.js";
import { buildDashboardAssets } from "../../../../hosts/collector/web/dashboard-bundle.js";
import { parseEncrypt0 } from "../../../../src/wire/cose-encrypt0.js";
import { launchBrowser, type TestBrowser } from "../../../support/browser.js";
import { rootKeyOf as fixtureRootKeyOf, SealingNode, streetRecords } from "../api/api-fixture.js";
import { visit, type Visit } from "./public-browser.js";
import { DashboardStreet, HOUR_MS, START_MS, WINDOW_MS, ZONE } from "./dashboard-street.js";

const ARTIFACTS = join(process.cwd(), "test-artifacts");
const DEVICES = ["street-01", "street-02", "street-03"];
const LAB = "lab-01";
/** A stored window reaches the page within a poll of the store, an event and a fetch: this many polls is ample on a loaded machine. */
const LIVE_MS = 20 * POLL_MS;
/** street-01's 7th summary never arrives: a window the plots must show as missing. */
const MISSING_SUMMARY = 6;
/** Text with markup, as a node may send it: a unit, a status, a sensor's status (SenML names allow no markup). */
const MARKUP_CHANNEL = "lab-markup";
const MARKUP_UNIT = "<img src=x onerror=alert(1)>";
const MARKUP_STATUS = "<b onclick=alert(3)>held</b>";
const MARKUP_SENSOR_STATUS = "<svg onload=alert(4)><script>alert(5)</script>";

type Summary = { windowStart: number; windowSeconds: number; epoch: number; counter: number; statistics: Array<{ channel: string; stat: string; value: number | null; unit: string | null; status: string | null }> };

describe("the staff dashboard in a browser", () => {
  let street: DashboardStreet;
  let browser: TestBrowser;
  let visited: Visit;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    street = await DashboardStreet.start({
      devices: DEVICES,
      others: [{ device: LAB, rootKey: fixtureRootKeyOf(LAB) }],
      withhold: (device, kind, n) => device === "street-01" && kind === "summary" && n === MISSING_SUMMARY,
      assets: buildDashboardAssets(),
    });
    await street.advance(2 * HOUR_MS);
    const lab = new SealingNode(LAB, ZONE);
    const t0 = START_MS / 1000;
    for (let w = 0; w < 4; w++) await street.deliver(lab.summary(t0 + w * 300, streetRecords(w)));
    await street.deliver(lab.summary(t0 + 4 * 300, [{ name: `${MARKUP_CHANNEL}/mean`, unit: MARKUP_UNIT, value: 1.5 }, { name: "people/sum", status: MARKUP_STATUS }]));
    await street.deliver(lab.health(t0 + 5 * 300, [{ name: "uptime", value: 1500 }, { name: "sht4x/status", status: MARKUP_SENSOR_STATUS }, { name: "sht4x/drops/checksum", value: 2 }]));
    browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
    visited = await visit(browser.context, street.api.staffLoginUrl());
    page = visited.page;
    await page.click('.node-select[data-device="street-01"]');
    await page.waitForSelector('.channel-plot[data-channel="temperature"][data-windows]');
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await street?.close();
  });

  it("loads through the one-time link with no console error, no failed request and nothing from elsewhere, and shows every node", async () => {
    expect(new URL(page.url()).pathname).toBe("/");
    expect(visited.requests.every((url) => url.startsWith(`${street.api.url}/`))).toBe(true);
    const devices = [LAB, ...DEVICES];
    expect((await page.locator("rect.node").evaluateAll((dots) => dots.map((d) => d.getAttribute("data-device")))).sort()).toEqual(devices);
    expect(await page.locator(".node-list .node-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")))).toEqual(devices);
    const { nodes } = await street.staff<{ nodes: Array<{ device: string; state: string }> }>("/api/street");
    for (const node of nodes) expect(await page.locator(`rect.node[data-device="${node.device}"]`).getAttribute("data-state")).toBe(node.state);
    expect(await page.locator(`rect.node[data-device="${LAB}"]`).getAttribute("data-state")).toBe("silent");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-street.png"), fullPage: true });
    expect(visited.problems).toEqual([]);
  });

  it("plots exactly the values the API stores, window by window, and a null where none was released", async () => {
    const summaries = await allSummaries(street, "street-01");
    for (const channel of ["temperature", "noise", "people"]) {
      const rows = await plotValues(page, channel);
      const stored = rows.filter((r) => r.stored);
      expect(stored.map((r) => r.x), channel).toEqual(summaries.map((s) => s.windowStart));
      for (const row of stored) {
        const summary = summaries.find((s) => s.windowStart === row.x)!;
        for (const [series, value] of Object.entries(row.values)) {
          const stat = series.replace(" (readings)", "");
          if (/[+−]1σ$/.test(stat)) continue;
          const statistic = summary.statistics.find((s) => s.channel === channel && s.stat === stat);
          expect(value, `${channel} ${stat} at ${row.x}`).toBe(statistic?.value ?? null);
        }
      }
    }
  });

  it("marks a window that never arrived and a suppressed count as gaps with their reasons, never as zeros", async () => {
    const summaries = await allSummaries(street, "street-01");
    const hole = summaries.findIndex((s, i) => i > 0 && s.windowStart !== summaries[i - 1]!.windowStart + summaries[i - 1]!.windowSeconds);
    expect(hole).toBeGreaterThan(0);
    const missingStart = summaries[hole - 1]!.windowStart + summaries[hole - 1]!.windowSeconds;
    const missing = page.locator(`.channel-plot[data-channel="temperature"] li.gap[data-reason="missing"][data-from="${missingStart}"]`);
    await expect.poll(() => missing.count()).toBe(1);
    expect(await missing.getAttribute("data-to")).toBe(String(summaries[hole]!.windowStart));
    expect(await missing.textContent()).toContain("no summary stored for this window");
    const temperature = await plotValues(page, "temperature");
    const row = temperature.find((r) => r.x === missingStart)!;
    expect(row.stored).toBe(false);
    expect(Object.values(row.values).every((v) => v === null)).toBe(true);

    const suppressed = [...summaries].reverse().find((s) => s.statistics.some((st) => st.channel === "people" && st.status === "suppressed"));
    expect(suppressed, "a suppressed count of people in two hours of a busy morning").toBeDefined();
    const gap = page.locator(`.channel-plot[data-channel="people"] li.gap[data-reason="suppressed"]`).first();
    expect(Number(await gap.getAttribute("data-from"))).toBeLessThanOrEqual(suppressed!.windowStart);
    expect(Number(await gap.getAttribute("data-to"))).toBeGreaterThan(suppressed!.windowStart);
    expect(await gap.textContent()).toMatch(/withheld by k-anonymity: the count was above 0 and below k = 3/);
    const people = await plotValues(page, "people");
    expect(people.find((r) => r.x === suppressed!.windowStart)!.values).toMatchObject({ sum: null, "sum +1σ": null, "sum −1σ": null });
    await page.locator('.channel-plot[data-channel="people"]').screenshot({ path: join(ARTIFACTS, "dashboard-gaps.png") });
  });

  it("draws a noisy count with a band of ±1 standard deviation of the declared discrete Laplace noise, below zero too", async () => {
    // The reference street's people: ε = 0.5 per release, Δ = 2: a = e^(-1/4), σ = √(2a) / (1 - a).
    const a = Math.exp(-0.5 / 2);
    const sigma = Math.sqrt(2 * a) / (1 - a);
    const note = page.locator('.channel-plot[data-channel="people"] .noise-note');
    expect(Number(await note.getAttribute("data-sigma"))).toBeCloseTo(sigma, 4);
    expect(await note.textContent()).toContain("σ = 5.64");
    const rows = (await plotValues(page, "people")).filter((r) => r.values.sum !== null);
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) {
      expect(row.values["sum +1σ"]).toBeCloseTo(row.values.sum! + sigma, 9);
      expect(row.values["sum −1σ"]).toBeCloseTo(row.values.sum! - sigma, 9);
    }
  });

  it("shows a new window as it is stored, without a reload", async () => {
    const plot = page.locator('.channel-plot[data-channel="temperature"]');
    const before = Number(await plot.getAttribute("data-last-window"));
    const loads = visited.requests.filter((url) => new URL(url).pathname === "/").length;
    await street.advance(WINDOW_MS);
    await expect.poll(async () => Number(await plot.getAttribute("data-last-window")), { timeout: LIVE_MS }).toBe(before + WINDOW_MS / 1000);
    expect(visited.requests.filter((url) => new URL(url).pathname === "/").length).toBe(loads);
    const newest = (await allSummaries(street, "street-01")).at(-1)!;
    const row = (await plotValues(page, "temperature")).find((r) => r.x === newest.windowStart)!;
    expect(row.values.mean).toBe(newest.statistics.find((s) => s.channel === "temperature" && s.stat === "mean")!.value);
    expect(visited.problems).toEqual([]);
  });

  it("shows a window's message as it left the device: as many bytes as the collector stored, beside its decoded content", async () => {
    await page.click('[data-tab="messages"]');
    const first = page.locator(".message-list li").first();
    const epoch = Number(await first.locator(".inspect").getAttribute("data-epoch"));
    const counter = Number(await first.locator(".inspect").getAttribute("data-counter"));
    await first.locator(".inspect").click();
    const hex = page.locator(".inspector pre.hex");
    await hex.waitFor();
    const { messages } = await street.staff<{ messages: Array<{ bytes: number; hex: string }> }>(`/api/nodes/street-01/messages?epoch=${epoch}&counter=${counter}`);
    const stored = messages[0]!;
    const shown = (await hex.textContent())!.split("\n").flatMap((line) => line.slice(6).split(" ").filter(Boolean));
    expect(shown.length).toBe(stored.bytes);
    expect(shown.join("")).toBe(stored.hex);
    expect(Number(await page.locator(".inspector .sealed-bytes").getAttribute("data-bytes"))).toBe(stored.bytes);
    const sent = street.delivered.find((m) => m.device === "street-01" && m.topic.endsWith("/summary") && parseEncrypt0(m.payload).counter === counter)!;
    expect(stored.bytes).toBe(sent.payload.length);
    expect(await page.locator(".inspector table.decoded tr[data-channel]").count()).toBeGreaterThan(20);
    expect(Number(await page.locator(".inspector .per-reading").getAttribute("data-messages"))).toBeGreaterThan(1000);
    await page.locator(".inspector").screenshot({ path: join(ARTIFACTS, "dashboard-inspector.png") });
    await page.click('[data-tab="health"]');
    await page.waitForSelector(".sensor-table tbody tr");
    await page.click('[data-tab="audit"]');
    await expect.poll(() => page.locator(".audit-verdict .verdict").getAttribute("data-state")).toBe("holds");
    await page.click('[data-tab="data"]');
    expect(visited.problems).toEqual([]);
  });

  it("shows the street's security: refused messages by cause, commands and their outcome, and an alert as soon as it is recorded", async () => {
    const sent = street.delivered.find((m) => m.device === "street-02" && m.topic.endsWith("/summary"))!;
    const forged = Uint8Array.from(sent.payload);
    forged[forged.length - 1]! ^= 0x01;
    expect((await street.collector.handle(sent.topic, forged)).ok).toBe(false);
    await street.advance(1000); // the last day by the collector's clock ends after the refusal
    await street.db.recordCommand({ device: "street-02", name: "set-window", args: { seconds: 300 }, counter: 0, sentAtMs: street.clock.wallMs() });
    await street.db.recordCommandOutcome("street-02", 0, "accepted", street.clock.wallMs() + 1000);
    await street.db.recordAlert(counterReuseAlert({ device: "street-02", epoch: 0, counter: 3 }, "another tag", new Date(street.clock.wallMs())));
    const alert = page.locator('.alerts li.alert[data-kind="counter-reuse"]');
    await expect.poll(() => alert.count(), { timeout: LIVE_MS }).toBe(1);
    expect(await alert.textContent()).toContain("street-02 sealed two different messages under epoch 0, counter 3");
    expect(await alert.locator(".action").textContent()).toContain("npm run provision -- street-02 --new-key");
    expect(await page.locator('.commands li[data-outcome="accepted"]').textContent()).toContain("set-window seconds=300 to street-02");
    const rejections = page.locator('.line-plot[data-plot="rejections"]');
    expect(await rejections.locator(".u-legend").textContent()).toContain("authentication");
    await page.locator(".security").screenshot({ path: join(ARTIFACTS, "dashboard-security.png") });
    expect(visited.problems).toEqual([]);
  });

  it("marks every withheld kind of the test node's summaries, budget spent and no readings too", async () => {
    await page.click(`.node-select[data-device="${LAB}"]`);
    await page.waitForSelector('.channel-plot[data-channel="devices"] li.gap');
    expect(await page.locator('.channel-plot[data-channel="devices"] li.gap[data-reason="budget-exhausted"]').first().textContent()).toContain("privacy budget (ε) for the day was spent");
    expect(await page.locator('.channel-plot[data-channel="pm2_5"] li.gap[data-reason="no-readings"]').first().textContent()).toContain("no readings in the window");
    expect(await page.locator('.channel-plot[data-channel="people"] li.gap[data-reason="suppressed"]').count()).toBeGreaterThan(0);
  });

  it("shows a node's markup as text: no element of it is made, no script of it runs", async () => {
    const plot = page.locator(".channel-plot").filter({ has: page.locator("h4", { hasText: MARKUP_CHANNEL }) });
    expect(await plot.locator("h4").textContent()).toBe(`${MARKUP_CHANNEL} (${MARKUP_UNIT})`);
    expect(await page.locator(`.channel-plot[data-channel="people"] li.gap[data-reason="withheld"]`).first().textContent()).toContain(MARKUP_STATUS);
    await page.click('[data-tab="health"]');
    await page.waitForSelector(".sensor-table tbody tr");
    expect(await page.locator('.sensor-table tbody tr[data-sensor="sht4x"] td').first().textContent()).toBe(MARKUP_SENSOR_STATUS);
    expect(await page.locator("#dashboard img, #dashboard script, #dashboard svg svg, #dashboard b, #dashboard i").count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-markup.png"), fullPage: true });
    expect(visited.problems).toEqual([]);
  });
});

/** Every stored summary of `device`, oldest first. */
async function allSummaries(street: DashboardStreet, device: string): Promise<Summary[]> {
  return (await street.staff<{ summaries: Summary[] }>(`/api/nodes/${device}/summaries?limit=1000`)).summaries;
}

interface PlotRow {
  readonly x: number;
  readonly stored: boolean;
  readonly values: Record<string, number | null>;
}

/** The values table of a channel's plot (built from the plot's own data), opened and read. */
async function plotValues(page: Page, channel: string): Promise<PlotRow[]> {
  const details = page.locator(`.channel-plot[data-channel="${channel}"] details.plot-values`);
  if (!(await details.evaluate((d) => (d as HTMLDetailsElement).open))) await details.locator("summary").click();
  await details.locator("tbody tr").first().waitFor();
  return details.locator("tbody tr").evaluateAll((rows) =>
    rows.map((row) => ({
      x: Number(row.getAttribute("data-x")),
      stored: row.getAttribute("data-stored") === "true",
      values: Object.fromEntries([...row.querySelectorAll("td")].map((td) => [td.getAttribute("data-series") ?? "", td.getAttribute("data-value") === "" ? null : Number(td.getAttribute("data-value"))])),
    })),
  );
}

