import { describe, expect, it } from "vitest";
import {
  PMS_ACK,
  PMS_BAD_CHECKSUM,
  PMS_BAD_FRAME,
  PMS_FRAME,
  PMS_NEED_MORE,
  PMS_WORD,
  PmsFrameParser,
  pmsChecksum,
  pmsCommand,
} from "../../../src/sensors/pms5003-frame.js";
import { Pms5003Part, PMS5003_BYTE_MS, type Pms5003PartOptions, type PmSource } from "../../../hosts/sim/pms5003-part.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 0, 20, 8, 0, 0);
const AIR: PmSource = { pm1: () => 8.2, pm25: () => 12.4, pm10: () => 19.6 };

/** A part on a clock, with a reader that parses what the node's UART receives. */
function rig(options: Partial<Omit<Pms5003PartOptions, "clock">> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new Pms5003Part({ clock, activity: AIR, seed: "pms-1", gain: 1, noiseScale: 0, ...options });
  part.open(9600);
  const parser = new PmsFrameParser();
  const chunk = new Uint8Array(64);
  const got = { frames: [] as number[][], acks: [] as number[][], checksum: 0, frame: 0, bytes: [] as number[] };
  /** Reads everything waiting and parses it. */
  const read = () => {
    for (let n = part.transmit(chunk); n > 0; n = part.transmit(chunk)) {
      got.bytes.push(...chunk.subarray(0, n));
      let offset = 0;
      while (offset < n) {
        offset += parser.push(chunk, offset, n - offset);
        for (let r = parser.next(); r !== PMS_NEED_MORE; r = parser.next()) {
          if (r === PMS_FRAME) got.frames.push([...parser.words]);
          else if (r === PMS_ACK) got.acks.push([parser.ackCommand, parser.ackData]);
          else if (r === PMS_BAD_CHECKSUM) got.checksum++;
          else if (r === PMS_BAD_FRAME) got.frame++;
        }
      }
    }
  };
  /** Advances `ms` in steps of `stepMs`, reading after each. */
  const run = (ms: number, stepMs = 100) => {
    for (let t = 0; t < ms; t += stepMs) {
      clock.advanceBy(stepMs);
      read();
    }
  };
  const command = (cmd: number, data: number) => part.receive(pmsCommand(cmd, data));
  return { clock, part, got, read, run, command };
}

describe("Pms5003Part frames", () => {
  it("sends a valid frame every 0.8-1.2 s with the air's values", () => {
    const { part, got, run } = rig();
    run(60_000);
    expect(got.frames.length).toBeGreaterThanOrEqual(50);
    expect(got.frames.length).toBeLessThanOrEqual(75);
    expect(got.checksum + got.frame).toBe(0);
    expect(part.stats.frames).toBe(got.frames.length);
    for (const words of got.frames) {
      expect([words[PMS_WORD.pm1], words[PMS_WORD.pm25], words[PMS_WORD.pm10]]).toEqual([8, 12, 20]);
      expect([words[PMS_WORD.pm1Cf1], words[PMS_WORD.pm25Cf1], words[PMS_WORD.pm10Cf1]]).toEqual([8, 12, 20]); // CF=1 = atmospheric below 30
      expect(words[PMS_WORD.reserved]).toBe(0x9700);
      const counts = words.slice(PMS_WORD.count03, PMS_WORD.count100 + 1);
      for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeLessThanOrEqual(counts[i - 1]!);
      expect(counts[0]!).toBeGreaterThan(1000); // > 0.3 µm per 0.1 L at PM2.5 = 12 µg/m³
      expect(counts[0]!).toBeLessThan(3000);
    }
  });

  it("spaces frames 0.8-1.2 s apart and sends each byte at 9600 baud", () => {
    const { clock, part } = rig();
    const one = new Uint8Array(1);
    const starts: number[] = [];
    let last = -1;
    let previousByteAt = Number.NEGATIVE_INFINITY;
    for (let t = 0; t < 20_000; t += 0.25) {
      clock.advanceTo(t);
      while (part.transmit(one) === 1) {
        if (one[0] === 0x42 && t - previousByteAt > 100) starts.push(t);
        if (t - previousByteAt < 100) expect(t - previousByteAt).toBeGreaterThanOrEqual(PMS5003_BYTE_MS - 0.25);
        previousByteAt = t;
        last = t;
      }
    }
    expect(last).toBeGreaterThan(0);
    for (let i = 1; i < starts.length; i++) {
      expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(800);
      expect(starts[i]! - starts[i - 1]!).toBeLessThanOrEqual(1200.5);
    }
    expect(part.stats.bytesDelivered).toBe(32 * part.stats.frames);
  });

  it("keeps within the noise and gain limits and the size order with noise on", () => {
    const activity = new StreetActivity({ seed: "street", siteSeed: "site-2" });
    const { clock, part, got, run } = rig({ activity, noiseScale: 1, gain: undefined, seed: "pms-noisy" });
    expect(part.gain).toBeGreaterThanOrEqual(0.95);
    expect(part.gain).toBeLessThanOrEqual(1.05);
    run(30_000);
    const truth = activity.pm25(clock.wallMs()) * part.gain;
    const values = got.frames.map((w) => w[PMS_WORD.pm25]!);
    expect(new Set(values).size).toBeGreaterThan(3); // it is noisy
    for (const words of got.frames) {
      expect(Math.abs(words[PMS_WORD.pm25]! - truth)).toBeLessThanOrEqual(Math.max(10, 0.1 * truth) + 1);
      expect(words[PMS_WORD.pm1]!).toBeLessThanOrEqual(words[PMS_WORD.pm25]!);
      expect(words[PMS_WORD.pm25]!).toBeLessThanOrEqual(words[PMS_WORD.pm10]!);
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(Math.abs(mean - truth)).toBeLessThan(2);
  });

  it("reports higher CF=1 than atmospheric values at high concentrations", () => {
    const { got, run } = rig({ activity: { pm1: () => 80, pm25: () => 150, pm10: () => 220 } });
    run(2000);
    const words = got.frames[0]!;
    expect(words[PMS_WORD.pm25]).toBe(150);
    expect(words[PMS_WORD.pm25Cf1]).toBe(30 + 120 * 1.5);
  });

  it("gives the same bytes whatever the node's reading pattern", () => {
    const a = rig({ noiseScale: 1, seed: "same" });
    const b = rig({ noiseScale: 1, seed: "same" });
    a.run(20_000, 100);
    b.run(20_000, 1000);
    expect(a.got.bytes).toEqual(b.got.bytes);
  });

  it("keeps the newest 256 bytes when the node does not read, and counts the loss", () => {
    const { clock, part, got, read } = rig();
    clock.advanceBy(20_000);
    expect(part.pendingBytes).toBe(256);
    expect(part.stats.overflowBytes).toBe(part.stats.bytesSent - 256);
    read();
    expect(got.frames.length).toBeGreaterThanOrEqual(7);
    expect(got.bytes.length).toBe(256);
  });

  it("starts with an empty FIFO when the port is opened", () => {
    const { clock, part } = rig();
    clock.advanceBy(5000);
    expect(part.pendingBytes).toBeGreaterThan(0);
    part.open(9600);
    expect(part.pendingBytes).toBe(0);
  });

  it("garbles what a node opened at the wrong baud rate receives", () => {
    const { part, got, run } = rig();
    part.open(115200);
    run(10_000);
    expect(got.bytes.length).toBeGreaterThan(100);
    expect(got.frames).toEqual([]);
  });
});

describe("Pms5003Part commands", () => {
  it("answers passive mode, sends nothing until asked, then one frame per read command", () => {
    const { part, got, run, command } = rig();
    run(2000);
    const before = got.frames.length;
    command(0xe1, 0);
    run(100);
    expect(got.acks).toEqual([[0xe1, 0]]);
    expect(part.mode).toBe("passive");
    run(5000);
    expect(got.frames.length).toBe(before);
    command(0xe2, 0);
    run(100);
    expect(got.frames.length).toBe(before + 1);
    command(0xe1, 1);
    run(3000);
    expect(got.acks).toEqual([
      [0xe1, 0],
      [0xe1, 1],
    ]);
    expect(got.frames.length).toBeGreaterThanOrEqual(before + 3);
  });

  it("sleeps after answering the sleep command, and wakes without an answer", () => {
    const { part, got, run, command } = rig();
    command(0xe4, 0);
    run(5000);
    expect(part.isAwake).toBe(false);
    expect(got.acks).toEqual([[0xe4, 0]]);
    expect(got.frames).toEqual([]);
    command(0xe4, 1);
    run(3000);
    expect(part.isAwake).toBe(true);
    expect(got.acks.length).toBe(1);
    expect(got.frames.length).toBeGreaterThanOrEqual(2);
  });

  it("ignores commands with a bad checksum or an unknown code, and resynchronises on the start characters", () => {
    const { part, command } = rig();
    const bad = pmsCommand(0xe4, 0);
    bad[6] ^= 1;
    part.receive(bad);
    expect(part.isAwake).toBe(true);
    command(0xe9, 0);
    expect(part.stats.commands).toBe(0);
    expect(part.stats.rejectedCommands).toBeGreaterThanOrEqual(2);
    part.receive(Uint8Array.of(0x00, 0x42, 0x42, ...pmsCommand(0xe4, 0).subarray(1)));
    expect(part.isAwake).toBe(false);
    expect(part.stats.commands).toBe(1);
  });
});

describe("Pms5003Part faults", () => {
  it("'checksum': the next frames carry a wrong checksum, data intact", () => {
    const { part, got, run } = rig();
    part.injectFault("checksum", { count: 2 });
    run(5000);
    expect(got.checksum).toBe(2);
    expect(got.frames.length).toBeGreaterThanOrEqual(2);
    expect(part.stats.faultyFrames).toBe(2);
  });

  it("'truncated': frames cut short, the next one follows on time", () => {
    const { part, got, run } = rig();
    part.injectFault("truncated", { count: 3, bytes: 10 });
    run(6000);
    expect(got.frame).toBe(3);
    expect(got.frames.length).toBeGreaterThanOrEqual(1);
    expect(got.bytes.length).toBe(32 * part.stats.frames - 3 * 22);
  });

  it("'garbage': random bytes after frames", () => {
    const { part, got, run } = rig();
    part.injectFault("garbage", { count: 4, bytes: 50 });
    run(6000);
    expect(part.stats.garbageBytes).toBe(200);
    expect(got.bytes.length).toBe(32 * part.stats.frames + 200);
    expect(got.frames.length).toBe(part.stats.frames);
  });

  it("never sends faster than the line: 256 garbage bytes a frame still arrive at 960 bytes/s at most", () => {
    const { clock, part } = rig({ fifoBytes: 65536 });
    part.injectFault("garbage", { count: 100, bytes: 256 });
    const buffer = new Uint8Array(4096);
    for (let s = 0; s < 10; s++) {
      clock.advanceBy(1000);
      expect(part.transmit(buffer)).toBeLessThanOrEqual(961);
    }
  });

  it("'silence': nothing at all, for a number of frames or until cleared", () => {
    const { part, got, run, command } = rig();
    part.injectFault("silence", { count: 3 });
    run(2500);
    expect(got.bytes).toEqual([]);
    run(3000);
    expect(got.frames.length).toBeGreaterThan(0);
    part.injectFault("silence");
    const bytes = got.bytes.length;
    command(0xe1, 1); // taken, but not answered
    run(10_000);
    expect(got.bytes.length).toBe(bytes);
    expect(part.stats.commands).toBe(1);
    part.clearFaults();
    run(2000);
    expect(got.bytes.length).toBeGreaterThan(bytes);
  });

  it("'stuck': the same frame over and over, with a valid checksum", () => {
    const { part, got, run } = rig({ noiseScale: 1 });
    run(2000);
    part.injectFault("stuck");
    const from = got.frames.length;
    run(10_000);
    const stuck = got.frames.slice(from).map((w) => w.join(","));
    expect(stuck.length).toBeGreaterThanOrEqual(8);
    expect(new Set(stuck).size).toBe(1);
    expect(stuck[0]).toBe(got.frames[from - 1]!.join(","));
    part.clearFaults();
    run(5000);
    expect(new Set(got.frames.slice(-4).map((w) => w.join(","))).size).toBeGreaterThan(1);
  });

  it("'unplugged': nothing, commands lost; back power-cycled in active mode", () => {
    const { part, got, run, command } = rig();
    command(0xe1, 0);
    run(500);
    part.injectFault("unplugged");
    const bytes = got.bytes.length;
    command(0xe1, 1);
    run(5000);
    expect(got.bytes.length).toBe(bytes);
    expect(part.mode).toBe("passive");
    part.clearFaults();
    expect(part.mode).toBe("active");
    run(3000);
    expect(got.frames.length).toBeGreaterThanOrEqual(2);
  });

  it("'unplugged' mid-frame cuts the frame off", () => {
    const { clock, part, got, read } = rig();
    // Find a frame start, then pull the plug 10 bytes into it.
    const one = new Uint8Array(1);
    while (part.transmit(one) === 0) clock.advanceBy(0.5);
    clock.advanceBy(10 * PMS5003_BYTE_MS);
    part.injectFault("unplugged");
    clock.advanceBy(5000);
    read();
    expect(got.bytes.length).toBeLessThanOrEqual(11);
    expect(got.frames).toEqual([]);
  });

  it("'out-of-range': 0xFFFF µg/m³ with a valid checksum", () => {
    const { part, got, run } = rig();
    part.injectFault("out-of-range", { count: 1 });
    run(3000);
    expect(got.frames[0]!.slice(0, 6)).toEqual([0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff]);
    expect(got.frames[1]![PMS_WORD.pm25]).toBe(12);
  });

  it("'noise-burst': flipped bits for a while, clean afterwards", () => {
    const { part, got, run } = rig();
    part.injectFault("noise-burst", { durationMs: 5000, byteErrorRate: 0.2 });
    run(5000);
    expect(part.stats.corruptedBytes).toBeGreaterThan(10);
    expect(got.checksum + got.frame).toBeGreaterThanOrEqual(3);
    const clean = got.frames.length;
    run(5000);
    expect(got.frames.length - clean).toBeGreaterThanOrEqual(3);
  });

  it("rejects nonsense fault options", () => {
    const { part } = rig();
    expect(() => part.injectFault("checksum", { count: 0 })).toThrow(RangeError);
    expect(() => part.injectFault("truncated", { bytes: 32 })).toThrow(RangeError);
    expect(() => part.injectFault("garbage", { bytes: 0 })).toThrow(RangeError);
    expect(() => part.injectFault("out-of-range", { value: 70000 })).toThrow(RangeError);
    expect(() => part.injectFault("noise-burst", { byteErrorRate: 2 })).toThrow(RangeError);
    expect(() => part.injectFault("melted" as never)).toThrow(RangeError);
  });

  it("checks its own acknowledgement checksums", () => {
    const { got, run, command } = rig();
    command(0xe1, 1);
    run(100);
    const start = got.bytes.indexOf(0x42);
    const ack = Uint8Array.from(got.bytes.slice(start, start + 8));
    expect([...ack]).toEqual([0x42, 0x4d, 0x00, 0x04, 0xe1, 0x01, 0x01, 0x75]);
    expect(pmsChecksum(ack, 0, 6)).toBe(0x0175);
  });
});
