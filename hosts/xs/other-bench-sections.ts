/**
 * The sections of BENCHMARKS.md that other benches write (`npm run bench:collector`'s), which
 * `npm run bench` keeps as they are, after its own report.
 */

/** Each section by its heading's start: the heading goes on with the command that writes it, "## Collector throughput (`npm run bench:collector`)". */
const OTHER_SECTIONS = ["## Collector throughput"];

/** From the file's previous text, those sections, each from its heading to the next level-2 heading, with a blank line before it. */
export function otherBenchSections(previous: string): string {
  const lines = previous.split("\n");
  let kept = "";
  for (const heading of OTHER_SECTIONS) {
    const start = lines.findIndex((line) => line === heading || line.startsWith(`${heading} `));
    if (start < 0) continue;
    const next = lines.findIndex((line, i) => i > start && /^## /.test(line));
    kept += "\n" + lines.slice(start, next < 0 ? lines.length : next).join("\n").trimEnd() + "\n";
  }
  return kept;
}
