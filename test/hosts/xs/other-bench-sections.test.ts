import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../../hosts/xs/bundle.js";
import { otherBenchSections } from "../../../hosts/xs/other-bench-sections.js";

describe("npm run bench keeps the sections other benches write", () => {
  it("keeps the collector's section whole, heading with its command included, and drops its own", () => {
    const collector = ["## Collector throughput (`npm run bench:collector`)", "", "text", "", "### Targets", "", "| a | b |", ""].join("\n");
    const previous = ["# Benchmarks", "", "## Targets", "", "old XS figures", "", collector].join("\n");
    expect(otherBenchSections(previous)).toBe(`\n${collector.trimEnd()}\n`);
  });

  it("stops at the next level-2 heading", () => {
    const previous = ["## Collector throughput", "kept", "## Notes", "dropped"].join("\n");
    expect(otherBenchSections(previous)).toBe("\n## Collector throughput\nkept\n");
  });

  it("keeps nothing from a file without them, or no file", () => {
    expect(otherBenchSections("# Benchmarks\n\n## Targets\n")).toBe("");
    expect(otherBenchSections("")).toBe("");
  });

  it("finds the collector's section in BENCHMARKS.md as it is", () => {
    const file = readFileSync(join(projectRoot(), "BENCHMARKS.md"), "utf8");
    const start = file.indexOf("## Collector throughput");
    expect(start).toBeGreaterThan(0);
    expect(otherBenchSections(file)).toBe(`\n${file.slice(start).trimEnd()}\n`);
  });
});
