/**
 * Bundles an XS entry (hosts/xs/worker/*-entry.ts) with the core and the simulated parts into one
 * script that xsnap-worker evaluates. esbuild compiles the TypeScript sources directly; the result
 * is an ES2022 IIFE with no Node built-ins (the build fails if anything reaches for one).
 */
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";

export type XsEntry = "street-node" | "scenario" | "policy-update" | "signature-bench";

/**
 * The entries that verify Ed25519 signatures: xsnap's XS cannot initialise @noble/curves' Point
 * class, whose static field constructs the class itself ("not initialized yet"), unless class
 * static fields are lowered. Only these get that: lowered for the street node, it ran twice as slow.
 */
const SIGNATURE_ENTRIES: readonly XsEntry[] = ["policy-update", "signature-bench"];

export interface XsBundle {
  readonly code: string;
  /** Project-relative paths of every module in the bundle, in esbuild's order. */
  readonly modules: readonly string[];
}

/** The project's root folder (the one with package.json), from this file's location in src or dist. */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the project root");
    dir = parent;
  }
  return dir;
}

export function bundleForXs(entry: XsEntry): XsBundle {
  const root = projectRoot();
  const result = buildSync({
    entryPoints: [join(root, "hosts", "xs", "worker", `${entry}-entry.ts`)],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    ...(SIGNATURE_ENTRIES.includes(entry) ? { supported: { "class-static-field": false } } : {}),
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    metafile: true,
    legalComments: "none",
    logLevel: "silent",
  });
  const modules = Object.keys(result.metafile!.inputs).map((path) => relative(root, join(root, path)));
  return { code: result.outputFiles[0]!.text, modules };
}
