/**
 * The code that runs on the device (src/ and hosts/moddable/, and every module manifest.json
 * preloads) uses no Node API and keeps no module-level mutable state, which Moddable's preload
 * would freeze into flash.
 */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../../hosts/xs/bundle.js";
import { PLATFORMS, SDK_MODULES, platformModules, readManifest } from "../../support/firmware-manifest.js";
import { importSpecifiers, moduleLevelState, nodeApiUses, type Finding } from "../../support/module-state.js";

const root = projectRoot();

function sources(folder: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(join(root, folder))) {
    const path = `${folder}/${name}`;
    if (statSync(join(root, path)).isDirectory()) {
      if (name !== "typings") found.push(...sources(path));
    } else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) {
      found.push(path);
    }
  }
  return found;
}

/** The entries run once at boot and are never preloaded: their top level is the program. */
const ENTRIES = new Set(["hosts/moddable/main-esp32.ts", "hosts/moddable/main-simulator.ts"]);
const deviceFiles = [...sources("src"), ...sources("hosts/moddable")];

function report(file: string, findings: readonly Finding[]): string[] {
  return findings.map((f) => `${file}:${f.line}: ${f.what}`);
}

const read = (file: string) => readFileSync(join(root, file), "utf8");

describe("device code", () => {
  it("covers the core and the Moddable host", () => {
    expect(deviceFiles).toContain("src/node.ts");
    expect(deviceFiles).toContain("hosts/moddable/firmware.ts");
    expect(deviceFiles.length).toBeGreaterThan(60);
  });

  it("uses no Node module or Node-only global", () => {
    const moddable = new Set(Object.keys(SDK_MODULES));
    const uses = deviceFiles.flatMap((file) => report(file, nodeApiUses(file, read(file), file.startsWith("hosts/moddable/") ? moddable : undefined)));
    expect(uses).toEqual([]);
  });

  it("imports, in src/, only the core itself and the noble crypto libraries", () => {
    const outside = sources("src").flatMap((file) =>
      importSpecifiers(file, read(file))
        .filter((specifier) => !specifier.startsWith("./") && !specifier.startsWith("../") && !specifier.startsWith("@noble/"))
        .map((specifier) => `${file}: ${specifier}`),
    );
    expect(outside).toEqual([]);
    const escaping = sources("src").flatMap((file) =>
      importSpecifiers(file, read(file))
        .filter((specifier) => specifier.startsWith(".") && relative(root, join(root, file, "..", specifier)).startsWith(".."))
        .map((specifier) => `${file}: ${specifier}`),
    );
    expect(escaping).toEqual([]);
    const intoHosts = sources("src").flatMap((file) =>
      importSpecifiers(file, read(file))
        .filter((specifier) => relative(root, join(root, file, "..", specifier)).startsWith("hosts"))
        .map((specifier) => `${file}: ${specifier}`),
    );
    expect(intoHosts).toEqual([]);
  });

  it("keeps no module-level mutable state", () => {
    const findings = deviceFiles.filter((file) => !ENTRIES.has(file)).flatMap((file) => report(file, moduleLevelState(file, read(file))));
    expect(findings).toEqual([]);
  });
});

describe("modules manifest.json preloads", () => {
  const manifest = readManifest(root);
  const preloaded = new Set<string>();
  for (const platform of PLATFORMS) {
    const listed = platformModules(root, manifest, platform);
    for (const pattern of listed.preload) {
      for (const [key, file] of listed.modules) {
        if (pattern.endsWith("/*") ? key.startsWith(pattern.slice(0, -1)) : key === pattern) preloaded.add(file);
      }
    }
  }

  it("include the core and the crypto libraries that allow it", () => {
    expect(preloaded).toContain("src/node.ts");
    expect(preloaded).toContain("node_modules/@noble/ciphers/chacha.js");
  });

  it("write into nothing they create at load time", () => {
    const findings = [...preloaded].flatMap((file) => report(file, moduleLevelState(file, read(file))));
    expect(findings).toEqual([]);
  });

  it("leave out the noble hash modules that reuse module-level scratch buffers", () => {
    // SHA-256's message schedule and HKDF's block counter are module-level typed arrays that each
    // call writes: preloaded, they become read-only and every hash throws on the device.
    for (const file of ["node_modules/@noble/hashes/sha2.js", "node_modules/@noble/hashes/hkdf.js"]) {
      expect(moduleLevelState(file, read(file)).length, file).toBeGreaterThan(0);
      expect(preloaded.has(file), file).toBe(false);
    }
  });
});

describe("the module-state check", () => {
  it("finds module-level variables and writes into module-level objects", () => {
    const text = [
      "let count = 0;",
      "const table = new Uint8Array(4);",
      "const names = [];",
      "const limits = { max: 1 };",
      "const fixed = Object.freeze([1, 2]);",
      "export function f(i) { table[i] = 1; names.push('x'); limits.max++; return fixed[0]; }",
    ].join("\n");
    expect(moduleLevelState("sample.js", text).map((f) => f.what)).toEqual([
      "module-level variable count",
      "assigns into module-level table",
      "calls .push() on module-level names",
      "increments a field of module-level limits",
    ]);
  });

  it("finds Node APIs but not names that merely look like them", () => {
    const text = [
      'import { readFileSync } from "node:fs";',
      'import { EventEmitter } from "events";',
      "export function f(o) { setTimeout(() => {}, 1); return o.process + Buffer.from('x').length; }",
      "export function g(process) { return process; }",
    ].join("\n");
    expect(nodeApiUses("sample.ts", text).map((f) => f.what)).toEqual(["imports node:fs", "imports events", "uses setTimeout", "uses Buffer"]);
  });
});
