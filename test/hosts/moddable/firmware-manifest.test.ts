/**
 * Guard rails for the Moddable build that need no SDK. A module missing from manifest.json builds
 * fine and then dies on the device with a bare "XS abort"; these tests catch it in CI instead.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bundleForXs, projectRoot } from "../../../hosts/xs/bundle.js";
import { NVS_PARTITION_OFFSET, NVS_PARTITION_SIZE } from "../../../hosts/collector/provisioning-bundle.js";
import {
  PLATFORMS,
  importGraph,
  moduleKey,
  platformModules,
  readManifest,
  SDK_MODULES,
  type ImportGraph,
  type Platform,
} from "../../support/firmware-manifest.js";

const root = projectRoot();
const manifest = readManifest(root);
const graphs = new Map<Platform, ImportGraph>();
for (const platform of PLATFORMS) {
  const listed = platformModules(root, manifest, platform);
  const entry = listed.modules.get(listed.main);
  if (entry) graphs.set(platform, await importGraph(root, entry));
}


describe("manifest.json", () => {
  it("names a module for every path it lists, on every platform", () => {
    for (const platform of PLATFORMS) {
      expect(platformModules(root, manifest, platform).missing, platform).toEqual([]);
    }
  });

  for (const platform of PLATFORMS) {
    describe(platform, () => {
      const listed = platformModules(root, manifest, platform);
      const entry = listed.modules.get(listed.main);
      const graph = graphs.get(platform);

      it("has its entry module listed", () => {
        expect(entry, `creation.main ${listed.main}`).toBeDefined();
      });

      it("lists every module the entry imports, under the key the import resolves to", () => {
        const unlisted = graph!.files.filter((file) => listed.modules.get(moduleKey(file)) !== file);
        expect(unlisted).toEqual([]);
      });

      it("includes the SDK manifest of every SDK module the entry imports", () => {
        const problems: string[] = [];
        for (const specifier of graph!.sdkModules) {
          const provider = SDK_MODULES[specifier];
          if (!provider) problems.push(`${specifier}: not a module this test knows the SDK provides`);
          else if (provider.platforms && !provider.platforms.includes(platform)) problems.push(`${specifier}: the SDK has no ${platform} version`);
          else if (provider.manifest !== "base" && !listed.includes.includes(provider.manifest)) problems.push(`${specifier}: ${provider.manifest} not included`);
        }
        expect(problems).toEqual([]);
      });

      it("compiles the native C function the entry binds", () => {
        expect(graph!.nativeFunctions.length).toBeGreaterThan(0);
        const native = listed.native.map((file) => readFileSync(join(root, file), "utf8")).join("\n");
        for (const name of graph!.nativeFunctions) {
          expect(native, `${name} in ${listed.native.join(", ")}`).toMatch(new RegExp(`\\bvoid\\s+${name}\\s*\\(\\s*xsMachine`));
        }
      });

      it("preloads only modules it lists", () => {
        const keys = [...listed.modules.keys()];
        for (const preloaded of listed.preload) {
          const matches = preloaded.endsWith("/*") ? keys.some((k) => k.startsWith(preloaded.slice(0, -1))) : listed.modules.has(preloaded) || listed.sdk.has(preloaded);
          expect(matches, preloaded).toBe(true);
        }
      });
    });
  }

  it("preloads nothing that reaches @noble/curves or noble's SHA-2 and HKDF, whose module-level state a preload would make read-only", async () => {
    // xsl freezes every ArrayBuffer, typed array, Map and WeakMap a preload creates (xs/tools/
    // xslSlot.c: "freeze instances that cannot be aliased yet"): noble's SHA-2 and HKDF hash into
    // module-level typed arrays, and @noble/curves keeps its point tables in module-level WeakMaps,
    // so on the device they throw "read-only buffer" / "read-only WeakMap instance". A preloaded
    // module evaluates what it imports at preload, so none of its imports may reach them either.
    // mcconfig preloads what an entry names exactly, and a wildcard entry only JavaScript files
    // (tools/mcconfig.js, filterPreload): the TypeScript core under src/* loads at boot.
    const lin = platformModules(root, manifest, "lin");
    const preloadedByMcconfig = (file: string) =>
      lin.preload.some((entry) => (entry.endsWith("/*") ? file.endsWith(".js") && moduleKey(file).startsWith(entry.slice(0, -1)) : entry === moduleKey(file)));
    const frozenByPreload = (f: string) => f.startsWith("node_modules/@noble/curves/") || /^node_modules\/@noble\/hashes\/(sha2|hkdf)\.js$/.test(f);
    const problems: string[] = [];
    for (const file of graphs.get("lin")!.files.filter(preloadedByMcconfig)) {
      const reached = (await importGraph(root, file)).files.filter(frozenByPreload);
      if (reached.length > 0) problems.push(`${file} is preloaded and reaches ${reached.join(", ")}`);
    }
    expect(problems).toEqual([]);
    expect(graphs.get("lin")!.files.filter(preloadedByMcconfig).filter((f) => f.startsWith("src/"))).toEqual([]);
  });

  it("gives the desktop simulators the same modules, differing only in native code", () => {
    const lin = platformModules(root, manifest, "lin");
    for (const platform of ["mac", "win"] as const) {
      const other = platformModules(root, manifest, platform);
      expect([...other.modules.entries()].sort()).toEqual([...lin.modules.entries()].sort());
      expect(other.main).toBe(lin.main);
      expect(other.native).toEqual([`hosts/moddable/native/${platform}/hardware-random-${platform}.c`]);
    }
  });

  it("lists no project module that no entry imports", () => {
    const reached = new Set<string>();
    for (const graph of graphs.values()) for (const file of graph.files) reached.add(file);
    const explicit = new Set<string>();
    for (const platform of PLATFORMS) {
      for (const [key, file] of platformModules(root, manifest, platform).modules) {
        // Wildcard folders (src/*) may hold modules only the Node host uses; explicit keys may not.
        if (!isWildcardKey(key)) explicit.add(file);
      }
    }
    expect([...explicit].filter((file) => !reached.has(file))).toEqual([]);
  });
});

function isWildcardKey(key: string): boolean {
  const folder = key.slice(0, key.lastIndexOf("/") + 1);
  return Object.keys(manifest.modules ?? {}).includes(`${folder}*`);
}

/**
 * What only the firmware carries: the verification of its signed policy and of policy updates. The
 * XS lane's street bundle has no Ed25519 (xsnap's XS cannot initialise @noble/curves' Point class
 * without class static fields lowered, docs/decisions.md); its host verifies and hands it the result.
 */
const SIGNATURE_MODULES = [
  ...["ed25519", "utils", "abstract/curve", "abstract/edwards", "abstract/fft", "abstract/frost", "abstract/hash-to-curve", "abstract/modular", "abstract/montgomery", "abstract/oprf"].map((m) => `node_modules/@noble/curves/${m}.js`),
  "src/policy/node-from-policy.ts",
  "src/policy/policy-change.ts",
  "src/policy/policy-update.ts",
  "src/policy/signed-policy.ts",
  "src/wire/cose-sign1-detached.ts",
  "src/wire/cose-sign1.ts",
];

describe("the XS lane and the Moddable simulator build", () => {
  it("run the same core, parts and crypto modules", () => {
    const firmware = graphs.get("lin")!.files;
    const lane = bundleForXs("street-node").modules;
    // The host glue differs by design (hosts/moddable vs hosts/xs); below it, only these differ:
    const firmwareOnly = [
      "hosts/sim/street-board.ts", // the firmware takes the reference board alone; the lane gets the whole configuration as JSON from its host
      ...SIGNATURE_MODULES, // ...which the firmware composes from its signed policy and board itself, verified with Ed25519
    ].sort();
    const laneOnly = [
      "hosts/sim/fault-plan.ts", // the lane injects sensor faults on a schedule
      "hosts/sim/sim-clock.ts", // the lane runs on virtual time; the firmware on Moddable's clock
    ];
    const shared = (files: readonly string[]) => files.filter((f) => /^(src|hosts\/sim|node_modules)\//.test(f)).sort();
    expect(shared(firmware).filter((f) => !shared(lane).includes(f))).toEqual(firmwareOnly);
    expect(shared(lane).filter((f) => !shared(firmware).includes(f))).toEqual(laneOnly);
  });

  it("and the ESP32 build runs the same core and crypto modules on real parts", () => {
    const firmware = graphs.get("esp32")!.files;
    const lane = bundleForXs("street-node").modules;
    const core = (files: readonly string[]) => files.filter((f) => /^(src|node_modules)\//.test(f)).sort();
    // The firmware composes its configuration from its signed policy and board; the lane is given it composed and verified.
    expect(core(firmware).filter((f) => !SIGNATURE_MODULES.includes(f))).toEqual(core(lane));
    // the ESP32 build uses the reference board of hosts/sim, and none of its simulated parts
    expect(firmware.filter((f) => f.startsWith("hosts/sim/"))).toEqual(["hosts/sim/street-board.ts"]);
  });

  it("carries no policy: a node runs the one signed for it, from its store", () => {
    const configs = [manifest as unknown as { config?: Record<string, unknown> }, ...Object.values(manifest.platforms as Record<string, { config?: Record<string, unknown> }>)];
    for (const { config } of configs) expect(Object.keys(config ?? {}).filter((key) => /policy|window/i.test(key))).toEqual([]);
  });

});

describe("the ESP32 partition table", () => {
  const esp32 = (manifest.platforms as Record<string, { build?: Record<string, string>; config?: Record<string, number> }>).esp32!;
  const file = join(root, esp32.build!.PARTITIONS_FILE!);
  const rows = readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [name, type, subtype, offset, size] = line.split(",").map((cell) => cell.trim());
      return { name: name!, type: type!, subtype: subtype!, offset: parseInt(offset!, 16), size: parseInt(size!, 16) };
    });

  it("is the manifest's, lays its partitions end to end within 4 MB, and aligns the app to 64 KB", () => {
    expect(rows.map((row) => row.name)).toEqual(["nvs", "phy_init", "factory"]);
    expect(rows[0]!.offset).toBe(0x9000); // after the partition table at 0x8000, as ESP-IDF expects
    for (const row of rows) expect(row.size % 0x1000, row.name).toBe(0);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.offset, rows[i]!.name).toBeGreaterThanOrEqual(rows[i - 1]!.offset + rows[i - 1]!.size);
    const app = rows.find((row) => row.type === "app")!;
    expect(app.offset % 0x10000).toBe(0);
    expect(app.offset + app.size).toBeLessThanOrEqual(0x400000);
    expect(app.size).toBeGreaterThanOrEqual(0x300000); // room for the firmware image (about 1.5 MB today)
  });

  it("is the table npm run provision sizes the NVS image for", () => {
    const nvs = rows.find((row) => row.subtype === "nvs")!;
    expect({ offset: nvs.offset, size: nvs.size }).toEqual({ offset: NVS_PARTITION_OFFSET, size: NVS_PARTITION_SIZE });
  });

  it("gives NVS room for the outbox's budget, with a free page for NVS and room for fragmentation", () => {
    const nvs = rows.find((row) => row.subtype === "nvs")!;
    const budget = esp32.config!.outboxBytes!;
    // NVS keeps one page (4 KB) free for its garbage collection, and a blob's chunks do not span
    // pages: a page of 4,032 data bytes holds three 1.1 KB records. Budget at most 2/3 of the rest.
    expect(budget).toBeLessThanOrEqual(((nvs.size - 0x1000) * 2) / 3);
  });
});
