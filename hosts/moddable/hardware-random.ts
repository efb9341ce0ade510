/** The platform's CSPRNG as the core's `Random` (native: native/hardware-random.js). */
import type { Random } from "../../src/platform.js";
import fillRandom from "./native/hardware-random.js";

export class HardwareRandom implements Random {
  fill(target: Uint8Array): void {
    if (target.length > 0) fillRandom(target);
  }
}
