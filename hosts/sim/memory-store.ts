/**
 * A key-value store in RAM with the limits of ESP32 NVS and, for tests, power-cut injection: the
 * store can be told to fail at its n-th commit, which then changes nothing, as an atomic store
 * cut off mid-write must behave.
 */
import type { KeyValueStore, StoreWrite } from "../../src/platform.js";
import { assertStoreWrite } from "../../src/store-contract.js";

/** Thrown by a store whose commit was cut (simulated power loss or flash failure). */
export class StoreCommitError extends Error {
  override name = "StoreCommitError";
}

export class MemoryStore implements KeyValueStore {
  readonly #entries = new Map<string, Uint8Array>();
  /** Commits that succeeded. */
  commits = 0;
  #failAtCommit = -1;

  get(key: string): Uint8Array | undefined {
    const value = this.#entries.get(key);
    return value === undefined ? undefined : new Uint8Array(value); // a copy, also when given a Node Buffer
  }

  commit(writes: readonly StoreWrite[]): void {
    writes.forEach(assertStoreWrite);
    if (this.#failAtCommit === this.commits) {
      this.#failAtCommit = -1;
      throw new StoreCommitError("simulated power cut during commit");
    }
    for (const { key, value } of writes) {
      if (value === undefined) this.#entries.delete(key);
      else this.#entries.set(key, new Uint8Array(value));
    }
    this.commits++;
  }

  /** Makes the commit with index `commits + n` fail (0: the next one). */
  failCommitIn(n: number): void {
    this.#failAtCommit = this.commits + n;
  }

  keys(prefix = ""): string[] {
    return [...this.#entries.keys()].filter((key) => key.startsWith(prefix));
  }

  /** Every stored byte, concatenated: for tests that search the store for secrets. */
  allBytes(): Uint8Array {
    const parts = [...this.#entries.entries()];
    const total = parts.reduce((sum, [key, value]) => sum + key.length + value.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const [key, value] of parts) {
      for (let i = 0; i < key.length; i++) all[at++] = key.charCodeAt(i);
      all.set(value, at);
      at += value.length;
    }
    return all;
  }
}
