/**
 * The simulated node's flash: a key-value store in one JSON file, replaced atomically on every
 * commit (write, fsync, rename), so a process killed mid-write leaves the previous state.
 *
 * File format: {"format": "civicnode-store", "version": 1, "entries": {"<key>": "<base64>"}}
 */
import { existsSync, readFileSync } from "node:fs";
import type { KeyValueStore, StoreWrite } from "../../src/platform.js";
import { assertStoreWrite } from "../../src/store-contract.js";
import { writeFileAtomic } from "./atomic-file.js";

export class StoreFileError extends Error {
  override name = "StoreFileError";
}

export class FileStore implements KeyValueStore {
  readonly path: string;
  readonly #entries = new Map<string, Uint8Array>();

  constructor(path: string) {
    this.path = path;
    if (!existsSync(path)) return;
    let document: { format?: unknown; version?: unknown; entries?: unknown };
    try {
      document = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      throw new StoreFileError(`${path} is not a civicnode store file (invalid JSON)`);
    }
    if (document?.format !== "civicnode-store" || document.version !== 1 || typeof document.entries !== "object" || document.entries === null) {
      throw new StoreFileError(`${path} is not a civicnode store file`);
    }
    for (const [key, value] of Object.entries(document.entries as Record<string, unknown>)) {
      if (typeof value !== "string") throw new StoreFileError(`${path}: entry ${key} is not base64 text`);
      this.#entries.set(key, new Uint8Array(Buffer.from(value, "base64")));
    }
  }

  get(key: string): Uint8Array | undefined {
    const value = this.#entries.get(key);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  keys(prefix: string): string[] {
    return [...this.#entries.keys()].filter((key) => key.startsWith(prefix));
  }

  commit(writes: readonly StoreWrite[]): void {
    writes.forEach(assertStoreWrite);
    const next = new Map(this.#entries);
    for (const { key, value } of writes) {
      if (value === undefined) next.delete(key);
      else next.set(key, new Uint8Array(value));
    }
    const entries: Record<string, string> = {};
    for (const [key, value] of next) entries[key] = Buffer.from(value).toString("base64");
    writeFileAtomic(this.path, JSON.stringify({ format: "civicnode-store", version: 1, entries }) + "\n", 0o600);
    this.#entries.clear();
    for (const [key, value] of next) this.#entries.set(key, value);
  }
}
