/** The append-only log keeps whole lines: torn tails are cut, failed appends leave nothing, damage is reported. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JsonLinesLog, MAX_LINE_BYTES } from "../../../hosts/collector/json-lines-log.js";
import { FaultyFileOps } from "./faulty-file-ops.js";

describe("JsonLinesLog", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function file(content?: string): string {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-log-"));
    dirs.push(dir);
    const path = join(dir, "log.jsonl");
    if (content !== undefined) writeFileSync(path, content);
    return path;
  }

  function lines(log: JsonLinesLog, from = 0): Array<[unknown, number, number]> {
    const read: Array<[unknown, number, number]> = [];
    log.readLines(from, (value, offset, bytes) => read.push([value, offset, bytes]));
    return read;
  }

  it("cuts a torn last line at recovery, and reads whole lines with their offsets", () => {
    const path = file('{"a":1}\n{"b":2}\n{"c":');
    const log = new JsonLinesLog(path);
    expect(log.recover()).toEqual({ cutBytes: 5, size: 16 });
    expect(readFileSync(path, "utf8")).toBe('{"a":1}\n{"b":2}\n');
    expect(lines(log)).toEqual([
      [{ a: 1 }, 0, 8],
      [{ b: 2 }, 8, 8],
    ]);
    expect(lines(log, 8)).toEqual([[{ b: 2 }, 8, 8]]);
    log.append('{"d":4}');
    expect(readFileSync(path, "utf8")).toBe('{"a":1}\n{"b":2}\n{"d":4}\n');
    expect(log.size).toBe(24);
  });

  it("cuts a file that is one torn line, and takes a missing file as empty without creating it", () => {
    const torn = new JsonLinesLog(file('{"half'));
    expect(torn.recover()).toEqual({ cutBytes: 6, size: 0 });
    const missing = file();
    expect(new JsonLinesLog(missing).recover()).toEqual({ cutBytes: 0, size: 0 });
    expect(() => readFileSync(missing)).toThrow(/ENOENT/);
  });

  it("reports a damaged line in the middle as undefined, and bounds what it keeps of an endless one", () => {
    const long = "x".repeat(MAX_LINE_BYTES + 10);
    const log = new JsonLinesLog(file(`{"a":1}\nnot json\n${long}\n{"b":2}\n`));
    log.recover();
    expect(lines(log).map(([value, offset]) => [value, offset])).toEqual([
      [{ a: 1 }, 0],
      [undefined, 8],
      [undefined, 17],
      [{ b: 2 }, 17 + long.length + 1],
    ]);
  });

  it("leaves no half line when an append fails mid-write, also when the truncate back fails (cut before the next append)", () => {
    const path = file('{"a":1}\n');
    const failing = new JsonLinesLog(path, new FaultyFileOps({ kind: "fail", at: 1, code: "ENOSPC" })); // open, then the write
    failing.recover();
    expect(() => failing.append('{"b":2}')).toThrow(/ENOSPC/);
    expect(readFileSync(path, "utf8")).toBe('{"a":1}\n');

    // The write fails half-way and so does the truncate after it: the next append cuts first.
    const stubborn = new JsonLinesLog(path, new FaultyFileOps({ kind: "fail", at: 1, code: "EIO", times: 2 }));
    stubborn.recover();
    expect(() => stubborn.append('{"b":2}')).toThrow(/EIO/);
    expect(readFileSync(path, "utf8")).toMatch(/^\{"a":1\}\n\{"b/); // the half line is still there...
    stubborn.append('{"c":3}');
    expect(readFileSync(path, "utf8")).toBe('{"a":1}\n{"c":3}\n'); // ...and gone before the next line
  });
});
