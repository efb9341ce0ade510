/**
 * A node's store with the faults flash and disks have, for the fault campaign and the soak: a power
 * cut at a chosen commit (the commit happens or not, then nothing more does: an atomic store cut
 * off during a write leaves one of the two states), and failures with the code a full or read-only
 * disk gives (ENOSPC, EROFS, EIO) for as long as they last. Portable: it runs on Node and in XS.
 */
import type { KeyValueStore, StoreWrite } from "../../src/platform.js";

/** Thrown by every operation once the power is off. */
export class PowerCutError extends Error {
  override name = "PowerCutError";
}

/** A write the disk refused, with the code Node.js would give it. */
export class StoreFaultError extends Error {
  override name = "StoreFaultError";
  readonly code: string;

  constructor(code: string, operation: string) {
    super(`${code}: ${operation} refused by the simulated disk`);
    this.code = code;
  }
}

export class FaultyStore implements KeyValueStore {
  readonly #inner: KeyValueStore;
  readonly #onPowerCut: () => void;
  #powered = true;
  /** Commits attempted so far. */
  commits = 0;
  #cutAt = -1;
  #cutApplies = false;
  #failing: string | undefined;

  /** `onPowerCut` runs at the instant of the cut, before the interrupted operation throws. */
  constructor(inner: KeyValueStore, onPowerCut: () => void = () => {}) {
    this.#inner = inner;
    this.#onPowerCut = onPowerCut;
  }

  get powered(): boolean {
    return this.#powered;
  }

  /**
   * The power fails at the commit `n` commits from now (0: the next one). With `applies`, that
   * commit reaches the store before the power goes; without, it does not.
   */
  cutPowerAtCommit(n: number, applies: boolean): void {
    this.#cutAt = this.commits + n;
    this.#cutApplies = applies;
  }

  /** Every commit fails with `code` (ENOSPC, EROFS, EIO) until called with undefined. */
  failWrites(code: string | undefined): void {
    this.#failing = code;
  }

  get(key: string): Uint8Array | undefined {
    this.#requirePower();
    return this.#inner.get(key);
  }

  keys(prefix: string): string[] {
    this.#requirePower();
    return this.#inner.keys(prefix);
  }

  commit(writes: readonly StoreWrite[]): void {
    this.#requirePower();
    const index = this.commits++;
    if (index === this.#cutAt) {
      if (this.#cutApplies) this.#inner.commit(writes);
      this.#powered = false;
      this.#onPowerCut();
      throw new PowerCutError(`power cut at commit ${index}`);
    }
    if (this.#failing !== undefined) throw new StoreFaultError(this.#failing, "write");
    this.#inner.commit(writes);
  }

  #requirePower(): void {
    if (!this.#powered) throw new PowerCutError("the store is used after the power went off");
  }
}
