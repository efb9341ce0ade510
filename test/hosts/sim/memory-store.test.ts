import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore, StoreCommitError } from "../../../hosts/sim/memory-store.js";
import { StoreLimitError } from "../../../src/store-contract.js";
import { FileStore, StoreFileError } from "../../../hosts/node/file-store.js";
import type { KeyValueStore } from "../../../src/platform.js";

function contract(name: string, make: () => { store: KeyValueStore; reopen: () => KeyValueStore; cleanup: () => void }) {
  describe(`${name}: the platform's store contract`, () => {
    it("keeps copies: wiping what get() returned, or what was committed, changes nothing stored", () => {
      const { store, cleanup } = make();
      try {
        const secret = Buffer.from("0123456789abcdef0123456789abcdef", "hex"); // a Node Buffer, whose slice() shares memory
        store.commit([{ key: "key.root", value: secret }]);
        secret.fill(0);
        const first = store.get("key.root")!;
        first.fill(0);
        expect(Buffer.from(store.get("key.root")!).toString("hex")).toBe("0123456789abcdef0123456789abcdef");
      } finally {
        cleanup();
      }
    });

    it("applies a commit of several keys as a whole, and deletes with undefined", () => {
      const { store, reopen, cleanup } = make();
      try {
        store.commit([{ key: "a", value: Uint8Array.of(1) }, { key: "b", value: Uint8Array.of(2) }]);
        store.commit([{ key: "a", value: undefined }, { key: "b", value: Uint8Array.of(3) }]);
        const again = reopen();
        expect(again.get("a")).toBeUndefined();
        expect(again.get("b")).toEqual(Uint8Array.of(3));
      } finally {
        cleanup();
      }
    });

    it("enforces NVS limits: keys of at most 15 characters, values of at most 4000 bytes", () => {
      const { store, cleanup } = make();
      try {
        expect(() => store.commit([{ key: "sixteen-chars-xx", value: Uint8Array.of(1) }])).toThrow(StoreLimitError);
        expect(() => store.commit([{ key: "Upper", value: Uint8Array.of(1) }])).toThrow(StoreLimitError);
        expect(() => store.commit([{ key: "big", value: new Uint8Array(4001) }])).toThrow(StoreLimitError);
        expect(() => store.commit([{ key: "ok", value: Uint8Array.of(1) }, { key: "", value: Uint8Array.of(1) }])).toThrow(StoreLimitError);
        expect(store.get("ok")).toBeUndefined(); // nothing of a refused commit is applied
      } finally {
        cleanup();
      }
    });
  });
}

contract("MemoryStore", () => {
  const store = new MemoryStore();
  return { store, reopen: () => store, cleanup: () => {} };
});

contract("FileStore", () => {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-store-"));
  const path = join(dir, "store.json");
  return { store: new FileStore(path), reopen: () => new FileStore(path), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
});

describe("MemoryStore power cuts", () => {
  it("fails the chosen commit without applying any of it", () => {
    const store = new MemoryStore();
    store.commit([{ key: "x", value: Uint8Array.of(1) }]);
    store.failCommitIn(0);
    expect(() => store.commit([{ key: "x", value: Uint8Array.of(2) }, { key: "y", value: Uint8Array.of(3) }])).toThrow(StoreCommitError);
    expect(store.get("x")).toEqual(Uint8Array.of(1));
    expect(store.get("y")).toBeUndefined();
    store.commit([{ key: "y", value: Uint8Array.of(3) }]); // and works again afterwards
    expect(store.get("y")).toEqual(Uint8Array.of(3));
  });
});

describe("FileStore", () => {
  it("writes a private file in the documented format and refuses a foreign one", () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-store-"));
    try {
      const path = join(dir, "store.json");
      new FileStore(path).commit([{ key: "seal.ctr", value: Uint8Array.of(0xca, 0xfe) }]);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ format: "civicnode-store", version: 1, entries: { "seal.ctr": "yv4=" } });
      const foreign = join(dir, "other.json");
      writeFileSync(foreign, JSON.stringify({ hello: 1 }));
      expect(() => new FileStore(foreign)).toThrow(StoreFileError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
