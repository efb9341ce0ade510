/**
 * The check every tool that takes `--state DIR` makes before it touches the folder: a file given
 * there (a keyring, a policy, the database given by mistake) is said plainly, as a usage error,
 * rather than met later as EEXIST or ENOTDIR deep in whatever opened the folder first.
 */
import { statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Why `path` cannot be a state folder, or undefined when it is a folder or can be made one: the
 * path, or the nearest part of it that exists, is something other than a folder.
 */
export function stateFolderProblem(path: string): string | undefined {
  for (let at = path; ; at = dirname(at)) {
    let isFolder: boolean;
    try {
      isFolder = statSync(at).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // Missing: made when needed. ENOTDIR: a part above it is a file, which the next turn finds.
      if ((code === "ENOENT" || code === "ENOTDIR") && dirname(at) !== at) continue;
      // Anything else (EACCES, EIO) is the disk's or the permissions' matter, which the tool reports when it opens the folder.
      return undefined;
    }
    if (isFolder) return undefined;
    const what = at === path ? "is a file, not a folder" : `cannot be made: ${at} is a file, not a folder`;
    return `--state ${path} ${what}: give the state folder, or a path where one can be made`;
  }
}
