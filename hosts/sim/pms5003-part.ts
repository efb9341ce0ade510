/**
 * A simulated Plantower PMS5003 particulate matter sensor at the UART byte level, after the PMS5003 series
 * data manual. Plug it into a `SimBoard` with `attachSerial("pm", part)`.
 *
 * Portable and deterministic: no Node APIs, no `Math.random`, no timers. The part works lazily: whenever the
 * node reads or writes the port (or a test injects a fault), it first catches up with the clock, in time
 * order, so the bytes a node sees depend only on the seed and on when it looks.
 *
 * What it does, as the real part does:
 * - Active mode (the default after power-on): a 32-byte data frame (see src/sensors/pms5003-frame.ts) about
 *   every second. The manual gives 200-800 ms while the concentration changes fast and up to 2.3 s when it is
 *   stable; the simulation draws each interval from 0.8-1.2 s, which gives a node sampling every second both
 *   empty samples and samples with two frames.
 * - The line carries 960 bytes a second (9600 baud, 8N1: 10 bits a byte); a frame takes 33 ms, and a node
 *   reading in the middle of one gets its first part. Bytes land in the node's UART receive FIFO (256 bytes
 *   by default, as in the ESP32 UART driver's buffer); when it is full the oldest byte is lost
 *   (`stats.overflowBytes`). Opening the port starts with an empty FIFO.
 * - Commands, 7 bytes (manual, appendix II), checked like the part does (start characters, checksum):
 *     42 4D E1 00 00/01 cs  passive/active mode, answered with 42 4D 00 04 E1 00/01 cs (8 bytes)
 *     42 4D E2 00 00 cs     in passive mode: send one data frame now (ignored in active mode)
 *     42 4D E4 00 00/01 cs  sleep (answered with 42 4D 00 04 E4 00 cs, then fan and laser off: no frames)
 *                           / wakeup (no answer; frames resume one interval later)
 *   The 8-byte answers are not in the manual but real PMS5003/7003 parts send them. Anything else is ignored
 *   and counted (`stats.rejectedCommands`).
 * - A node that opens the port at another baud rate than 9600 receives garbled bytes.
 *
 * Physics: the atmospheric-environment values are the street's PM1/PM2.5/PM10 at the frame's time, times a
 * per-part gain (drawn in 0.95..1.05 unless given), plus noise whose 1σ is a quarter of the manual's
 * consistency limit (±10 µg/m³ below 100 µg/m³, ±10 % above) and which never exceeds that limit; the noise
 * is mostly common to the three sizes, as the part derives all three from one particle count, and the values
 * keep PM1 <= PM2.5 <= PM10. Values are whole µg/m³, never negative.
 * The "CF=1" values equal the atmospheric ones up to 30 µg/m³ and rise 1.5 times as fast above (an
 * approximation of what field data show, not a manual figure). Particle counts per 0.1 L follow from the
 * CF=1 mass in each size band with counting noise (√n): about 1500 particles > 0.3 µm per 0.1 L at PM2.5 =
 * 12 µg/m³, decreasing with size. The reserved word carries firmware version 0x97 and error code 0.
 * Not modelled: the 30 s the manual asks to wait after wakeup for stable values, the faster frame rate
 * while the concentration changes, humidity effects.
 *
 * Fault injection for tests: see `Pms5003FaultKind`.
 */

import type { Clock } from "../../src/platform.js";
import {
  PMS_ACK_BYTES,
  PMS_COMMAND,
  PMS_COMMAND_BYTES,
  PMS_DATA_FRAME_BYTES,
  PMS_DATA_WORDS,
  PMS_START_1,
  PMS_START_2,
  PMS_WORD,
  pmsChecksum,
  pmsEncodeAck,
  pmsEncodeDataFrame,
} from "../../src/sensors/pms5003-frame.js";
import { Prng, type Seed } from "./prng.js";
import type { SimSerialDevice } from "./sim-board.js";

export const PMS5003_BAUD = 9600;
/** Milliseconds a byte takes on the line at 9600 baud, 8N1. */
export const PMS5003_BYTE_MS = 10_000 / PMS5003_BAUD;

/** Where the part reads the air from: a `StreetActivity` or any source with the same three functions. */
export interface PmSource {
  /** PM1.0, PM2.5, PM10 at wall time `wallMs`, µg/m³. */
  pm1(wallMs: number): number;
  pm25(wallMs: number): number;
  pm10(wallMs: number): number;
}

/**
 * - "checksum": the next `count` data frames (default 1) carry a wrong checksum; the data are intact.
 * - "truncated": the next `count` data frames (default 1) stop after `bytes` bytes (default 20); the next
 *   frame follows on time, as when the part resets or the line drops out mid-frame.
 * - "garbage": after each of the next `count` data frames (default 1), `bytes` random bytes (default 16):
 *   line noise, a boot message, another device on a shared wire.
 * - "silence": the part sends nothing (no frames, no answers) but still takes commands, as with a broken TX
 *   wire or a hung firmware: for the next `count` frame intervals, or until cleared when no count is given.
 * - "stuck": every data frame repeats the last frame sent before the fault, byte for byte (valid checksum),
 *   until cleared: a frozen firmware.
 * - "unplugged": no power: nothing is sent, commands are lost, bytes in flight are cut off; `clearFaults()`
 *   plugs it back in, power-cycled (active mode, awake, first frame one interval later).
 * - "out-of-range": the next `count` data frames (default 1) report `value` (default 0xFFFF) µg/m³ in all six
 *   concentration words, with a valid checksum.
 * - "noise-burst": for `durationMs` (default 3000 ms) from now, each byte on the line has a bit flipped with
 *   probability `byteErrorRate` (default 0.1): interference from a passing tram, a relay, a motor.
 */
export type Pms5003FaultKind = "checksum" | "truncated" | "garbage" | "silence" | "stuck" | "unplugged" | "out-of-range" | "noise-burst";

export interface Pms5003FaultOptions {
  /** For "checksum", "truncated", "garbage", "out-of-range", "silence": how many frames are affected. */
  readonly count?: number;
  /** For "truncated": bytes of each frame that are sent (1..31); for "garbage": bytes sent after each frame (1..256). */
  readonly bytes?: number;
  /** For "out-of-range": the concentration reported, 0..65535 µg/m³. */
  readonly value?: number;
  /** For "noise-burst". */
  readonly durationMs?: number;
  readonly byteErrorRate?: number;
}

/** Counters since construction or `resetStats()`. */
export interface Pms5003Stats {
  /** Data frames put on the line, faulty ones included. */
  frames: number;
  /** Command answers put on the line. */
  acks: number;
  /** Data frames sent with an injected checksum, truncation, out-of-range or stuck fault. */
  faultyFrames: number;
  /** Random bytes sent by the "garbage" fault. */
  garbageBytes: number;
  /** Bytes whose bits the "noise-burst" fault flipped. */
  corruptedBytes: number;
  /** Bytes that reached the node's receive FIFO. */
  bytesSent: number;
  /** Bytes the node read from the FIFO. */
  bytesDelivered: number;
  /** Bytes lost because the FIFO was full (the node read too seldom). */
  overflowBytes: number;
  /** Valid commands the part acted on. */
  commands: number;
  /** Command bytes that did not form a valid, known command. */
  rejectedCommands: number;
}

export interface Pms5003PartOptions {
  /** Time source: monotonic time for the frame schedule, wall time for the street query. */
  readonly clock: Clock;
  /** The air around the part. */
  readonly activity: PmSource;
  /** Seeds the part's gain, frame timing and noise. */
  readonly seed: Seed;
  /** This part's gain against the truth; drawn from the seed in 0.95..1.05 when absent. */
  readonly gain?: number;
  /** Multiplies the noise; default 1, 0 for noise-free readings. */
  readonly noiseScale?: number;
  /** The node's UART receive FIFO, bytes; default 256. */
  readonly fifoBytes?: number;
}

/** Bytes on their way over the wire: more than a second of line time, so frames plus garbage always fit. */
const LINE_CAPACITY = 1024;
const FIRMWARE_VERSION = 0x97;
const MIN_INTERVAL_MS = 800;
const MAX_INTERVAL_MS = 1200;

export class Pms5003Part implements SimSerialDevice {
  /** This part's gain against the truth. */
  readonly gain: number;

  private readonly clock: Clock;
  private readonly activity: PmSource;
  private readonly noiseScale: number;
  private readonly schedule: Prng;
  private readonly noise: Prng;
  private readonly garbage: Prng;
  private readonly burst: Prng;
  private readonly counters: Pms5003Stats = Pms5003Part.zeroStats();

  /** The node's receive FIFO, a ring. */
  private readonly fifo: Uint8Array;
  private fifoHead = 0;
  private fifoCount = 0;
  /** Bytes on the wire with their arrival times, a ring. */
  private readonly line = new Uint8Array(LINE_CAPACITY);
  private readonly lineAtMs = new Float64Array(LINE_CAPACITY);
  private lineHead = 0;
  private lineCount = 0;
  /** When the part's transmitter finishes the last byte queued. */
  private lineFreeMs = 0;

  private readonly frame = new Uint8Array(PMS_DATA_FRAME_BYTES);
  private readonly lastFrame = new Uint8Array(PMS_DATA_FRAME_BYTES);
  private hasLastFrame = false;
  private readonly words = new Array<number>(PMS_DATA_WORDS).fill(0);
  private readonly ack = new Uint8Array(PMS_ACK_BYTES);
  /** Normal draws of one frame: common and own PM noise for three sizes, counting noise for six. */
  private readonly draws = new Float64Array(10);
  /** Command bytes received so far. */
  private readonly command = new Uint8Array(PMS_COMMAND_BYTES);
  private commandLength = 0;

  private active = true;
  private awake = true;
  /** Monotonic time of the next data frame in active mode; +Infinity when none is due. */
  private nextFrameMs: number;
  private wrongBaud = false;

  // Fault state
  private checksumFaults = 0;
  private truncatedFaults = 0;
  private truncatedBytes = 20;
  private garbageFaults = 0;
  private garbageBytes = 16;
  private silentFrames = 0;
  private silentUntilCleared = false;
  private stuck = false;
  private readonly stuckFrame = new Uint8Array(PMS_DATA_FRAME_BYTES);
  private stuckFrameSet = false;
  private unplugged = false;
  private rangeFaults = 0;
  private rangeValue = 0xffff;
  private burstUntilMs = Number.NEGATIVE_INFINITY;
  private burstRate = 0.1;

  constructor(options: Pms5003PartOptions) {
    this.clock = options.clock;
    this.activity = options.activity;
    const prng = new Prng(options.seed).fork("pms5003");
    const drawnGain = prng.fork("identity").range(0.95, 1.05);
    this.gain = options.gain ?? drawnGain;
    if (!(this.gain > 0)) throw new RangeError("Pms5003Part: gain must be > 0");
    this.noiseScale = options.noiseScale ?? 1;
    const fifoBytes = options.fifoBytes ?? 256;
    if (!Number.isInteger(fifoBytes) || fifoBytes < 32 || fifoBytes > 65536) throw new RangeError("Pms5003Part: fifoBytes must be 32..65536");
    this.fifo = new Uint8Array(fifoBytes);
    this.schedule = prng.fork("schedule");
    this.noise = prng.fork("noise");
    this.garbage = prng.fork("garbage");
    this.burst = prng.fork("burst");
    const now = this.clock.monotonicMs();
    this.lineFreeMs = now;
    this.nextFrameMs = now + this.interval();
  }

  private static zeroStats(): Pms5003Stats {
    return {
      frames: 0,
      acks: 0,
      faultyFrames: 0,
      garbageBytes: 0,
      corruptedBytes: 0,
      bytesSent: 0,
      bytesDelivered: 0,
      overflowBytes: 0,
      commands: 0,
      rejectedCommands: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<Pms5003Stats> {
    return this.counters;
  }

  resetStats(): void {
    Object.assign(this.counters, Pms5003Part.zeroStats());
  }

  /** "active" or "passive". */
  get mode(): "active" | "passive" {
    return this.active ? "active" : "passive";
  }

  /** False while the part sleeps (fan and laser off). */
  get isAwake(): boolean {
    return this.awake;
  }

  /** Bytes waiting in the node's receive FIFO (after catching up with the clock). */
  get pendingBytes(): number {
    this.advance(this.clock.monotonicMs());
    return this.fifoCount;
  }

  // Fault injection

  /** Injects a fault from now on; see `Pms5003FaultKind`. Faults of different kinds combine. */
  injectFault(kind: Pms5003FaultKind, options: Pms5003FaultOptions = {}): void {
    const now = this.clock.monotonicMs();
    this.advance(now);
    const count = options.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
    switch (kind) {
      case "checksum":
        this.checksumFaults = count;
        return;
      case "truncated": {
        const bytes = options.bytes ?? 20;
        if (!Number.isInteger(bytes) || bytes < 1 || bytes >= PMS_DATA_FRAME_BYTES) throw new RangeError("injectFault: truncated bytes must be 1..31");
        this.truncatedFaults = count;
        this.truncatedBytes = bytes;
        return;
      }
      case "garbage": {
        const bytes = options.bytes ?? 16;
        if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError("injectFault: garbage bytes must be 1..256");
        this.garbageFaults = count;
        this.garbageBytes = bytes;
        return;
      }
      case "silence":
        if (options.count === undefined) this.silentUntilCleared = true;
        else this.silentFrames = count;
        return;
      case "stuck":
        this.stuck = true;
        this.stuckFrameSet = this.hasLastFrame;
        if (this.hasLastFrame) this.stuckFrame.set(this.lastFrame);
        return;
      case "unplugged":
        this.unplugged = true;
        this.lineCount = 0; // bytes in flight are cut off
        this.lineFreeMs = now;
        this.commandLength = 0;
        this.nextFrameMs = Number.POSITIVE_INFINITY;
        return;
      case "out-of-range": {
        const value = options.value ?? 0xffff;
        if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new RangeError("injectFault: value must be 0..65535");
        this.rangeFaults = count;
        this.rangeValue = value;
        return;
      }
      case "noise-burst": {
        const durationMs = options.durationMs ?? 3000;
        const rate = options.byteErrorRate ?? 0.1;
        if (!(durationMs > 0)) throw new RangeError("injectFault: durationMs must be > 0");
        if (!(rate >= 0 && rate <= 1)) throw new RangeError("injectFault: byteErrorRate must be 0..1");
        this.burstUntilMs = now + durationMs;
        this.burstRate = rate;
        return;
      }
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault. A part that was unplugged comes back power-cycled. */
  clearFaults(): void {
    const now = this.clock.monotonicMs();
    this.advance(now);
    if (this.unplugged) {
      this.unplugged = false;
      this.active = true;
      this.awake = true;
      this.nextFrameMs = now + this.interval();
    }
    this.checksumFaults = 0;
    this.truncatedFaults = 0;
    this.garbageFaults = 0;
    this.silentFrames = 0;
    this.silentUntilCleared = false;
    this.stuck = false;
    this.stuckFrameSet = false;
    this.rangeFaults = 0;
    this.burstUntilMs = Number.NEGATIVE_INFINITY;
  }

  // UART, device side

  open(baud: number): void {
    this.advance(this.clock.monotonicMs());
    this.wrongBaud = baud !== PMS5003_BAUD;
    this.fifoHead = 0;
    this.fifoCount = 0;
  }

  close(): void {
    this.advance(this.clock.monotonicMs());
    this.fifoHead = 0;
    this.fifoCount = 0;
  }

  receive(bytes: Uint8Array): number {
    const now = this.clock.monotonicMs();
    this.advance(now);
    if (this.unplugged) return bytes.length; // the node's UART sends them into a dead wire
    const command = this.command;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      // Resynchronise on the start characters, as the part's firmware does.
      if (this.commandLength === 0 && byte !== PMS_START_1) {
        this.counters.rejectedCommands++;
        continue;
      }
      if (this.commandLength === 1 && byte !== PMS_START_2) {
        this.counters.rejectedCommands++;
        this.commandLength = byte === PMS_START_1 ? 1 : 0;
        continue;
      }
      command[this.commandLength++] = byte;
      if (this.commandLength === PMS_COMMAND_BYTES) {
        this.commandLength = 0;
        this.execute(now);
      }
    }
    return bytes.length;
  }

  transmit(into: Uint8Array): number {
    this.advance(this.clock.monotonicMs());
    const fifo = this.fifo;
    const n = into.length < this.fifoCount ? into.length : this.fifoCount;
    for (let i = 0; i < n; i++) {
      let byte = fifo[this.fifoHead]!;
      // At a wrong baud rate the UART samples the wrong bits: framing errors and nonsense.
      if (this.wrongBaud) byte = (byte ^ this.garbage.nextUint32()) & 0xff;
      into[i] = byte;
      this.fifoHead = (this.fifoHead + 1) % fifo.length;
    }
    this.fifoCount -= n;
    this.counters.bytesDelivered += n;
    return n;
  }

  // Internals

  /** Catches up with `nowMs`: sends every frame due by then and moves arrived bytes into the FIFO. */
  private advance(nowMs: number): void {
    while (this.nextFrameMs <= nowMs) {
      const at = this.nextFrameMs;
      this.deliver(at);
      this.nextFrameMs = at + this.interval();
      this.sendDataFrame(at, nowMs);
    }
    this.deliver(nowMs);
  }

  /** A frame interval, 0.8-1.2 s. */
  private interval(): number {
    return this.schedule.range(MIN_INTERVAL_MS, MAX_INTERVAL_MS);
  }

  private silent(): boolean {
    return this.silentUntilCleared || this.silentFrames > 0;
  }

  private execute(nowMs: number): void {
    const c = this.command;
    const sum = (c[5]! << 8) | c[6]!;
    const data = (c[3]! << 8) | c[4]!;
    if (pmsChecksum(c, 0, 5) !== sum) {
      this.counters.rejectedCommands++;
      return;
    }
    switch (c[2]) {
      case PMS_COMMAND.mode:
        if (data > 1) break;
        this.counters.commands++;
        this.sendAck(nowMs, PMS_COMMAND.mode, data);
        this.active = data === 1;
        this.nextFrameMs = this.active && this.awake ? nowMs + this.interval() : Number.POSITIVE_INFINITY;
        return;
      case PMS_COMMAND.read:
        this.counters.commands++;
        if (!this.active && this.awake) this.sendDataFrame(nowMs, nowMs);
        return;
      case PMS_COMMAND.sleep:
        if (data > 1) break;
        this.counters.commands++;
        if (data === 0) {
          this.sendAck(nowMs, PMS_COMMAND.sleep, 0);
          this.awake = false;
          this.nextFrameMs = Number.POSITIVE_INFINITY;
        } else if (!this.awake) {
          this.awake = true;
          this.nextFrameMs = this.active ? nowMs + this.interval() : Number.POSITIVE_INFINITY;
        }
        return;
      default:
        break;
    }
    this.counters.rejectedCommands++;
  }

  private sendAck(atMs: number, command: number, data: number): void {
    if (this.silent()) return;
    pmsEncodeAck(command, data, this.ack);
    for (let i = 0; i < PMS_ACK_BYTES; i++) this.enqueue(this.ack[i]!, atMs);
    this.counters.acks++;
  }

  /** Measures at `atMs` (a time not after `nowMs`) and sends a data frame with whatever faults apply. */
  private sendDataFrame(atMs: number, nowMs: number): void {
    // Draw the noise always, so that the noise stream does not depend on faults or silence.
    const draws = this.draws;
    for (let i = 0; i < draws.length; i++) draws[i] = this.noise.normal();
    if (this.silent()) {
      if (this.silentFrames > 0) this.silentFrames--;
      return;
    }
    const frame = this.frame;
    let faulty = false;
    if (this.stuck && this.stuckFrameSet) {
      frame.set(this.stuckFrame);
      faulty = true;
    } else {
      this.measure(this.clock.wallMs() - (nowMs - atMs));
      const words = this.words;
      if (this.rangeFaults > 0) {
        this.rangeFaults--;
        faulty = true;
        for (let i = PMS_WORD.pm1Cf1; i <= PMS_WORD.pm10; i++) words[i] = this.rangeValue;
      }
      pmsEncodeDataFrame(words, frame);
      if (this.stuck) {
        this.stuckFrame.set(frame);
        this.stuckFrameSet = true;
      }
    }
    if (!faulty) {
      this.lastFrame.set(frame);
      this.hasLastFrame = true;
    }
    if (this.checksumFaults > 0) {
      this.checksumFaults--;
      faulty = true;
      frame[31] = frame[31]! ^ 0x01;
    }
    let length = PMS_DATA_FRAME_BYTES;
    if (this.truncatedFaults > 0) {
      this.truncatedFaults--;
      faulty = true;
      length = this.truncatedBytes;
    }
    for (let i = 0; i < length; i++) this.enqueue(frame[i]!, atMs);
    this.counters.frames++;
    if (faulty) this.counters.faultyFrames++;
    if (this.garbageFaults > 0) {
      this.garbageFaults--;
      for (let i = 0; i < this.garbageBytes; i++) this.enqueue(this.garbage.nextUint32() & 0xff, atMs);
      this.counters.garbageBytes += this.garbageBytes;
    }
  }

  /** Fills `words` with a measurement of the air at wall time `wallMs`, using this frame's `draws`. */
  private measure(wallMs: number): void {
    const words = this.words;
    const draws = this.draws;
    const gain = this.gain;
    const common = draws[0]!;
    let pm1 = this.reported(this.activity.pm1(wallMs) * gain, common, draws[1]!);
    let pm25 = this.reported(this.activity.pm25(wallMs) * gain, common, draws[2]!);
    let pm10 = this.reported(this.activity.pm10(wallMs) * gain, common, draws[3]!);
    if (pm25 < pm1) pm25 = pm1;
    if (pm10 < pm25) pm10 = pm25;
    words[PMS_WORD.pm1] = pm1;
    words[PMS_WORD.pm25] = pm25;
    words[PMS_WORD.pm10] = pm10;
    const cf1 = cf1Of(pm1);
    const cf25 = cf1Of(pm25);
    const cf10 = cf1Of(pm10);
    words[PMS_WORD.pm1Cf1] = cf1;
    words[PMS_WORD.pm25Cf1] = cf25;
    words[PMS_WORD.pm10Cf1] = cf10;
    // Particle counts per 0.1 L from the mass in each size band (fine, 1-2.5 µm, coarse); each count is at
    // most the one of the next smaller size, since "> 0.5 µm" particles are also "> 0.3 µm" particles.
    const fine = cf1;
    const mid = cf25 - cf1;
    const coarse = cf10 - cf25;
    const scale = this.noiseScale;
    let count = counted(170 * fine + 30 * mid + 5 * coarse + 30, draws[4]! * scale, 0xffff);
    words[PMS_WORD.count03] = count;
    count = counted(50 * fine + 20 * mid + 4 * coarse + 8, draws[5]! * scale, count);
    words[PMS_WORD.count05] = count;
    count = counted(8 * fine + 12 * mid + 3 * coarse + 1, draws[6]! * scale, count);
    words[PMS_WORD.count10] = count;
    count = counted(0.8 * mid + 1.5 * coarse, draws[7]! * scale, count);
    words[PMS_WORD.count25] = count;
    count = counted(0.4 * coarse, draws[8]! * scale, count);
    words[PMS_WORD.count50] = count;
    words[PMS_WORD.count100] = counted(0.1 * coarse, draws[9]! * scale, count);
    words[PMS_WORD.reserved] = FIRMWARE_VERSION << 8;
  }

  /** A concentration as the part reports it: noise within the manual's consistency limit, whole µg/m³. */
  private reported(value: number, common: number, own: number): number {
    const limit = value < 100 ? 10 : 0.1 * value;
    let error = (limit / 4) * (0.8 * common + 0.6 * own) * this.noiseScale;
    if (error > limit) error = limit;
    else if (error < -limit) error = -limit;
    const reported = Math.round(value + error);
    return reported < 0 ? 0 : reported > 0xffff ? 0xffff : reported;
  }

  /** Puts a byte on the wire at `atMs` (after whatever is still being sent). */
  private enqueue(byte: number, atMs: number): void {
    if (this.lineCount === LINE_CAPACITY) return; // cannot happen at the rates above; never grow
    if (atMs < this.burstUntilMs && this.burst.chance(this.burstRate)) {
      byte ^= 1 << this.burst.int(0, 8);
      this.counters.corruptedBytes++;
    }
    const start = this.lineFreeMs > atMs ? this.lineFreeMs : atMs;
    const arrival = start + PMS5003_BYTE_MS;
    this.lineFreeMs = arrival;
    const index = (this.lineHead + this.lineCount) % LINE_CAPACITY;
    this.line[index] = byte;
    this.lineAtMs[index] = arrival;
    this.lineCount++;
  }

  /** Moves every byte that has arrived by `nowMs` into the FIFO, dropping the oldest when it is full. */
  private deliver(nowMs: number): void {
    const fifo = this.fifo;
    const capacity = fifo.length;
    while (this.lineCount > 0 && this.lineAtMs[this.lineHead]! <= nowMs) {
      const byte = this.line[this.lineHead]!;
      this.lineHead = (this.lineHead + 1) % LINE_CAPACITY;
      this.lineCount--;
      if (this.fifoCount === capacity) {
        this.fifoHead = (this.fifoHead + 1) % capacity;
        this.fifoCount--;
        this.counters.overflowBytes++;
      }
      fifo[(this.fifoHead + this.fifoCount) % capacity] = byte;
      this.fifoCount++;
      this.counters.bytesSent++;
    }
  }
}

/** The "CF=1" value for an atmospheric one: equal at low concentrations, 1.5 times steeper above 30 µg/m³. */
function cf1Of(atmospheric: number): number {
  const cf = atmospheric <= 30 ? atmospheric : Math.round(30 + (atmospheric - 30) * 1.5);
  return cf > 0xffff ? 0xffff : cf;
}

/** A particle count with counting noise (`noise` standard deviations of √n), whole, 0..`atMost`. */
function counted(expected: number, noise: number, atMost: number): number {
  const n = Math.round(expected + noise * Math.sqrt(expected));
  return n < 0 ? 0 : n > atMost ? atMost : n;
}
