import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Pms5003 } from "../../../src/sensors/pms5003.js";
import {
  PMS_ACK,
  PMS_BAD_CHECKSUM,
  PMS_BAD_FRAME,
  PMS_FRAME,
  PMS_NEED_MORE,
  PmsFrameParser,
  pmsChecksum,
  pmsCommand,
  pmsEncodeDataFrame,
  type PmsParseResult,
} from "../../../src/sensors/pms5003-frame.js";
import { Pms5003Part, type PmSource } from "../../../hosts/sim/pms5003-part.js";
import { SimBoard, type SimSerialDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 0, 20, 8, 0, 0); // a winter weekday morning: PM well above zero

/**
 * A data frame written out by hand from the PMS5003 data manual, appendix I: start characters 42 4D, frame
 * length 2*13+2 = 28, 13 big-endian words, checksum = sum of the 30 bytes before it.
 *   PM CF=1:            5, 8, 10 µg/m³
 *   PM atmospheric:     5, 8, 10 µg/m³
 *   counts per 0.1 L:   1000 (>0.3 µm), 300, 50, 6, 2, 1 (>10 µm)
 *   reserved:           0x9700 (firmware version 0x97, error code 0)
 *   checksum:           0x42+0x4D+0x1C + 2*(5+8+10) + 0x03+0xE8+0x01+0x2C+0x32+6+2+1 + 0x97 = 0x02C3
 */
const MANUAL_FRAME = [
  0x42, 0x4d, 0x00, 0x1c, 0x00, 0x05, 0x00, 0x08, 0x00, 0x0a, 0x00, 0x05, 0x00, 0x08, 0x00, 0x0a, 0x03, 0xe8, 0x01, 0x2c, 0x00, 0x32, 0x00, 0x06,
  0x00, 0x02, 0x00, 0x01, 0x97, 0x00, 0x02, 0xc3,
];

/** Commands from the manual, appendix II (checksum = sum of the first five bytes). */
const ACTIVE_MODE = [0x42, 0x4d, 0xe1, 0x00, 0x01, 0x01, 0x71];
const PASSIVE_MODE = [0x42, 0x4d, 0xe1, 0x00, 0x00, 0x01, 0x70];
const PASSIVE_READ = [0x42, 0x4d, 0xe2, 0x00, 0x00, 0x01, 0x71];
const SLEEP = [0x42, 0x4d, 0xe4, 0x00, 0x00, 0x01, 0x73];
const WAKEUP = [0x42, 0x4d, 0xe4, 0x00, 0x01, 0x01, 0x74];
/** The part's answer to "active mode" (observed on real parts, not in the manual). */
const ACTIVE_ACK = [0x42, 0x4d, 0x00, 0x04, 0xe1, 0x01, 0x01, 0x75];

/** A frame with the given atmospheric PM values (CF=1 the same) and fixed counts. */
function frameWith(pm1: number, pm25: number, pm10: number, count03 = 1000): number[] {
  const bytes = new Uint8Array(32);
  pmsEncodeDataFrame([pm1, pm25, pm10, pm1, pm25, pm10, count03, 300, 50, 6, 2, 1, 0x9700], bytes);
  return [...bytes];
}

describe("PMS5003 frames and commands", () => {
  it("encodes the manual's commands", () => {
    expect([...pmsCommand(0xe1, 1)]).toEqual(ACTIVE_MODE);
    expect([...pmsCommand(0xe1, 0)]).toEqual(PASSIVE_MODE);
    expect([...pmsCommand(0xe2, 0)]).toEqual(PASSIVE_READ);
    expect([...pmsCommand(0xe4, 0)]).toEqual(SLEEP);
    expect([...pmsCommand(0xe4, 1)]).toEqual(WAKEUP);
  });

  it("checks the hand-written frame's checksum and encodes the same bytes", () => {
    expect(pmsChecksum(Uint8Array.from(MANUAL_FRAME), 0, 30)).toBe(0x02c3);
    expect(frameWith(5, 8, 10)).toEqual(MANUAL_FRAME);
  });

  it("parses the hand-written frame, an acknowledgement, and rejects bad ones by cause", () => {
    const parser = new PmsFrameParser();
    const bad = [...MANUAL_FRAME];
    bad[31] ^= 0x01;
    const badLength = [...MANUAL_FRAME];
    badLength[3] = 0x1d;
    const stream = Uint8Array.from([...MANUAL_FRAME, ...ACTIVE_ACK, ...bad, ...badLength, ...MANUAL_FRAME]);
    const results: PmsParseResult[] = [];
    let offset = 0;
    while (offset < stream.length) {
      offset += parser.push(stream, offset, stream.length - offset);
      for (let r = parser.next(); r !== PMS_NEED_MORE; r = parser.next()) results.push(r);
    }
    expect(results).toEqual([PMS_FRAME, PMS_ACK, PMS_BAD_CHECKSUM, PMS_BAD_FRAME, PMS_FRAME]);
    expect([...parser.words]).toEqual([5, 8, 10, 5, 8, 10, 1000, 300, 50, 6, 2, 1, 0x9700]);
    expect([parser.ackCommand, parser.ackData]).toEqual([0xe1, 1]);
    expect(parser.buffered).toBe(0);
  });

  it("calls a frame cut short by the next one a bad frame, and still finds the next one", () => {
    const parser = new PmsFrameParser();
    const stream = Uint8Array.from([...MANUAL_FRAME.slice(0, 20), ...frameWith(1, 2, 3)]);
    parser.push(stream, 0, stream.length);
    expect(parser.next()).toBe(PMS_BAD_FRAME);
    expect(parser.next()).toBe(PMS_FRAME);
    expect(parser.words[4]).toBe(2);
    expect(parser.next()).toBe(PMS_NEED_MORE);
  });
});

/** Feeds `stream` to a parser in chunks of the given sizes; returns the data frames found (as words). */
function parseInChunks(stream: Uint8Array, chunkSizes: number[], parser = new PmsFrameParser()) {
  const frames: number[][] = [];
  const errors = { checksum: 0, frame: 0 };
  let offset = 0;
  let chunk = 0;
  let steps = 0;
  let maxBuffered = 0;
  while (offset < stream.length) {
    const size = Math.min(chunkSizes[chunk++ % chunkSizes.length]!, stream.length - offset);
    const end = offset + size;
    while (offset < end) {
      offset += parser.push(stream, offset, end - offset);
      maxBuffered = Math.max(maxBuffered, parser.buffered);
      for (let r = parser.next(); r !== PMS_NEED_MORE; r = parser.next()) {
        if (r === PMS_FRAME) frames.push([...parser.words]);
        else if (r === PMS_BAD_CHECKSUM) errors.checksum++;
        else if (r === PMS_BAD_FRAME) errors.frame++;
        if (++steps > 4 * stream.length + 10) throw new Error("parser does not make progress");
      }
      if (parser.buffered > 31) throw new Error(`after NEED_MORE ${parser.buffered} bytes wait`);
    }
  }
  return { frames, errors, maxBuffered };
}

function isSubsequence(needles: number[][], haystack: number[][]): boolean {
  let i = 0;
  for (const item of haystack) if (i < needles.length && JSON.stringify(item) === JSON.stringify(needles[i])) i++;
  return i === needles.length;
}

const words13 = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 13, maxLength: 13 });
const chunkSizes = fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 10 });
const PROPERTY = { seed: 0x5003, numRuns: 300 } as const;

describe("PMS5003 frame parser, property tests", () => {
  it("never throws, never stalls and keeps its buffer on random byte streams", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), chunkSizes, (bytes, sizes) => {
        const parser = new PmsFrameParser();
        const { maxBuffered } = parseInChunks(bytes, sizes, parser);
        expect(maxBuffered).toBeLessThanOrEqual(parser.capacity);
        expect(parser.capacity).toBe(64);
      }),
      PROPERTY,
    );
  });

  it("finds every valid frame embedded in random garbage, across any chunk boundaries", () => {
    const piece = fc.record({ garbage: fc.uint8Array({ maxLength: 70 }), words: words13 });
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 12 }), fc.uint8Array({ maxLength: 40 }), chunkSizes, (pieces, tail, sizes) => {
        const stream: number[] = [];
        const frame = new Uint8Array(32);
        for (const p of pieces) {
          stream.push(...p.garbage);
          pmsEncodeDataFrame(p.words, frame);
          stream.push(...frame);
        }
        stream.push(...tail);
        const { frames } = parseInChunks(Uint8Array.from(stream), sizes);
        expect(isSubsequence(pieces.map((p) => p.words), frames)).toBe(true);
      }),
      PROPERTY,
    );
  });

  it("finds exactly the embedded frames, with no errors, when the garbage has no start character", () => {
    const noStart = fc.uint8Array({ maxLength: 70 }).map((a) => a.map((b) => (b === 0x42 ? 0x43 : b)));
    fc.assert(
      fc.property(fc.array(fc.record({ garbage: noStart, words: words13 }), { minLength: 1, maxLength: 12 }), chunkSizes, (pieces, sizes) => {
        const stream: number[] = [];
        const frame = new Uint8Array(32);
        for (const p of pieces) {
          stream.push(...p.garbage);
          pmsEncodeDataFrame(p.words, frame);
          stream.push(...frame);
        }
        const { frames, errors } = parseInChunks(Uint8Array.from(stream), sizes);
        expect(frames).toEqual(pieces.map((p) => p.words));
        expect(errors).toEqual({ checksum: 0, frame: 0 });
      }),
      PROPERTY,
    );
  });

  it("loses only the mutated frames of a stream (bit flips, dropped and inserted bytes)", () => {
    const mutation = fc.oneof(
      fc.constant(undefined),
      fc.record({ kind: fc.constant("flip" as const), at: fc.integer({ min: 0, max: 31 }), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("drop" as const), at: fc.integer({ min: 0, max: 31 }), count: fc.integer({ min: 1, max: 31 }) }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.integer({ min: 0, max: 32 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.record({ words: words13, mutation }), { minLength: 1, maxLength: 15 }), chunkSizes, (frames, sizes) => {
        const stream: number[] = [];
        const intact: number[][] = [];
        const encoded = new Uint8Array(32);
        for (const { words, mutation: m } of frames) {
          pmsEncodeDataFrame(words, encoded);
          const bytes = [...encoded];
          if (m === undefined) intact.push(words);
          else if (m.kind === "flip") bytes[m.at] ^= 1 << m.bit;
          else if (m.kind === "drop") bytes.splice(m.at, m.count);
          else bytes.splice(m.at, 0, ...m.bytes);
          stream.push(...bytes);
        }
        const found = parseInChunks(Uint8Array.from(stream), sizes).frames;
        expect(isSubsequence(intact, found)).toBe(true);
      }),
      PROPERTY,
    );
  });
});

/** A serial device that delivers scripted bytes (at most `chunk` per read) and records what the node writes. */
class ScriptedSerial implements SimSerialDevice {
  readonly writes: number[][] = [];
  pending: number[] = [];
  throwOnRead = false;
  constructor(private readonly chunk = 1024) {}
  send(bytes: number[]): void {
    this.pending.push(...bytes);
  }
  receive(bytes: Uint8Array): number {
    this.writes.push([...bytes]);
    return bytes.length;
  }
  transmit(into: Uint8Array): number {
    if (this.throwOnRead) throw new Error("UART overrun");
    const n = Math.min(into.length, this.chunk, this.pending.length);
    for (let i = 0; i < n; i++) into[i] = this.pending[i]!;
    this.pending.splice(0, n);
    return n;
  }
}

function scripted(options: { faultyAfter?: number; chunk?: number; stuckAfter?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const device = new ScriptedSerial(options.chunk);
  const board = new SimBoard();
  board.attachSerial("pm", device);
  const driver = new Pms5003({
    buses: board,
    clock,
    faultyAfter: options.faultyAfter ?? 3,
    sensor: { port: "pm" },
    ...(options.stuckAfter === undefined ? {} : { stuckAfter: options.stuckAfter }),
  });
  driver.configure();
  const tick = (bytes: number[] = []) => {
    clock.advanceBy(1000);
    device.send(bytes);
    return driver.sample();
  };
  return { clock, device, board, driver, tick };
}

describe("PMS5003 driver on bytes from the manual", () => {
  it("wakes the part and selects active mode on configure()", () => {
    const { device } = scripted();
    expect(device.writes).toEqual([WAKEUP, ACTIVE_MODE]);
  });

  it("reads the atmospheric PM values of the hand-written frame", () => {
    const { driver, tick } = scripted();
    const values = tick(MANUAL_FRAME);
    expect(values).toBeDefined();
    expect([...values!]).toEqual([5, 8, 10]);
    expect(driver.health.readings).toBe(1);
    expect(driver.link.frames).toBe(1);
  });

  it("reports the atmospheric values, not the CF=1 ones", () => {
    const { tick } = scripted();
    const bytes = new Uint8Array(32);
    pmsEncodeDataFrame([40, 60, 80, 30, 45, 60, 5000, 1500, 300, 20, 5, 1, 0x9700], bytes);
    expect([...tick([...bytes])!]).toEqual([30, 45, 60]);
  });

  it("takes a frame split across samples: not-ready (no failure) first, the reading next", () => {
    const { driver, tick } = scripted({ chunk: 7 });
    expect(tick(MANUAL_FRAME.slice(0, 13))).toBeUndefined();
    expect(driver.health.drops["not-ready"]).toBe(1);
    expect(driver.health.consecutiveFailures).toBe(0);
    expect([...tick(MANUAL_FRAME.slice(13))!]).toEqual([5, 8, 10]);
  });

  it("uses the newest of several frames and counts the older ones as superseded, not as readings", () => {
    const { driver, tick } = scripted();
    expect([...tick([...frameWith(1, 2, 3), ...frameWith(4, 5, 6), ...frameWith(7, 8, 9)])!]).toEqual([7, 8, 9]);
    expect(driver.health.readings).toBe(1);
    expect(driver.link.framesSuperseded).toBe(2);
    expect(driver.health.totalDrops).toBe(0);
  });

  it("ignores the part's acknowledgement of a command", () => {
    const { driver, tick } = scripted();
    expect(tick(ACTIVE_ACK)).toBeUndefined();
    expect(driver.link.acks).toBe(1);
    expect(driver.health.drops["not-ready"]).toBe(1);
    expect(driver.health.consecutiveFailures).toBe(0);
  });

  it("drops a frame with a wrong checksum as 'checksum'", () => {
    const { driver, tick } = scripted();
    const bad = [...MANUAL_FRAME];
    bad[12] ^= 0x10; // PM2.5 CF=1 changed in transit
    expect(tick(bad)).toBeUndefined();
    expect(driver.health.drops.checksum).toBe(1);
    expect(driver.health.readings).toBe(0);
  });

  it("drops a wrong frame length as 'frame' and still reads a good frame right behind it", () => {
    const { driver, tick } = scripted();
    const badLength = [...MANUAL_FRAME];
    badLength[3] = 0x1e;
    expect([...tick([...badLength, ...frameWith(3, 4, 5)])!]).toEqual([3, 4, 5]);
    expect(driver.health.drops.frame).toBe(1);
    expect(driver.health.consecutiveFailures).toBe(0);
  });

  it("drops a truncated frame as 'frame'", () => {
    const { driver, tick } = scripted();
    expect(tick(MANUAL_FRAME.slice(0, 20))).toBeUndefined();
    expect([...tick(MANUAL_FRAME)!]).toEqual([5, 8, 10]);
    expect(driver.health.drops.frame).toBe(1);
  });

  it("drops garbage without a frame as 'frame', once per sample, but not garbage next to a good frame", () => {
    const { driver, tick } = scripted();
    const garbage = [0x00, 0xff, 0x13, 0x37, 0x4d, 0x42, 0x00, 0x99, 0x10, 0x20];
    expect(tick([...garbage, ...garbage, ...garbage])).toBeUndefined();
    expect(driver.health.drops.frame).toBe(1);
    expect(tick([...garbage, ...MANUAL_FRAME, ...garbage])).toBeDefined();
    expect(driver.health.drops.frame).toBe(1);
    expect(driver.link.bytesSkipped).toBeGreaterThanOrEqual(2 * garbage.length);
  });

  it("drops a value above 1000 µg/m³ as 'range'", () => {
    const { driver, tick } = scripted();
    expect(tick(frameWith(10, 20, 1001))).toBeUndefined();
    expect(driver.health.drops.range).toBe(1);
    expect([...tick(frameWith(10, 20, 1000))!]).toEqual([10, 20, 1000]);
  });

  it("is not-ready while frames are merely not due, then counts silence as 'bus' once per sample", () => {
    const { driver, tick } = scripted({ faultyAfter: 3 });
    expect(tick(MANUAL_FRAME)).toBeDefined();
    for (let i = 0; i < 4; i++) tick(); // 1..4 s without a frame: within the 5 s timeout
    expect(driver.health.drops["not-ready"]).toBe(4);
    expect(driver.health.drops.bus).toBe(0);
    tick(); // 5 s
    expect(driver.health.drops.bus).toBe(1);
    tick();
    tick();
    expect(driver.health.drops.bus).toBe(3);
    expect(driver.health.faulty).toBe(true);
    expect(tick(frameWith(1, 2, 3))).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("counts a failing port as 'bus' and never throws", () => {
    const { device, driver, tick } = scripted();
    device.throwOnRead = true;
    expect(() => tick(MANUAL_FRAME)).not.toThrow();
    expect(driver.health.drops.bus).toBe(1);
    device.throwOnRead = false;
    expect(tick()).toBeDefined();
  });

  it("drops identical frames as 'stuck' after stuckAfter of them, and takes the next different one", () => {
    const { driver, tick } = scripted({ stuckAfter: 4 });
    for (let i = 0; i < 4; i++) expect(tick(MANUAL_FRAME)).toBeDefined();
    expect(tick(MANUAL_FRAME)).toBeUndefined();
    expect(tick(MANUAL_FRAME)).toBeUndefined();
    expect(driver.health.drops.stuck).toBe(2);
    // Only a particle count differs: the PM values may stay put in clean air, the counts do not.
    expect([...tick(frameWith(5, 8, 10, 1001))!]).toEqual([5, 8, 10]);
  });

  it("puts the part to sleep on close() and closes the port", () => {
    const { board, device, driver } = scripted();
    driver.close();
    expect(device.writes.at(-1)).toEqual(SLEEP);
    expect(() => board.openSerial({ port: "pm", baud: 9600 }).close()).not.toThrow();
    expect(() => driver.close()).not.toThrow();
    expect(() => driver.sample()).not.toThrow();
  });

  it("rejects nonsense options", () => {
    const board = new SimBoard();
    board.attachSerial("pm", new ScriptedSerial());
    const clock = new SimClock({ startWallMs: START });
    expect(() => new Pms5003({ buses: board, clock, sensor: { port: "pm" }, stuckAfter: -1 })).toThrow(RangeError);
    expect(() => new Pms5003({ buses: board, clock, sensor: { port: "pm" }, timeoutMs: 10 })).toThrow(RangeError);
  });

  it("never throws on any byte stream split over samples, and reads the last clean frame", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), words13, fc.array(fc.integer({ min: 0, max: 500 }), { maxLength: 6 }), fc.integer({ min: 1, max: 40 }), (noise, words, cuts, chunk) => {
        const pm = words.slice();
        pm[3] = pm[3]! % 1001;
        pm[4] = pm[4]! % 1001;
        pm[5] = pm[5]! % 1001;
        const frame = new Uint8Array(32);
        pmsEncodeDataFrame(pm, frame);
        const stream = [...noise, ...frame];
        const { driver, tick } = scripted({ chunk });
        let last: number[] | undefined;
        let from = 0;
        for (const cut of [...cuts, stream.length].sort((a, b) => a - b)) {
          const to = Math.min(cut, stream.length);
          if (to <= from) continue;
          const values = tick(stream.slice(from, to));
          if (values !== undefined) last = [...values];
          from = to;
        }
        expect(last).toEqual([pm[3], pm[4], pm[5]]);
        expect(driver.health.readings).toBeGreaterThanOrEqual(1);
      }),
      { seed: 0x5003, numRuns: 200 },
    );
  });
});

const FIXED_AIR: PmSource = { pm1: () => 8.2, pm25: () => 12.4, pm10: () => 19.6 };

function simulated(options: { noise?: number; faultyAfter?: number; stuckAfter?: number; activity?: PmSource } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new Pms5003Part({ clock, activity: options.activity ?? FIXED_AIR, seed: "pms-test", gain: 1, noiseScale: options.noise ?? 0 });
  const board = new SimBoard();
  board.attachSerial("pm", part);
  const driver = new Pms5003({
    buses: board,
    clock,
    faultyAfter: options.faultyAfter ?? 3,
    sensor: { port: "pm" },
    ...(options.stuckAfter === undefined ? {} : { stuckAfter: options.stuckAfter }),
  });
  driver.configure();
  const tick = () => {
    clock.advanceBy(1000);
    return driver.sample();
  };
  /** Samples `seconds` times; returns how many samples gave a reading. */
  const run = (seconds: number) => {
    let readings = 0;
    for (let i = 0; i < seconds; i++) if (tick() !== undefined) readings++;
    return readings;
  };
  return { clock, part, board, driver, tick, run };
}

describe("PMS5003 driver against the simulated part", () => {
  it("reads the air the part is in, and its acknowledgement of active mode", () => {
    const { driver, run, tick } = simulated();
    run(3);
    const values = tick() ?? tick();
    expect([...values!]).toEqual([8, 12, 20]);
    expect(driver.link.acks).toBe(1);
  });

  it("follows the street with noise, about one reading a second, without failures", () => {
    const activity = new StreetActivity({ seed: "street", siteSeed: "site-1" });
    const { clock, driver, part, tick } = simulated({ noise: 1, activity });
    let readings = 0;
    for (let i = 0; i < 120; i++) {
      const values = tick();
      if (values === undefined) continue;
      readings++;
      const truth = activity.pm25(clock.wallMs());
      expect(Math.abs(values[1]! - truth)).toBeLessThanOrEqual(Math.max(10, 0.1 * truth) + 1);
      expect(values[0]!).toBeLessThanOrEqual(values[1]!);
      expect(values[1]!).toBeLessThanOrEqual(values[2]!);
    }
    expect(readings).toBeGreaterThanOrEqual(95);
    expect(driver.health.totalDrops - driver.health.drops["not-ready"]).toBe(0);
    expect(driver.health.faulty).toBe(false);
    // Frames come every 0.8-1.2 s and samples every 1 s: some samples see two, some none.
    expect(part.stats.frames - driver.link.frames).toBeLessThanOrEqual(1); // one may be on the wire right now
    expect(driver.link.frames).toBe(readings + driver.link.framesSuperseded);
  });

  it("reuses one values array (no allocation per reading)", () => {
    const { run, tick } = simulated({ noise: 1 });
    run(2);
    const first = tick() ?? tick();
    run(1);
    const second = tick() ?? tick();
    expect(first).toBeDefined();
    expect(second).toBe(first);
  });

  it("fault 'checksum': drops counted, faulty after N, recovers after clearFaults()", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("checksum", { count: 100 });
    expect(() => run(6)).not.toThrow();
    expect(driver.health.drops.checksum).toBeGreaterThanOrEqual(4);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'truncated': drops counted as 'frame', faulty after N, recovers", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("truncated", { count: 100, bytes: 24 });
    expect(run(8)).toBe(0);
    expect(driver.health.drops.frame).toBeGreaterThanOrEqual(4);
    expect(driver.health.drops.checksum).toBe(0);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'garbage': the bytes between frames are skipped and no reading is lost", () => {
    const { part, driver, run } = simulated();
    run(3);
    const before = driver.health.readings;
    part.injectFault("garbage", { count: 10, bytes: 24 });
    const readings = run(12);
    expect(readings).toBeGreaterThanOrEqual(9);
    expect(driver.health.readings - before).toBe(readings);
    expect(driver.link.bytesSkipped).toBeGreaterThanOrEqual(200);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'silence': 'bus' after the timeout, faulty after N, recovers", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("silence");
    expect(run(10)).toBe(0);
    expect(driver.health.drops.bus).toBeGreaterThanOrEqual(4);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'unplugged': 'bus', faulty after N, recovers when plugged back in", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("unplugged");
    expect(run(10)).toBe(0);
    expect(driver.health.drops.bus).toBeGreaterThanOrEqual(4);
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.faultEpisodes).toBe(1);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'stuck': dropped as 'stuck' after stuckAfter identical frames, recovers", () => {
    const { part, driver, run } = simulated({ noise: 1, stuckAfter: 5 });
    run(3);
    part.injectFault("stuck");
    expect(run(15)).toBeLessThanOrEqual(7);
    expect(driver.health.drops.stuck).toBeGreaterThanOrEqual(5);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'out-of-range': dropped as 'range', faulty after N, recovers", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("out-of-range", { count: 100 });
    expect(run(8)).toBe(0);
    expect(driver.health.drops.range).toBeGreaterThanOrEqual(4);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    expect(run(3)).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });

  it("fault 'noise-burst': garbled frames dropped as checksum/frame, faulty, recovers after the burst", () => {
    const { part, driver, run } = simulated();
    run(3);
    part.injectFault("noise-burst", { durationMs: 10_000, byteErrorRate: 0.5 });
    expect(() => run(10)).not.toThrow();
    expect(driver.health.drops.checksum + driver.health.drops.frame).toBeGreaterThanOrEqual(4);
    expect(driver.health.faulty).toBe(true);
    expect(run(4)).toBeGreaterThan(0); // the burst is over
    expect(driver.health.faulty).toBe(false);
  });

  it("sleeps on close() and wakes on the next configure()", () => {
    const { board, clock, part, driver, run } = simulated();
    run(2);
    driver.close();
    expect(part.isAwake).toBe(false);
    clock.advanceBy(5000);
    const again = new Pms5003({ buses: board, clock, sensor: { port: "pm" } });
    again.configure();
    expect(part.isAwake).toBe(true);
    expect(part.mode).toBe("active");
    let values: Float64Array | undefined;
    for (let i = 0; i < 3 && values === undefined; i++) {
      clock.advanceBy(1000);
      values = again.sample();
    }
    expect([...values!]).toEqual([8, 12, 20]);
  });
});
