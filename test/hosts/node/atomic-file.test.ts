/** writeFileAtomic leaves the old file or the new one, and never its temporary, whichever call fails. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../../hosts/node/atomic-file.js";
import { FaultyFileOps } from "../collector/faulty-file-ops.js";

describe("writeFileAtomic", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("removes its temporary and keeps the old file when any of its writes fails", () => {
    const counting = new FaultyFileOps();
    const probe = mkdtempSync(join(tmpdir(), "civicnode-atomic-"));
    dirs.push(probe);
    writeFileAtomic(join(probe, "state.json"), "new\n", 0o600, counting);
    expect(counting.writes).toBeGreaterThanOrEqual(5); // open, write, fsync, chmod, rename (and the folder's fsync)

    for (let at = 0; at < counting.writes; at++) {
      for (const code of ["ENOSPC", "EROFS", "EIO"]) {
        const dir = mkdtempSync(join(tmpdir(), "civicnode-atomic-"));
        dirs.push(dir);
        const path = join(dir, "state.json");
        writeFileSync(path, "old\n");
        let thrown: unknown;
        try {
          writeFileAtomic(path, "new\n", 0o600, new FaultyFileOps({ kind: "fail", at, code }));
        } catch (error) {
          thrown = error;
        }
        expect(readdirSync(dir), `${code} at call ${at}`).toEqual(["state.json"]);
        const content = readFileSync(path, "utf8");
        if (thrown === undefined) expect(content).toBe("new\n"); // only the folder's fsync failed: best effort
        else {
          expect((thrown as { code?: string }).code).toBe(code);
          expect(content).toBe("old\n");
        }
      }
    }
  });
});
