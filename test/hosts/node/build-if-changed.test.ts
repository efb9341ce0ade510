/**
 * hosts/node/build-if-changed.mjs (`npm run build`, and the step before `npm start` and the other
 * tools) on a small project of its own in a temporary folder, compiled by the real tsc: it compiles
 * when there is no build, when a source, a config or the file list changed, or an output is
 * missing; it does nothing when nothing changed (a file rewritten with the same bytes included);
 * a failed build is compiled again on the next run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const HELPER = resolve("hosts/node/build-if-changed.mjs");
/** Each test runs tsc up to eight times, a second or two each, longer on a loaded machine. */
const BUILDS_MS = 120_000;

describe("build-if-changed", () => {
  let project: string;
  const write = (path: string, text: string) => {
    mkdirSync(join(project, path, ".."), { recursive: true });
    writeFileSync(join(project, path), text);
  };
  const build = () => {
    const run = spawnSync(process.execPath, [HELPER], { cwd: project, encoding: "utf8" });
    return { code: run.status, stderr: run.stderr, stdout: run.stdout };
  };
  const output = (path: string) => readFileSync(join(project, "dist", path), "utf8");

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), "civicnode-build-"));
    symlinkSync(resolve("node_modules"), join(project, "node_modules"), "dir");
    write("package.json", JSON.stringify({ name: "fixture", private: true, type: "module" }));
    write(
      "tsconfig.json",
      `{
  // comments and trailing commas, as tsconfig files have them
  "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true, "types": [], "outDir": "dist", "rootDir": ".", /* here too */ },
  "include": ["src", "test"],
}`,
    );
    write(
      "tsconfig.build.json",
      JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { incremental: true, tsBuildInfoFile: "dist/.tsbuildinfo" }, include: ["src"], exclude: ["src/drafts", "node_modules", "dist"] }),
    );
    write("src/a.ts", `export const a: number = 1;\n`);
    write("src/b.ts", `import { a } from "./a.js";\nexport const b = a + 1;\n`);
    write("src/drafts/c.ts", `export const c = 3;\n`);
    write("test/t.ts", `export const t = 4;\n`);
  });

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("compiles the first time, then only when something it compiles changed", () => {
    const first = build();
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("compiling the TypeScript sources (no build recorded yet)");
    expect(output("src/b.js")).toContain("a + 1");

    const again = build();
    expect(again).toEqual({ code: 0, stderr: "", stdout: "" });

    write("src/a.ts", `export const a: number = 1;\n`); // the same bytes, a new mtime
    expect(build().stderr).toBe("");
    write("src/drafts/c.ts", `export const c = 30;\n`); // excluded
    write("test/t.ts", `export const t = 40;\n`); // not included in the build
    expect(build().stderr).toBe("");

    write("src/a.ts", `export const a: number = 2;\n`);
    const changed = build();
    expect(changed.code).toBe(0);
    expect(changed.stderr).toContain("sources changed since the last build");
    expect(output("src/a.js")).toContain("= 2");
    expect(build().stderr).toBe("");
  }, BUILDS_MS);

  it("compiles when a file is added, a config changes or an output is missing", () => {
    write("src/d.ts", `export const d = 5;\n`);
    expect(build().stderr).toContain("sources changed");
    expect(output("src/d.js")).toContain("d = 5");

    write("tsconfig.build.json", JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { incremental: true, tsBuildInfoFile: "dist/.tsbuildinfo", removeComments: true }, include: ["src"], exclude: ["src/drafts", "node_modules", "dist"] }));
    expect(build().stderr).toContain("sources changed");
    write("tsconfig.json", readFileSync(join(project, "tsconfig.json"), "utf8").replace('"target": "ES2022"', '"target": "ES2023"'));
    expect(build().stderr).toContain("sources changed");
    expect(build().stderr).toBe("");

    rmSync(join(project, "dist", "src", "b.js"));
    const repaired = build();
    expect(repaired.stderr).toContain(`${join("dist", "src", "b.js")} is missing`);
    expect(output("src/b.js")).toContain("a + 1");
    expect(build().stderr).toBe("");
  }, BUILDS_MS);

  it("passes a failed build's errors and exit code on, and compiles again next time", () => {
    write("src/a.ts", `export const a: number = "two";\n`);
    const failed = build();
    expect(failed.code).not.toBe(0);
    expect(failed.stdout).toContain("src/a.ts");
    expect(failed.stdout).toContain("TS2322");
    const still = build();
    expect(still.code).not.toBe(0);
    expect(still.stderr).toContain("sources changed");

    write("src/a.ts", `export const a: number = 3;\n`);
    expect(build().code).toBe(0);
    expect(output("src/a.js")).toContain("= 3");
    expect(build()).toEqual({ code: 0, stderr: "", stdout: "" });
  }, BUILDS_MS);
});
