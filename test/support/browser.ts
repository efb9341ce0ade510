/**
 * Debian's Chromium driven by playwright-core, as the browser tests need it on a closed network:
 * headless, without the sandbox (root in CI) or the GPU, with nothing that calls home (background
 * networking, component updates, sync, the first-run pages), each launch on a fresh profile that
 * is removed when it closes. `.ci/run` installs the `chromium` package.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type BrowserContextOptions } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];

export interface TestBrowser {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium on a profile of its own; `options` as for a Playwright context (e.g. `javaScriptEnabled: false`). */
export async function launchBrowser(options: BrowserContextOptions = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), "civicnode-chromium-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, ...options });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
