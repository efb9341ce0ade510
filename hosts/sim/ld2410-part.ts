/**
 * A simulated HLK-LD2410 24 GHz presence radar on a UART, at the byte level of Hi-Link's serial
 * communication protocol V1.02. Plug it into a `SimBoard` with `attachSerial("radar", part)`.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node. Deterministic from its seed
 * and the clock: frames are produced lazily, when the node reads (`transmit`) or writes (`receive`),
 * for every 100 ms report tick that has passed since, so no timer is needed.
 *
 * Reports (radar → node): a report frame every `periodMs` (100 ms; the radar reports about ten times a
 * second) while not in configuration mode:
 *   F4 F3 F2 F1 | 0D 00 | 02 AA | state | moving cm (LE) | moving energy | stationary cm (LE) |
 *   stationary energy | detection cm (LE) | 55 00 | F8 F7 F6 F5
 * and in engineering mode (length 0x23 with 8 gates) the same target data followed by the max moving
 * and stationary gates, the per-gate energies and 2 reserved bytes. The bytes land in the node's UART
 * receive FIFO (`fifoBytes`, default 1024, like the ESP32 UART driver's ring buffer): when the node
 * does not read in time, further bytes are lost (a frame may be cut), as on a real overrun. At 256000
 * baud a 23-byte frame takes 0.9 ms on the wire, far below the period, so byte timing is not modelled.
 * A node that opens the port at another baud rate than the radar's receives garbage and is not heard.
 *
 * Commands (node → radar), framed FD FC FB FA | length | command word | value | 04 03 02 01 and
 * answered with ACKs (command | 0x0100, status 0 success / 1 failure, return values):
 *   0x00FF enable configuration (ACK: status, protocol version 1, buffer size 64); reports stop
 *   0x00FE end configuration; reports resume
 *   0x0060 max moving gate, max stationary gate (2..8), no-one duration (0..65535 s)
 *   0x0061 read parameters   0x0062 / 0x0063 engineering mode on / off   0x0064 gate sensitivities
 *   0x00A0 firmware version (V1.02.22062416)   0x00A1 baud rate (after restart)
 *   0x00A2 factory reset (after restart)   0x00A3 restart (ACK, then 500 ms of silence)
 * Any command but 0x00FF outside configuration mode is ignored, unknown commands get a failure ACK.
 *
 * The world (from `StreetActivity`): a passer-by is in the radar's field (radius `fieldCm`, 600 cm)
 * during [atMs, atMs + dwellMs). Walkers cross it on a straight line whose closest point is
 * `distanceCm` away, so their distance falls from the field's edge to `distanceCm` and rises again;
 * they are moving targets (and, within 1.5 m, stationary ones too, as the real radar sees a body that
 * close). Those who stay longer than a walk takes (dwell > 8.5 s) walk in for 2.5 s, linger at
 * `distanceCm` as a stationary target, and walk out. Energies fall with distance, with noise; a target
 * is reported when its gate is within the configured max gate and its energy reaches the gate's
 * sensitivity (factory values). The radar reports ONE moving and ONE stationary target, the strongest:
 * two people in the field at once are one presence, and the node cannot tell them apart. After the
 * field empties, the radar keeps reporting the last target for its no-one duration (factory 5 s).
 * Per-part calibration: a distance offset drawn within ±10 cm; reported distances carry 6 cm of noise.
 *
 * Fault injection for tests: see `injectFault`.
 */

import type { Clock } from "../../src/platform.js";
import { Prng, type Seed } from "./prng.js";
import type { SimSerialDevice } from "./sim-board.js";
import type { PedestrianPass } from "./street-activity.js";

/** Where the part reads passers-by from: a `StreetActivity`, or a script in tests. */
export interface PedestrianSource {
  pedestriansBetween(fromMs: number, toMs: number, onPass: (pass: PedestrianPass) => void): void;
}

export const LD2410_PART_BAUD = 256000;
/** Baud rate per index of command 0x00A1. */
const BAUD_RATES = [0, 9600, 19200, 38400, 57600, 115200, 230400, 256000, 460800];
const GATE_CM = 75;
const MAX_GATE = 8;
/** Factory sensitivities per gate (energy thresholds, 0..100; stationary gates 0 and 1 are not settable). */
const FACTORY_MOVING_SENSITIVITY = [50, 50, 40, 30, 20, 15, 15, 15, 15];
const FACTORY_STATIONARY_SENSITIVITY = [0, 0, 40, 40, 30, 30, 20, 20, 20];
const FACTORY_HOLD_S = 5;
/** Firmware V1.02.22062416. */
const FIRMWARE_MAJOR_WORD = 0x0102;
const FIRMWARE_BUILD = 0x22062416;
const BOOT_MS = 500;
/** A passer-by who stays longer than this lingers. */
const LINGER_DWELL_MS = 8500;
const WALK_MS = 2500;
/** Walkers this close also show as stationary targets. */
const BODY_STATIONARY_CM = 150;

/**
 * - "garbage": the next `count` frames (default 1) are preceded by `bytes` (default 16) random bytes.
 * - "truncated": the next `count` frames are cut at a random point; their rest is never sent.
 * - "bad-tail": the next `count` frames end with a corrupted frame tail (F8 F7 F6 F5).
 * - "bad-length": the next `count` frames declare a wrong intra-frame length.
 * - "bad-check": the next `count` frames carry a wrong head (0xAA), tail (0x55) or check byte (0x00).
 * - "out-of-range": the next `count` frames report a moving target beyond the last gate (7 to 47 m).
 * - "noise-burst": the next `count` frames (default 5, half a second) report random phantom targets
 *   (interference, rain on the radome), wherever the real targets are.
 * - "silence": the radar's firmware hangs: no reports, no ACKs, until cleared (then it goes on).
 * - "stuck": every report repeats the last frame sent, byte for byte, until cleared.
 * - "unplugged": no bytes either way until cleared; clearing plugs it back in, power-cycled (volatile
 *   state lost: configuration and engineering mode; it boots for 500 ms).
 */
export type Ld2410FaultKind =
  | "garbage"
  | "truncated"
  | "bad-tail"
  | "bad-length"
  | "bad-check"
  | "out-of-range"
  | "noise-burst"
  | "silence"
  | "stuck"
  | "unplugged";

export interface Ld2410FaultOptions {
  /** For the per-frame kinds: how many frames are affected. */
  readonly count?: number;
  /** For "garbage": random bytes before each affected frame (default 16). */
  readonly bytes?: number;
}

/** Counters since construction or `resetStats()`. */
export interface Ld2410Stats {
  /** Report frames produced into the FIFO (complete or cut by a fault or an overrun). */
  reports: number;
  /** Reports whose target state was not "no target" (phantoms included). */
  targetReports: number;
  /** Reports altered or replaced by an injected fault. */
  faultyReports: number;
  acks: number;
  /** Command frames received, and those ignored (outside configuration mode). */
  commands: number;
  ignoredCommands: number;
  bytesSent: number;
  bytesReceived: number;
  /** Bytes lost because the node's receive FIFO was full. */
  overflowBytes: number;
  /** Report ticks skipped outright because the FIFO was full. */
  skippedReports: number;
}

export interface Ld2410PartOptions {
  /** Time source: monotonic time for the report ticks, wall time for the street. */
  readonly clock: Clock;
  /** The passers-by. */
  readonly activity: PedestrianSource;
  /** Seeds the part's calibration, noise and faults. */
  readonly seed: Seed;
  /** The radar's baud rate (default 256000, the factory setting). */
  readonly baud?: number;
  /** Radius of the field passers-by cross (default 600 cm: gates 0..7 at 0.75 m). */
  readonly fieldCm?: number;
  /** Longest dwell the activity produces, how far back the part looks for people still in range (default 70 s). */
  readonly maxDwellMs?: number;
  /** The node's UART receive buffer (default 1024 bytes). */
  readonly fifoBytes?: number;
  /** Report period (default 100 ms). */
  readonly periodMs?: number;
  /** This part's distance calibration error; drawn within ±10 cm when absent. */
  readonly distanceOffsetCm?: number;
  /** Multiplies distance and energy noise; default 1, 0 for noise-free reports. */
  readonly noiseScale?: number;
}

/** One target as the radar reports it. */
interface Report {
  state: number;
  movingCm: number;
  movingEnergy: number;
  stationaryCm: number;
  stationaryEnergy: number;
  detectionCm: number;
}

function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value;
}

function gateOf(distanceCm: number): number {
  const gate = Math.floor(distanceCm / GATE_CM);
  return gate > MAX_GATE ? MAX_GATE : gate < 0 ? 0 : gate;
}

function le16(value: number): [number, number] {
  return [value & 0xff, (value >>> 8) & 0xff];
}

function le32(value: number): [number, number, number, number] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

/**
 * Where passer-by `pass` is at wall time `wallMs` as the radar sees it (see the module comment), or
 * undefined when they are not in the field (radius `fieldCm`). Exported so that tests can work out
 * what the radar should have seen.
 */
export function pedestrianAt(pass: PedestrianPass, wallMs: number, fieldCm: number): { distanceCm: number; walking: boolean } | undefined {
  const elapsed = wallMs - pass.atMs;
  if (elapsed < 0 || elapsed >= pass.dwellMs) return undefined;
  const closest = Math.min(pass.distanceCm, fieldCm - 1);
  let along: number; // 1 at the field's edge, 0 at the closest point
  let walking = true;
  if (pass.dwellMs <= LINGER_DWELL_MS) {
    along = Math.abs((2 * elapsed) / pass.dwellMs - 1);
  } else {
    const walk = Math.min(WALK_MS, pass.dwellMs / 4);
    if (elapsed < walk) along = 1 - elapsed / walk;
    else if (elapsed > pass.dwellMs - walk) along = (elapsed - (pass.dwellMs - walk)) / walk;
    else {
      along = 0;
      walking = false;
    }
  }
  return { distanceCm: Math.sqrt(closest * closest + along * along * (fieldCm * fieldCm - closest * closest)), walking };
}

export class Ld2410Part implements SimSerialDevice {
  /** The part's fixed distance calibration error, added to every reported distance. */
  readonly distanceOffsetCm: number;

  private readonly clock: Clock;
  private readonly activity: PedestrianSource;
  private readonly fieldCm: number;
  private readonly maxDwellMs: number;
  private readonly periodMs: number;
  private readonly noiseScale: number;
  private readonly noise: Prng;
  private readonly faultRandom: Prng;
  private readonly counters: Ld2410Stats = Ld2410Part.zeroStats();

  // The node's receive FIFO (a ring).
  private readonly fifo: Uint8Array;
  private fifoHead = 0;
  private fifoCount = 0;
  /** Bytes from the node not yet forming a complete command. */
  private rx: number[] = [];

  // Radar state.
  private radarBaud: number;
  private nodeBaud: number | undefined;
  private portOpen = true;
  private nextReportMs: number;
  private configMode = false;
  private engineering = false;
  private bootUntilMs = Number.NEGATIVE_INFINITY;
  // Parameters (kept across power cycles, as in the radar's flash).
  private maxMovingGate = MAX_GATE;
  private maxStationaryGate = MAX_GATE;
  private holdS = FACTORY_HOLD_S;
  private readonly movingSensitivity = [...FACTORY_MOVING_SENSITIVITY];
  private readonly stationarySensitivity = [...FACTORY_STATIONARY_SENSITIVITY];
  private pendingBaud: number | undefined;
  private pendingFactoryReset = false;

  // The street.
  private active: PedestrianPass[] = [];
  private scannedToMs = Number.NaN;
  private lastWallMs = Number.NEGATIVE_INFINITY;
  /** The last real detection, for the no-one duration. */
  private readonly held: Report = { state: 0, movingCm: 0, movingEnergy: 0, stationaryCm: 0, stationaryEnergy: 0, detectionCm: 0 };
  private heldAtMs = Number.NEGATIVE_INFINITY;
  /** The last report frame sent, for "stuck". */
  private lastFrame: number[] | undefined;

  // Faults.
  private garbageLeft = 0;
  private garbageBytes = 16;
  private truncatedLeft = 0;
  private badTailLeft = 0;
  private badLengthLeft = 0;
  private badCheckLeft = 0;
  private outOfRangeLeft = 0;
  private noiseBurstLeft = 0;
  private silenced = false;
  private stuck = false;
  private stuckFrame: number[] | undefined;
  private unplugged = false;

  constructor(options: Ld2410PartOptions) {
    this.clock = options.clock;
    this.activity = options.activity;
    this.radarBaud = options.baud ?? LD2410_PART_BAUD;
    this.fieldCm = options.fieldCm ?? 600;
    this.maxDwellMs = options.maxDwellMs ?? 70_000;
    this.periodMs = options.periodMs ?? 100;
    this.noiseScale = options.noiseScale ?? 1;
    const fifoBytes = options.fifoBytes ?? 1024;
    if (!Number.isInteger(fifoBytes) || fifoBytes < 64) throw new RangeError("Ld2410Part: fifoBytes must be an integer >= 64");
    if (!(this.periodMs >= 1)) throw new RangeError("Ld2410Part: periodMs must be >= 1");
    if (!(this.fieldCm > 0 && this.fieldCm <= (MAX_GATE + 1) * GATE_CM)) throw new RangeError("Ld2410Part: fieldCm must be in (0, 675]");
    this.fifo = new Uint8Array(fifoBytes);
    const prng = new Prng(options.seed).fork("ld2410");
    const identity = prng.fork("identity");
    const drawnOffset = identity.range(-10, 10);
    const phase = identity.range(0, this.periodMs);
    this.distanceOffsetCm = options.distanceOffsetCm ?? drawnOffset;
    this.noise = prng.fork("noise");
    this.faultRandom = prng.fork("faults");
    this.nextReportMs = this.clock.monotonicMs() + phase;
  }

  private static zeroStats(): Ld2410Stats {
    return {
      reports: 0,
      targetReports: 0,
      faultyReports: 0,
      acks: 0,
      commands: 0,
      ignoredCommands: 0,
      bytesSent: 0,
      bytesReceived: 0,
      overflowBytes: 0,
      skippedReports: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<Ld2410Stats> {
    return this.counters;
  }

  resetStats(): void {
    Object.assign(this.counters, Ld2410Part.zeroStats());
  }

  /** The radar's current settings, as Read Parameters would return them. */
  get parameters(): { maxMovingGate: number; maxStationaryGate: number; holdS: number; engineering: boolean; configMode: boolean; baud: number } {
    return {
      maxMovingGate: this.maxMovingGate,
      maxStationaryGate: this.maxStationaryGate,
      holdS: this.holdS,
      engineering: this.engineering,
      configMode: this.configMode,
      baud: this.radarBaud,
    };
  }

  // Fault injection

  /** Injects a fault; see `Ld2410FaultKind`. Faults of different kinds combine. */
  injectFault(kind: Ld2410FaultKind, options: Ld2410FaultOptions = {}): void {
    this.catchUp();
    const count = options.count ?? (kind === "noise-burst" ? 5 : 1);
    if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
    switch (kind) {
      case "garbage": {
        const bytes = options.bytes ?? 16;
        if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError("injectFault: bytes must be an integer >= 1");
        this.garbageLeft = count;
        this.garbageBytes = bytes;
        return;
      }
      case "truncated":
        this.truncatedLeft = count;
        return;
      case "bad-tail":
        this.badTailLeft = count;
        return;
      case "bad-length":
        this.badLengthLeft = count;
        return;
      case "bad-check":
        this.badCheckLeft = count;
        return;
      case "out-of-range":
        this.outOfRangeLeft = count;
        return;
      case "noise-burst":
        this.noiseBurstLeft = count;
        return;
      case "silence":
        this.silenced = true;
        return;
      case "stuck":
        this.stuck = true;
        this.stuckFrame = this.lastFrame;
        return;
      case "unplugged":
        this.unplugged = true;
        return;
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault. A part that was unplugged comes back power-cycled. */
  clearFaults(): void {
    this.catchUp();
    if (this.unplugged) this.powerUp();
    this.garbageLeft = 0;
    this.truncatedLeft = 0;
    this.badTailLeft = 0;
    this.badLengthLeft = 0;
    this.badCheckLeft = 0;
    this.outOfRangeLeft = 0;
    this.noiseBurstLeft = 0;
    this.silenced = false;
    this.stuck = false;
    this.stuckFrame = undefined;
    this.unplugged = false;
  }

  // UART, device side

  open(baud: number): void {
    this.catchUp();
    this.nodeBaud = baud;
    this.portOpen = true;
    this.fifoHead = 0;
    this.fifoCount = 0;
  }

  close(): void {
    this.catchUp();
    this.portOpen = false;
    this.fifoCount = 0;
    this.rx = [];
  }

  receive(bytes: Uint8Array): number {
    this.catchUp();
    this.counters.bytesReceived += bytes.length;
    // Unplugged, hung or at a wrong baud rate: the bytes go out on the wire and nobody understands them.
    if (this.unplugged || this.silenced || this.garbled() || this.clock.monotonicMs() < this.bootUntilMs) return bytes.length;
    const rx = this.rx;
    for (let i = 0; i < bytes.length; i++) rx.push(bytes[i]!);
    if (rx.length > 256) rx.splice(0, rx.length - 256);
    this.parseCommands();
    return bytes.length;
  }

  transmit(into: Uint8Array): number {
    this.catchUp();
    const n = Math.min(into.length, this.fifoCount);
    const fifo = this.fifo;
    for (let i = 0; i < n; i++) {
      into[i] = fifo[this.fifoHead]!;
      this.fifoHead = (this.fifoHead + 1) % fifo.length;
    }
    this.fifoCount -= n;
    return n;
  }

  // Internals: time

  /** Produces every report whose tick has passed. */
  private catchUp(): void {
    const now = this.clock.monotonicMs();
    while (this.nextReportMs <= now) {
      if (this.fifoCount >= this.fifo.length && this.portOpen) {
        // Overrun: the rest of the ticks up to now are lost without being computed.
        const skipped = Math.floor((now - this.nextReportMs) / this.periodMs) + 1;
        this.counters.skippedReports += skipped;
        this.nextReportMs += skipped * this.periodMs;
        break;
      }
      this.report(this.nextReportMs);
      this.nextReportMs += this.periodMs;
    }
  }

  private garbled(): boolean {
    return this.nodeBaud !== undefined && this.nodeBaud !== this.radarBaud;
  }

  private powerUp(): void {
    this.configMode = false;
    this.engineering = false;
    this.rx = [];
    this.held.state = 0;
    this.heldAtMs = Number.NEGATIVE_INFINITY;
    this.bootUntilMs = this.clock.monotonicMs() + BOOT_MS;
    if (this.pendingFactoryReset) {
      this.pendingFactoryReset = false;
      this.maxMovingGate = MAX_GATE;
      this.maxStationaryGate = MAX_GATE;
      this.holdS = FACTORY_HOLD_S;
      for (let g = 0; g <= MAX_GATE; g++) {
        this.movingSensitivity[g] = FACTORY_MOVING_SENSITIVITY[g]!;
        this.stationarySensitivity[g] = FACTORY_STATIONARY_SENSITIVITY[g]!;
      }
      this.radarBaud = LD2410_PART_BAUD;
    }
    if (this.pendingBaud !== undefined) {
      this.radarBaud = this.pendingBaud;
      this.pendingBaud = undefined;
    }
  }

  // Internals: reports

  /** One report tick at monotonic time `atMs`. */
  private report(atMs: number): void {
    if (this.unplugged || this.silenced || this.configMode || atMs < this.bootUntilMs || !this.portOpen) return;
    let frame: number[];
    let faulty = false;
    if (this.stuck && this.stuckFrame !== undefined) {
      frame = this.stuckFrame;
      faulty = true;
    } else {
      const wallMs = this.clock.wallMs() - this.clock.monotonicMs() + atMs;
      const target = this.observe(wallMs, atMs);
      if (this.noiseBurstLeft > 0) {
        this.noiseBurstLeft--;
        this.phantom(target);
        faulty = true;
      } else if (this.outOfRangeLeft > 0) {
        this.outOfRangeLeft--;
        target.state = 1;
        target.movingCm = 700 + this.faultRandom.int(0, 4000);
        target.movingEnergy = this.faultRandom.int(20, 101);
        target.detectionCm = target.movingCm;
        faulty = true;
      }
      frame = this.encodeReport(target);
      if (this.stuck) this.stuckFrame = frame;
    }
    this.lastFrame = frame;
    if (frame[8] !== 0) this.counters.targetReports++;
    frame = this.corrupt(frame) ?? frame;
    if (frame !== this.lastFrame) faulty = true;
    if (this.garbageLeft > 0) {
      this.garbageLeft--;
      for (let i = 0; i < this.garbageBytes; i++) this.send(this.faultRandom.int(0, 256));
      faulty = true;
    }
    this.counters.reports++;
    if (faulty) this.counters.faultyReports++;
    for (const byte of frame) this.send(byte);
  }

  /** A copy of `frame` with the per-frame faults applied, or undefined when none applies. */
  private corrupt(frame: readonly number[]): number[] | undefined {
    if (this.badTailLeft + this.badLengthLeft + this.badCheckLeft + this.truncatedLeft === 0) return undefined;
    const bytes = [...frame];
    const r = this.faultRandom;
    const dataLength = bytes[4]! | (bytes[5]! << 8);
    if (this.badTailLeft > 0) {
      this.badTailLeft--;
      bytes[bytes.length - 1 - r.int(0, 4)] ^= 1 << r.int(0, 8);
    }
    if (this.badLengthLeft > 0) {
      this.badLengthLeft--;
      // Off by a few, or a wild value.
      const wrong = r.chance(0.5) ? dataLength + (r.chance(0.5) ? 1 : -1) * r.int(1, 4) : r.int(dataLength + 1, 0x10000);
      bytes[4] = wrong & 0xff;
      bytes[5] = (wrong >>> 8) & 0xff;
    }
    if (this.badCheckLeft > 0) {
      this.badCheckLeft--;
      const which = r.int(0, 3); // head 0xAA, tail 0x55, check 0x00
      const index = which === 0 ? 7 : 6 + dataLength - (which === 1 ? 2 : 1);
      bytes[index] ^= 1 << r.int(0, 8);
    }
    if (this.truncatedLeft > 0) {
      this.truncatedLeft--;
      bytes.length = r.int(1, bytes.length);
    }
    return bytes;
  }

  private send(byte: number): void {
    if (this.fifoCount >= this.fifo.length) {
      this.counters.overflowBytes++;
      return;
    }
    const value = this.garbled() ? this.faultRandom.int(0, 256) : byte;
    this.fifo[(this.fifoHead + this.fifoCount) % this.fifo.length] = value;
    this.fifoCount++;
    this.counters.bytesSent++;
  }

  /** Replaces `target` with a random phantom. */
  private phantom(target: Report): void {
    const r = this.faultRandom;
    target.state = r.int(1, 4);
    target.movingCm = r.int(30, this.fieldCm);
    target.movingEnergy = r.int(20, 101);
    target.stationaryCm = r.int(30, this.fieldCm);
    target.stationaryEnergy = r.int(20, 101);
    target.detectionCm = Math.min(target.movingCm, target.stationaryCm);
  }

  /** What the radar sees at wall time `wallMs` (report tick at monotonic `monoMs`). */
  private observe(wallMs: number, monoMs: number): Report {
    this.updateActive(wallMs);
    const out: Report = { state: 0, movingCm: 0, movingEnergy: 0, stationaryCm: 0, stationaryEnergy: 0, detectionCm: 0 };
    const noise = this.noise;
    const scale = this.noiseScale;
    const R = this.fieldCm;
    for (const pass of this.active) {
      const position = pedestrianAt(pass, wallMs, R);
      if (position === undefined) continue;
      const { distanceCm: distance, walking } = position;
      const metres = distance / 100;
      // Draw all three always, so the noise stream does not depend on whether a person walks or lingers.
      const nDistance = noise.normal() * 6 * scale;
      const nMoving = noise.normal() * 5 * scale;
      const nStationary = noise.normal() * 5 * scale;
      const reportedCm = Math.max(0, Math.round(distance + this.distanceOffsetCm + nDistance));
      const gate = gateOf(distance);
      const movingEnergy = Math.round(clamp(walking ? 100 - 9 * metres + nMoving : 6 + nMoving, 0, 100));
      const stationaryEnergy = Math.round(
        clamp(walking ? (distance < BODY_STATIONARY_CM ? 70 - 20 * metres + nStationary : 0) : 85 - 8 * metres + nStationary, 0, 100),
      );
      if (walking && gate <= this.maxMovingGate && movingEnergy >= this.movingSensitivity[gate]! && movingEnergy > out.movingEnergy) {
        out.state |= 1;
        out.movingCm = reportedCm;
        out.movingEnergy = movingEnergy;
      }
      if (
        stationaryEnergy > 0 &&
        gate <= this.maxStationaryGate &&
        stationaryEnergy >= this.stationarySensitivity[gate]! &&
        stationaryEnergy > out.stationaryEnergy
      ) {
        out.state |= 2;
        out.stationaryCm = reportedCm;
        out.stationaryEnergy = stationaryEnergy;
      }
    }
    const held = this.held;
    if (out.state !== 0) {
      out.detectionCm = out.state === 3 ? Math.min(out.movingCm, out.stationaryCm) : out.state === 1 ? out.movingCm : out.stationaryCm;
      Object.assign(held, out);
      this.heldAtMs = monoMs;
    } else if (held.state !== 0 && monoMs - this.heldAtMs < this.holdS * 1000) {
      // No-one duration: the last target stands, its energies fading into the noise.
      Object.assign(out, held);
      out.movingEnergy = held.state & 1 ? Math.round(clamp(held.movingEnergy * 0.3 + noise.normal() * 3 * scale + 3, 0, 100)) : 0;
      out.stationaryEnergy = held.state & 2 ? Math.round(clamp(held.stationaryEnergy * 0.3 + noise.normal() * 3 * scale + 3, 0, 100)) : 0;
    }
    return out;
  }

  /** Keeps `active` = the passes that may be in the field at `wallMs` (the street is queried once per second of it). */
  private updateActive(wallMs: number): void {
    if (wallMs < this.lastWallMs) {
      // The wall clock was set back: start over.
      this.active = [];
      this.scannedToMs = Number.NaN;
    }
    this.lastWallMs = wallMs;
    const from = Number.isNaN(this.scannedToMs) ? wallMs - this.maxDwellMs : Math.max(this.scannedToMs, wallMs - this.maxDwellMs);
    const to = wallMs + 1;
    if (to > from) {
      this.activity.pedestriansBetween(from, to, (pass) => this.active.push(pass));
      this.scannedToMs = to;
    }
    const active = this.active;
    let kept = 0;
    for (let i = 0; i < active.length; i++) {
      const pass = active[i]!;
      if (pass.atMs + pass.dwellMs > wallMs) active[kept++] = pass;
    }
    active.length = kept;
  }

  private encodeReport(target: Report): number[] {
    const body = [
      target.state,
      ...le16(target.movingCm),
      target.movingEnergy,
      ...le16(target.stationaryCm),
      target.stationaryEnergy,
      ...le16(target.detectionCm),
    ];
    let data: number[];
    if (this.engineering) {
      const moving: number[] = [];
      const stationary: number[] = [];
      for (let g = 0; g <= this.maxMovingGate; g++) moving.push(this.gateEnergy(g, target.state & 1 ? target.movingCm : -1, target.movingEnergy));
      for (let g = 0; g <= this.maxStationaryGate; g++) {
        stationary.push(this.gateEnergy(g, target.state & 2 ? target.stationaryCm : -1, target.stationaryEnergy));
      }
      data = [0x01, 0xaa, ...body, this.maxMovingGate, this.maxStationaryGate, ...moving, ...stationary, 0x00, 0x00, 0x55, 0x00];
    } else {
      data = [0x02, 0xaa, ...body, 0x55, 0x00];
    }
    return [0xf4, 0xf3, 0xf2, 0xf1, ...le16(data.length), ...data, 0xf8, 0xf7, 0xf6, 0xf5];
  }

  /** Engineering energy of `gate`: the target's energy in its own gate, clutter elsewhere. */
  private gateEnergy(gate: number, targetCm: number, targetEnergy: number): number {
    const clutter = Math.round(clamp(4 + this.noise.normal() * 2 * this.noiseScale, 0, 100));
    return targetCm >= 0 && gateOf(targetCm) === gate ? Math.max(targetEnergy, clutter) : clutter;
  }

  // Internals: commands

  private parseCommands(): void {
    const rx = this.rx;
    for (;;) {
      let start = 0;
      while (start + 4 <= rx.length && !(rx[start] === 0xfd && rx[start + 1] === 0xfc && rx[start + 2] === 0xfb && rx[start + 3] === 0xfa)) start++;
      if (start > 0) rx.splice(0, Math.min(start, rx.length));
      if (rx.length < 6) return;
      const length = rx[4]! | (rx[5]! << 8);
      if (length < 2 || length > 64) {
        rx.splice(0, 1);
        continue;
      }
      if (rx.length < length + 10) return;
      const t = 6 + length;
      if (!(rx[t] === 0x04 && rx[t + 1] === 0x03 && rx[t + 2] === 0x02 && rx[t + 3] === 0x01)) {
        rx.splice(0, 1);
        continue;
      }
      const command = rx[6]! | (rx[7]! << 8);
      const value = rx.slice(8, 6 + length);
      rx.splice(0, length + 10);
      this.command(command, value);
    }
  }

  private command(command: number, value: number[]): void {
    this.counters.commands++;
    if (!this.configMode && command !== 0x00ff) {
      this.counters.ignoredCommands++;
      return;
    }
    const word = (i: number): number => (value[i] ?? 0) | ((value[i + 1] ?? 0) << 8);
    const dword = (i: number): number => (word(i) | (word(i + 2) << 16)) >>> 0;
    switch (command) {
      case 0x00ff: // enable configuration
        this.configMode = true;
        return this.ack(command, 0, [...le16(0x0001), ...le16(0x0040)]);
      case 0x00fe: // end configuration
        this.configMode = false;
        return this.ack(command, 0);
      case 0x0060: {
        // Three (parameter word, 32-bit value) pairs: max moving gate, max stationary gate, no-one duration.
        if (value.length !== 18) return this.ack(command, 1);
        let moving = this.maxMovingGate;
        let stationary = this.maxStationaryGate;
        let hold = this.holdS;
        for (let i = 0; i < 18; i += 6) {
          const parameter = word(i);
          const v = dword(i + 2);
          if (parameter === 0 && v >= 2 && v <= MAX_GATE) moving = v;
          else if (parameter === 1 && v >= 2 && v <= MAX_GATE) stationary = v;
          else if (parameter === 2 && v <= 0xffff) hold = v;
          else return this.ack(command, 1);
        }
        this.maxMovingGate = moving;
        this.maxStationaryGate = stationary;
        this.holdS = hold;
        return this.ack(command, 0);
      }
      case 0x0061: // read parameters
        return this.ack(command, 0, [
          0xaa,
          MAX_GATE,
          this.maxMovingGate,
          this.maxStationaryGate,
          ...this.movingSensitivity,
          ...this.stationarySensitivity,
          ...le16(this.holdS),
        ]);
      case 0x0062:
        this.engineering = true;
        return this.ack(command, 0);
      case 0x0063:
        this.engineering = false;
        return this.ack(command, 0);
      case 0x0064: {
        // (0x0000 gate or 0xFFFF for all, 0x0001 moving, 0x0002 stationary sensitivity)
        if (value.length !== 18 || word(0) !== 0 || word(6) !== 1 || word(12) !== 2) return this.ack(command, 1);
        const gate = dword(2);
        const moving = dword(8);
        const stationary = dword(14);
        if ((gate > MAX_GATE && gate !== 0xffff) || moving > 100 || stationary > 100) return this.ack(command, 1);
        for (let g = 0; g <= MAX_GATE; g++) {
          if (gate !== 0xffff && g !== gate) continue;
          this.movingSensitivity[g] = moving;
          if (g >= 2) this.stationarySensitivity[g] = stationary; // gates 0 and 1 are not settable
        }
        return this.ack(command, 0);
      }
      case 0x00a0: // firmware: type 0x0100, major word, build
        return this.ack(command, 0, [0x00, 0x01, ...le16(FIRMWARE_MAJOR_WORD), ...le32(FIRMWARE_BUILD)]);
      case 0x00a1: {
        const index = word(0);
        if (value.length !== 2 || index < 1 || index >= BAUD_RATES.length) return this.ack(command, 1);
        this.pendingBaud = BAUD_RATES[index]!;
        return this.ack(command, 0);
      }
      case 0x00a2:
        this.pendingFactoryReset = true;
        return this.ack(command, 0);
      case 0x00a3:
        this.ack(command, 0);
        this.powerUp();
        return;
      default:
        return this.ack(command, 1);
    }
  }

  private ack(command: number, status: number, values: readonly number[] = []): void {
    const data = [...le16(command | 0x0100), ...le16(status), ...values];
    this.counters.acks++;
    for (const byte of [0xfd, 0xfc, 0xfb, 0xfa, ...le16(data.length), ...data, 0x04, 0x03, 0x02, 0x01]) this.send(byte);
  }
}
