/**
 * Faults in a simulated street, as they happen to real lamppost hardware: now and then a part
 * misbehaves for a while (a loose connector, a wet sensor, a hung UART) and comes back. Each part
 * of each node draws its episodes from its own seeded stream, so a street run is reproducible.
 *
 * Episodes start at random (by default about one every 36 simulated hours per part) and last 5 to
 * 30 simulated minutes; burst faults (a few bad frames) end at once. The plan runs on the node's
 * virtual clock, so it works the same wherever the node's simulation runs (Node or XS).
 */
import type { Timers } from "../../src/platform.js";
import { Prng } from "./prng.js";
import type { SimulatedParts } from "./reference-board.js";

/** A part that takes injected faults (every simulated part does). */
interface FaultablePart {
  injectFault(kind: never, options?: never): void;
  clearFaults(): void;
}

/** For each part: the fault kinds an episode may be, and whether they last (or are a burst). */
const PLAN: ReadonlyArray<{ part: keyof SimulatedParts; sensor: string; kinds: ReadonlyArray<{ kind: string; lasting: boolean; options?: object }> }> = [
  { part: "sht4x", sensor: "climate", kinds: [{ kind: "crc", lasting: false, options: { count: 3 } }, { kind: "unplugged", lasting: true }, { kind: "nack", lasting: false, options: { count: 4 } }] },
  { part: "scd4x", sensor: "air", kinds: [{ kind: "crc", lasting: false, options: { count: 3 } }, { kind: "unplugged", lasting: true }, { kind: "not-started", lasting: false }] },
  { part: "pms5003", sensor: "pm", kinds: [{ kind: "garbage", lasting: true }, { kind: "checksum", lasting: true }, { kind: "silence", lasting: true }] },
  { part: "sound", sensor: "sound", kinds: [{ kind: "unplugged", lasting: true }, { kind: "noise-burst", lasting: false, options: { durationMs: 20_000 } }] },
  { part: "radar", sensor: "radar", kinds: [{ kind: "garbage", lasting: true }, { kind: "unplugged", lasting: true }, { kind: "truncated", lasting: true }] },
  { part: "loop", sensor: "loop", kinds: [{ kind: "chatter", lasting: false, options: { durationMs: 5000 } }, { kind: "stuck", lasting: true }] },
  { part: "radio", sensor: "ble", kinds: [{ kind: "malformed", lasting: true, options: { rate: 0.5 } }, { kind: "noise-burst", lasting: false }] },
];

export interface FaultPlanOptions {
  readonly seed: string;
  /** Mean simulated hours between episodes, per part (default 36). */
  readonly meanHoursBetween?: number;
  /** Told about each episode as it starts and ends (for logs and tests). */
  readonly onEpisode?: (sensor: string, kind: string, started: boolean) => void;
}

export class FaultPlan {
  readonly #timers: Timers;
  /** The one pending timer of each part (fixed size: one slot per part). */
  readonly #pending: Array<object | undefined> = [];
  /** Episodes started since the plan began. */
  episodes = 0;

  constructor(parts: SimulatedParts, timers: Timers, options: FaultPlanOptions) {
    this.#timers = timers;
    const meanMs = (options.meanHoursBetween ?? 36) * 3_600_000;
    const root = new Prng(options.seed);
    PLAN.forEach(({ part, sensor, kinds }, slot) => {
      const target = parts[part] as unknown as FaultablePart;
      const random = root.fork(part);
      const scheduleNext = () => {
        // Exponential waiting time: episodes are a Poisson process.
        const wait = -Math.log(1 - random.next()) * meanMs;
        this.#pending[slot] = timers.once(() => {
          const choice = kinds[Math.floor(random.next() * kinds.length)]!;
          target.injectFault(choice.kind as never, (choice.options ?? {}) as never);
          this.episodes++;
          options.onEpisode?.(sensor, choice.kind, true);
          const duration = choice.lasting ? 300_000 + random.next() * 1_500_000 : 60_000;
          this.#pending[slot] = timers.once(() => {
            target.clearFaults();
            options.onEpisode?.(sensor, choice.kind, false);
            scheduleNext();
          }, duration);
        }, Math.max(1, wait));
      };
      scheduleNext();
    });
  }

  /** Stops planning episodes (a fault in progress stays until its part is cleared). */
  stop(): void {
    for (const handle of this.#pending) if (handle) this.#timers.clear(handle);
    this.#pending.length = 0;
  }
}
