/**
 * An append-only JSON Lines file that holds whole lines only, whatever happens mid-write:
 *
 * - Each line goes out in one write of the whole line with its "\n" (looping only over short
 *   writes), then fsync, before `append()` returns: a returned append survives a power cut.
 * - If any of it fails (ENOSPC after half the bytes, EIO at fsync, EROFS), the file is truncated
 *   back to the end of its last whole line before the error is thrown. Should even the truncate
 *   fail, the log refuses further appends until a truncate succeeds, so no line is ever written
 *   after a half one.
 * - At start, `recover()` cuts a torn last line (a power cut mid-write: every line ends with its
 *   "\n", so any prefix of one lacks it).
 *
 * The file is opened per append rather than held open: a read-only remount or a replaced file is
 * met at the next append, and no descriptor pins a dying disk.
 *
 * Example:
 *   const log = new JsonLinesLog("/var/lib/civicnode/summaries.jsonl");
 *   log.recover();
 *   log.append(JSON.stringify({ device: "lamp-7" }));
 */
import { dirname } from "node:path";
import { NODE_FILE_OPS, syncDirectory, writeAll, type FileOps } from "../node/atomic-file.js";

/** Lines longer than this are damage, not data (a summary line is about 1 KB). */
export const MAX_LINE_BYTES = 1 << 20;
const CHUNK_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export interface Recovery {
  /** Bytes of a torn last line that were cut off (0: none). */
  readonly cutBytes: number;
  /** The file's length after the cut: the end of its last whole line. */
  readonly size: number;
  /** Why the torn line could not be cut yet (a read-only disk); the next append cuts it first. */
  readonly cutError?: unknown;
}

export class JsonLinesLog {
  readonly path: string;
  readonly #ops: FileOps;
  /** The end of the last whole line, as far as this log knows; undefined before the file was seen. */
  #size: number | undefined;
  /** A failed append left bytes after #size that a truncate has not removed yet. */
  #tornTail = false;
  /** The folder entry of the file is known durable (fsynced once after the file was created). */
  #entrySynced = false;

  constructor(path: string, ops: FileOps = NODE_FILE_OPS) {
    this.path = path;
    this.#ops = ops;
  }

  /** The byte length of the whole lines written (what a checkpoint records as covered). */
  get size(): number {
    return this.#size ?? 0;
  }

  /**
   * Cuts a torn last line, if any, and learns the file's length. A file that is not there counts
   * as empty (nothing is created). Throws the file system's error when it cannot read or truncate.
   */
  recover(): Recovery {
    if (!this.#ops.exists(this.path)) {
      this.#size = 0;
      return { cutBytes: 0, size: 0 };
    }
    const fd = this.#ops.open(this.path, "r");
    let length: number;
    let end: number;
    try {
      length = this.#ops.size(fd);
      end = wholeLinesEnd(this.#ops, fd, length);
    } finally {
      this.#ops.close(fd);
    }
    this.#size = end;
    this.#entrySynced = true;
    if (end === length) return { cutBytes: 0, size: end };
    this.#tornTail = true;
    try {
      this.#cutTail();
    } catch (cutError) {
      return { cutBytes: length - end, size: end, cutError };
    }
    return { cutBytes: length - end, size: end };
  }

  /** Appends `json` and a newline; durable when it returns. Throws (with the file unchanged) when it cannot. */
  append(json: string): void {
    const bytes = Buffer.from(`${json}\n`, "utf8");
    const fd = this.#ops.open(this.path, "a", 0o600);
    try {
      const length = this.#ops.size(fd);
      if (this.#size === undefined || (!this.#tornTail && length !== this.#size)) this.#size = length; // first append, or the file was replaced
      if (this.#tornTail) {
        this.#ops.truncate(fd, this.#size);
        this.#tornTail = false;
      }
      try {
        writeAll(this.#ops, fd, bytes);
        this.#ops.fsync(fd);
      } catch (error) {
        this.#tornTail = true;
        try {
          this.#ops.truncate(fd, this.#size);
          this.#tornTail = false;
        } catch {
          // Retried before the next append, and cut at the next start at the latest.
        }
        throw error;
      }
      this.#size += bytes.length;
      if (!this.#entrySynced) {
        syncDirectory(this.#ops, dirname(this.path)); // a file created by this append: make its name durable too
        this.#entrySynced = true;
      }
    } finally {
      try {
        this.#ops.close(fd);
      } catch {
        // Closing a descriptor whose data is already synced cannot lose it.
      }
    }
  }

  /**
   * Calls `onLine` with each whole line from byte `from` on (parsed JSON, or undefined when the line
   * is not JSON) and the line's byte offset. A last line without its newline is not read.
   */
  readLines(from: number, onLine: (value: unknown, offset: number, bytes: number) => void): void {
    if (!this.#ops.exists(this.path)) return;
    const fd = this.#ops.open(this.path, "r");
    try {
      const chunk = new Uint8Array(CHUNK_BYTES);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let lineStart = from;
      let position = from;
      for (;;) {
        const read = this.#ops.read(fd, chunk, position);
        if (read <= 0) break;
        let start = 0;
        for (let i = 0; i < read; i++) {
          if (chunk[i] !== NEWLINE) continue;
          const part = Buffer.from(chunk.subarray(start, i));
          const line = pending.length === 0 ? part : Buffer.concat([...pending, part]);
          const bytes = pendingBytes + part.length + 1;
          onLine(pendingBytes + part.length > MAX_LINE_BYTES ? undefined : parseLine(line), lineStart, bytes);
          lineStart += bytes;
          pending = [];
          pendingBytes = 0;
          start = i + 1;
        }
        if (start < read) {
          // Keep the start of a line that continues in the next chunk; beyond the bound only its length.
          if (pendingBytes <= MAX_LINE_BYTES) pending.push(Buffer.from(chunk.subarray(start, read)));
          pendingBytes += read - start;
        }
        position += read;
      }
    } finally {
      this.#ops.close(fd);
    }
  }

  #cutTail(): void {
    const fd = this.#ops.open(this.path, "a", 0o600);
    try {
      this.#ops.truncate(fd, this.#size!);
      this.#ops.fsync(fd);
      this.#tornTail = false;
    } finally {
      this.#ops.close(fd);
    }
  }
}

/** The offset just after the file's last newline (0 when it has none), reading backwards from its end. */
function wholeLinesEnd(ops: FileOps, fd: number, length: number): number {
  const chunk = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(1, length)));
  let end = length;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const read = ops.read(fd, chunk.subarray(0, end - start), start);
    for (let i = read - 1; i >= 0; i--) if (chunk[i] === NEWLINE) return start + i + 1;
    end = start;
  }
  return 0;
}

function parseLine(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString("utf8"));
  } catch {
    return undefined;
  }
}
