/**
 * The dashboard's browser code, bundled in memory by esbuild when the collector starts: the
 * TypeScript of dashboard-client/ and uPlot, in one ES2022 module the page loads from
 * /dashboard/dashboard.js (its Content-Security-Policy allows scripts from the collector alone,
 * and no inline script). It is built from the sources, at start, rather than by `npm run build`:
 * the build compiles the Node code with tsc, which has no bundler step, and an esbuild run over a
 * few files takes a fraction of a second. A collector deployed without its sources (no
 * hosts/collector/web/dashboard-client/) serves the API and the public pages, and answers the
 * dashboard's script with a 503 that says so (logged once, dashboard-bundle-failed, where the page
 * module was given a log).
 *
 * uPlot's stylesheet is served as the file it ships (style-src 'self': no inline style).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { projectRoot } from "../../xs/bundle.js";

export interface DashboardAssets {
  /** The bundled script. */
  readonly script: string;
  /** The dashboard's stylesheet and uPlot's. */
  readonly styles: string;
  readonly uplotStyles: string;
}

/** The client's sources: hosts/collector/web/dashboard-client/ of the project. */
export function dashboardClientDir(): string {
  return join(projectRoot(), "hosts", "collector", "web", "dashboard-client");
}

/** Bundles the client and reads the stylesheets; rejects with esbuild's errors. */
export async function buildDashboardAssets(): Promise<DashboardAssets> {
  const dir = dashboardClientDir();
  const result = await build({
    entryPoints: [join(dir, "main.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "eof",
    logLevel: "silent",
  });
  const script = result.outputFiles[0]?.text;
  if (script === undefined) throw new Error("esbuild wrote no dashboard bundle");
  const require = createRequire(import.meta.url);
  return {
    script,
    styles: readFileSync(join(dir, "dashboard.css"), "utf8"),
    uplotStyles: readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}
