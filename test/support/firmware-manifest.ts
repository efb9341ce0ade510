/**
 * Reads manifest.json the way mcconfig does for what the guard rails need, without the SDK: the
 * module keys each platform gets (explicit keys, `dir/*` wildcards over a folder, `*` for native
 * C), the preload list, the includes; and follows a firmware entry's imports with esbuild, the
 * same resolver the XS lane bundles with, so the two graphs can be compared.
 */
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { build, type Plugin } from "esbuild";

export type Platform = "esp32" | "lin" | "mac" | "win";
export const PLATFORMS: readonly Platform[] = ["esp32", "lin", "mac", "win"];

type ModuleMap = Record<string, string | string[]>;

interface PlatformSection {
  readonly creation?: { readonly main?: string; readonly stack?: number };
  readonly include?: string | string[];
  readonly modules?: ModuleMap;
  readonly preload?: string | string[];
}

export interface Manifest extends PlatformSection {
  readonly platforms: Record<string, PlatformSection | { error: string }>;
}

export function readManifest(root: string): Manifest {
  return JSON.parse(readFileSync(join(root, "manifest.json"), "utf8")) as Manifest;
}

function list(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

function section(manifest: Manifest, platform: Platform): PlatformSection {
  const found = manifest.platforms[platform];
  if (!found || "error" in found) throw new Error(`manifest.json has no platform ${platform}`);
  return found;
}

/** One module key and the project file it names (".ts", ".js" or, for "*" entries, ".c"). */
export interface ManifestModule {
  readonly key: string;
  readonly file: string;
}

export interface PlatformModules {
  /** JavaScript/TypeScript modules by key. */
  readonly modules: ReadonlyMap<string, string>;
  /** Modules the manifest maps to files of the SDK ("$(MODDABLE)/..."), by key. */
  readonly sdk: ReadonlyMap<string, string>;
  /** Native C files compiled in ("*" entries). */
  readonly native: readonly string[];
  /** Manifest paths that name nothing on disk. */
  readonly missing: readonly string[];
  readonly includes: readonly string[];
  readonly preload: readonly string[];
  readonly main: string;
}

const SOURCE_EXTENSIONS = [".ts", ".js"];

function sourceFile(root: string, path: string): string | undefined {
  for (const extension of SOURCE_EXTENSIONS) {
    if (existsSync(join(root, path + extension))) return path + extension;
  }
  return undefined;
}

/** Expands a module map as mcconfig does for our uses of it. */
function expand(root: string, map: ModuleMap, into: Map<string, string>, sdk: Map<string, string>, native: string[], missing: string[]): void {
  for (const [key, value] of Object.entries(map)) {
    for (const raw of list(value)) {
      const path = raw.replace(/^\.\//, "");
      if (path.startsWith("$(")) {
        sdk.set(key, path); // checked by a build with the SDK, not here
      } else if (key === "*") {
        if (existsSync(join(root, `${path}.c`))) native.push(`${path}.c`);
        else missing.push(raw);
      } else if (key.endsWith("/*")) {
        const folder = path.replace(/\/\*$/, "");
        const prefix = key.slice(0, -1);
        if (!existsSync(join(root, folder)) || !statSync(join(root, folder)).isDirectory()) {
          missing.push(raw);
          continue;
        }
        let found = 0;
        for (const name of readdirSync(join(root, folder))) {
          if (name.endsWith(".d.ts")) continue;
          const extension = SOURCE_EXTENSIONS.find((e) => name.endsWith(e));
          if (!extension) continue;
          into.set(prefix + name.slice(0, -extension.length), `${folder}/${name}`);
          found += 1;
        }
        if (found === 0) missing.push(raw);
      } else {
        const file = sourceFile(root, path);
        if (file) into.set(key, file);
        else missing.push(raw);
      }
    }
  }
}

export function platformModules(root: string, manifest: Manifest, platform: Platform): PlatformModules {
  const own = section(manifest, platform);
  const modules = new Map<string, string>();
  const sdk = new Map<string, string>();
  const native: string[] = [];
  const missing: string[] = [];
  expand(root, manifest.modules ?? {}, modules, sdk, native, missing);
  expand(root, own.modules ?? {}, modules, sdk, native, missing);
  const main = own.creation?.main ?? manifest.creation?.main;
  if (!main) throw new Error(`no creation.main for ${platform}`);
  return {
    modules,
    sdk,
    native,
    missing,
    includes: [...list(manifest.include), ...list(own.include)],
    preload: [...list(manifest.preload), ...list(own.preload)],
    main,
  };
}

/** The module key a project file is imported under: its path without extension. */
export function moduleKey(projectPath: string): string {
  const path = projectPath.replace(/^node_modules\//, "");
  return path.replace(/\.(ts|js|mjs)$/, "");
}

export interface ImportGraph {
  /** Project files reached (paths relative to the root, node_modules included). */
  readonly files: readonly string[];
  /** Bare specifiers left to the SDK (e.g. "timer", "embedded:io/i2c"). */
  readonly sdkModules: readonly string[];
  /** Native functions the graph binds with `@ "name"`. */
  readonly nativeFunctions: readonly string[];
}

/** Follows the imports of a firmware entry; SDK modules stay external, native bindings are noted. */
export async function importGraph(root: string, entryFile: string): Promise<ImportGraph> {
  const sdkModules = new Set<string>();
  const nativeFunctions = new Set<string>();
  const plugin: Plugin = {
    name: "moddable",
    setup(esbuild) {
      esbuild.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith("@noble/")) return undefined;
        sdkModules.add(args.path);
        return { path: args.path, external: true };
      });
      // XS's `function f() @ "native"` syntax is not JavaScript esbuild parses: stand the module in.
      esbuild.onLoad({ filter: /[/\\]native[/\\][^/\\]+\.js$/ }, (args) => {
        const text = readFileSync(args.path, "utf8");
        const stubs: string[] = [];
        for (const match of text.matchAll(/export\s+(default\s+)?function\s+(\w+)\s*\([^)]*\)\s*@\s*"(\w+)"/g)) {
          nativeFunctions.add(match[3]!);
          stubs.push(`export ${match[1] ?? ""}function ${match[2]}() {}`);
        }
        return { contents: stubs.join("\n"), loader: "js" };
      });
    },
  };
  const result = await build({
    entryPoints: [join(root, entryFile)],
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    metafile: true,
    logLevel: "silent",
    plugins: [plugin],
  });
  const files = Object.keys(result.metafile!.inputs).map((path) => relative(root, join(root, path)));
  return { files, sdkModules: [...sdkModules].sort(), nativeFunctions: [...nativeFunctions].sort() };
}

/**
 * Each SDK module the firmware imports, and the SDK manifest that provides it (read from the SDK
 * 8.2 sources). "base" modules come with every app; the others need their manifest included.
 */
const NET = "$(MODDABLE)/modules/network/sntp/manifest.json"; // includes examples/manifest_net.json
export const SDK_MODULES: Record<string, { readonly manifest: string; readonly platforms?: readonly Platform[] }> = {
  "mc/config": { manifest: "base" },
  timer: { manifest: "base" },
  time: { manifest: "base" },
  Resource: { manifest: "$(MODDABLE)/examples/manifest_base.json" },
  preference: { manifest: "$(MODDABLE)/modules/files/preference/manifest.json" },
  "embedded:io/i2c": { manifest: "$(MODDABLE)/modules/io/manifest.json" },
  "embedded:io/serial": { manifest: "$(MODDABLE)/modules/io/manifest.json" },
  "embedded:io/analog": { manifest: "$(MODDABLE)/modules/io/manifest.json" },
  "embedded:io/digital": { manifest: "$(MODDABLE)/modules/io/manifest.json" },
  "embedded:io/socket/tcp": { manifest: "$(MODDABLE)/modules/io/manifest.json" },
  // the module is the SDK's example (manifest.json maps the key to it); its TLS stack is this manifest
  "embedded:io/socket/tcp/tls": { manifest: "$(MODDABLE)/modules/crypt/tls_419.json" },
  sntp: { manifest: NET },
  net: { manifest: NET },
  // manifest_net includes modules/io/wifi only for the ESP boards
  "embedded:network/interface/wifi": { manifest: NET, platforms: ["esp32"] },
  bleclient: { manifest: "$(MODDABLE)/modules/network/ble/manifest_client.json" },
  gap: { manifest: "$(MODDABLE)/modules/network/ble/manifest_client.json" },
};
