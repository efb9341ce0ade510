/**
 * Crash-safe file writing for the Node hosts (keyring, simulated flash, collector state), over a
 * small seam of file operations (`FileOps`): node:fs in service, and in tests a stand-in that fails
 * or cuts the power at a chosen call, so every write index can be tried.
 */
import * as fs from "node:fs";
import { dirname } from "node:path";

/** The file system calls the crash-safe writers make, with the semantics of their node:fs namesakes. */
export interface FileOps {
  /** openSync; "a" appends (O_APPEND) and creates, "w" truncates and creates. */
  open(path: string, flags: "r" | "a" | "w", mode?: number): number;
  /** writeSync at the file position (the end for "a"); returns the bytes written, possibly fewer. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number): number;
  /** readSync from `position`; returns the bytes read (0 at the end). */
  read(fd: number, into: Uint8Array, position: number): number;
  /** The file's size (fstatSync). */
  size(fd: number): number;
  fsync(fd: number): void;
  /** ftruncateSync. */
  truncate(fd: number, length: number): void;
  close(fd: number): void;
  rename(from: string, to: string): void;
  /** unlinkSync; a file that is not there is not an error. */
  remove(path: string): void;
  chmod(path: string, mode: number): void;
  /** mkdirSync, recursive, mode 0700 for what it creates. */
  mkdir(path: string): void;
  /** readdirSync; [] for a folder that is not there. */
  list(dir: string): string[];
  exists(path: string): boolean;
}

export const NODE_FILE_OPS: FileOps = {
  open: (path, flags, mode = 0o600) => fs.openSync(path, flags, mode),
  write: (fd, bytes, offset, length) => fs.writeSync(fd, bytes, offset, length),
  read: (fd, into, position) => fs.readSync(fd, into, 0, into.length, position),
  size: (fd) => fs.fstatSync(fd).size,
  fsync: (fd) => fs.fsyncSync(fd),
  truncate: (fd, length) => fs.ftruncateSync(fd, length),
  close: (fd) => fs.closeSync(fd),
  rename: (from, to) => fs.renameSync(from, to),
  remove: (path) => fs.rmSync(path, { force: true }),
  chmod: (path, mode) => fs.chmodSync(path, mode),
  mkdir: (path) => void fs.mkdirSync(path, { recursive: true, mode: 0o700 }),
  list: (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []),
  exists: (path) => fs.existsSync(path),
};

/** Writes all of `bytes` at the file position, looping over short writes (a disk filling up mid-write). */
export function writeAll(ops: FileOps, fd: number, bytes: Uint8Array): void {
  let offset = 0;
  while (offset < bytes.length) {
    const written = ops.write(fd, bytes, offset, bytes.length - offset);
    if (written <= 0) throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    offset += written;
  }
}

/** The temporary a write of `path` goes through; `isTemporaryOf` recognises those of any process. */
export function temporaryOf(path: string, pid = process.pid): string {
  return `${path}.tmp-${pid}`;
}

export function isTemporaryOf(name: string, baseName: string): boolean {
  return name.startsWith(`${baseName}.tmp-`);
}

/**
 * Writes via a temporary file, fsync and rename, so readers see the old or the new file, never half.
 * Whatever fails (a full disk, a read-only or failing file system), the temporary is removed before
 * the error is thrown: nothing half-written stays for the next start to trip on.
 */
export function writeFileAtomic(path: string, content: string | Uint8Array, mode: number, ops: FileOps = NODE_FILE_OPS): void {
  ops.mkdir(dirname(path));
  const temporary = temporaryOf(path);
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  let fd: number | undefined;
  try {
    fd = ops.open(temporary, "w", mode);
    writeAll(ops, fd, bytes);
    ops.fsync(fd);
    const opened = fd;
    fd = undefined;
    ops.close(opened);
    ops.chmod(temporary, mode);
    ops.rename(temporary, path);
  } catch (error) {
    if (fd !== undefined) {
      try {
        ops.close(fd);
      } catch {
        // The descriptor is gone either way; the write's own error is the one to report.
      }
    }
    try {
      ops.remove(temporary);
    } catch {
      // A file system that refuses even the unlink (EIO): the next start removes stale temporaries.
    }
    throw error;
  }
  syncDirectory(ops, dirname(path));
}

/** Makes a rename in `dir` durable (fsync of the folder); best effort. */
export function syncDirectory(ops: FileOps, dir: string): void {
  try {
    const dirFd = ops.open(dir, "r");
    try {
      ops.fsync(dirFd);
    } finally {
      ops.close(dirFd);
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic.
  }
}
