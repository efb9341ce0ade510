/**
 * HLK-LD2410 24 GHz FMCW presence radar on a UART (256000 baud 8N1; Hi-Link "serial communication
 * protocol" V1.02), used to count people entering the space in front of the node.
 *
 * The radar reports about ten times a second, unasked: target state (none, moving, stationary, both),
 * the distance and energy of the moving and of the stationary target, a detection distance. It does
 * not track or tell people apart, and neither does this driver: it counts ENTRIES into a zone (a
 * target within `maxDistanceCm`). An entry counts when a target appears after the zone was empty for
 * at least `clearMs`, and only once it has stayed `minPresenceMs` (a debounce for radar flicker).
 * Two people who overlap in the zone, or follow each other within `clearMs`, are ONE entry: the
 * count is a lower bound of the footfall, an activity index rather than a head count. That is also
 * the privacy story: nothing here could single anyone out.
 *
 * Outputs per `sample()` (call it every 0.2 s; anything up to a few seconds works):
 *   entries   count,    ""  entries counted since the previous reading
 *   presence  duration, "s" seconds with a target in the zone since the previous reading
 * Both accumulate across samples that return undefined and are handed over by the next reading.
 *
 * Each sample drains the UART into a fixed frame parser (`ld2410-frame.ts`), which resynchronises on
 * garbage and rejects bad frames ("frame"). Frames are spread evenly over the time since the previous
 * sample (the radar sends them at a steady rate) and fed to the entry counter in order. Drops:
 *   "frame"     bytes that are not valid frames (garbage, truncated, bad length/tail/head/check)
 *   "range"     a target distance beyond the radar's last gate (gate 8 ends at 6.75 m with the
 *               default 0.75 m gates), or an energy above 100; such a frame is not used
 *   "stuck"     byte-identical target frames for `stuckAfter` frames while a target is reported
 *               (an empty zone legitimately repeats the same frame, so those never count as stuck)
 *   "bus"       no well-formed report for more than `timeoutMs` (once per sample), or a port error
 *   "not-ready" no new frame yet, within the timeout: not a failure
 * Each cause is counted at most once per sample; a sample with at least one usable frame is a reading.
 *
 * `configure()` runs the protocol's configuration sequence without blocking: Enable Configuration
 * (0x00FF), then, each after the previous ACK has arrived (the radar's command buffer is 64 bytes),
 * Maximum Distance Gate and No-one Duration (0x0060), Read Firmware Version (0x00A0), End
 * Configuration (0x00FE). The no-one duration (factory default 5 s) is the radar's own hold time
 * after a target leaves; the driver sets it to `holdS` (default 0) because `clearMs` already bridges
 * short dropouts, and a longer hold would merge more people into one entry (the radar keeps these
 * settings in flash: one write per configure). A step without an ACK within a second restarts the
 * sequence; after three tries the driver sends End Configuration and carries on with the radar's
 * settings as they are. The radar sends no reports while in configuration mode.
 *
 * Example:
 *   const radar = new Ld2410({ buses, clock, sensor: { port: "radar" } });
 *   radar.configure();
 *   // every 0.2 s
 *   const values = radar.sample(); // Float64Array [entries, presence s] or undefined
 */
import type { Clock, Serial } from "../platform.js";
import { LD2410_ACK, LD2410_NONE, Ld2410FrameParser } from "./ld2410-frame.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";
import { StuckDetector } from "./stuck-detector.js";

export const LD2410_DEFAULT_BAUD = 256000;
/** Distance per gate with the factory resolution (0.75 m). */
export const LD2410_GATE_CM = 75;

/** Command words (ACKs come back with `| 0x0100`). */
export const LD2410_COMMANDS = {
  enableConfiguration: 0x00ff,
  endConfiguration: 0x00fe,
  setMaxGatesAndDuration: 0x0060,
  readParameters: 0x0061,
  enableEngineering: 0x0062,
  closeEngineering: 0x0063,
  setSensitivity: 0x0064,
  readFirmware: 0x00a0,
  setBaudRate: 0x00a1,
  factoryReset: 0x00a2,
  restart: 0x00a3,
} as const;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  { quantity: "entries", kind: "count", unit: "", min: 0, max: 1000, counts: "people" },
  // Seconds of presence since the previous reading: never more than the time between readings.
  { quantity: "presence", kind: "duration", unit: "s", min: 0, max: 3600 },
];

export interface Ld2410Options extends DriverContext {
  readonly sensor: { readonly port: string; readonly baud?: number };
  /** The counting zone: a target at most this far away counts as present (default 400 cm). */
  readonly maxDistanceCm?: number;
  /** The zone must have been empty this long before a new target is a new entry (default 1500 ms). */
  readonly clearMs?: number;
  /** A new target must stay this long to count: shorter flicker is ignored (default 300 ms). */
  readonly minPresenceMs?: number;
  /** No well-formed report for longer than this is a bus fault (default 2000 ms; the radar sends 10/s). */
  readonly timeoutMs?: number;
  /**
   * Byte-identical frames in a row, while a target is reported, after which frames count as stuck.
   * A real target's energies change from frame to frame; 300 frames are 30 s. 0 disables.
   */
  readonly stuckAfter?: number;
  /** Farthest plausible distance (default: the end of the last gate, (maxGate + 1) × 75 = 675 cm). */
  readonly rangeCm?: number;
  /** Farthest gate the radar reports, set by `configure()` for moving and stationary targets (2..8, default 8). */
  readonly maxGate?: number;
  /** The radar's no-one duration in seconds, set by `configure()` (default 0; the factory setting is 5). */
  readonly holdS?: number;
}

/**
 * Entry counting on a stream of "target in zone" observations: see the module comment.
 * Fixed memory; `update` allocates nothing.
 */
export class EntryCounter {
  static readonly EMPTY = 0;
  /** A target appeared after the zone was clear; not counted until it stays `minPresenceMs`. */
  static readonly CANDIDATE = 1;
  /** Counted; the target is still there. */
  static readonly OCCUPIED = 2;
  /** The counted target left less than `clearMs` ago; its return is the same entry. */
  static readonly LEAVING = 3;

  readonly #clearMs: number;
  readonly #minPresenceMs: number;
  #state = EntryCounter.EMPTY;
  #sinceMs = 0;

  constructor(clearMs: number, minPresenceMs: number) {
    this.#clearMs = clearMs;
    this.#minPresenceMs = minPresenceMs;
  }

  get state(): number {
    return this.#state;
  }

  /** Feeds one observation at `tMs` (non-decreasing); returns 1 when it completes a new entry, else 0. */
  update(present: boolean, tMs: number): number {
    switch (this.#state) {
      case EntryCounter.EMPTY:
        if (!present) return 0;
        this.#state = EntryCounter.CANDIDATE;
        this.#sinceMs = tMs;
        return this.#confirm(tMs);
      case EntryCounter.CANDIDATE:
        // Flicker: the zone was clear before it, so it still is.
        if (!present) {
          this.#state = EntryCounter.EMPTY;
          return 0;
        }
        return this.#confirm(tMs);
      case EntryCounter.OCCUPIED:
        if (!present) {
          this.#state = EntryCounter.LEAVING;
          this.#sinceMs = tMs;
        }
        return 0;
      default: // LEAVING
        if (tMs - this.#sinceMs >= this.#clearMs) {
          this.#state = EntryCounter.EMPTY;
          return this.update(present, tMs);
        }
        if (present) this.#state = EntryCounter.OCCUPIED;
        return 0;
    }
  }

  /** Forgets the zone (after a data gap nothing is known about it). */
  reset(): void {
    this.#state = EntryCounter.EMPTY;
  }

  #confirm(tMs: number): number {
    if (tMs - this.#sinceMs < this.#minPresenceMs) return 0;
    this.#state = EntryCounter.OCCUPIED;
    return 1;
  }
}

/** Most frames one sample takes (later frames wait in the parser or the UART for the next sample). */
const MAX_FRAMES_PER_SAMPLE = 64;
/** Bytes per `read()`, and reads per sample: 2 KB, about 8 s of basic reports. */
const READ_CHUNK = 128;
const MAX_READS = 16;
/** A frame interval longer than this (after a gap) adds no presence time. */
const MAX_FRAME_GAP_MS = 500;
const CONFIG_ACK_TIMEOUT_MS = 1000;
const CONFIG_ATTEMPTS = 3;

// Configuration steps: the ACK awaited.
const CONFIG_IDLE = 0;
const CONFIG_ENABLE = 1;
const CONFIG_PARAMETERS = 2;
const CONFIG_FIRMWARE = 3;
const CONFIG_END = 4;

/** A command frame: FD FC FB FA, length, command word, value, 04 03 02 01. */
function commandFrame(command: number, value: readonly number[]): Uint8Array {
  const length = 2 + value.length;
  return Uint8Array.of(0xfd, 0xfc, 0xfb, 0xfa, length & 0xff, length >> 8, command & 0xff, command >> 8, ...value, 0x04, 0x03, 0x02, 0x01);
}

function le32(value: number): number[] {
  return [value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff];
}

function positive(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`Ld2410: ${name} must be a finite number >= 0`);
  return value;
}

export class Ld2410 implements SensorDriver {
  readonly part = "ld2410";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly #serial: Serial;
  readonly #clock: Clock;
  readonly #parser = new Ld2410FrameParser(256);
  readonly #chunk = new Uint8Array(READ_CHUNK);
  readonly #values = new Float64Array(2);
  readonly #stuck: StuckDetector;
  readonly #counter: EntryCounter;
  readonly #maxDistanceCm: number;
  readonly #rangeCm: number;
  readonly #timeoutMs: number;
  /** Per usable frame of the current sample: 1 when a target is in the zone. */
  readonly #present = new Uint8Array(MAX_FRAMES_PER_SAMPLE);
  readonly #commands: {
    readonly enable: Uint8Array;
    readonly parameters: Uint8Array;
    readonly firmware: Uint8Array;
    readonly end: Uint8Array;
  };

  #lastSampleMs: number;
  /** When the previous usable frame was fed to the counter. */
  #lastFrameMs: number;
  /** When the last well-formed report arrived (usable or not). */
  #lastReportMs: number;
  #entries = 0;
  #presenceMs = 0;
  #configStep = CONFIG_IDLE;
  #configSentAt = 0;
  #configAttempts = 0;

  /** True once the radar acknowledged End Configuration. */
  configured = false;
  /** Configuration commands the radar answered with a failure status. */
  configFailures = 0;
  /** Firmware version from the Read Firmware ACK, e.g. 1, 2, 0x22062416 for V1.02.22062416; 0 until known. */
  firmwareMajor = 0;
  firmwareMinor = 0;
  firmwareBuild = 0;

  constructor(options: Ld2410Options) {
    this.#clock = options.clock;
    this.health = new SensorHealth(options.faultyAfter ?? 5);
    this.#maxDistanceCm = positive(options.maxDistanceCm ?? 400, "maxDistanceCm");
    const maxGate = options.maxGate ?? 8;
    if (!Number.isInteger(maxGate) || maxGate < 2 || maxGate > 8) throw new RangeError("Ld2410: maxGate must be an integer 2..8");
    const holdS = options.holdS ?? 0;
    if (!Number.isInteger(holdS) || holdS < 0 || holdS > 65535) throw new RangeError("Ld2410: holdS must be an integer 0..65535");
    this.#rangeCm = positive(options.rangeCm ?? (maxGate + 1) * LD2410_GATE_CM, "rangeCm");
    this.#timeoutMs = positive(options.timeoutMs ?? 2000, "timeoutMs");
    this.#counter = new EntryCounter(positive(options.clearMs ?? 1500, "clearMs"), positive(options.minPresenceMs ?? 300, "minPresenceMs"));
    this.#stuck = new StuckDetector(options.stuckAfter ?? 300);
    this.#commands = {
      enable: commandFrame(LD2410_COMMANDS.enableConfiguration, [0x01, 0x00]),
      parameters: commandFrame(LD2410_COMMANDS.setMaxGatesAndDuration, [0x00, 0x00, ...le32(maxGate), 0x01, 0x00, ...le32(maxGate), 0x02, 0x00, ...le32(holdS)]),
      firmware: commandFrame(LD2410_COMMANDS.readFirmware, []),
      end: commandFrame(LD2410_COMMANDS.endConfiguration, []),
    };
    this.#serial = options.buses.openSerial({ port: options.sensor.port, baud: options.sensor.baud ?? LD2410_DEFAULT_BAUD });
    const now = this.#clock.monotonicMs();
    this.#lastSampleMs = now;
    this.#lastFrameMs = now;
    this.#lastReportMs = now;
  }

  configure(): void {
    this.configured = false;
    this.#configAttempts = 1;
    this.#lastReportMs = this.#clock.monotonicMs(); // the radar is silent while being configured
    this.#send(this.#commands.enable, CONFIG_ENABLE);
  }

  sample(): Float64Array | undefined {
    const now = this.#clock.monotonicMs();
    const parser = this.#parser;
    const badBefore = parser.badFrames;
    const discardedBefore = parser.discardedBytes;
    let busError = false;
    let rangeError = false;
    let stuckFrame = false;
    let frames = 0;

    // Drain the UART into the parser and classify every complete frame.
    for (let reads = 0; ; reads++) {
      let kind = parser.next();
      while (kind !== LD2410_NONE) {
        if (kind === LD2410_ACK) this.#onAck();
        else {
          this.#lastReportMs = now;
          const state = parser.targetState;
          const moving = (state & 1) !== 0;
          const stationary = (state & 2) !== 0;
          if (
            (moving && (parser.movingCm > this.#rangeCm || parser.movingEnergy > 100)) ||
            (stationary && (parser.stationaryCm > this.#rangeCm || parser.stationaryEnergy > 100))
          ) {
            rangeError = true;
          } else if (state === 0) {
            this.#stuck.reset();
            this.#present[frames++] = 0;
          } else if (this.#stuck.isStuck(parser.fingerprint)) {
            stuckFrame = true;
          } else {
            const limit = this.#maxDistanceCm;
            this.#present[frames++] = (moving && parser.movingCm <= limit) || (stationary && parser.stationaryCm <= limit) ? 1 : 0;
          }
          if (frames === MAX_FRAMES_PER_SAMPLE) break;
        }
        kind = parser.next();
      }
      if (frames === MAX_FRAMES_PER_SAMPLE || reads === MAX_READS || parser.free < READ_CHUNK) break;
      let n = 0;
      try {
        n = this.#serial.read(this.#chunk);
      } catch {
        busError = true;
        break;
      }
      if (n <= 0) break;
      parser.push(this.#chunk, n);
    }

    this.#advanceConfiguration(now);

    // Feed the usable frames to the counter, spread evenly over the time since the previous sample.
    const span = now - this.#lastSampleMs;
    for (let i = 0; i < frames; i++) {
      const t = this.#lastSampleMs + (span * (i + 1)) / frames;
      const present = this.#present[i] === 1;
      const dt = t - this.#lastFrameMs;
      if (present && dt <= MAX_FRAME_GAP_MS) this.#presenceMs += dt;
      this.#entries += this.#counter.update(present, t);
      this.#lastFrameMs = t;
    }
    this.#lastSampleMs = now;

    const health = this.health;
    if (busError) health.recordDrop("bus");
    if (parser.badFrames !== badBefore || parser.discardedBytes !== discardedBefore) health.recordDrop("frame");
    if (rangeError) health.recordDrop("range");
    if (stuckFrame) health.recordDrop("stuck");
    const timedOut = now - this.#lastReportMs > this.#timeoutMs && this.#configStep === CONFIG_IDLE;
    if (frames > 0) {
      const values = this.#values;
      values[0] = this.#entries;
      values[1] = this.#presenceMs / 1000;
      this.#entries = 0;
      this.#presenceMs = 0;
      health.recordReading();
      return values;
    }
    if (timedOut) {
      if (!busError) health.recordDrop("bus");
      this.#counter.reset(); // nothing is known about the zone across the gap
    } else if (!busError && !rangeError && !stuckFrame && parser.badFrames === badBefore && parser.discardedBytes === discardedBefore) {
      health.recordDrop("not-ready");
    }
    return undefined;
  }

  close(): void {
    this.#configStep = CONFIG_IDLE;
    this.#serial.close();
  }

  #onAck(): void {
    const parser = this.#parser;
    const command = parser.ackCommand;
    if ((command & 0x0100) === 0) return; // not an answer
    const answered = command & 0xfeff;
    const expected =
      this.#configStep === CONFIG_ENABLE
        ? LD2410_COMMANDS.enableConfiguration
        : this.#configStep === CONFIG_PARAMETERS
          ? LD2410_COMMANDS.setMaxGatesAndDuration
          : this.#configStep === CONFIG_FIRMWARE
            ? LD2410_COMMANDS.readFirmware
            : this.#configStep === CONFIG_END
              ? LD2410_COMMANDS.endConfiguration
              : -1;
    if (answered !== expected) return;
    const ok = parser.ackStatus === 0;
    if (!ok) this.configFailures++;
    switch (this.#configStep) {
      case CONFIG_ENABLE:
        // Without configuration mode nothing else is accepted; End Configuration is harmless.
        if (ok) this.#send(this.#commands.parameters, CONFIG_PARAMETERS);
        else this.#send(this.#commands.end, CONFIG_END);
        return;
      case CONFIG_PARAMETERS:
        this.#send(this.#commands.firmware, CONFIG_FIRMWARE);
        return;
      case CONFIG_FIRMWARE:
        if (ok && parser.ackDataLength >= 8) {
          // firmware type (2), major (2: minor version byte, major version byte), build (4), all LE
          const d = parser.ackData;
          this.firmwareMajor = d[3]!;
          this.firmwareMinor = d[2]!;
          this.firmwareBuild = (d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24)) >>> 0;
        }
        this.#send(this.#commands.end, CONFIG_END);
        return;
      default: // CONFIG_END
        this.configured = ok;
        this.#configStep = CONFIG_IDLE;
        this.#lastReportMs = this.#clock.monotonicMs(); // reports resume now
    }
  }

  /** Restarts or abandons a configuration whose ACK did not come. */
  #advanceConfiguration(now: number): void {
    if (this.#configStep === CONFIG_IDLE || now - this.#configSentAt <= CONFIG_ACK_TIMEOUT_MS) return;
    if (this.#configAttempts < CONFIG_ATTEMPTS) {
      this.#configAttempts++;
      this.#send(this.#commands.enable, CONFIG_ENABLE);
    } else {
      // Give up; make sure the radar is not left in configuration mode, where it does not report.
      this.#serialWrite(this.#commands.end);
      this.#configStep = CONFIG_IDLE;
      this.#lastReportMs = now;
    }
  }

  #send(frame: Uint8Array, step: number): void {
    this.#configStep = step;
    this.#configSentAt = this.#clock.monotonicMs();
    if (!this.#serialWrite(frame)) this.health.recordDrop("bus");
  }

  #serialWrite(frame: Uint8Array): boolean {
    try {
      return this.#serial.write(frame) === frame.length;
    } catch {
      return false;
    }
  }
}
