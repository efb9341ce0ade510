/**
 * The dashboard as a new user meets it: `npm start` (the built simulator, a short run of its
 * default eight nodes at 600x) prints the dashboard's one-time link; the link opens the page in a real browser
 * with nothing going wrong, the page shows every node, its plot holds exactly the windows the API
 * stores, a new window appears while the street runs without a reload, and the inspector shows a
 * message of exactly the stored length. Stopping the simulator (Ctrl-C) with the page still
 * listening to the live stream ends the process: the stream is closed at shutdown.
 *
 * Its screenshot is test-artifacts/dashboard.png, and docs/images/dashboard.png with
 * CIVICNODE_DOCS_IMAGES=1.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POLL_MS } from "../../../../hosts/collector/api/routes/live-events.js";
import { launchBrowser, type TestBrowser } from "../../../support/browser.js";
import { visit, type Visit } from "./public-browser.js";

const ARTIFACTS = join(process.cwd(), "test-artifacts");
const NODES = 8; // npm start's default street
/** 600x: a 300 s window every half second, a health report every 1.5 s. */
const SPEED = 600;
/** Starting takes a few seconds (keys, policies, the broker, the collector, the bundle): a minute on a loaded machine. */
const START_MS = 60_000;
/** A few windows at 600x, then a poll of the store and a fetch: ample. */
const LIVE_MS = 20 * POLL_MS;

type Summary = { windowStart: number; epoch: number; counter: number; statistics: Array<{ channel: string; stat: string; value: number | null }> };

describe("the dashboard of npm start", () => {
  let state: string;
  let simulator: ChildProcess;
  let output = "";
  let link: string;
  let base: string;
  let browser: TestBrowser;
  let visited: Visit;
  let page: Page;

  const staff = async <T>(path: string): Promise<T> => {
    const token = readFileSync(join(state, "api-token"), "utf8").trim();
    const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status, path).toBe(200);
    return (await response.json()) as T;
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    state = mkdtempSync(join(tmpdir(), "civicnode-dashboard-sim-"));
    simulator = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/node/main.js", "--nodes", String(NODES), "--speed", String(SPEED), "--faults", "0", "--state", state], { stdio: ["ignore", "pipe", "pipe"] });
    simulator.stdout!.on("data", (chunk) => (output += chunk));
    simulator.stderr!.on("data", (chunk) => (output += chunk));
    link = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no dashboard link within ${START_MS} ms:\n${output}`)), START_MS);
      const look = () => {
        const found = /^dashboard (http:\/\/\S+\/login\?code=\S+) \(one-time login link\)$/m.exec(output);
        if (!found) return;
        clearTimeout(timer);
        simulator.stdout!.off("data", look);
        resolve(found[1]!);
      };
      simulator.stdout!.on("data", look);
      simulator.once("exit", (code) => reject(new Error(`npm start exited (${code}) before printing the dashboard's link:\n${output}`)));
    });
    base = new URL(link).origin;
    browser = await launchBrowser({ viewport: { width: 1400, height: 900 } });
    visited = await visit(browser.context, link);
    page = visited.page;
    await page.waitForSelector('.channel-plot[data-channel="temperature"][data-windows]', { timeout: LIVE_MS });
  }, START_MS + 2 * LIVE_MS);

  afterAll(async () => {
    await browser?.close();
    if (simulator && simulator.exitCode === null) simulator.kill("SIGKILL");
    rmSync(state, { recursive: true, force: true });
  });

  it("prints the dashboard's link, never the token", () => {
    const token = readFileSync(join(state, "api-token"), "utf8").trim();
    expect(output).not.toContain(token);
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/login\?code=[A-Za-z0-9_-]{22}$/);
    for (const line of output.split("\n").filter((l) => l.startsWith("dashboard ") || l.startsWith("collector API on "))) expect(line.length, line).toBeLessThanOrEqual(120);
  });

  it("opens with nothing going wrong and shows every node", async () => {
    expect(new URL(page.url()).pathname).toBe("/");
    const devices = Array.from({ length: NODES }, (_, i) => `street-${String(i + 1).padStart(2, "0")}`);
    await page.waitForFunction((n) => document.querySelectorAll("rect.node").length === n, NODES);
    expect((await page.locator("rect.node").evaluateAll((dots) => dots.map((d) => d.getAttribute("data-device")))).sort()).toEqual(devices);
    expect((await page.locator(".node-list .node-row").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")))).sort()).toEqual(devices);
    expect(visited.problems).toEqual([]);
  });

  it("plots exactly the stored windows, and a new one appears while the street runs, without a reload", async () => {
    const plot = page.locator('.channel-plot[data-channel="temperature"]');
    const first = Number(await plot.getAttribute("data-last-window"));
    await expect.poll(async () => Number(await plot.getAttribute("data-last-window")), { timeout: LIVE_MS }).toBeGreaterThan(first);
    expect(visited.requests.filter((url) => new URL(url).pathname === "/")).toHaveLength(1);
    const details = plot.locator("details.plot-values");
    await details.locator("summary").click();
    // The table is filled on the details' toggle event, which the browser fires after the click.
    await details.locator("tbody tr[data-stored=true]").first().waitFor();
    const rows = await details.locator("tbody tr[data-stored=true]").evaluateAll((trs) =>
      trs.map((tr) => ({ x: Number(tr.getAttribute("data-x")), mean: tr.querySelector('td[data-series="mean"]')?.getAttribute("data-value") ?? "" })),
    );
    const { summaries } = await staff<{ summaries: Summary[] }>(`/api/nodes/street-01/summaries?limit=1000&channel=temperature`);
    const shownUpTo = rows.at(-1)!.x;
    expect(rows.map((r) => r.x)).toEqual(summaries.filter((s) => s.windowStart <= shownUpTo).map((s) => s.windowStart));
    for (const row of rows) {
      const stored = summaries.find((s) => s.windowStart === row.x)!.statistics.find((s) => s.stat === "mean")!.value;
      expect(row.mean === "" ? null : Number(row.mean), `window ${row.x}`).toBe(stored);
    }
    await details.locator("summary").click();
  });

  it("shows a message of exactly the stored length in the inspector", async () => {
    await page.click('[data-tab="messages"]');
    const inspect = page.locator(".message-list li .inspect").first();
    const [epoch, counter] = [await inspect.getAttribute("data-epoch"), await inspect.getAttribute("data-counter")];
    await inspect.click();
    await page.locator(".inspector pre.hex").waitFor();
    const { messages } = await staff<{ messages: Array<{ bytes: number }> }>(`/api/nodes/street-01/messages?epoch=${epoch}&counter=${counter}`);
    const shown = (await page.locator(".inspector pre.hex").textContent())!.split("\n").flatMap((line) => line.slice(6).split(" ").filter(Boolean));
    expect(shown).toHaveLength(messages[0]!.bytes);
    await page.click('[data-tab="data"]');
    await page.evaluate(() => window.scrollTo(0, 0));
    const screenshot = await page.screenshot();
    writeFileSync(join(ARTIFACTS, "dashboard.png"), screenshot);
    if (process.env.CIVICNODE_DOCS_IMAGES === "1") writeFileSync(join(process.cwd(), "docs", "images", "dashboard.png"), screenshot);
    expect(visited.problems).toEqual([]);
  });

  it("ends at Ctrl-C while the page still listens to its live stream", async () => {
    expect(await page.locator(".live").getAttribute("data-live")).toBe("open");
    const exited = new Promise<number | null>((resolve) => simulator.once("exit", (code) => resolve(code)));
    simulator.kill("SIGINT");
    expect(await exited).toBe(0);
  }, START_MS);
});
