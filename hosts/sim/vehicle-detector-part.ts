/**
 * A simulated inductive-loop vehicle detector card with a relay (or opto-coupler) presence output,
 * seen from the node's digital pin. Plug it into a `SimBoard` with `attachDigital("loop", part)`.
 *
 * Portable and deterministic: no Node APIs, no `Math.random`; time from a `Clock`, edges raised by
 * `Timers` (the part acts on its own, like the real card), randomness from a seeded `Prng`.
 *
 * Behaviour, after loop detector cards in presence mode (the output is active for as long as a
 * vehicle is over the loop; the street model's `occupancyMs` already includes the 2 m loop):
 * - Vehicles come from the street model (`vehiclesBetween`, wall time). The output rises when a
 *   vehicle's front reaches the loop and falls when it has left, each transition delayed by the
 *   card's response time (0..10 ms, per transition) and the occupancy scaled by this card's
 *   sensitivity (`occupancyScale`, drawn per part in 0.95..1.05 unless pinned: a more sensitive
 *   card sees a vehicle over a slightly longer stretch of road).
 * - Two vehicles over the loop at once make one longer pulse, as on a real loop (`stats.merged`).
 * - Relay contacts bounce: 0 to `maxBounces` (default 5) bounces at each transition, each an open
 *   and a re-close of 1 to 3 ms (real bounces last 0.5-3 ms; the simulated clock's smallest timer
 *   step is 1 ms, so bounces are whole milliseconds). Bounces never run into the next transition.
 * - Memory stays bounded: every `lookaheadMs` (default 10 s) the part plans the edges of the next
 *   stretch of time (up to two look-aheads ahead) into one queue, played by a single timer.
 *   Faults that change the plan ("missed", "noise") therefore act on passes planned after the
 *   injection, that is from at most two look-aheads later; the others act at once.
 * - `activeHigh` (default true) is the card's output polarity; the pin's pull-down makes an
 *   unplugged card read low whatever the polarity.
 *
 * Fault injection for tests: see `VehicleDetectorFaultKind`.
 */

import type { Clock, TimerHandle, Timers } from "../../src/platform.js";
import { Prng, type Seed } from "./prng.js";
import type { SimDigitalDevice } from "./sim-board.js";
import type { VehiclePass } from "./street-activity.js";

/** Where the part learns which vehicles pass: a `StreetActivity`, or a scripted stand-in in tests. */
export interface VehicleSource {
  vehiclesBetween(fromMs: number, toMs: number, onPass: (pass: VehiclePass) => void): void;
}

/**
 * - "stuck": the output is held active (a welded relay, a detector that lost its tuning) until cleared.
 * - "chatter": a burst of rapid edges: the pin toggles every `periodMs` (default 1) for `durationMs`
 *   (default 1000), then shows the true output again (a failing contact, interference on the cable).
 * - "unplugged": the pin reads low (the pull-down) and no vehicle reaches it until cleared.
 * - "missed": each pass produces no pulse with `probability` (default 0.5) until cleared (a
 *   motorcycle or bicycle below the card's sensitivity, a vehicle straddling lanes).
 * - "noise": short spurious pulses, `perMinute` of them (default 30), each `minMs`..`maxMs` long
 *   (default 5..60 ms) until cleared (crosstalk from an adjacent loop, power transients). Pulses
 *   closer together than a driver's debounce look like one longer pulse, which may pass for a vehicle.
 * Faults of different kinds combine.
 */
export type VehicleDetectorFaultKind = "stuck" | "chatter" | "unplugged" | "missed" | "noise";

export interface VehicleDetectorFaultOptions {
  /** For "chatter". */
  readonly durationMs?: number;
  readonly periodMs?: number;
  /** For "missed". */
  readonly probability?: number;
  /** For "noise". */
  readonly perMinute?: number;
  readonly minMs?: number;
  readonly maxMs?: number;
}

/** Counters since construction or `resetStats()`. */
export interface VehicleDetectorStats {
  /** Vehicles the street model sent over the loop (missed ones included). */
  passes: number;
  /** Output pulses that carry at least one vehicle. */
  pulses: number;
  /** Passes that fell into a pulse already carrying a vehicle (two vehicles over the loop at once). */
  merged: number;
  /** Passes that produced no pulse ("missed" fault). */
  missed: number;
  /** Spurious pulses ("noise" fault), merged ones included. */
  noisePulses: number;
  /** Contact bounces (each an open and a re-close, or the reverse). */
  bounces: number;
  /** Level changes on the pin, for whatever reason. */
  edges: number;
  /** Toggles made by "chatter" faults. */
  chatterEdges: number;
}

export interface VehicleDetectorPartOptions {
  readonly clock: Clock;
  readonly timers: Timers;
  /** The street the loop is buried in. */
  readonly activity: VehicleSource;
  /** Seeds the card's sensitivity, response times, bounces and fault draws. */
  readonly seed: Seed;
  /** Output polarity: true (default) when the output is high while a vehicle is present. */
  readonly activeHigh?: boolean;
  /** This card's occupancy scale; drawn from the seed in 0.95..1.05 when absent. */
  readonly occupancyScale?: number;
  /** Most bounces per transition (default 5; 0 for clean edges). */
  readonly maxBounces?: number;
  /** How far ahead the part plans, ms (default 10,000). */
  readonly lookaheadMs?: number;
}

/** One planned pulse source: a vehicle or a noise pulse, in monotonic ms. */
interface PlannedPulse {
  startMs: number;
  endMs: number;
  vehicle: boolean;
}

const RESPONSE_MAX_MS = 10;
const BOUNCE_MAX_MS = 3;

export class VehicleDetectorPart implements SimDigitalDevice {
  readonly activeHigh: boolean;
  /** This card's occupancy scale (sensitivity). */
  readonly occupancyScale: number;

  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #activity: VehicleSource;
  readonly #maxBounces: number;
  readonly #lookaheadMs: number;
  readonly #timing: Prng;
  readonly #faultDraws: Prng;
  readonly #counters: VehicleDetectorStats = VehicleDetectorPart.#zeroStats();
  #listener: (() => void) | undefined;

  /** The card's true output: 1 while it signals presence (before polarity and faults). */
  #signal: 0 | 1 = 0;
  /** The pin level last reported, to count edges. */
  #pinLevel: 0 | 1;

  // The plan: edges in time order (monotonic ms, signal level), played by one timer.
  readonly #eventAt: number[] = [];
  readonly #eventLevel: (0 | 1)[] = [];
  #head = 0;
  #lastEventAt = Number.NEGATIVE_INFINITY;
  #edgeTimer: TimerHandle | undefined;
  readonly #planTimer: TimerHandle;
  /** Wall time up to which passes have been planned. */
  #plannedToWallMs: number;
  /** The pulse whose fall is not yet planned, because a later pass may still extend it. */
  #open = false;
  #openEndMs = 0;
  #openHasVehicle = false;
  readonly #batch: PlannedPulse[] = [];

  // Faults.
  #stuck = false;
  #unplugged = false;
  #missProbability = 0;
  #noisePerMinute = 0;
  #noiseMinMs = 5;
  #noiseMaxMs = 60;
  #chatterTimer: TimerHandle | undefined;
  #chatterLevel: 0 | 1 = 0;
  #chatterLeft = 0;

  constructor(options: VehicleDetectorPartOptions) {
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#activity = options.activity;
    this.activeHigh = options.activeHigh ?? true;
    this.#maxBounces = options.maxBounces ?? 5;
    this.#lookaheadMs = options.lookaheadMs ?? 10_000;
    if (!Number.isInteger(this.#maxBounces) || this.#maxBounces < 0) throw new RangeError("maxBounces must be an integer >= 0");
    if (!(this.#lookaheadMs >= 100)) throw new RangeError("lookaheadMs must be >= 100");
    const prng = new Prng(options.seed).fork("vehicle-detector");
    const drawnScale = prng.fork("identity").range(0.95, 1.05);
    this.occupancyScale = options.occupancyScale ?? drawnScale;
    this.#timing = prng.fork("timing");
    this.#faultDraws = prng.fork("faults");
    this.#pinLevel = this.level();
    this.#plannedToWallMs = this.#clock.wallMs();
    this.#plan();
    this.#planTimer = this.#timers.repeat(() => this.#plan(), this.#lookaheadMs);
  }

  static #zeroStats(): VehicleDetectorStats {
    return { passes: 0, pulses: 0, merged: 0, missed: 0, noisePulses: 0, bounces: 0, edges: 0, chatterEdges: 0 };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<VehicleDetectorStats> {
    return this.#counters;
  }

  resetStats(): void {
    Object.assign(this.#counters, VehicleDetectorPart.#zeroStats());
  }

  /** Edges planned but not yet played (bounded by the look-ahead). */
  get plannedEdges(): number {
    return this.#eventAt.length - this.#head;
  }

  /** Stops the part's timers (the card loses power; the pin then reads as it last did). */
  stop(): void {
    this.#timers.clear(this.#planTimer);
    if (this.#edgeTimer !== undefined) this.#timers.clear(this.#edgeTimer);
    if (this.#chatterTimer !== undefined) this.#timers.clear(this.#chatterTimer);
    this.#edgeTimer = undefined;
    this.#chatterTimer = undefined;
  }

  // SimDigitalDevice

  level(): 0 | 1 {
    if (this.#unplugged) return 0;
    if (this.#chatterTimer !== undefined) return this.#chatterLevel;
    const active = this.#stuck ? 1 : this.#signal;
    return this.activeHigh ? active : active === 1 ? 0 : 1;
  }

  setChangeListener(listener: () => void): void {
    this.#listener = listener;
  }

  // Fault injection

  /** Injects a fault; see `VehicleDetectorFaultKind`. */
  injectFault(kind: VehicleDetectorFaultKind, options: VehicleDetectorFaultOptions = {}): void {
    switch (kind) {
      case "stuck":
        this.#stuck = true;
        break;
      case "unplugged":
        this.#unplugged = true;
        break;
      case "missed": {
        const p = options.probability ?? 0.5;
        if (!(p >= 0 && p <= 1)) throw new RangeError("injectFault: probability must be in 0..1");
        this.#missProbability = p;
        return;
      }
      case "noise": {
        const perMinute = options.perMinute ?? 30;
        const minMs = options.minMs ?? 5;
        const maxMs = options.maxMs ?? 60;
        if (!(perMinute > 0) || !(minMs >= 1) || !(maxMs >= minMs)) throw new RangeError("injectFault: noise needs perMinute > 0 and 1 <= minMs <= maxMs");
        this.#noisePerMinute = perMinute;
        this.#noiseMinMs = minMs;
        this.#noiseMaxMs = maxMs;
        return;
      }
      case "chatter": {
        const periodMs = options.periodMs ?? 1;
        const durationMs = options.durationMs ?? 1000;
        if (!(periodMs >= 1) || !(durationMs >= periodMs)) throw new RangeError("injectFault: chatter needs 1 <= periodMs <= durationMs");
        if (this.#chatterTimer !== undefined) this.#timers.clear(this.#chatterTimer);
        this.#chatterLevel = this.level();
        this.#chatterLeft = Math.floor(durationMs / periodMs);
        this.#chatterTimer = this.#timers.repeat(() => this.#chatterStep(), periodMs);
        return;
      }
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
    this.#changed();
  }

  /** Removes every fault; the pin shows the card's true output again. */
  clearFaults(): void {
    this.#stuck = false;
    this.#unplugged = false;
    this.#missProbability = 0;
    this.#noisePerMinute = 0;
    if (this.#chatterTimer !== undefined) this.#timers.clear(this.#chatterTimer);
    this.#chatterTimer = undefined;
    this.#changed();
  }

  // Internals

  /** Tells the board the pin may have changed; counts real changes. */
  #changed(): void {
    const level = this.level();
    if (level === this.#pinLevel) return;
    this.#pinLevel = level;
    this.#counters.edges++;
    this.#listener?.();
  }

  #chatterStep(): void {
    if (this.#chatterLeft <= 0) {
      if (this.#chatterTimer !== undefined) this.#timers.clear(this.#chatterTimer);
      this.#chatterTimer = undefined;
    } else {
      this.#chatterLeft--;
      this.#chatterLevel = this.#chatterLevel === 1 ? 0 : 1;
      this.#counters.chatterEdges++;
    }
    this.#changed();
  }

  /** Plans the passes of [plannedTo, now + 2 look-aheads) into the edge queue. */
  #plan(): void {
    const wallNow = this.#clock.wallMs();
    const offset = wallNow - this.#clock.monotonicMs();
    // After a wall-clock jump, plan from now rather than replaying or skipping a stretch of street.
    if (this.#plannedToWallMs < wallNow - this.#lookaheadMs || this.#plannedToWallMs > wallNow + 2 * this.#lookaheadMs) {
      this.#plannedToWallMs = wallNow;
    }
    const fromWall = this.#plannedToWallMs;
    const toWall = wallNow + 2 * this.#lookaheadMs;
    if (toWall <= fromWall) return;
    this.#plannedToWallMs = toWall;
    const toMs = Math.ceil(toWall - offset);

    const batch = this.#batch;
    batch.length = 0;
    this.#activity.vehiclesBetween(fromWall, toWall, (pass) => {
      this.#counters.passes++;
      if (this.#missProbability > 0 && this.#faultDraws.chance(this.#missProbability)) {
        this.#counters.missed++;
        return;
      }
      const start = Math.round(pass.atMs - offset) + this.#timing.int(0, RESPONSE_MAX_MS + 1);
      const end = Math.round(pass.atMs - offset + pass.occupancyMs * this.occupancyScale) + this.#timing.int(0, RESPONSE_MAX_MS + 1);
      batch.push({ startMs: start, endMs: end > start ? end : start + 1, vehicle: true });
    });
    if (this.#noisePerMinute > 0) {
      const meanGapMs = 60_000 / this.#noisePerMinute;
      for (let t = fromWall - Math.log(1 - this.#faultDraws.next()) * meanGapMs; t < toWall; t -= Math.log(1 - this.#faultDraws.next()) * meanGapMs) {
        const start = Math.round(t - offset);
        const length = this.#faultDraws.int(this.#noiseMinMs, this.#noiseMaxMs + 1);
        this.#counters.noisePulses++;
        batch.push({ startMs: start, endMs: start + length, vehicle: false });
      }
    }
    batch.sort((a, b) => a.startMs - b.startMs);

    for (const pulse of batch) {
      if (this.#open && pulse.startMs <= this.#openEndMs) {
        // Over the loop together with the pulse in progress: it goes on.
        if (pulse.endMs > this.#openEndMs) this.#openEndMs = pulse.endMs;
        if (pulse.vehicle) {
          if (this.#openHasVehicle) this.#counters.merged++;
          else this.#counters.pulses++;
          this.#openHasVehicle = true;
        }
        continue;
      }
      if (this.#open) this.#closePulse(pulse.startMs);
      this.#open = true;
      this.#openEndMs = pulse.endMs;
      this.#openHasVehicle = pulse.vehicle;
      if (pulse.vehicle) this.#counters.pulses++;
      this.#transition(pulse.startMs, 1, pulse.endMs);
    }
    // Passes still to come start at or after toMs, so a pulse ending before it is complete.
    if (this.#open && this.#openEndMs < toMs) this.#closePulse(toMs);
    batch.length = 0;
    this.#arm();
  }

  /** Plans the fall of the open pulse; its bounces end before `beforeMs`. */
  #closePulse(beforeMs: number): void {
    this.#open = false;
    this.#transition(this.#openEndMs, 0, beforeMs);
  }

  /** Plans a transition to `level` at `atMs` with contact bounces that end before `beforeMs`. */
  #transition(atMs: number, level: 0 | 1, beforeMs: number): void {
    this.#push(atMs, level);
    const bounces = this.#timing.int(0, this.#maxBounces + 1);
    const other: 0 | 1 = level === 1 ? 0 : 1;
    let t = atMs;
    for (let i = 0; i < bounces; i++) {
      const open = this.#timing.int(1, BOUNCE_MAX_MS + 1);
      const close = this.#timing.int(1, BOUNCE_MAX_MS + 1);
      if (t + open + close >= beforeMs) break;
      this.#push(t + open, other);
      this.#push(t + open + close, level);
      t += open + close;
      this.#counters.bounces++;
    }
  }

  #push(atMs: number, level: 0 | 1): void {
    // Whole milliseconds and strictly in order, by construction; the guard keeps the queue sorted regardless.
    if (!(atMs > this.#lastEventAt)) return;
    this.#lastEventAt = atMs;
    this.#eventAt.push(atMs);
    this.#eventLevel.push(level);
  }

  /** Arms the one edge timer for the queue's head, if it is not armed. */
  #arm(): void {
    if (this.#edgeTimer !== undefined || this.#head >= this.#eventAt.length) return;
    this.#edgeTimer = this.#timers.once(() => this.#play(), this.#eventAt[this.#head]! - this.#clock.monotonicMs());
  }

  /** Plays every edge that is due, then re-arms. */
  #play(): void {
    this.#edgeTimer = undefined;
    const now = this.#clock.monotonicMs();
    const at = this.#eventAt;
    while (this.#head < at.length && at[this.#head]! <= now) {
      this.#signal = this.#eventLevel[this.#head]!;
      this.#head++;
      this.#changed();
    }
    if (this.#head > 256 && this.#head * 2 > at.length) {
      at.splice(0, this.#head);
      this.#eventLevel.splice(0, this.#head);
      this.#head = 0;
    }
    this.#arm();
  }
}
