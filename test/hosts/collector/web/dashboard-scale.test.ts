/**
 * The dashboard with a street of 256 nodes (the simulator's most), each with a disclosure that
 * places it (four lampposts to a 100 m cell, as the simulated street stands) and a few stored
 * windows: the plan draws every node with room for each in its cell, the list shows a page at a
 * time and finds a node by its id, and the page loads with nothing going wrong. How long it took
 * is written down (test-artifacts/dashboard-256.txt), as a functional check, never asserted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { streetDeviceId, streetPosition } from "../../../../hosts/sim/street.js";
import { coarsePosition } from "../../../../src/policy/coarse-position.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";
import { launchBrowser, type TestBrowser } from "../../../support/browser.js";
import { healthRecords, rootKeyOf as fixtureRootKeyOf, SealingNode, streetRecords } from "../api/api-fixture.js";
import { visit, type Visit } from "./public-browser.js";
import { DashboardStreet, START_MS, ZONE } from "./dashboard-street.js";

const ARTIFACTS = join(process.cwd(), "test-artifacts");
const NODES = 256;
const WINDOWS = 3;
const PRECISION_M = 100;

describe("the dashboard with 256 nodes", () => {
  const devices = Array.from({ length: NODES }, (_, i) => streetDeviceId(i + 1));
  let street: DashboardStreet;
  let browser: TestBrowser;
  let visited: Visit;
  let loadMs: number;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    street = await DashboardStreet.start({ devices: [], others: devices.map((device) => ({ device, rootKey: fixtureRootKeyOf(device) })) });
    const t0 = START_MS / 1000;
    for (const device of devices) {
      const location = { ...coarsePosition(streetPosition(device), PRECISION_M), precisionMeters: PRECISION_M };
      await street.deliver({ topic: `civicnode/${ZONE}/${device}/disclosure`, payload: utf8Encode(JSON.stringify({ format: "civicnode-disclosure", version: 2, device, zone: ZONE, location })) });
      const node = new SealingNode(device, ZONE);
      for (let w = 0; w < WINDOWS; w++) await street.deliver(node.summary(t0 + w * 300, streetRecords(w)));
      await street.deliver(node.health(t0 + WINDOWS * 300, healthRecords(WINDOWS * 300)));
    }
    browser = await launchBrowser({ viewport: { width: 1400, height: 1000 } });
    const started = performance.now();
    visited = await visit(browser.context, street.api.staffLoginUrl());
    await visited.page.waitForFunction((n) => document.querySelectorAll("rect.node").length === n && document.querySelector(".channel-plot[data-windows]") !== null, NODES);
    loadMs = performance.now() - started;
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await street?.close();
  });

  it("draws every node on the plan, each with room of its own in its cell", async () => {
    const page = visited.page;
    expect(await page.locator("rect.cell-area").count()).toBe(NODES / 4);
    const dots = await page.locator("rect.node").evaluateAll((rects) =>
      rects.map((r) => ({ device: r.getAttribute("data-device")!, x: Number(r.getAttribute("x")), y: Number(r.getAttribute("y")), size: Number(r.getAttribute("width")) })),
    );
    expect(dots.map((d) => d.device).sort()).toEqual([...devices].sort());
    const sorted = [...dots].sort((a, b) => a.x - b.x || a.y - b.y);
    for (let i = 1; i < sorted.length; i++) {
      const [a, b] = [sorted[i - 1]!, sorted[i]!];
      const apart = b.x >= a.x + a.size || Math.abs(b.y - a.y) >= a.size;
      expect(apart, `${a.device} and ${b.device} overlap`).toBe(true);
    }
    expect(Math.min(...dots.map((d) => d.size))).toBeGreaterThanOrEqual(8);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-256.png") });
  });

  it("lists the nodes a page at a time and finds one by its id", async () => {
    const page = visited.page;
    const rows = () => page.locator(".node-list .node-row").evaluateAll((r) => r.map((row) => row.getAttribute("data-device")));
    const byId = [...devices].sort(); // by device id, as the API lists them
    expect(await page.locator(".node-count").textContent()).toBe(`${NODES} nodes`);
    expect(await rows()).toEqual(byId.slice(0, 25));
    await page.click(".nodes .pager-next");
    expect(await rows()).toEqual(byId.slice(25, 50));
    await page.fill(".node-filter", "street-25");
    expect(await rows()).toEqual(byId.filter((d) => d.includes("street-25")));
    await page.click('.node-select[data-device="street-253"]');
    await page.waitForFunction(() => document.querySelector(".node-title")?.textContent?.startsWith("street-253") === true);
    expect(await page.locator('rect.node[data-device="street-253"]').getAttribute("class")).toContain("selected");
  });

  it("loaded with nothing going wrong (its time written down, not judged)", () => {
    writeFileSync(join(ARTIFACTS, "dashboard-256.txt"), `${NODES} nodes, ${NODES * (WINDOWS + 1)} stored messages: from the login link to the plan and the first plot in ${loadMs.toFixed(0)} ms\n`);
    expect(visited.problems).toEqual([]);
  });
});
