import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EntryCounter, Ld2410, type Ld2410Options } from "../../../src/sensors/ld2410.js";
import { LD2410_ACK, LD2410_NONE, LD2410_REPORT, Ld2410FrameParser } from "../../../src/sensors/ld2410-frame.js";
import { Ld2410Part, pedestrianAt, type PedestrianSource } from "../../../hosts/sim/ld2410-part.js";
import { SimBoard, type SimSerialDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity, type PedestrianPass } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 6, 15, 15, 0, 0); // a Wednesday, 16:00 local

// Frame builders, after the layouts of the HLK-LD2410 serial communication protocol V1.02.

interface ReportFields {
  readonly state: number;
  readonly movingCm: number;
  readonly movingEnergy: number;
  readonly stationaryCm: number;
  readonly stationaryEnergy: number;
  readonly detectionCm: number;
  /** Engineering mode: per-gate energies (their lengths give M+1 and S+1) and the additional bytes. */
  readonly engineering?: { readonly moving: readonly number[]; readonly stationary: readonly number[]; readonly extra: readonly number[] };
}

const le16 = (v: number): number[] => [v & 0xff, (v >> 8) & 0xff];

function reportFrame(f: ReportFields): number[] {
  const target = [f.state, ...le16(f.movingCm), f.movingEnergy, ...le16(f.stationaryCm), f.stationaryEnergy, ...le16(f.detectionCm)];
  const e = f.engineering;
  const data = e
    ? [0x01, 0xaa, ...target, e.moving.length - 1, e.stationary.length - 1, ...e.moving, ...e.stationary, ...e.extra, 0x55, 0x00]
    : [0x02, 0xaa, ...target, 0x55, 0x00];
  return [0xf4, 0xf3, 0xf2, 0xf1, ...le16(data.length), ...data, 0xf8, 0xf7, 0xf6, 0xf5];
}

function ackFrame(command: number, status: number, values: readonly number[] = []): number[] {
  const data = [...le16(command | 0x0100), ...le16(status), ...values];
  return [0xfd, 0xfc, 0xfb, 0xfa, ...le16(data.length), ...data, 0x04, 0x03, 0x02, 0x01];
}

/** A moving target at `cm` whose energy changes from frame to frame, as a real one's does. */
function movingAt(cm: number, tMs: number): number[] {
  return reportFrame({ state: 1, movingCm: cm, movingEnergy: 40 + (Math.round(tMs / 100) % 50), stationaryCm: 0, stationaryEnergy: 0, detectionCm: cm });
}

const EMPTY = reportFrame({ state: 0, movingCm: 0, movingEnergy: 0, stationaryCm: 0, stationaryEnergy: 0, detectionCm: 0 });

/** Parses `bytes` in one go; returns the kinds found. */
function parseAll(parser: Ld2410FrameParser, bytes: readonly number[]): number[] {
  const kinds: number[] = [];
  const input = Uint8Array.from(bytes);
  let offset = 0;
  for (;;) {
    for (let kind = parser.next(); kind !== LD2410_NONE; kind = parser.next()) kinds.push(kind);
    if (offset >= input.length) return kinds;
    const n = Math.min(parser.free, input.length - offset);
    parser.push(input.subarray(offset, offset + n), n);
    offset += n;
  }
}

describe("LD2410 frame parser on the protocol's bytes", () => {
  it("decodes the basic report example of the protocol description", () => {
    // Protocol V1.02, "target basic information" example. Bytes after the header: length 0x000D = 13,
    // type 0x02 (basic), head 0xAA, state 0x02 (stationary), moving distance 0x0051 = 81 cm, moving
    // energy 0, stationary distance 0x0000 = 0 cm, stationary energy 0x3B = 59, detection distance 0,
    // tail 0x55, check 0x00. (The example itself reports a stationary target at 0 cm and a leftover
    // moving distance without energy; the fields are taken as the layout says.)
    const parser = new Ld2410FrameParser();
    const kinds = parseAll(parser, [0xf4, 0xf3, 0xf2, 0xf1, 0x0d, 0x00, 0x02, 0xaa, 0x02, 0x51, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x00, 0x55, 0x00, 0xf8, 0xf7, 0xf6, 0xf5]);
    expect(kinds).toEqual([LD2410_REPORT]);
    expect(parser).toMatchObject({ dataType: 2, targetState: 2, movingCm: 81, movingEnergy: 0, stationaryCm: 0, stationaryEnergy: 59, detectionCm: 0 });
    expect(parser.maxMovingGate).toBe(-1);
    expect(parser.badFrames + parser.discardedBytes).toBe(0);
  });

  it("decodes the engineering report example (length 0x23 = 35)", () => {
    // Protocol V1.02, engineering mode example: basic target data, then max moving gate 8, max
    // stationary gate 8, 9 moving gate energies, 9 stationary gate energies, 2 additional bytes.
    const bytes = [
      0xf4, 0xf3, 0xf2, 0xf1, 0x23, 0x00, 0x01, 0xaa, 0x03, 0x1e, 0x00, 0x3c, 0x00, 0x00, 0x39, 0x00, 0x00, 0x08, 0x08,
      0x3c, 0x22, 0x05, 0x03, 0x03, 0x04, 0x03, 0x06, 0x05, 0x00, 0x00, 0x39, 0x10, 0x13, 0x06, 0x06, 0x08, 0x04, 0x03, 0x05,
      0x55, 0x00, 0xf8, 0xf7, 0xf6, 0xf5,
    ];
    const parser = new Ld2410FrameParser();
    expect(parseAll(parser, bytes)).toEqual([LD2410_REPORT]);
    expect(parser).toMatchObject({ dataType: 1, targetState: 3, movingCm: 30, movingEnergy: 60, stationaryCm: 0, stationaryEnergy: 57, detectionCm: 0 });
    expect([parser.maxMovingGate, parser.maxStationaryGate]).toEqual([8, 8]);
    expect(Array.from(parser.movingGateEnergy)).toEqual([0x3c, 0x22, 0x05, 0x03, 0x03, 0x04, 0x03, 0x06, 0x05]);
    expect(Array.from(parser.stationaryGateEnergy)).toEqual([0x00, 0x00, 0x39, 0x10, 0x13, 0x06, 0x06, 0x08, 0x04]);
  });

  it("decodes the ACK examples: enable configuration and firmware version", () => {
    const parser = new Ld2410FrameParser();
    // Enable configuration ACK: command 0x01FF, status 0, protocol version 1, buffer size 0x40.
    expect(parseAll(parser, [0xfd, 0xfc, 0xfb, 0xfa, 0x08, 0x00, 0xff, 0x01, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x04, 0x03, 0x02, 0x01])).toEqual([LD2410_ACK]);
    expect([parser.ackCommand, parser.ackStatus, parser.ackDataLength]).toEqual([0x01ff, 0, 4]);
    expect(Array.from(parser.ackData.subarray(0, 4))).toEqual([0x01, 0x00, 0x40, 0x00]);
    // Read firmware version ACK: type 0x0100, major 0x0107, build bytes 16 15 09 22. The description
    // calls this V1.07.22091615, but its bytes read little-endian (as every other field) as 0x22091516.
    expect(parseAll(parser, [0xfd, 0xfc, 0xfb, 0xfa, 0x0c, 0x00, 0xa0, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x16, 0x15, 0x09, 0x22, 0x04, 0x03, 0x02, 0x01])).toEqual([LD2410_ACK]);
    expect(parser.ackCommand).toBe(0x01a0);
    expect(Array.from(parser.ackData.subarray(0, 8))).toEqual([0x00, 0x01, 0x07, 0x01, 0x16, 0x15, 0x09, 0x22]);
  });

  it.each([
    ["a bad frame tail", 20, 0xf9],
    ["a bad head (not 0xAA)", 7, 0xab],
    ["a bad intra-frame tail (not 0x55)", 17, 0x54],
    ["a bad check byte (not 0x00)", 18, 0x01],
    ["a basic frame with a wrong length", 4, 0x0e],
    ["an absurd length", 5, 0x7f],
    ["an unknown data type", 6, 0x03],
    ["a target state above 3", 8, 0x04],
  ])("rejects %s as a bad frame and still finds the next frame", (_what, index, value) => {
    const bad = movingAt(120, 0);
    bad[index] = value;
    const parser = new Ld2410FrameParser();
    const good = movingAt(250, 100);
    expect(parseAll(parser, [...bad, ...good, ...new Array<number>(80).fill(0)])).toEqual([LD2410_REPORT]);
    expect(parser.movingCm).toBe(250);
    expect(parser.badFrames).toBeGreaterThanOrEqual(1);
  });

  it("skips garbage and partial headers before a frame, and waits for a frame split across reads", () => {
    const parser = new Ld2410FrameParser();
    const frame = movingAt(333, 0);
    expect(parseAll(parser, [0x00, 0xf4, 0xf3, 0x12, 0xfd, 0xfc, 0x99, 0xf4, ...frame.slice(0, 10)])).toEqual([]);
    expect(parser.discardedBytes).toBe(8); // all but the frame's own bytes
    expect(parser.buffered).toBe(10);
    expect(parseAll(parser, frame.slice(10))).toEqual([LD2410_REPORT]);
    expect(parser.movingCm).toBe(333);
    expect(parser.buffered).toBe(0);
  });

  it("rejects a cut engineering frame whose claimed length reaches the tail of the next basic frame", () => {
    // 22 bytes of an engineering frame (35 data bytes claimed), then a basic frame (23 bytes): the cut
    // frame's claimed tail is exactly the basic frame's tail, and its 0x55 0x00 are the basic frame's.
    const engineering = reportFrame({
      state: 1, movingCm: 100, movingEnergy: 50, stationaryCm: 0, stationaryEnergy: 0, detectionCm: 100,
      engineering: { moving: new Array<number>(9).fill(5), stationary: new Array<number>(9).fill(5), extra: [0, 0] },
    });
    const parser = new Ld2410FrameParser();
    expect(parseAll(parser, [...engineering.slice(0, 22), ...movingAt(444, 0)])).toEqual([LD2410_REPORT]);
    expect([parser.dataType, parser.movingCm]).toEqual([2, 444]);
  });
});

// Property tests of the parser.

const energy = fc.integer({ min: 0, max: 100 });
const reportArb: fc.Arbitrary<ReportFields> = fc.record({
  state: fc.integer({ min: 0, max: 3 }),
  movingCm: fc.integer({ min: 0, max: 0xffff }),
  movingEnergy: energy,
  stationaryCm: fc.integer({ min: 0, max: 0xffff }),
  stationaryEnergy: energy,
  detectionCm: fc.integer({ min: 0, max: 0xffff }),
  engineering: fc.option(
    fc.record({
      moving: fc.array(energy, { minLength: 1, maxLength: 9 }),
      stationary: fc.array(energy, { minLength: 1, maxLength: 9 }),
      extra: fc.array(energy, { maxLength: 2 }),
    }),
    { nil: undefined },
  ),
});
const ackArb = fc.record({ command: fc.integer({ min: 0, max: 0xffff }), status: fc.integer({ min: 0, max: 1 }), values: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 20 }) });
type Expected = { kind: "report"; fields: ReportFields } | { kind: "ack"; command: number; status: number; values: number[] };
const frameArb: fc.Arbitrary<{ bytes: number[]; expected: Expected }> = fc.oneof(
  reportArb.map((fields) => ({ bytes: reportFrame(fields), expected: { kind: "report", fields } as Expected })),
  ackArb.map((a) => ({ bytes: ackFrame(a.command, a.status, a.values), expected: { kind: "ack", command: a.command | 0x0100, status: a.status, values: a.values } as Expected })),
);
/** Garbage: random bytes, header fragments, and cut-off frames. */
const garbageArb = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }),
  fc.constantFrom([0xf4], [0xf4, 0xf3], [0xf4, 0xf3, 0xf2], [0xfd, 0xfc, 0xfb], [0xf4, 0xf3, 0xf2, 0xf1, 0x0d, 0x00]),
  fc.tuple(frameArb, fc.nat()).map(([f, cut]) => f.bytes.slice(0, 1 + (cut % (f.bytes.length - 1)))),
);
const chunksArb = fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 20 });

/** Feeds `stream` in chunks of the given sizes (cycled), collecting what the parser finds. */
function feed(parser: Ld2410FrameParser, stream: readonly number[], chunks: readonly number[]): Expected[] {
  const found: Expected[] = [];
  const bytes = Uint8Array.from(stream);
  const take = (): void => {
    for (let kind = parser.next(); kind !== LD2410_NONE; kind = parser.next()) {
      if (kind === LD2410_REPORT) {
        const engineering =
          parser.dataType === 1
            ? {
                moving: Array.from(parser.movingGateEnergy.subarray(0, parser.maxMovingGate + 1)),
                stationary: Array.from(parser.stationaryGateEnergy.subarray(0, parser.maxStationaryGate + 1)),
              }
            : undefined;
        found.push({
          kind: "report",
          fields: {
            state: parser.targetState,
            movingCm: parser.movingCm,
            movingEnergy: parser.movingEnergy,
            stationaryCm: parser.stationaryCm,
            stationaryEnergy: parser.stationaryEnergy,
            detectionCm: parser.detectionCm,
            ...(engineering ? { engineering: { ...engineering, extra: [] } } : {}),
          },
        });
      } else {
        found.push({ kind: "ack", command: parser.ackCommand, status: parser.ackStatus, values: Array.from(parser.ackData.subarray(0, parser.ackDataLength)) });
      }
    }
  };
  let offset = 0;
  for (let c = 0; offset < bytes.length; c++) {
    const size = Math.min(chunks[c % chunks.length]!, bytes.length - offset);
    const accepted = parser.push(bytes.subarray(offset, offset + size), size);
    expect(accepted).toBe(size); // after next() returned NONE there is always room for a chunk this size
    offset += accepted;
    take();
    expect(parser.buffered).toBeLessThanOrEqual(parser.capacity);
    expect(parser.buffered).toBeLessThan(74); // at most one incomplete candidate frame is held
  }
  return found;
}

/** What `feed` reports for an expected frame (engineering extra bytes are not decoded). */
function normalised(expected: Expected): Expected {
  if (expected.kind === "ack" || !expected.fields.engineering) return expected;
  return { kind: "report", fields: { ...expected.fields, engineering: { ...expected.fields.engineering, extra: [] } } };
}

describe("LD2410 frame parser properties", () => {
  it("never throws, never hangs and keeps its memory on random byte streams", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 2000 }), chunksArb, (stream, chunks) => {
        const parser = new Ld2410FrameParser();
        feed(parser, stream, chunks);
        expect(parser.capacity).toBe(256);
      }),
      { numRuns: 300 },
    );
  });

  it("finds every valid frame embedded in garbage, split across arbitrary reads", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(garbageArb, frameArb), { maxLength: 12 }), garbageArb, chunksArb, (pairs, trailing, chunks) => {
        const stream: number[] = [];
        for (const [garbage, frame] of pairs) stream.push(...garbage, ...frame.bytes);
        // Trailing garbage, then zeros (which cannot start a frame) so that a cut frame at the end is decided.
        stream.push(...trailing, ...new Array<number>(80).fill(0));
        const parser = new Ld2410FrameParser();
        const found = feed(parser, stream, chunks);
        const expected = pairs.map(([, frame]) => normalised(frame.expected));
        // Every embedded frame, in order; garbage made of cut frames can contain whole frames only by chance.
        let j = 0;
        for (const f of found) if (j < expected.length && JSON.stringify(f) === JSON.stringify(expected[j])) j++;
        expect(j).toBe(expected.length);
        expect(found.length).toBe(expected.length);
      }),
      { numRuns: 300 },
    );
  });

  it("mutated streams: never throws, and every frame left intact is still found", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
      fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(frameArb, fc.option(mutation, { nil: undefined })), { minLength: 1, maxLength: 15 }), chunksArb, (frames, chunks) => {
        const stream: number[] = [];
        const intact: Expected[] = [];
        for (const [frame, m] of frames) {
          const bytes = [...frame.bytes];
          if (m === undefined) intact.push(normalised(frame.expected));
          else if (m.kind === "flip") bytes[m.at % bytes.length]! ^= 1 << m.bit;
          else if (m.kind === "cut") bytes.length = m.at % bytes.length;
          else bytes.splice(m.at % bytes.length, 0, m.byte);
          stream.push(...bytes);
        }
        stream.push(...new Array<number>(80).fill(0));
        const parser = new Ld2410FrameParser();
        const found = feed(parser, stream, chunks);
        let j = 0;
        for (const f of found) if (j < intact.length && JSON.stringify(f) === JSON.stringify(intact[j])) j++;
        expect(j).toBe(intact.length);
        expect(found.length).toBeLessThanOrEqual(frames.length);
      }),
      { numRuns: 300 },
    );
  });
});

// The driver against scripted radars.

/**
 * A radar that sends `frameAt(t)` every 100 ms of virtual time (nothing when it returns undefined),
 * records what the node writes and answers it with `answer`.
 */
class ScriptedRadar implements SimSerialDevice {
  readonly writes: number[][] = [];
  private readonly pending: number[] = [];
  private nextTickMs: number;
  failReads = false;

  constructor(
    private readonly clock: SimClock,
    private readonly frameAt: (tMs: number) => readonly number[] | undefined,
    private readonly answer: (command: number[]) => readonly number[] | undefined = () => undefined,
  ) {
    this.nextTickMs = clock.monotonicMs() + 100;
  }

  receive(bytes: Uint8Array): number {
    this.catchUp();
    const command = [...bytes];
    this.writes.push(command);
    const reply = this.answer(command);
    if (reply) this.pending.push(...reply);
    return bytes.length;
  }

  transmit(into: Uint8Array): number {
    this.catchUp();
    if (this.failReads) throw new Error("UART framing error");
    const n = Math.min(into.length, this.pending.length);
    into.set(this.pending.splice(0, n));
    return n;
  }

  private catchUp(): void {
    for (; this.nextTickMs <= this.clock.monotonicMs(); this.nextTickMs += 100) {
      const frame = this.frameAt(this.nextTickMs);
      if (frame) this.pending.push(...frame);
    }
  }
}

function scripted(frameAt: (tMs: number) => readonly number[] | undefined, options: Partial<Ld2410Options> = {}, answer?: (command: number[]) => readonly number[] | undefined) {
  const clock = new SimClock({ startWallMs: START });
  const radar = new ScriptedRadar(clock, frameAt, answer);
  const board = new SimBoard();
  board.attachSerial("radar", radar);
  const driver = new Ld2410({ buses: board, clock, faultyAfter: 3, ...options, sensor: { port: "radar" } });
  /** Samples every 200 ms for `ms`; returns the sums of the readings. */
  const run = (ms: number) => {
    let entries = 0;
    let presence = 0;
    let readings = 0;
    for (let t = 0; t < ms; t += 200) {
      clock.advanceBy(200);
      const values = driver.sample();
      if (values) {
        entries += values[0]!;
        presence += values[1]!;
        readings++;
      }
    }
    return { entries, presence, readings };
  };
  return { clock, radar, driver, run };
}

/** A timeline: a moving target at `cm` during each [from, to) ms, an empty zone otherwise. */
function timeline(intervals: ReadonlyArray<readonly [number, number]>, cm = 200) {
  return (t: number) => (intervals.some(([from, to]) => t >= from && t < to) ? movingAt(cm, t) : EMPTY);
}

describe("LD2410 driver: entry counting on scripted presence", () => {
  it("counts the protocol example (a stationary target) as one entry and its presence time", () => {
    const example = [0xf4, 0xf3, 0xf2, 0xf1, 0x0d, 0x00, 0x02, 0xaa, 0x02, 0x51, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x00, 0x55, 0x00, 0xf8, 0xf7, 0xf6, 0xf5];
    const { run, driver } = scripted((t) => (t >= 1000 && t < 3000 ? example : EMPTY));
    const totals = run(5000);
    expect(totals.entries).toBe(1);
    expect(totals.presence).toBeCloseTo(2, 1);
    expect(driver.health.readings).toBe(25);
    expect(driver.health.totalDrops).toBe(0);
  });

  it("two people well apart are two entries; presence adds up their time", () => {
    const { run } = scripted(timeline([[1000, 4000], [8000, 11000]]));
    const totals = run(14_000);
    expect(totals.entries).toBe(2);
    expect(totals.presence).toBeCloseTo(6, 1);
  });

  it("flicker shorter than minPresenceMs is no entry; a target that stays is", () => {
    expect(scripted(timeline([[1000, 1200]])).run(5000).entries).toBe(0); // 2 frames, 100 ms apart
    expect(scripted(timeline([[1000, 1300]])).run(5000).entries).toBe(0); // 3 frames: 200 ms
    expect(scripted(timeline([[1000, 1400]])).run(5000).entries).toBe(1); // 4 frames: 300 ms
    // Flicker does not restart the clear time: a real entry right after it still counts.
    expect(scripted(timeline([[1000, 1100], [1300, 4000]])).run(6000).entries).toBe(1);
  });

  it("a gap shorter than clearMs is the same entry; a longer one is a new entry", () => {
    expect(scripted(timeline([[1000, 4000], [5000, 8000]])).run(10_000).entries).toBe(1);
    expect(scripted(timeline([[1000, 4000], [6000, 9000]])).run(11_000).entries).toBe(2);
    expect(scripted(timeline([[1000, 4000], [5000, 8000]]), { clearMs: 500 }).run(10_000).entries).toBe(2);
  });

  it("a target beyond maxDistanceCm is no entry, but a valid reading", () => {
    const far = scripted(timeline([[1000, 4000]], 500));
    const totals = far.run(6000);
    expect(totals).toMatchObject({ entries: 0, presence: 0 });
    expect(far.driver.health.totalDrops).toBe(0);
    expect(scripted(timeline([[1000, 4000]], 500), { maxDistanceCm: 550 }).run(6000).entries).toBe(1);
  });

  it("counts stationary and combined targets by their own distances", () => {
    const stationary = (cm: number) => (t: number) =>
      t >= 1000 && t < 4000 ? reportFrame({ state: 2, movingCm: 0, movingEnergy: 0, stationaryCm: cm, stationaryEnergy: 30 + ((t / 100) % 9), detectionCm: cm }) : EMPTY;
    expect(scripted(stationary(300)).run(6000).entries).toBe(1);
    expect(scripted(stationary(450)).run(6000).entries).toBe(0);
    // Both targets: the near stationary one puts someone in the zone.
    const both = (t: number) =>
      t >= 1000 && t < 4000 ? reportFrame({ state: 3, movingCm: 600, movingEnergy: 40 + ((t / 100) % 9), stationaryCm: 150, stationaryEnergy: 50, detectionCm: 150 }) : EMPTY;
    expect(scripted(both).run(6000).entries).toBe(1);
  });

  it("reports entries in the sample where they happen and reuses one array", () => {
    const { clock, driver } = scripted(timeline([[1000, 4000]]));
    const seen: number[] = [];
    let previous: Float64Array | undefined;
    for (let t = 0; t < 3000; t += 200) {
      clock.advanceBy(200);
      const values = driver.sample()!;
      if (previous) expect(values).toBe(previous);
      previous = values;
      seen.push(values[0]!);
    }
    // Frames at 1000..1300 ms: the fourth (1300) confirms the entry, in the sample at 1400 ms.
    expect(seen.indexOf(1)).toBe(6);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it("the entry counter on its own: states and timing", () => {
    const counter = new EntryCounter(1500, 300);
    expect(counter.update(true, 0)).toBe(0);
    expect(counter.state).toBe(EntryCounter.CANDIDATE);
    expect(counter.update(true, 300)).toBe(1);
    expect(counter.update(false, 400)).toBe(0);
    expect(counter.state).toBe(EntryCounter.LEAVING);
    expect(counter.update(true, 1899)).toBe(0); // back within 1500 ms of leaving
    expect(counter.update(false, 2000)).toBe(0);
    expect(counter.update(false, 3500)).toBe(0);
    expect(counter.state).toBe(EntryCounter.EMPTY);
    expect(counter.update(true, 3600)).toBe(0);
    expect(counter.update(true, 3900)).toBe(1);
    const instant = new EntryCounter(1500, 0);
    expect(instant.update(true, 0)).toBe(1);
  });
});

describe("LD2410 driver: drops and health on scripted bytes", () => {
  it("drops a frame with a distance beyond the last gate as range, and ignores distances of absent targets", () => {
    const beyond = scripted((t) => reportFrame({ state: 1, movingCm: 700, movingEnergy: 50 + ((t / 100) % 5), stationaryCm: 0, stationaryEnergy: 0, detectionCm: 700 }));
    expect(beyond.run(1000)).toMatchObject({ entries: 0, readings: 0 });
    expect(beyond.driver.health.drops.range).toBe(5);
    expect(beyond.driver.health.faulty).toBe(true);
    // 675 cm is the end of gate 8: still plausible.
    const edge = scripted((t) => reportFrame({ state: 1, movingCm: 675, movingEnergy: 50 + ((t / 100) % 5), stationaryCm: 0, stationaryEnergy: 0, detectionCm: 675 }));
    expect(edge.run(1000).readings).toBe(5);
    const energy = scripted(() => reportFrame({ state: 2, movingCm: 0, movingEnergy: 0, stationaryCm: 100, stationaryEnergy: 101, detectionCm: 100 }));
    energy.run(1000);
    expect(energy.driver.health.drops.range).toBe(5);
    const leftover = scripted(() => reportFrame({ state: 0, movingCm: 9999, movingEnergy: 0, stationaryCm: 9999, stationaryEnergy: 0, detectionCm: 9999 }));
    expect(leftover.run(1000).readings).toBe(5);
  });

  it("counts bad frames as frame drops and still uses the good ones", () => {
    const { run, driver } = scripted((t) => {
      const frame = movingAt(100, t);
      if (Math.round(t / 100) % 2 === 0) frame[frame.length - 1] = 0x00; // every other frame has a bad tail
      return frame;
    });
    const totals = run(2000);
    expect(totals.readings).toBe(10);
    expect(totals.entries).toBe(1);
    expect(driver.health.drops.frame).toBe(10);
    expect(driver.health.faulty).toBe(false);
  });

  it("goes faulty when only garbage arrives, and recovers by itself", () => {
    let garbage = true;
    const { run, driver } = scripted((t) => (garbage ? [0x13, 0xf4, 0x00, (t / 100) & 0xff, 0xfd] : EMPTY));
    expect(run(1000).readings).toBe(0);
    expect(driver.health.drops.frame).toBe(5);
    expect(driver.health.faulty).toBe(true);
    garbage = false;
    expect(run(400).readings).toBe(2);
    expect(driver.health.faulty).toBe(false);
  });

  it("reports a timeout as a bus drop once per sample after 2 s of silence, and recovers", () => {
    let silent = false;
    const { run, driver } = scripted(() => (silent ? undefined : EMPTY));
    expect(run(1000).readings).toBe(5);
    silent = true;
    run(2000); // the last frame came at 1000 ms: up to 3000 ms this is "not ready yet"
    expect(driver.health.drops["not-ready"]).toBe(10);
    expect(driver.health.drops.bus).toBe(0);
    expect(driver.health.faulty).toBe(false);
    run(1000); // 3200 .. 4000 ms: more than 2 s without a frame
    expect(driver.health.drops.bus).toBe(5);
    expect(driver.health.faulty).toBe(true);
    silent = false;
    expect(run(400).readings).toBe(2);
    expect(driver.health.faulty).toBe(false);
  });

  it("counts a port error as a bus drop and never throws", () => {
    const { radar, run, driver } = scripted(() => EMPTY);
    radar.failReads = true;
    expect(() => run(1000)).not.toThrow();
    expect(driver.health.drops.bus).toBe(5);
    expect(driver.health.faulty).toBe(true);
    radar.failReads = false;
    expect(run(400).readings).toBe(2);
  });

  it("flags identical target frames as stuck, but never an empty zone's identical frames", () => {
    const frozen = reportFrame({ state: 1, movingCm: 150, movingEnergy: 60, stationaryCm: 0, stationaryEnergy: 0, detectionCm: 150 });
    const stuck = scripted(() => frozen, { stuckAfter: 20 });
    const totals = stuck.run(6000);
    expect(totals.entries).toBe(1);
    expect(stuck.driver.health.drops.stuck).toBe(20); // frames 21.. of 60: samples 11..30
    expect(stuck.driver.health.faulty).toBe(true);
    const empty = scripted(() => EMPTY, { stuckAfter: 20 });
    expect(empty.run(60_000).readings).toBe(300);
    expect(empty.driver.health.drops.stuck).toBe(0);
  });

  it("survives a port that does not exist", () => {
    const clock = new SimClock({ startWallMs: START });
    expect(() => new Ld2410({ buses: new SimBoard(), clock, sensor: { port: "radar" } })).toThrow(/no simulated serial port/);
  });

  it("rejects bad options", () => {
    const make = (options: Partial<Ld2410Options>) => () => scripted(() => EMPTY, options);
    expect(make({ maxGate: 9 })).toThrow(RangeError);
    expect(make({ holdS: -1 })).toThrow(RangeError);
    expect(make({ clearMs: Number.NaN })).toThrow(RangeError);
  });
});

describe("LD2410 driver: configuration sequence", () => {
  // Command frames as the protocol description gives them (maximum gates 8, no-one duration 0 s).
  const ENABLE = [0xfd, 0xfc, 0xfb, 0xfa, 0x04, 0x00, 0xff, 0x00, 0x01, 0x00, 0x04, 0x03, 0x02, 0x01];
  const PARAMETERS = [
    0xfd, 0xfc, 0xfb, 0xfa, 0x14, 0x00, 0x60, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x03, 0x02, 0x01,
  ];
  const FIRMWARE = [0xfd, 0xfc, 0xfb, 0xfa, 0x02, 0x00, 0xa0, 0x00, 0x04, 0x03, 0x02, 0x01];
  const END = [0xfd, 0xfc, 0xfb, 0xfa, 0x02, 0x00, 0xfe, 0x00, 0x04, 0x03, 0x02, 0x01];
  const acks = (command: number[]): readonly number[] | undefined => {
    const word = command[6]! | (command[7]! << 8);
    if (word === 0x00ff) return [0xfd, 0xfc, 0xfb, 0xfa, 0x08, 0x00, 0xff, 0x01, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x04, 0x03, 0x02, 0x01];
    if (word === 0x00a0) return [0xfd, 0xfc, 0xfb, 0xfa, 0x0c, 0x00, 0xa0, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01, 0x16, 0x15, 0x09, 0x22, 0x04, 0x03, 0x02, 0x01];
    return ackFrame(word, 0);
  };

  it("sends each command after the previous ACK and reads the firmware version", () => {
    const { radar, driver, run } = scripted(() => EMPTY, {}, acks);
    driver.configure();
    expect(radar.writes).toEqual([ENABLE]); // nothing else before the ACK
    run(200);
    expect(radar.writes).toEqual([ENABLE, PARAMETERS, FIRMWARE, END]);
    expect(driver.configured).toBe(true);
    expect([driver.firmwareMajor, driver.firmwareMinor, driver.firmwareBuild]).toEqual([1, 7, 0x22091516]);
    expect(driver.configFailures).toBe(0);
  });

  it("encodes maxGate and holdS into the 0x0060 command", () => {
    const { radar, driver, run } = scripted(() => EMPTY, { maxGate: 5, holdS: 300 }, acks);
    driver.configure();
    run(200);
    expect(radar.writes[1]).toEqual([...PARAMETERS.slice(0, 10), 0x05, ...PARAMETERS.slice(11, 16), 0x05, ...PARAMETERS.slice(17, 22), 0x2c, 0x01, ...PARAMETERS.slice(24)]);
  });

  it("retries a configuration that gets no ACK, then gives up with End Configuration", () => {
    const { radar, driver, run } = scripted(() => EMPTY);
    driver.configure();
    run(3600);
    expect(radar.writes).toEqual([ENABLE, ENABLE, ENABLE, END]);
    expect(driver.configured).toBe(false);
    expect(() => run(1000)).not.toThrow();
  });

  it("counts failure ACKs and still ends the configuration", () => {
    const { radar, driver, run } = scripted(() => EMPTY, {}, (command) => {
      const word = command[6]! | (command[7]! << 8);
      return word === 0x0060 ? ackFrame(word, 1) : acks(command);
    });
    driver.configure();
    run(200);
    expect(radar.writes.length).toBe(4);
    expect(driver.configFailures).toBe(1);
    expect(driver.configured).toBe(true);
  });
});

// The driver against the simulated part.

/** Passers-by from a list, as a StreetActivity would give them. */
function passesSource(passes: readonly PedestrianPass[]): PedestrianSource {
  return {
    pedestriansBetween(from, to, onPass) {
      for (const pass of passes) if (pass.atMs >= from && pass.atMs < to) onPass(pass);
    },
  };
}

function pass(atS: number, dwellS: number, distanceCm: number): PedestrianPass {
  return { atMs: START + atS * 1000, dwellMs: dwellS * 1000, distanceCm, id: atS, devices: 1 };
}

function simulated(activity: PedestrianSource, options: Partial<Ld2410Options> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new Ld2410Part({ clock, activity, seed: "radar-1" });
  const board = new SimBoard();
  board.attachSerial("radar", part);
  const driver = new Ld2410({ buses: board, clock, faultyAfter: 3, ...options, sensor: { port: "radar" } });
  driver.configure();
  const run = (ms: number) => {
    let entries = 0;
    let presence = 0;
    let readings = 0;
    let failed = 0;
    for (let t = 0; t < ms; t += 200) {
      clock.advanceBy(200);
      const values = driver.sample();
      if (values) {
        entries += values[0]!;
        presence += values[1]!;
        readings++;
      } else failed++;
    }
    return { entries, presence, readings, failed };
  };
  return { clock, part, driver, run };
}

describe("LD2410 driver against the simulated part", () => {
  it("configures the radar: no-one duration 0, firmware V1.02.22062416", () => {
    const { part, driver, run } = simulated(passesSource([]));
    expect(part.parameters.holdS).toBe(5); // factory setting
    run(400);
    expect(driver.configured).toBe(true);
    expect(part.parameters).toMatchObject({ holdS: 0, maxMovingGate: 8, maxStationaryGate: 8, configMode: false });
    expect([driver.firmwareMajor, driver.firmwareMinor, driver.firmwareBuild]).toEqual([1, 2, 0x22062416]);
    expect(driver.health.drops.frame).toBe(0);
  });

  it("counts scripted passers-by: two apart, two overlapping as one, one lingering", () => {
    const { run, driver } = simulated(
      passesSource([
        pass(5, 4, 150), // walks by
        pass(20, 5, 200), // these two overlap:
        pass(22, 5, 250), //   one presence
        pass(40, 30, 120), // lingers half a minute
        pass(80, 4, 550), // passes beyond the 4 m zone
      ]),
    );
    const totals = run(100_000);
    expect(totals.entries).toBe(3);
    // In-zone time: walkers part of their dwell, the lingerer nearly all of it.
    expect(totals.presence).toBeGreaterThan(30);
    expect(totals.presence).toBeLessThan(45);
    expect(driver.health.totalDrops - driver.health.drops["not-ready"]).toBe(0);
  });

  it("counts the entries of an hour of street close to what the radar can tell apart, below the footfall", () => {
    // Documented undercount: the radar reports one target, not people. Passers-by who overlap in
    // the zone, or follow within clearMs, are one entry. At ~300 passers-by an hour (a busy
    // shopping street at 16:00) that loses about a quarter of the people within the zone. With these
    // seeds: 271 passers-by, 198 of them within 4 m, 148 entries an ideal radar would give, 145 counted.
    const HOUR = 3_600_000;
    const activity = new StreetActivity({ seed: "street", siteSeed: "site-1", peakPedestriansPerHour: 300 });
    const { run, driver } = simulated(activity);
    const totals = run(HOUR);

    const passes: PedestrianPass[] = [];
    activity.pedestriansBetween(START - 70_000, START + HOUR, (p) => passes.push(p));
    const inHour = passes.filter((p) => p.atMs >= START);
    const withinZone = inHour.filter((p) => p.distanceCm <= 400).length;
    // What an ideal radar would give: runs of "someone within 400 cm" every 100 ms, merged across
    // gaps shorter than clearMs, counted when their first run lasts minPresenceMs.
    let ideal = 0;
    let runStart = -1;
    let lastPresent = Number.NEGATIVE_INFINITY;
    let occupiedUntil = Number.NEGATIVE_INFINITY;
    const close = () => {
      if (runStart < 0) return;
      if (runStart - occupiedUntil < 1500) occupiedUntil = lastPresent + 100;
      else if (lastPresent - runStart >= 300) {
        ideal++;
        occupiedUntil = lastPresent + 100;
      }
      runStart = -1;
    };
    for (let t = START; t < START + HOUR; t += 100) {
      const present = passes.some((p) => {
        const at = pedestrianAt(p, t, 600);
        return at !== undefined && at.distanceCm <= 400;
      });
      if (present) {
        if (runStart < 0) runStart = t;
        lastPresent = t;
      } else close();
    }
    close();

    expect(inHour.length).toBeGreaterThan(200);
    expect(Math.abs(totals.entries - ideal)).toBeLessThanOrEqual(Math.max(3, 0.05 * ideal));
    expect(totals.entries).toBeLessThan(withinZone);
    expect(totals.entries).toBeGreaterThan(0.6 * withinZone);
    expect(driver.health.readings).toBeGreaterThan(17_900);
    expect(driver.health.totalDrops - driver.health.drops["not-ready"]).toBe(0);
  });

  it("counts entries from engineering-mode frames the same way", () => {
    const source = passesSource([pass(5, 4, 150), pass(20, 4, 200)]);
    const { part, run } = simulated(source);
    run(400);
    const command = (word: number) => Uint8Array.of(0xfd, 0xfc, 0xfb, 0xfa, 0x02, 0x00, word, 0x00, 0x04, 0x03, 0x02, 0x01);
    part.receive(Uint8Array.of(0xfd, 0xfc, 0xfb, 0xfa, 0x04, 0x00, 0xff, 0x00, 0x01, 0x00, 0x04, 0x03, 0x02, 0x01));
    part.receive(command(0x62));
    part.receive(command(0xfe));
    expect(part.parameters.engineering).toBe(true);
    expect(run(30_000).entries).toBe(2);
  });

  describe("faults", () => {
    const lingering = passesSource([pass(0, 600, 200)]); // someone stands 2 m away for 10 minutes

    it("garbage: dropped as frame, the readings go on", () => {
      const { part, driver, run } = simulated(lingering);
      run(3000);
      part.injectFault("garbage", { count: 3, bytes: 40 });
      const totals = run(2000);
      expect(driver.health.drops.frame).toBeGreaterThanOrEqual(1);
      expect(totals.readings).toBe(10);
      expect(driver.health.faulty).toBe(false);
    });

    it.each(["truncated", "bad-tail", "bad-length", "bad-check"] as const)("%s frames: dropped as frame, faulty, recovers after clearFaults", (kind) => {
      const { part, driver, run } = simulated(lingering);
      run(3000);
      part.injectFault(kind, { count: 1000 });
      const totals = run(2000);
      expect(totals.readings).toBe(0);
      // A sample whose bytes only begin a candidate frame decides nothing yet: not every sample drops.
      expect(driver.health.drops.frame).toBeGreaterThanOrEqual(5);
      expect(driver.health.drops.range + driver.health.drops.stuck).toBe(0);
      expect(driver.health.faulty).toBe(true);
      part.clearFaults();
      run(400);
      expect(driver.health.faulty).toBe(false);
      expect(run(1000).readings).toBe(5);
    });

    it("out-of-range: dropped as range, faulty, recovers", () => {
      const { part, driver, run } = simulated(lingering);
      run(3000);
      part.injectFault("out-of-range", { count: 1000 });
      expect(run(2000).readings).toBe(0);
      expect(driver.health.drops.range).toBe(10);
      expect(driver.health.faulty).toBe(true);
      part.clearFaults();
      expect(run(1000).readings).toBe(5);
      expect(driver.health.faulty).toBe(false);
    });

    it("noise burst: a short burst is debounced; the phantoms are readings, not faults", () => {
      const { part, driver, run } = simulated(passesSource([]));
      run(3000);
      part.injectFault("noise-burst", { count: 2 });
      expect(run(5000).entries).toBe(0);
      expect(driver.health.totalDrops - driver.health.drops["not-ready"]).toBe(0);
      expect(part.stats.faultyReports).toBe(2);
    });

    it("silence: a bus timeout after 2 s, faulty, recovers", () => {
      const { part, driver, run } = simulated(lingering);
      run(3000);
      part.injectFault("silence");
      run(3000);
      expect(driver.health.drops.bus).toBeGreaterThanOrEqual(3);
      expect(driver.health.faulty).toBe(true);
      part.clearFaults();
      expect(run(1000).readings).toBe(5);
      expect(driver.health.faulty).toBe(false);
    });

    it("stuck: identical target frames are dropped as stuck, faulty, recovers", () => {
      const { part, driver, run } = simulated(lingering, { stuckAfter: 50 });
      run(3000);
      part.injectFault("stuck");
      run(10_000);
      expect(driver.health.drops.stuck).toBeGreaterThanOrEqual(20);
      expect(driver.health.faulty).toBe(true);
      part.clearFaults();
      expect(run(1000).readings).toBe(5);
      expect(driver.health.faulty).toBe(false);
    });

    it("unplugged: bus drops, faulty, recovers when plugged back (power-cycled)", () => {
      const { part, driver, run } = simulated(lingering);
      run(3000);
      part.injectFault("unplugged");
      expect(() => run(4000)).not.toThrow();
      expect(driver.health.drops.bus).toBeGreaterThanOrEqual(3);
      expect(driver.health.faulty).toBe(true);
      part.clearFaults();
      run(1000); // boots for 500 ms
      expect(driver.health.faulty).toBe(false);
      expect(run(1000).readings).toBe(5);
    });
  });
});
