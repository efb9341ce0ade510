#!/usr/bin/env node
// @ts-check
/**
 * `npm run build`, and the step before `npm start`, `npm run cmd`, ...: compiles the TypeScript
 * (tsc -p tsconfig.build.json) only when what it compiles has changed since the last build.
 *
 * Why: an incremental tsc that finds nothing to do still spends about 5 s on a 2-core machine
 * reading and checking the program (a full build about 20 s), before the tool prints anything.
 * Hashing the inputs takes about 50 ms. Plain JavaScript, since it runs before anything is built.
 *
 * The inputs are every TypeScript and JSON file under the build's `include` folders (less its
 * `exclude`), the build's tsconfig and the one it extends, package.json ("type" decides the
 * emitted module format) and the TypeScript version. Their SHA-256 goes to dist/.build-inputs
 * after a build that succeeded; a build is also made when an output (dist/<file>.js) is missing.
 * A failed build writes nothing, so the next run compiles again and shows the errors again. For a
 * missing output the build info goes first: an incremental tsc would not write the file again.
 *
 * Run from the project's folder (npm runs scripts there). Exit code: tsc's when it ran, else 0.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const CONFIG = "tsconfig.build.json";
const RECORD = ".build-inputs";
const SOURCE = /\.(ts|mts|cts|tsx|json)$/;
const DECLARATION = /\.d\.(ts|mts|cts)$/;

/** The tsconfig as JSON; tsconfig files may carry comments and trailing commas, which this removes. */
function readConfig(path) {
  const text = readFileSync(path, "utf8");
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end - 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2);
      if (i < 0) break;
      i++;
    } else out += c;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
}

function stringEnd(text, start) {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i + 1;
}

/** The files tsc compiles from `include` (folders or files, no globs here) less `exclude`, sorted. */
function sourceFiles(root, include, exclude) {
  const excluded = new Set(exclude.map((path) => resolve(root, path)));
  const files = [];
  const walk = (path) => {
    if (excluded.has(path)) return;
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      if (SOURCE.test(path) && existsSync(path)) files.push(path);
      return;
    }
    for (const entry of entries) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (SOURCE.test(entry.name) && !excluded.has(child)) files.push(child);
    }
  };
  for (const path of include) walk(resolve(root, path));
  return files.sort();
}

/** What tsc writes for a source file, or undefined for one it writes nothing for. */
function outputOf(root, outDir, file) {
  if (DECLARATION.test(file) || !/\.(ts|mts|cts|tsx)$/.test(file)) return undefined;
  const js = relative(root, file).replace(/\.tsx?$/, ".js").replace(/\.mts$/, ".mjs").replace(/\.cts$/, ".cjs");
  return join(outDir, js);
}

function fingerprint(root, files) {
  const hash = createHash("sha256");
  for (const file of files) {
    hash.update(`${relative(root, file)}\0`);
    hash.update(existsSync(file) ? readFileSync(file) : "(missing)");
    hash.update("\0");
  }
  return hash.digest("hex");
}

function main() {
  const root = process.cwd();
  const configPath = join(root, CONFIG);
  const config = readConfig(configPath);
  const base = typeof config.extends === "string" && config.extends.startsWith(".") ? readConfig(resolve(root, config.extends)) : {};
  const options = { ...base.compilerOptions, ...config.compilerOptions };
  const outDir = resolve(root, options.outDir ?? "dist");
  const sources = sourceFiles(root, config.include ?? base.include ?? [], config.exclude ?? base.exclude ?? []);
  const configs = [configPath, ...(typeof config.extends === "string" && config.extends.startsWith(".") ? [resolve(root, config.extends)] : [])];
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const inputs = [...configs, join(root, "package.json"), join(root, "node_modules", "typescript", "package.json"), ...sources];
  const digest = fingerprint(root, inputs);
  const recordPath = join(outDir, RECORD);
  const recorded = existsSync(recordPath) ? readFileSync(recordPath, "utf8").trim() : undefined;
  const missing = sources.map((file) => outputOf(root, outDir, file)).find((output) => output !== undefined && !existsSync(output));
  if (recorded === digest && missing === undefined) return 0;

  const why = recorded === undefined ? "no build recorded yet" : recorded !== digest ? "sources changed since the last build" : `${relative(root, missing ?? "")} is missing`;
  process.stderr.write(`compiling the TypeScript sources (${why})...\n`);
  // An incremental tsc trusts its build info and does not write again an output deleted since:
  // without the info it compiles everything.
  if (missing !== undefined && options.tsBuildInfoFile !== undefined) rmSync(resolve(root, options.tsBuildInfoFile), { force: true });
  const result = spawnSync(process.execPath, [tsc, "-p", CONFIG], { cwd: root, stdio: "inherit" });
  if (result.error) {
    process.stderr.write(`cannot run tsc (${tsc}): ${result.error.message}; did npm ci run?\n`);
    return 1;
  }
  if (result.status !== 0) return result.status ?? 1;
  // Written whole or not at all (a rename), so an interrupted write never passes for a build.
  mkdirSync(dirname(recordPath), { recursive: true });
  writeFileSync(`${recordPath}.tmp`, `${digest}\n`);
  renameSync(`${recordPath}.tmp`, recordPath);
  return 0;
}

process.exitCode = main();
