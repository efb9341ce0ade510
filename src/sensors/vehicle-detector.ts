/**
 * A vehicle detector's presence output on a digital pin: an inductive-loop detector card (or a
 * radar detector) with a relay or opto-coupler output, as in the loop detector cards of traffic
 * signal practice (presence mode, e.g. the NEMA TS 2 / "Caltrans 222" card class): the output is
 * active for as long as a vehicle occupies the loop. The node counts vehicles and measures
 * occupancy, the two basic quantities of loop detection.
 *
 * The pin is opened as `inputPullDown` with interrupts on both edges. Relay contacts bounce for a
 * few milliseconds at each transition, so the edges go through a timestamp debouncer (see
 * `debouncer.ts`): no timers, nothing allocated in the interrupt handler, and the accepted timeline
 * is exact, learnt `debounceMs` late. A debounced active period is one occupancy; it is a vehicle
 * when it lasts at least `minOccupancyMs` (shorter ones are noise: crosstalk from an adjacent loop,
 * a pulse from a power transient). Occupancy is all debounced active time, short pulses included:
 * the loop was active then, and this keeps the split between samples exact.
 *
 * Outputs per `sample()`, for the interval since the previous sample:
 * - vehicles: vehicles whose count was decided in the interval: when their occupancy ended, or
 *   once it had lasted `minOccupancyMs` (so a long vehicle is counted in the sample in which it
 *   reached that length, never twice);
 * - occupancy: seconds the loop was occupied in the interval. Because the accepted timeline is final
 *   only up to `now - debounceMs`, a sample at time T reports the interval that ends at
 *   T - debounceMs; occupancy spanning samples is split exactly at those points, and nothing is lost
 *   or counted twice.
 * Sample every second (`VEHICLE_DETECTOR_SAMPLE_INTERVAL_S`): the windows add the samples up, and a
 * short interval keeps a dropped sample (chatter) from losing much.
 *
 * Faults:
 * - "stuck": the output has been active for longer than `maxOccupancyMs` (default 2 minutes: a
 *   stuck relay, a detector card that lost its tuning, a vehicle parked on the loop). Every sample
 *   while it lasts is dropped as "stuck"; the occupancy's vehicle was already counted once and is
 *   not counted again; the first sample after the output drops is good again.
 * - "bus": chatter, more than `chatterEdgesPerSecond` edges (default 200) within one second of the
 *   first edge of a burst: a failing contact, interference on the cable, a detector oscillating.
 *   A bouncing relay makes about ten edges per vehicle, so this is no traffic. The electrical
 *   signal is what failed, which is a bus error here (there is no frame on a digital pin); the
 *   whole sample in which the chatter happened is dropped, vehicles and occupancy alike.
 * - "bus" also when reading the pin throws.
 * - An unplugged detector is NOT detected with active-high wiring: the pull-down makes the pin read
 *   inactive forever, which is indistinguishable from an empty road (at night, a quiet street has no
 *   vehicle for many minutes). With active-low wiring (`activeHigh: false`, the fail-safe convention
 *   of detector cards whose relay releases, meaning "vehicle present", when the card loses power or
 *   its loop), the pull-down makes an unplugged or unpowered detector read as permanent presence,
 *   which shows as "stuck". Prefer that wiring where the card offers it.
 *
 * Example:
 *   const loop = new VehicleDetector({ buses, clock, sensor: { pin: "loop" } });
 *   loop.configure();
 *   // every second:
 *   const values = loop.sample(); // Float64Array [vehicles, occupancy s] or undefined
 */
import type { Clock, Digital } from "../platform.js";
import { Debouncer } from "./debouncer.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";

/** The sampling interval this driver is designed for, seconds. */
export const VEHICLE_DETECTOR_SAMPLE_INTERVAL_S = 1;

export const VEHICLE_DETECTOR_DEFAULTS = {
  activeHigh: true,
  debounceMs: 30,
  minOccupancyMs: 100,
  maxOccupancyMs: 120_000,
  chatterEdgesPerSecond: 200,
} as const;

/** Longest sampling interval a configuration allows: one day (a window divides a day). */
const MAX_INTERVAL_S = 86_400;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  // One lane carries at most about 2,400 vehicles an hour; per sample of at most a day, 100,000 is a
  // generous ceiling that no working detector reaches.
  { quantity: "vehicles", kind: "count", unit: "", min: 0, max: 100_000, counts: "vehicles" },
  // The loop cannot be occupied for longer than the interval, which is at most a day.
  { quantity: "occupancy", kind: "duration", unit: "s", min: 0, max: MAX_INTERVAL_S },
];

/** Length of the chatter counting window. */
const CHATTER_WINDOW_MS = 1000;

export interface VehicleDetectorOptions extends DriverContext {
  /** The board's digital pin the detector output is wired to, e.g. "loop". */
  readonly sensor: { readonly pin: string };
  /** True (default) when the pin is high while a vehicle is present. */
  readonly activeHigh?: boolean;
  /** A level must hold this long to count, ms (default 30; relay bounce lasts a few ms). */
  readonly debounceMs?: number;
  /** Shorter occupancies are noise, not vehicles, ms (default 100; a car at 60 km/h occupies a 2 m loop for ~350 ms). */
  readonly minOccupancyMs?: number;
  /** Longer occupancies mean a stuck output, ms (default 120,000). */
  readonly maxOccupancyMs?: number;
  /** More edges than this within a second is chatter (default 200). */
  readonly chatterEdgesPerSecond?: number;
}

export class VehicleDetector implements SensorDriver {
  readonly part = "vehicle-detector";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly #clock: Clock;
  readonly #digital: Digital;
  readonly #activeLevel: 0 | 1;
  readonly #debounceMs: number;
  readonly #minOccupancyMs: number;
  readonly #maxOccupancyMs: number;
  readonly #chatterLimit: number;
  readonly #debouncer: Debouncer;
  readonly #values = new Float64Array(2);

  // The debounced occupancy in progress.
  #occupied = false;
  #occupiedSinceMs = 0;
  /** Whether the occupancy in progress has been counted (or must never be: present at configure). */
  #counted = false;
  /** Whether a sample has already been dropped as stuck for the occupancy in progress. */
  #stuckReported = false;

  // The interval since the previous sample.
  /** The previous sample's horizon: occupancy up to here has been reported. */
  #accountedToMs = 0;
  #vehicles = 0;
  #occupancyMs = 0;
  /** An occupancy longer than maxOccupancyMs ended in this interval without a stuck sample. */
  #stuckInInterval = false;
  /** Chatter seen in this interval. */
  #chatter = false;
  /** Reading the pin failed in the edge handler. */
  #readFailed = false;

  // Chatter counting.
  #burstStartMs = Number.NEGATIVE_INFINITY;
  #burstEdges = 0;

  constructor(options: VehicleDetectorOptions) {
    const d = VEHICLE_DETECTOR_DEFAULTS;
    this.#debounceMs = options.debounceMs ?? d.debounceMs;
    this.#minOccupancyMs = options.minOccupancyMs ?? d.minOccupancyMs;
    this.#maxOccupancyMs = options.maxOccupancyMs ?? d.maxOccupancyMs;
    this.#chatterLimit = options.chatterEdgesPerSecond ?? d.chatterEdgesPerSecond;
    if (!(this.#minOccupancyMs >= 0)) throw new RangeError("minOccupancyMs must be >= 0");
    if (!(this.#maxOccupancyMs > this.#minOccupancyMs)) throw new RangeError("maxOccupancyMs must exceed minOccupancyMs");
    if (!(this.#chatterLimit >= 1)) throw new RangeError("chatterEdgesPerSecond must be >= 1");
    this.#debouncer = new Debouncer(this.#debounceMs);
    this.#activeLevel = (options.activeHigh ?? d.activeHigh) ? 1 : 0;
    this.#clock = options.clock;
    this.health = new SensorHealth(options.faultyAfter ?? 5);
    // The one closure, made once: the interrupt handler itself allocates nothing.
    this.#digital = options.buses.openDigital({
      pin: options.sensor.pin,
      mode: "inputPullDown",
      edge: 3,
      onReadable: () => this.#onEdge(),
    });
    this.#restart();
  }

  /** Starts counting afresh from the pin's current level. */
  configure(): void {
    this.#restart();
  }

  sample(): Float64Array | undefined {
    const now = this.#clock.monotonicMs();
    let readFailed = this.#readFailed;
    this.#readFailed = false;
    try {
      // Catches a missed edge and accepts a level that has settled since the last edge.
      if (this.#debouncer.poll(this.#active(this.#digital.read()), now)) this.#onTransition();
    } catch {
      readFailed = true;
    }
    const horizon = now - this.#debounceMs;
    let stuck = this.#stuckInInterval;
    if (this.#occupied) {
      const lasted = horizon - this.#occupiedSinceMs;
      if (!this.#counted && lasted >= this.#minOccupancyMs) {
        this.#vehicles++;
        this.#counted = true;
      }
      if (lasted > this.#maxOccupancyMs) {
        stuck = true;
        this.#stuckReported = true;
      } else {
        this.#addOccupancy(horizon);
      }
    }
    if (horizon > this.#accountedToMs) this.#accountedToMs = horizon;
    const vehicles = this.#vehicles;
    const occupancyMs = this.#occupancyMs;
    const chatter = this.#chatter;
    this.#vehicles = 0;
    this.#occupancyMs = 0;
    this.#stuckInInterval = false;
    this.#chatter = false;
    if (readFailed || chatter) {
      this.health.recordDrop("bus");
      return undefined;
    }
    if (stuck) {
      this.health.recordDrop("stuck");
      return undefined;
    }
    this.#values[0] = vehicles;
    this.#values[1] = occupancyMs / 1000;
    this.health.recordReading();
    return this.#values;
  }

  close(): void {
    this.#digital.close();
  }

  /** The edge interrupt handler: runs in interrupt context on the device, so it allocates nothing. */
  #onEdge(): void {
    const now = this.#clock.monotonicMs();
    if (now - this.#burstStartMs >= CHATTER_WINDOW_MS) {
      this.#burstStartMs = now;
      this.#burstEdges = 0;
    }
    if (++this.#burstEdges > this.#chatterLimit) this.#chatter = true;
    let level: 0 | 1;
    try {
      level = this.#digital.read();
    } catch {
      this.#readFailed = true;
      return;
    }
    if (this.#debouncer.edge(this.#active(level), now)) this.#onTransition();
  }

  /** 1 when `level` means "vehicle present". */
  #active(level: 0 | 1): 0 | 1 {
    return level === this.#activeLevel ? 1 : 0;
  }

  /** Books the transition the debouncer just accepted. */
  #onTransition(): void {
    const at = this.#debouncer.changedAtMs;
    if (this.#debouncer.level === 1) {
      this.#occupied = true;
      this.#occupiedSinceMs = at;
      this.#counted = false;
      this.#stuckReported = false;
      return;
    }
    if (!this.#occupied) return;
    this.#occupied = false;
    const lasted = at - this.#occupiedSinceMs;
    if (lasted > this.#maxOccupancyMs) {
      // The tail of a stuck occupancy is no reading. Drop the interval only if no sample did yet.
      if (!this.#stuckReported) this.#stuckInInterval = true;
      return;
    }
    this.#addOccupancy(at);
    if (!this.#counted && lasted >= this.#minOccupancyMs) {
      this.#vehicles++;
      this.#counted = true;
    }
  }

  /** Adds the occupancy in progress from where the last sample left off up to `toMs`. */
  #addOccupancy(toMs: number): void {
    const from = this.#occupiedSinceMs > this.#accountedToMs ? this.#occupiedSinceMs : this.#accountedToMs;
    if (toMs > from) this.#occupancyMs += toMs - from;
  }

  #restart(): void {
    const now = this.#clock.monotonicMs();
    let level: 0 | 1 = 0;
    this.#readFailed = false;
    try {
      level = this.#active(this.#digital.read());
    } catch {
      this.#readFailed = true;
    }
    this.#debouncer.reset(level, now);
    // A vehicle already on the loop is timed but not counted: its arrival was not seen.
    this.#occupied = level === 1;
    this.#occupiedSinceMs = now;
    this.#counted = true;
    this.#stuckReported = false;
    this.#accountedToMs = now;
    this.#vehicles = 0;
    this.#occupancyMs = 0;
    this.#stuckInInterval = false;
    this.#chatter = false;
    this.#burstStartMs = Number.NEGATIVE_INFINITY;
    this.#burstEdges = 0;
  }
}
