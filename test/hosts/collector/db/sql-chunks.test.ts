/**
 * The chunks multi-row statements come in (sql-database.ts): every row once and in order, sizes
 * from a small fixed set whatever the batch, so that a connection prepares a few statement texts,
 * each built once.
 */
import { describe, expect, it } from "vitest";
import { chunked, MAX_CHUNK, paddedChunks, StatementTexts, valuesRows } from "../../../../hosts/collector/db/sql-database.js";

const POWERS = new Set(Array.from({ length: Math.log2(MAX_CHUNK) + 1 }, (_, i) => 2 ** i));

describe("statement chunks", () => {
  it("split rows into powers of two up to MAX_CHUNK, largest first, every row once and in order", () => {
    const sizes = new Set<number>();
    for (let n = 0; n <= 3 * MAX_CHUNK + 5; n++) {
      const rows = Array.from({ length: n }, (_, i) => i);
      const chunks = chunked(rows);
      expect(chunks.flat()).toEqual(rows);
      for (const chunk of chunks) sizes.add(chunk.length);
      expect(chunks.map((c) => c.length)).toEqual([...chunks.map((c) => c.length)].sort((a, b) => b - a));
    }
    expect([...sizes].every((size) => POWERS.has(size))).toBe(true);
    expect(chunked([..."x".repeat(200)]).map((c) => c.length)).toEqual([128, 64, 8]);
  });

  it("fill an IN list up to a power of two with its last key, so every key is asked once at least and nothing else", () => {
    for (let n = 1; n <= 2 * MAX_CHUNK + 3; n++) {
      const keys = Array.from({ length: n }, (_, i) => `k${i}`);
      const chunks = paddedChunks(keys);
      for (const chunk of chunks) expect(POWERS.has(chunk.length)).toBe(true);
      expect([...new Set(chunks.flat())]).toEqual(keys);
    }
    expect(paddedChunks(["a", "b", "c"])).toEqual([["a", "b", "c", "c"]]);
    expect(paddedChunks([])).toEqual([]);
  });

  it("write VALUES rows", () => {
    expect(valuesRows(3, "(?, ?)")).toBe("(?, ?), (?, ?), (?, ?)");
    expect(valuesRows(2, "?")).toBe("?, ?");
  });

  it("build a statement's text once per size and variant, and build it again past their bound", () => {
    const built: string[] = [];
    const texts = new StatementTexts((n, variant) => (built.push(`${n}${variant}`), `SELECT ${valuesRows(n, "?")}${variant}`));
    expect(texts.of(2)).toBe("SELECT ?, ?");
    expect(texts.of(2, " FOR UPDATE")).toBe("SELECT ?, ? FOR UPDATE");
    texts.of(2);
    texts.of(2, " FOR UPDATE");
    expect(built).toEqual(["2", "2 FOR UPDATE"]);
    for (let n = 3; n < 200; n++) expect(texts.of(n)).toBe(`SELECT ${valuesRows(n, "?")}`);
    expect(texts.of(199)).toBe(`SELECT ${valuesRows(199, "?")}`);
    expect(built.filter((b) => b === "199")).toHaveLength(2); // not kept: only sizes of chunks come often
  });
});
