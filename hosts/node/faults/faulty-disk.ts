/**
 * The collector's disk in the fault campaign: node:fs, except that while a fault is on, every call
 * that writes fails with the code a full (ENOSPC), read-only (EROFS) or failing (EIO) disk gives.
 * Reads keep working, as they do on a full disk.
 */
import { NODE_FILE_OPS, type FileOps } from "../atomic-file.js";

export class FaultyDisk {
  #fault: string | undefined;
  /** Write calls refused so far. */
  refused = 0;
  readonly ops: FileOps;

  constructor(inner: FileOps = NODE_FILE_OPS) {
    const refuse = (operation: string): void => {
      if (this.#fault === undefined) return;
      this.refused++;
      throw Object.assign(new Error(`${this.#fault}: ${operation} refused by the simulated disk`), { code: this.#fault });
    };
    this.ops = {
      ...inner,
      open: (path, flags, mode) => {
        if (flags !== "r") refuse(`open ${path}`);
        return inner.open(path, flags, mode);
      },
      write: (fd, bytes, offset, length) => {
        refuse("write");
        return inner.write(fd, bytes, offset, length);
      },
      fsync: (fd) => {
        refuse("fsync");
        inner.fsync(fd);
      },
      rename: (from, to) => {
        refuse(`rename ${to}`);
        inner.rename(from, to);
      },
    };
  }

  /** Writes fail with `code` until called with undefined. */
  fail(code: string | undefined): void {
    this.#fault = code;
  }
}
