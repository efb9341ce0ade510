/**
 * Plantower PMS5003 particulate matter sensor on a UART at 9600 baud, 8N1 (PMS5003 series data manual).
 *
 * The part counts particles with a laser and a fan and, in its default active mode, sends a 32-byte frame
 * about once a second (200-800 ms apart while the concentration changes fast, up to 2.3 s when it is
 * stable): PM1.0, PM2.5 and PM10 in µg/m³ twice ("CF=1" for factory environments and "under atmospheric
 * environment"), six particle counts and a checksum; see `pms5003-frame.ts`. This driver reports the
 * atmospheric-environment values, the ones meant for outdoor air.
 *
 * Why it works the way it does:
 * - The part talks on its own, so nothing is requested: `configure()` wakes it (it may have been put to
 *   sleep by a previous `close()`) and puts it in active mode; each `sample()` reads the port until it is
 *   empty (at most 2048 bytes, twice what the line carries in a second, so a babbling port cannot hold the
 *   node) through a fixed 32-byte chunk, feeds the frame parser and keeps the newest valid frame.
 * - One reading per sample. When several frames arrived since the last sample (the part is faster than
 *   the sampling interval now and then), the newest one is the reading and the older ones are
 *   superseded: counted in `link.framesSuperseded`, neither readings nor drops. Passing them on would
 *   give the window more values for the same second, and since frames are moving averages they would not
 *   be independent readings anyway.
 * - Every rejected frame is a dropped reading: "checksum" for a wrong checksum, "frame" for an impossible
 *   length or a frame cut short by the next one. Bytes that do not even look like a frame count as one
 *   "frame" drop per sample, and only when no frame came at all (line noise between good frames is not a
 *   lost reading).
 * - No frame yet is "not-ready" (not a failure) until `timeoutMs` has passed without a valid frame; then
 *   each sample without one counts once as "bus" (silence: unplugged, asleep, broken wire) or as "frame"
 *   (bytes arrive but never a whole frame).
 * - Stuck detection fingerprints all 13 words of every valid frame. The PM values are whole µg/m³ and sit
 *   on the same number for minutes in clean air, so they alone would raise false alarms; the six
 *   particle counts carry counting noise (hundreds of particles > 0.3 µm per 0.1 L even in clean air) and
 *   change from frame to frame in a working part. A firmware that repeats one frame for `stuckAfter`
 *   frames (600, about 10 minutes at one frame a second) has stopped measuring. Superseded frames are
 *   fingerprinted too, so the limit counts frames whatever the sampling interval.
 * - The part answers the mode command with an 8-byte acknowledgement (length field 4); it is counted in
 *   `link.acks`, not as a bad frame.
 * - Values above 1000 µg/m³ (the manual: effective range 0-500, maximum at least 1000) are "range" drops.
 *
 * Example:
 *   const pms = new Pms5003({ buses, clock, sensor: { port: "pm" } });
 *   pms.configure();
 *   // ... every second
 *   const values = pms.sample(); // Float64Array [pm1, pm2_5, pm10] µg/m³, or undefined
 */
import type { Clock, Serial } from "../platform.js";
import {
  PMS_ACK,
  PMS_BAD_CHECKSUM,
  PMS_BAD_FRAME,
  PMS_COMMAND,
  PMS_DATA_FRAME_BYTES,
  PMS_DATA_WORDS,
  PMS_FRAME,
  PMS_NEED_MORE,
  PMS_WORD,
  PmsFrameParser,
  pmsCommand,
} from "./pms5003-frame.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";
import { StuckDetector } from "./stuck-detector.js";

export const PMS5003_BAUD = 9600;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  // The manual: effective range 0-500 µg/m³, maximum range at least 1000 µg/m³.
  { quantity: "pm1", kind: "level", unit: "ug/m3", min: 0, max: 1000 },
  { quantity: "pm2_5", kind: "level", unit: "ug/m3", min: 0, max: 1000 },
  { quantity: "pm10", kind: "level", unit: "ug/m3", min: 0, max: 1000 },
];
const MAX_UG_M3 = 1000;

/** Bytes read per sample at most: twice what 9600 baud carries in a second. */
const MAX_BYTES = 2048;
/** Port reads per sample at most, for a port that hands out a few bytes at a time. */
const MAX_READS = 512;

export interface Pms5003Options extends DriverContext {
  readonly sensor: { readonly port: string };
  /**
   * Identical frames in a row (all 13 words) after which the part counts as stuck; default 600, about
   * 10 minutes at one frame a second (see the file comment for why so long). 0 disables.
   */
  readonly stuckAfter?: number;
  /**
   * Milliseconds without a valid frame after which a sample without one is a failure rather than
   * "not-ready"; default 5000: twice the longest frame interval of the manual (2.3 s).
   */
  readonly timeoutMs?: number;
}

/** What came over the line, since construction. */
export interface Pms5003LinkStats {
  bytesReceived: number;
  /** Bytes skipped while looking for a frame start. */
  bytesSkipped: number;
  /** Valid data frames. */
  frames: number;
  /** Valid frames replaced by a newer one within the same sample. */
  framesSuperseded: number;
  /** Command acknowledgements from the part. */
  acks: number;
}

export class Pms5003 implements SensorDriver {
  readonly part = "pms5003";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  readonly link: Pms5003LinkStats = { bytesReceived: 0, bytesSkipped: 0, frames: 0, framesSuperseded: 0, acks: 0 };
  readonly #serial: Serial;
  readonly #clock: Clock;
  readonly #timeoutMs: number;
  readonly #stuck: StuckDetector;
  readonly #parser = new PmsFrameParser();
  readonly #chunk = new Uint8Array(PMS_DATA_FRAME_BYTES);
  readonly #values = new Float64Array(3);
  readonly #wakeup = pmsCommand(PMS_COMMAND.sleep, 1);
  readonly #activeMode = pmsCommand(PMS_COMMAND.mode, 1);
  readonly #sleep = pmsCommand(PMS_COMMAND.sleep, 0);
  #lastFrameMs = 0;
  #closed = false;
  // The newest valid frame of the current sample.
  #pm1 = 0;
  #pm25 = 0;
  #pm10 = 0;
  #newestStuck = false;

  constructor(options: Pms5003Options) {
    const stuckAfter = options.stuckAfter ?? 600;
    if (!Number.isInteger(stuckAfter) || stuckAfter < 0) throw new RangeError("stuckAfter must be an integer >= 0");
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!(timeoutMs >= 1000 && timeoutMs <= 600_000)) throw new RangeError("timeoutMs must be 1000..600000");
    this.health = new SensorHealth(options.faultyAfter ?? 5);
    this.#stuck = new StuckDetector(stuckAfter);
    this.#timeoutMs = timeoutMs;
    this.#clock = options.clock;
    this.#serial = options.buses.openSerial({ port: options.sensor.port, baud: PMS5003_BAUD });
    this.#lastFrameMs = this.#clock.monotonicMs();
  }

  configure(): void {
    this.#parser.reset();
    this.#stuck.reset();
    this.#lastFrameMs = this.#clock.monotonicMs();
    if (!this.#send(this.#wakeup) || !this.#send(this.#activeMode)) this.health.recordDrop("bus");
  }

  sample(): Float64Array | undefined {
    const parser = this.#parser;
    const health = this.health;
    const chunk = this.#chunk;
    const skippedBefore = parser.skippedBytes;
    let received = 0;
    let frames = 0;
    let badChecksums = 0;
    let badFrames = 0;
    let readFailed = false;
    try {
      for (let reads = 0; reads < MAX_READS; reads++) {
        let n = this.#serial.read(chunk);
        if (!(n > 0)) break;
        if (n > chunk.length) n = chunk.length;
        received += n;
        let offset = 0;
        while (offset < n) {
          offset += parser.push(chunk, offset, n - offset);
          for (let result = parser.next(); result !== PMS_NEED_MORE; result = parser.next()) {
            if (result === PMS_FRAME) {
              frames++;
              this.#takeFrame();
            } else if (result === PMS_BAD_CHECKSUM) badChecksums++;
            else if (result === PMS_BAD_FRAME) badFrames++;
            else if (result === PMS_ACK) this.link.acks++;
          }
        }
        if (received >= MAX_BYTES) break;
      }
    } catch {
      readFailed = true; // a closed or failing port; what was parsed before still counts
    }
    const skipped = parser.skippedBytes - skippedBefore;
    const link = this.link;
    link.bytesReceived += received;
    link.bytesSkipped += skipped;
    link.frames += frames;
    for (let i = 0; i < badChecksums; i++) health.recordDrop("checksum");
    for (let i = 0; i < badFrames; i++) health.recordDrop("frame");

    const now = this.#clock.monotonicMs();
    if (frames > 0) {
      link.framesSuperseded += frames - 1;
      this.#lastFrameMs = now;
      return this.#reading();
    }
    if (badChecksums + badFrames > 0) return undefined;
    if (readFailed) health.recordDrop("bus");
    else if (skipped > 0) health.recordDrop("frame");
    else if (now - this.#lastFrameMs >= this.#timeoutMs) health.recordDrop(received > 0 ? "frame" : "bus");
    else health.recordDrop("not-ready");
    return undefined;
  }

  /** Puts the part to sleep (fan and laser off) and closes the port. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#send(this.#sleep);
    try {
      this.#serial.close();
    } catch {
      // closing a failed port is as good as closing it
    }
  }

  /** Notes the frame the parser just found as the newest of this sample. */
  #takeFrame(): void {
    const words = this.#parser.words;
    let fingerprint = 0x811c9dc5; // FNV-1a over the 13 words
    for (let i = 0; i < PMS_DATA_WORDS; i++) fingerprint = Math.imul(fingerprint ^ words[i]!, 0x01000193);
    this.#newestStuck = this.#stuck.isStuck(fingerprint >>> 0);
    this.#pm1 = words[PMS_WORD.pm1]!;
    this.#pm25 = words[PMS_WORD.pm25]!;
    this.#pm10 = words[PMS_WORD.pm10]!;
  }

  #reading(): Float64Array | undefined {
    if (this.#newestStuck) {
      this.health.recordDrop("stuck");
      return undefined;
    }
    if (this.#pm1 > MAX_UG_M3 || this.#pm25 > MAX_UG_M3 || this.#pm10 > MAX_UG_M3) {
      this.health.recordDrop("range");
      return undefined;
    }
    const values = this.#values;
    values[0] = this.#pm1;
    values[1] = this.#pm25;
    values[2] = this.#pm10;
    this.health.recordReading();
    return values;
  }

  /** Writes a command; false when the port refused it or threw. */
  #send(command: Uint8Array): boolean {
    try {
      return this.#serial.write(command) === command.length;
    } catch {
      return false;
    }
  }
}
