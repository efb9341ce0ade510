/**
 * A page of the collector opened in the real browser (test/support/browser.ts), with what went
 * wrong on the way: console errors (a CSP violation is one), uncaught page errors, requests that
 * failed or answered 400 or more, requests to anywhere but the collector, and dialogs (an injected
 * alert() would open one). And the QR code in a screenshot, decoded.
 */
import jsQR from "jsqr";
import { PNG } from "pngjs";
import type { BrowserContext, Page, Response } from "playwright-core";

export interface Visit {
  readonly page: Page;
  readonly response: Response;
  /** Everything that went wrong while it loaded, in words. */
  readonly problems: string[];
  /** Every URL the page requested. */
  readonly requests: string[];
}

export async function visit(context: BrowserContext, url: string): Promise<Visit> {
  const page = await context.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  const origin = new URL(url).origin;
  page.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("dialog", (dialog) => {
    problems.push(`dialog: ${dialog.message()}`);
    void dialog.dismiss();
  });
  page.on("request", (request) => {
    requests.push(request.url());
    if (!request.url().startsWith(`${origin}/`)) problems.push(`request outside the collector: ${request.url()}`);
  });
  page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`));
  page.on("response", (response) => {
    if (response.status() >= 400 && response.url() !== url) problems.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  const response = await page.goto(url, { waitUntil: "load" });
  if (!response) throw new Error(`no response for ${url}`);
  return { page, response, problems, requests };
}

/** The text of the QR code in `page`'s `selector`, read from a PNG screenshot of it; undefined when none is found. */
export async function decodeQrCode(page: Page, selector = "svg.qr-code"): Promise<string | undefined> {
  const png = PNG.sync.read(await page.locator(selector).screenshot());
  // jsqr is CommonJS whose types declare an ES default export: Node hands over module.exports, which carries it as .default.
  return jsQR.default(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height)?.data;
}
