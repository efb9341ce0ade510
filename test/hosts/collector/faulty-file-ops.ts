/**
 * File operations over real files that count every call that changes the disk (open for writing,
 * write, fsync, truncate, chmod, rename, remove) and, at a chosen index:
 *
 * - `fail`: throw an error with a code (ENOSPC by default) for `times` calls; a failing write first
 *   writes half its bytes, as a disk that fills up mid-write does. Afterwards the disk works again.
 * - `cut`: cut the power. The call at the index does half its work at most (half a write, no sync,
 *   no rename) and every later call throws, reads included: the process is dead. `tear()` then makes
 *   the disk what a power cut leaves: each file keeps what was fsynced plus half of what was written
 *   after that (page cache lost mid-flush). Renames that returned are taken as durable.
 */
import { NODE_FILE_OPS, type FileOps } from "../../../hosts/node/atomic-file.js";
import * as fs from "node:fs";

export class PowerCut extends Error {
  override name = "PowerCut";
  readonly code = "EPOWERCUT";
}

export type Fault = { readonly kind: "fail"; readonly at: number; readonly code?: string; readonly times?: number } | { readonly kind: "cut"; readonly at: number };

export class FaultyFileOps implements FileOps {
  /** Calls that changed (or tried to change) the disk so far. */
  writes = 0;
  /** The power is off. */
  dead = false;
  readonly #fault: Fault | undefined;
  readonly #paths = new Map<number, string>();
  /** Per path, the length known durable (at its last fsync, or when first opened). */
  readonly #synced = new Map<string, number>();

  constructor(fault?: Fault) {
    this.#fault = fault;
  }

  /** The fault has happened. */
  get tripped(): boolean {
    return this.#fault !== undefined && this.writes > this.#fault.at;
  }

  open(path: string, flags: "r" | "a" | "w", mode?: number): number {
    this.#alive();
    if (flags === "r") return this.#track(NODE_FILE_OPS.open(path, flags, mode), path);
    return this.#mutate(() => {
      if (flags === "w") this.#synced.set(path, 0);
      return this.#track(NODE_FILE_OPS.open(path, flags, mode), path);
    });
  }

  write(fd: number, bytes: Uint8Array, offset: number, length: number): number {
    return this.#mutate(
      () => NODE_FILE_OPS.write(fd, bytes, offset, length),
      () => NODE_FILE_OPS.write(fd, bytes, offset, Math.floor(length / 2)),
    );
  }

  read(fd: number, into: Uint8Array, position: number): number {
    this.#alive();
    return NODE_FILE_OPS.read(fd, into, position);
  }

  size(fd: number): number {
    this.#alive();
    return NODE_FILE_OPS.size(fd);
  }

  fsync(fd: number): void {
    this.#mutate(() => {
      NODE_FILE_OPS.fsync(fd);
      const path = this.#paths.get(fd);
      if (path !== undefined) this.#synced.set(path, NODE_FILE_OPS.size(fd));
    });
  }

  truncate(fd: number, length: number): void {
    this.#mutate(() => {
      NODE_FILE_OPS.truncate(fd, length);
      const path = this.#paths.get(fd);
      // Shrinking is a metadata change the file system journals: taken as durable.
      if (path !== undefined) this.#synced.set(path, Math.min(this.#synced.get(path) ?? length, length));
    });
  }

  close(fd: number): void {
    this.#paths.delete(fd);
    NODE_FILE_OPS.close(fd); // closing never fails the test's disk, even after the cut
  }

  rename(from: string, to: string): void {
    this.#mutate(() => {
      NODE_FILE_OPS.rename(from, to);
      this.#synced.set(to, this.#synced.get(from) ?? 0);
      this.#synced.delete(from);
    });
  }

  remove(path: string): void {
    this.#mutate(() => {
      NODE_FILE_OPS.remove(path);
      this.#synced.delete(path);
    });
  }

  chmod(path: string, mode: number): void {
    this.#mutate(() => NODE_FILE_OPS.chmod(path, mode));
  }

  mkdir(path: string): void {
    this.#alive();
    NODE_FILE_OPS.mkdir(path);
  }

  list(dir: string): string[] {
    this.#alive();
    return NODE_FILE_OPS.list(dir);
  }

  exists(path: string): boolean {
    this.#alive();
    return NODE_FILE_OPS.exists(path);
  }

  /** After a cut: every file loses half of what was written after its last fsync. */
  tear(): void {
    for (const [path, synced] of this.#synced) {
      if (!fs.existsSync(path)) continue;
      const length = fs.statSync(path).size;
      if (length > synced) fs.truncateSync(path, synced + Math.floor((length - synced) / 2));
    }
  }

  #track(fd: number, path: string): number {
    this.#paths.set(fd, path);
    if (!this.#synced.has(path) && fs.existsSync(path)) this.#synced.set(path, fs.statSync(path).size);
    return fd;
  }

  #alive(): void {
    if (this.dead) throw new PowerCut("the power is off");
  }

  #mutate<T>(operation: () => T, partial?: () => unknown): T {
    this.#alive();
    const index = this.writes++;
    const fault = this.#fault;
    if (fault && index >= fault.at && index < fault.at + (fault.kind === "fail" ? (fault.times ?? 1) : 1)) {
      partial?.();
      if (fault.kind === "cut") {
        this.dead = true;
        throw new PowerCut(`power cut at write ${index}`);
      }
      throw Object.assign(new Error(`${fault.code ?? "ENOSPC"}: injected at write ${index}`), { code: fault.code ?? "ENOSPC" });
    }
    return operation();
  }
}
