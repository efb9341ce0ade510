/**
 * A small tmpfs of its own for a test, to meet real ENOSPC and EROFS: mounted with `mount -t tmpfs`
 * (root only), filled to the last page, remounted read-only and back. CI sets
 * CIVICNODE_REQUIRE_TMPFS=1, and then a tmpfs that cannot be mounted fails the tests instead of
 * skipping them; elsewhere (not root, a container without mount rights) they are skipped with a notice.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const TMPFS_REQUIRED = process.env.CIVICNODE_REQUIRE_TMPFS === "1";

export interface SmallTmpfs {
  /** The mount point. */
  readonly dir: string;
  /** Writes a filler file until the file system is full to the last byte it will take. */
  fill(): void;
  /** Removes the filler: room again. */
  free(): void;
  readOnly(): void;
  readWrite(): void;
  unmount(): void;
}

/** Mounts a tmpfs of `bytes` on a fresh folder; throws with mount's own message when it cannot. */
export function mountSmallTmpfs(bytes: number): SmallTmpfs {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-tmpfs-"));
  run(["-t", "tmpfs", "-o", `size=${bytes},mode=0700`, "tmpfs", dir], dir);
  const filler = join(dir, "filler");
  let mounted = true;
  return {
    dir,
    fill() {
      const fd = openSync(filler, "a");
      try {
        // Pages first, then single bytes, so that no byte of room is left anywhere.
        for (const chunk of [Buffer.alloc(4096, 0x2e), Buffer.alloc(1, 0x2e)]) {
          for (;;) {
            try {
              if (writeSync(fd, chunk) < chunk.length) break;
            } catch (error) {
              if ((error as { code?: string }).code === "ENOSPC") break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(filler, { force: true });
    },
    readOnly() {
      run(["-o", "remount,ro", dir], dir);
    },
    readWrite() {
      run(["-o", "remount,rw", dir], dir);
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      spawnSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Whether this machine lets the tests mount a tmpfs (probed once). */
export function canMountTmpfs(): boolean {
  try {
    mountSmallTmpfs(64 * 1024).unmount();
    return true;
  } catch {
    return false;
  }
}

function run(args: string[], dir: string): void {
  const result = spawnSync("mount", args, { encoding: "utf8" });
  if (result.status !== 0) {
    if (args[0] === "-t") rmSync(dir, { recursive: true, force: true });
    throw new Error(`mount ${args.join(" ")} failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`);
  }
}
