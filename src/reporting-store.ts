/**
 * The node's store as the node uses it: every failed commit (a full, read-only or failing flash) is
 * counted, and logged once per episode with its cause, whichever part of the node was writing (the
 * counter, the outbox, the budget, the audit log); the first commit that succeeds again ends the
 * episode and is logged too. The failure itself still reaches the caller, which knows what to do
 * about it (the outbox holds its messages in RAM, the budget suppresses a release, the counter
 * refuses to seal). Reads are passed through: a failing read is the caller's to count.
 */
import type { KeyValueStore, Log, StoreWrite } from "./platform.js";
import { storeFailureCause } from "./store-contract.js";

export class ReportingStore implements KeyValueStore {
  readonly #inner: KeyValueStore;
  readonly #log: Log;
  readonly #device: string;
  /** Commits that failed since boot. */
  failures = 0;
  #failure: string | undefined;

  constructor(inner: KeyValueStore, log: Log, device: string) {
    this.#inner = inner;
    this.#log = log;
    this.#device = device;
  }

  /** The cause of the failure in progress (ENOSPC, EROFS, EIO, ...), or undefined while writes succeed. */
  get failure(): string | undefined {
    return this.#failure;
  }

  get(key: string): Uint8Array | undefined {
    return this.#inner.get(key);
  }

  keys(prefix: string): string[] {
    return this.#inner.keys(prefix);
  }

  commit(writes: readonly StoreWrite[]): void {
    try {
      this.#inner.commit(writes);
    } catch (error) {
      this.failures++;
      const cause = storeFailureCause(error);
      if (this.#failure === undefined) {
        this.#log("error", "store-write-failed", { device: this.#device, cause, key: writes[0]?.key ?? "", message: error instanceof Error ? error.message : String(error) });
      }
      this.#failure = cause;
      throw error;
    }
    if (this.#failure !== undefined) {
      this.#log("info", "store-write-recovered", { device: this.#device, after: this.#failure, failures: this.failures });
      this.#failure = undefined;
    }
  }
}
