import { describe, expect, it } from "vitest";
import type { KeyValueStore, LogDetail, LogLevel, StoreWrite } from "../../src/platform.js";
import { ReportingStore } from "../../src/reporting-store.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";

describe("ReportingStore", () => {
  it("counts every failed commit, logs the first of an episode with its cause and its end, and lets the failure through", () => {
    const inner = new MemoryStore();
    let code: string | undefined;
    const failing: KeyValueStore = {
      get: (key) => inner.get(key),
      keys: (prefix) => inner.keys(prefix),
      commit: (writes: readonly StoreWrite[]) => {
        if (code) throw Object.assign(new Error(`${code}: refused`), { code });
        inner.commit(writes);
      },
    };
    const lines: Array<{ level: LogLevel; event: string; detail?: LogDetail }> = [];
    const store = new ReportingStore(failing, (level, event, detail) => lines.push({ level, event, detail }), "street-01");
    const write = [{ key: "seal.ctr", value: Uint8Array.of(1) }];
    store.commit(write);
    code = "EROFS";
    for (let i = 0; i < 3; i++) expect(() => store.commit(write)).toThrow(/EROFS/);
    expect(store.failures).toBe(3);
    expect(store.failure).toBe("EROFS");
    code = undefined;
    store.commit(write);
    expect(store.failure).toBeUndefined();
    expect(lines.map(({ level, event, detail }) => [level, event, detail?.cause ?? detail?.after])).toEqual([
      ["error", "store-write-failed", "EROFS"],
      ["info", "store-write-recovered", "EROFS"],
    ]);
    expect(store.keys("seal")).toEqual(["seal.ctr"]);
  });
});
