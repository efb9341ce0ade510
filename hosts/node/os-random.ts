/** The Node hosts' CSPRNG: the operating system's, through node:crypto. */
import { randomFillSync } from "node:crypto";
import type { Random } from "../../src/platform.js";

export class OsRandom implements Random {
  fill(target: Uint8Array): void {
    randomFillSync(target);
  }
}
