import { describe, expect, it } from "vitest";
import { LD2410_ACK, LD2410_NONE, LD2410_REPORT, Ld2410FrameParser } from "../../../src/sensors/ld2410-frame.js";
import { Ld2410Part, type Ld2410PartOptions, type PedestrianSource } from "../../../hosts/sim/ld2410-part.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import type { PedestrianPass } from "../../../hosts/sim/street-activity.js";

const START = Date.UTC(2026, 6, 15, 15, 0, 0);

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

interface Seen {
  readonly t: number;
  readonly type: number;
  readonly state: number;
  readonly movingCm: number;
  readonly movingEnergy: number;
  readonly stationaryCm: number;
  readonly stationaryEnergy: number;
  readonly detectionCm: number;
  readonly gates: number[];
}

function rig(passes: readonly PedestrianPass[] = [], options: Partial<Ld2410PartOptions> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const part = new Ld2410Part({ clock, activity: passesSource(passes), seed: "radar-1", distanceOffsetCm: 0, ...options });
  const parser = new Ld2410FrameParser();
  const chunk = new Uint8Array(64);
  const acks: { command: number; status: number; data: number[] }[] = [];
  /** Reads everything the part has sent, parsing it; returns the raw bytes too. */
  const drain = (into: Seen[] = [], raw: number[] = []) => {
    for (;;) {
      const n = part.transmit(chunk);
      if (n === 0) break;
      raw.push(...chunk.subarray(0, n));
      parser.push(chunk, n);
      for (let kind = parser.next(); kind !== LD2410_NONE; kind = parser.next()) {
        if (kind === LD2410_ACK) acks.push({ command: parser.ackCommand, status: parser.ackStatus, data: Array.from(parser.ackData.subarray(0, parser.ackDataLength)) });
        else if (kind === LD2410_REPORT) {
          into.push({
            t: clock.monotonicMs(),
            type: parser.dataType,
            state: parser.targetState,
            movingCm: parser.movingCm,
            movingEnergy: parser.movingEnergy,
            stationaryCm: parser.stationaryCm,
            stationaryEnergy: parser.stationaryEnergy,
            detectionCm: parser.detectionCm,
            gates: Array.from(parser.movingGateEnergy),
          });
        }
      }
    }
    return { reports: into, raw };
  };
  /** Advances in 100 ms steps for `ms`, reading after each step. */
  const watch = (ms: number) => {
    const reports: Seen[] = [];
    for (let t = 0; t < ms; t += 100) {
      clock.advanceBy(100);
      drain(reports);
    }
    return reports;
  };
  const command = (word: number, value: readonly number[] = []) => {
    const length = 2 + value.length;
    part.receive(Uint8Array.of(0xfd, 0xfc, 0xfb, 0xfa, length & 0xff, length >> 8, word & 0xff, word >> 8, ...value, 0x04, 0x03, 0x02, 0x01));
  };
  return { clock, part, parser, acks, drain, watch, command };
}

const ENABLE_CONFIG = [0xfd, 0xfc, 0xfb, 0xfa, 0x04, 0x00, 0xff, 0x00, 0x01, 0x00, 0x04, 0x03, 0x02, 0x01];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
const gatesAndHold = (moving: number, stationary: number, holdS: number) => [0x00, 0x00, ...le32(moving), 0x01, 0x00, ...le32(stationary), 0x02, 0x00, ...le32(holdS)];

describe("Ld2410Part reports", () => {
  it("sends a 23-byte basic frame every 100 ms; an empty street gives identical no-target frames", () => {
    const r = rig();
    r.clock.advanceBy(4000);
    const { reports, raw } = r.drain();
    expect(reports.length).toBe(40);
    expect(raw.length).toBe(40 * 23);
    expect(raw.slice(0, 23)).toEqual([0xf4, 0xf3, 0xf2, 0xf1, 0x0d, 0x00, 0x02, 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x55, 0x00, 0xf8, 0xf7, 0xf6, 0xf5]);
    expect(new Set(reports.map((s) => JSON.stringify({ ...s, t: 0 }))).size).toBe(1);
    expect(r.part.stats).toMatchObject({ reports: 40, targetReports: 0, bytesSent: 920, overflowBytes: 0 });
    expect(r.parser.badFrames + r.parser.discardedBytes).toBe(0);
  });

  it("a walker is a moving target from the field's edge to the closest point and away, then held for 5 s", () => {
    const r = rig([pass(2, 6, 200)]);
    const reports = r.watch(15_000);
    const during = reports.filter((s) => s.t > 2000 && s.t < 8000);
    expect(during.every((s) => (s.state & 1) === 1)).toBe(true);
    expect(reports.filter((s) => s.t <= 2000).every((s) => s.state === 0)).toBe(true);
    const distances = during.map((s) => s.movingCm);
    expect(distances[0]).toBeGreaterThan(550);
    expect(Math.abs(Math.min(...distances) - 200)).toBeLessThan(20);
    expect(distances.at(-1)).toBeGreaterThan(550);
    // The closest point is in the middle of the pass.
    const closestAt = during[distances.indexOf(Math.min(...distances))]!.t;
    expect(Math.abs(closestAt - 5000)).toBeLessThanOrEqual(300);
    // Energies are strongest close by and vary from frame to frame.
    expect(Math.max(...during.map((s) => s.movingEnergy))).toBeGreaterThan(70);
    expect(new Set(during.map((s) => s.movingEnergy)).size).toBeGreaterThan(5);
    // Factory no-one duration: the last target is reported for 5 s more, then nothing.
    const after = reports.filter((s) => s.t >= 8100);
    expect(after.filter((s) => s.state !== 0).length).toBeGreaterThanOrEqual(45);
    expect(after.filter((s) => s.state !== 0).length).toBeLessThanOrEqual(51);
    expect(after.at(-1)!.state).toBe(0);
  });

  it("a walker close by also shows as stationary (state 3); someone lingering is a stationary target", () => {
    const close = rig([pass(1, 5, 90)]).watch(7000);
    expect(close.some((s) => s.state === 3)).toBe(true);
    const linger = rig([pass(1, 30, 300)]).watch(25_000);
    const middle = linger.filter((s) => s.t > 5000 && s.t < 20_000);
    expect(middle.every((s) => s.state === 2)).toBe(true);
    for (const s of middle) expect(Math.abs(s.stationaryCm - 300)).toBeLessThan(25);
    // Walking in first: moving.
    expect(linger.filter((s) => s.t > 1000 && s.t < 3000).every((s) => (s.state & 1) === 1)).toBe(true);
  });

  it("two people in the field at once are one presence: the nearer is the reported target", () => {
    const r = rig([pass(1, 8, 400), pass(3, 4, 100)]);
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0060, gatesAndHold(8, 8, 0));
    r.command(0x00fe);
    const reports = r.watch(10_000);
    const present = reports.filter((s) => s.state !== 0);
    // One unbroken presence from 1 s to 9 s.
    expect(present[0]!.t).toBeLessThanOrEqual(1200);
    expect(present.at(-1)!.t).toBeGreaterThanOrEqual(8900);
    expect(present.length).toBeGreaterThanOrEqual(78);
    // At 5 s the near person is at their closest, 100 cm.
    const at5 = reports.find((s) => s.t === 5000)!;
    expect(Math.abs(at5.movingCm - 100)).toBeLessThan(25);
  });

  it("applies the per-part distance offset drawn from the seed (within ±10 cm)", () => {
    const clock = new SimClock({ startWallMs: START });
    const a = new Ld2410Part({ clock, activity: passesSource([]), seed: "a" });
    const b = new Ld2410Part({ clock, activity: passesSource([]), seed: "b" });
    expect(Math.abs(a.distanceOffsetCm)).toBeLessThanOrEqual(10);
    expect(a.distanceOffsetCm).not.toBe(b.distanceOffsetCm);
    const shifted = rig([pass(1, 30, 300)], { distanceOffsetCm: 40, noiseScale: 0 }).watch(10_000);
    expect(shifted.find((s) => s.t === 8000)!.stationaryCm).toBe(340);
  });

  it("is reproducible from its seeds", () => {
    const bytes = () => {
      const r = rig([pass(1, 6, 150), pass(4, 20, 250)]);
      r.clock.advanceBy(30_000);
      return r.drain().raw;
    };
    expect(bytes()).toEqual(bytes());
  });
});

describe("Ld2410Part commands", () => {
  it("enable configuration: the protocol's ACK bytes, and no reports until end configuration", () => {
    const r = rig();
    r.clock.advanceBy(1000);
    r.drain();
    r.part.receive(Uint8Array.from(ENABLE_CONFIG));
    const { raw } = r.drain();
    expect(raw).toEqual([0xfd, 0xfc, 0xfb, 0xfa, 0x08, 0x00, 0xff, 0x01, 0x00, 0x00, 0x01, 0x00, 0x40, 0x00, 0x04, 0x03, 0x02, 0x01]);
    expect(r.watch(2000)).toEqual([]);
    r.command(0x00fe);
    expect(r.drain().raw).toEqual([0xfd, 0xfc, 0xfb, 0xfa, 0x04, 0x00, 0xfe, 0x01, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01]);
    expect(r.watch(1000).length).toBe(10);
  });

  it("ignores commands outside configuration mode and fails unknown ones", () => {
    const r = rig();
    r.command(0x00a0);
    expect(r.drain().raw).toEqual([]);
    expect(r.part.stats).toMatchObject({ commands: 1, ignoredCommands: 1 });
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0077);
    r.drain();
    expect(r.acks.at(-1)).toEqual({ command: 0x0177, status: 1, data: [] });
  });

  it("reads the firmware version and the parameters in the protocol's layout", () => {
    const r = rig();
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x00a0);
    r.command(0x0061);
    const { raw } = r.drain();
    const firmware = raw.slice(18, 18 + 22);
    expect(firmware).toEqual([0xfd, 0xfc, 0xfb, 0xfa, 0x0c, 0x00, 0xa0, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02, 0x01, 0x16, 0x24, 0x06, 0x22, 0x04, 0x03, 0x02, 0x01]);
    // Read parameters: length 0x1C, status, 0xAA, max gate 8, moving 8, stationary 8, 9 + 9 sensitivities, duration 5 s.
    expect(r.acks[2]).toEqual({
      command: 0x0161,
      status: 0,
      data: [0xaa, 8, 8, 8, 50, 50, 40, 30, 20, 15, 15, 15, 15, 0, 0, 40, 40, 30, 30, 20, 20, 20, 5, 0],
    });
    expect(raw[40 + 4]).toBe(0x1c);
  });

  it("sets the max gates and the no-one duration, and validates them", () => {
    const r = rig([pass(1, 8, 400)]);
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0060, gatesAndHold(9, 8, 5));
    r.command(0x0060, gatesAndHold(4, 4, 0)); // gates up to 3.75 m
    r.command(0x00fe);
    r.drain();
    expect(r.acks.map((a) => [a.command, a.status])).toEqual([[0x01ff, 0], [0x0160, 1], [0x0160, 0], [0x01fe, 0]]);
    expect(r.part.parameters).toMatchObject({ maxMovingGate: 4, maxStationaryGate: 4, holdS: 0 });
    // Someone passing 4 m away is never within gate 4: nothing reported.
    expect(r.watch(10_000).every((s) => s.state === 0)).toBe(true);
  });

  it("sets gate sensitivities: 100 makes a gate deaf", () => {
    const r = rig([pass(1, 6, 100)]);
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0064, [0x00, 0x00, ...le32(0xffff), 0x01, 0x00, ...le32(100), 0x02, 0x00, ...le32(100)]);
    r.command(0x00fe);
    r.drain();
    expect(r.acks[1]).toEqual({ command: 0x0164, status: 0, data: [] });
    // Moving energies at 1..6 m stay below 100: only the close-by stationary echo in gates 0-1 (not settable) remains.
    expect(r.watch(8000).every((s) => (s.state & 1) === 0)).toBe(true);
  });

  it("engineering mode: 0x23-byte data with per-gate energies; the target's gate stands out", () => {
    const r = rig([pass(1, 30, 300)]);
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0062);
    r.command(0x00fe);
    r.drain();
    r.clock.advanceBy(100);
    expect(r.drain().raw[4]).toBe(0x23);
    const reports = r.watch(10_000);
    expect(reports.every((s) => s.type === 1)).toBe(true);
    // Walking in at 1..3.5 s: the moving energy peaks in the target's gate (0.75 m each).
    const walking = reports.find((s) => s.t === 3000)!;
    expect(walking.state).toBe(1);
    const gate = Math.floor(walking.movingCm / 75);
    expect(walking.gates[gate]).toBe(walking.movingEnergy);
    expect(Math.max(...walking.gates.filter((_, g) => g !== gate))).toBeLessThan(20);
    expect(reports.at(-1)!.state).toBe(2); // lingering at 3 m
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0063);
    r.command(0x00fe);
    r.clock.advanceBy(1000);
    expect(r.drain().reports.every((s) => s.type === 2)).toBe(true);
  });

  it("restart: ACK, then 500 ms of silence; a new baud rate takes effect after it", () => {
    const r = rig();
    r.part.open(256000);
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x00a1, [0x05, 0x00]); // 115200
    r.command(0x00a3);
    r.drain();
    expect(r.acks.map((a) => a.command)).toEqual([0x01ff, 0x01a1, 0x01a3]);
    expect(r.part.parameters).toMatchObject({ baud: 115200, configMode: false });
    // Now the node at 256000 baud receives garbage and is not understood.
    r.clock.advanceBy(3000);
    const { reports, raw } = r.drain();
    expect(reports).toEqual([]);
    expect(raw.length).toBeGreaterThan(500);
    r.command(0x00ff, [0x01, 0x00]);
    expect(r.part.parameters.configMode).toBe(false);
    r.part.open(115200);
    r.clock.advanceBy(1000);
    expect(r.drain().reports.length).toBe(10);
  });

  it("factory reset takes effect at the restart", () => {
    const r = rig();
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x0060, gatesAndHold(5, 5, 0));
    r.command(0x00a2);
    expect(r.part.parameters.holdS).toBe(0);
    r.command(0x00a3);
    expect(r.part.parameters).toMatchObject({ holdS: 5, maxMovingGate: 8 });
  });
});

describe("Ld2410Part UART", () => {
  it("loses bytes when the node does not read: a bounded FIFO", () => {
    const r = rig([], { fifoBytes: 256 });
    r.clock.advanceBy(10_000);
    const { reports, raw } = r.drain();
    expect(raw.length).toBe(256);
    expect(reports.length).toBe(11); // 11 whole frames, the 12th cut
    expect(r.part.stats.overflowBytes + r.part.stats.skippedReports * 23).toBeGreaterThan(2000);
    r.clock.advanceBy(1000);
    expect(r.drain().reports.length).toBe(10);
  });

  it("sends nothing while the port is closed, and starts afresh when it is opened", () => {
    const r = rig();
    r.part.open(256000);
    r.clock.advanceBy(1000);
    r.part.close();
    r.clock.advanceBy(5000);
    r.part.open(256000);
    expect(r.drain().raw).toEqual([]);
    r.clock.advanceBy(500);
    expect(r.drain().reports.length).toBe(5);
  });

  it("garbles everything for a node at another baud rate, and does not understand it", () => {
    const r = rig();
    r.part.open(115200);
    r.part.receive(Uint8Array.from(ENABLE_CONFIG));
    r.clock.advanceBy(2000);
    const { reports, raw } = r.drain();
    expect(reports).toEqual([]);
    expect(raw.length).toBe(20 * 23);
    expect(r.part.parameters.configMode).toBe(false);
  });
});

describe("Ld2410Part faults", () => {
  it("garbage: random bytes before the next frames", () => {
    const r = rig();
    r.part.injectFault("garbage", { count: 2, bytes: 30 });
    r.clock.advanceBy(1000);
    const { reports, raw } = r.drain();
    expect(raw.length).toBe(10 * 23 + 60);
    expect(reports.length).toBe(10);
    expect(r.part.stats.faultyReports).toBe(2);
  });

  it.each([
    ["truncated", (raw: number[]) => expect(raw.length).toBeLessThan(23 * 3)],
    ["bad-tail", (raw: number[]) => expect(raw.length).toBe(69)],
    ["bad-length", (raw: number[]) => expect(raw.length).toBe(69)],
    ["bad-check", (raw: number[]) => expect(raw.length).toBe(69)],
  ] as const)("%s: the next frames are unusable, later ones are fine", (kind, check) => {
    const r = rig();
    r.part.injectFault(kind, { count: 3 });
    r.clock.advanceBy(300);
    const first = r.drain();
    check(first.raw);
    expect(first.reports).toEqual([]);
    r.clock.advanceBy(1000);
    // The cut-off frames are decided once later bytes arrive; every later frame is found.
    expect(r.drain().reports.length).toBe(10);
    expect(r.parser.badFrames + r.parser.discardedBytes).toBeGreaterThan(0);
  });

  it("out-of-range: a moving target beyond the last gate", () => {
    const r = rig();
    r.part.injectFault("out-of-range", { count: 3 });
    const reports = r.watch(1000);
    expect(reports.slice(0, 3).every((s) => s.state === 1 && s.movingCm > 675)).toBe(true);
    expect(reports.slice(3).every((s) => s.state === 0)).toBe(true);
  });

  it("noise burst: phantom targets on an empty street for the given frames", () => {
    const r = rig();
    r.part.injectFault("noise-burst");
    const reports = r.watch(2000);
    expect(reports.slice(0, 5).every((s) => s.state !== 0)).toBe(true);
    expect(reports.slice(5).every((s) => s.state === 0)).toBe(true);
  });

  it("silence: no reports and no ACKs until cleared", () => {
    const r = rig();
    r.part.injectFault("silence");
    r.command(0x00ff, [0x01, 0x00]);
    r.clock.advanceBy(2000);
    expect(r.drain().raw).toEqual([]);
    r.part.clearFaults();
    r.clock.advanceBy(1000);
    expect(r.drain().reports.length).toBe(10);
  });

  it("stuck: the same frame, byte for byte, while the target moves", () => {
    const r = rig([pass(0, 30, 200)]);
    r.watch(3000);
    r.part.injectFault("stuck");
    const frozen = r.watch(5000);
    expect(frozen.length).toBe(50);
    expect(new Set(frozen.map((s) => JSON.stringify({ ...s, t: 0 }))).size).toBe(1);
    expect(frozen[0]!.state).not.toBe(0);
    r.part.clearFaults();
    expect(new Set(r.watch(2000).map((s) => s.stationaryCm)).size).toBeGreaterThan(3);
  });

  it("unplugged: nothing either way; plugged back it boots afresh (configuration mode lost)", () => {
    const r = rig();
    r.command(0x00ff, [0x01, 0x00]);
    r.drain();
    r.part.injectFault("unplugged");
    r.command(0x00fe);
    r.clock.advanceBy(2000);
    expect(r.drain().raw).toEqual([]);
    expect(r.part.parameters.configMode).toBe(true);
    r.part.clearFaults();
    expect(r.part.parameters.configMode).toBe(false);
    r.clock.advanceBy(1000);
    expect(r.drain().reports.length).toBe(5); // 500 ms of boot
  });

  it("rejects bad fault options", () => {
    const r = rig();
    expect(() => r.part.injectFault("garbage", { count: 0 })).toThrow(RangeError);
    expect(() => r.part.injectFault("garbage", { bytes: 0 })).toThrow(RangeError);
    expect(() => r.part.injectFault("melted" as never)).toThrow(RangeError);
  });

  it("counts and resets its stats", () => {
    const r = rig();
    r.command(0x00ff, [0x01, 0x00]);
    r.command(0x00fe);
    r.clock.advanceBy(1000);
    r.drain();
    expect(r.part.stats).toMatchObject({ reports: 10, acks: 2, commands: 2, bytesReceived: 26 });
    r.part.resetStats();
    expect(r.part.stats.reports).toBe(0);
  });
});
