/**
 * Fuzzing what the sensor drivers read from their buses (docs/fuzzing.md): the PMS5003 and LD2410
 * UART frame parsers and drivers, the SHT4x and SCD4x CRC-checked I2C words, BLE advertisements, the
 * sound meter's ADC counts and the loop detector's edges. The buses here are hostile stand-ins that
 * hand the driver whatever the case says (any bytes, any number, a throw), not simulated parts.
 *
 * Drivers declare that they never throw: bad input is a counted drop. The properties check that, that
 * every value a driver returns lies within the range it declares for that output, that parsers stay
 * within their fixed buffers and always make progress, and that corruption a checksum must catch
 * (one changed byte of a PMS5003 frame, one flipped bit of a Sensirion word) is never taken as a reading.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Analog, BleAdvertisement, BleScanner, BleScanOptions, Buses, Digital, DigitalOptions, I2C, Serial } from "../../src/platform.js";
import { BLE_RSSI_MAX, BleScan, classifyBleAddress, type BleAddressKind } from "../../src/sensors/ble-scan.js";
import { Ld2410 } from "../../src/sensors/ld2410.js";
import { LD2410_ACK, LD2410_MAX_GATE, LD2410_NONE, LD2410_REPORT, Ld2410FrameParser } from "../../src/sensors/ld2410-frame.js";
import { Pms5003 } from "../../src/sensors/pms5003.js";
import { PMS_FRAME, PMS_NEED_MORE, PmsFrameParser, pmsChecksum, pmsEncodeAck, pmsEncodeDataFrame } from "../../src/sensors/pms5003-frame.js";
import { Scd4x } from "../../src/sensors/scd4x.js";
import { sensirionCrc8 } from "../../src/sensors/sensirion-crc.js";
import type { SensorDriver } from "../../src/sensors/sensor-driver.js";
import { Sht4x } from "../../src/sensors/sht4x.js";
import { SoundLevelMeter } from "../../src/sensors/sound-level-meter.js";
import { VehicleDetector } from "../../src/sensors/vehicle-detector.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { anyBytes, concat, fuzzProperty, mutantsOf } from "../support/fuzz.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);

// --- hostile buses --------------------------------------------------------------------------------

/** What one read of a bus gives the driver: bytes (I2C: as many as it asks, zero-filled) or a throw. */
type BusAnswer = Uint8Array | "throw";

/** Buses that hand out what a case scripts, in order, and record nothing else. */
class HostileBuses implements Buses {
  i2cAnswers: BusAnswer[] = [];
  /** The next this many I2C writes are NACKed. */
  i2cWriteNacks = 0;
  serialChunks: BusAnswer[] = [];
  analogValues: Array<number | "throw"> = [];
  digitalLevel: 0 | 1 = 0;
  digitalThrows = false;
  onEdge: (() => void) | undefined;
  bleDeliver: ((advertisement: BleAdvertisement) => void) | undefined;
  bleOpenFails = false;

  openI2C(): I2C {
    return {
      read: (buffer) => {
        const answer = this.i2cAnswers.shift() ?? "throw";
        if (answer === "throw") throw new Error("NACK");
        buffer.fill(0);
        buffer.set(answer.subarray(0, buffer.length));
      },
      write: () => {
        if (this.i2cWriteNacks > 0) {
          this.i2cWriteNacks--;
          throw new Error("NACK");
        }
      },
      close: () => {},
    };
  }

  openSerial(): Serial {
    return {
      read: (buffer) => {
        const chunk = this.serialChunks.shift();
        if (chunk === undefined) return 0;
        if (chunk === "throw") throw new Error("UART error");
        const n = Math.min(chunk.length, buffer.length);
        buffer.set(chunk.subarray(0, n));
        if (n < chunk.length) this.serialChunks.unshift(chunk.subarray(n));
        return n;
      },
      write: (buffer) => buffer.length,
      close: () => {},
    };
  }

  openAnalog(): Analog {
    return {
      resolution: 12,
      read: () => {
        const value = this.analogValues.shift() ?? 0;
        if (value === "throw") throw new Error("ADC error");
        return value;
      },
      close: () => {},
    };
  }

  openDigital(options: DigitalOptions): Digital {
    this.onEdge = options.onReadable;
    return {
      read: () => {
        if (this.digitalThrows) throw new Error("GPIO error");
        return this.digitalLevel;
      },
      write: () => {},
      close: () => {},
    };
  }

  openBleScanner(options: BleScanOptions): BleScanner {
    if (this.bleOpenFails) throw new Error("radio down");
    this.bleDeliver = options.onAdvertisement;
    return { close: () => (this.bleDeliver = undefined) };
  }
}

/** A driver call must not throw, and what it returns must lie within the outputs' declared ranges. */
function sampleChecked(driver: SensorDriver): Float64Array | undefined {
  let values: Float64Array | undefined;
  try {
    values = driver.sample();
  } catch (error) {
    throw new Error(`${driver.part}.sample() threw ${(error as Error).name}: ${(error as Error).message}`);
  }
  if (values === undefined) return undefined;
  driver.outputs.forEach((output, i) => {
    const value = values![i]!;
    if (Number.isNaN(value)) return; // "no value for this output this time"
    expect(value, `${driver.part} ${output.quantity}`).toBeGreaterThanOrEqual(output.min);
    expect(value, `${driver.part} ${output.quantity}`).toBeLessThanOrEqual(output.max);
  });
  return values;
}

/** Every drop and reading is counted; the counters only grow and stay integers. */
function checkHealth(driver: SensorDriver): void {
  expect(Number.isInteger(driver.health.totalDrops) && driver.health.totalDrops >= 0).toBe(true);
  expect(Number.isInteger(driver.health.readings) && driver.health.readings >= 0).toBe(true);
}

const chunkSizes = fc.array(fc.integer({ min: 1, max: 96 }), { minLength: 1, maxLength: 12 });

function chunked(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

// --- PMS5003 --------------------------------------------------------------------------------------

const pmsWords = fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 13, maxLength: 13 });
/** Words a working part sends: PM values within the driver's range, counts anything. */
const plausiblePmsWords = fc.tuple(fc.array(fc.integer({ min: 0, max: 1100 }), { minLength: 6, maxLength: 6 }), fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 7, maxLength: 7 })).map(([pm, rest]) => [...pm, ...rest]);
const pmsFrame = fc.oneof(
  { weight: 2, arbitrary: pmsWords.map((words) => encodePms(words)) },
  { weight: 2, arbitrary: plausiblePmsWords.map((words) => encodePms(words)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0xe1, 0xe4), fc.integer({ min: 0, max: 1 })).map(([command, data]) => encodePmsAck(command, data)) },
);
const pmsStream = fc.array(pmsFrame, { minLength: 1, maxLength: 6 }).map((frames) => concat(...frames));

function encodePms(words: readonly number[]): Uint8Array {
  const frame = new Uint8Array(32);
  pmsEncodeDataFrame(words, frame);
  return frame;
}

function encodePmsAck(command: number, data: number): Uint8Array {
  const frame = new Uint8Array(8);
  pmsEncodeAck(command, data, frame);
  return frame;
}

/** Feeds `bytes` in chunks; checks the parser's bounds; returns the data frames it accepted. */
function parsePms(bytes: Uint8Array, sizes: readonly number[]): number[][] {
  const parser = new PmsFrameParser();
  const frames: number[][] = [];
  for (const chunk of chunked(bytes, sizes)) {
    let offset = 0;
    while (offset < chunk.length) {
      const took = parser.push(chunk, offset, chunk.length - offset);
      expect(took).toBeGreaterThan(0); // after PMS_NEED_MORE there is always room
      offset += took;
      // Every next() consumes a byte or says PMS_NEED_MORE: at most one call per buffered byte, plus one.
      let calls = 0;
      const budget = parser.buffered + 1;
      for (let r = parser.next(); r !== PMS_NEED_MORE; r = parser.next()) {
        expect(r >= 1 && r <= 4).toBe(true);
        if (r === PMS_FRAME) frames.push([...parser.words]);
        expect(++calls).toBeLessThanOrEqual(budget);
      }
      expect(parser.buffered).toBeLessThan(32);
    }
  }
  return frames;
}

describe("PMS5003 frames under fuzzing", () => {
  it("random and mutated streams: bounded buffer, progress, and only checksum-valid frames", () => {
    fuzzProperty("pms5003.parser", 1500, fc.tuple(fc.oneof(anyBytes(1200), mutantsOf(pmsStream, { lengthFields: () => [2, 3] }).map((m) => m.bytes)), chunkSizes), ([bytes, sizes]) => {
      for (const words of parsePms(bytes, sizes)) expect(words.length).toBe(13);
    });
  });

  it("one changed byte inside a frame is never taken as a reading", () => {
    const changed = fc.tuple(pmsWords, fc.integer({ min: 4, max: 31 }), fc.integer({ min: 1, max: 255 }), chunkSizes);
    fuzzProperty("pms5003.checksum", 2000, changed, ([words, at, delta, sizes]) => {
      const frame = encodePms(words);
      frame[at] = (frame[at]! + delta) & 0xff;
      expect(pmsChecksum(frame, 0, 30) === ((frame[30]! << 8) | frame[31]!)).toBe(false);
      expect(parsePms(frame, sizes)).toEqual([]);
    });
  });

  it("the driver over a hostile port: never throws, values within 0..1000 µg/m³", () => {
    const script = fc.array(fc.tuple(fc.oneof(anyBytes(200), pmsStream, fc.constant("throw" as const)), fc.integer({ min: 1, max: 3000 })), { maxLength: 12 });
    fuzzProperty("pms5003.driver", 400, script, (steps) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Pms5003({ buses, clock, sensor: { port: "pm" } });
      driver.configure();
      for (const [chunk, ms] of steps) {
        buses.serialChunks.push(chunk);
        clock.advanceBy(ms);
        sampleChecked(driver);
      }
      checkHealth(driver);
    });
  });
});

// --- LD2410 ---------------------------------------------------------------------------------------

function ld2410Report(state: number, moving: number, movingEnergy: number, stationary: number, stationaryEnergy: number): Uint8Array {
  const le16 = (v: number) => [v & 0xff, v >> 8];
  return Uint8Array.of(0xf4, 0xf3, 0xf2, 0xf1, 0x0d, 0x00, 0x02, 0xaa, state, ...le16(moving), movingEnergy, ...le16(stationary), stationaryEnergy, 0, 0, 0x55, 0x00, 0xf8, 0xf7, 0xf6, 0xf5);
}

function ld2410Ack(command: number, values: Uint8Array): Uint8Array {
  const length = 4 + values.length;
  return Uint8Array.of(0xfd, 0xfc, 0xfb, 0xfa, length & 0xff, length >> 8, command & 0xff, (command >> 8) | 0x01, 0x00, 0x00, ...values, 0x04, 0x03, 0x02, 0x01);
}

const ld2410Frame = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 100 })).map((f) => ld2410Report(...f)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(0x00ff, 0x0060, 0x00a0, 0x00fe), fc.uint8Array({ maxLength: 8 })).map(([command, values]) => ld2410Ack(command, values)) },
);
const ld2410Stream = fc.array(ld2410Frame, { minLength: 1, maxLength: 6 }).map((frames) => concat(...frames));

describe("LD2410 frames under fuzzing", () => {
  it("random and mutated streams: bounded buffer, progress, fields within the protocol's ranges", () => {
    const input = fc.oneof(anyBytes(1500), mutantsOf(ld2410Stream, { lengthFields: () => [4, 5] }).map((m) => m.bytes));
    fuzzProperty("ld2410.parser", 1500, fc.tuple(input, chunkSizes), ([bytes, sizes]) => {
      const parser = new Ld2410FrameParser();
      for (const chunk of chunked(bytes, sizes)) {
        let offset = 0;
        while (offset < chunk.length) {
          const rest = chunk.subarray(offset);
          const took = parser.push(rest, rest.length);
          offset += took;
          let calls = 0;
          const budget = parser.buffered + 1;
          for (let kind = parser.next(); kind !== LD2410_NONE; kind = parser.next()) {
            expect(kind === LD2410_REPORT || kind === LD2410_ACK).toBe(true);
            if (kind === LD2410_REPORT) {
              expect(parser.targetState).toBeLessThanOrEqual(3);
              expect(parser.maxMovingGate).toBeLessThanOrEqual(LD2410_MAX_GATE);
              expect(parser.maxStationaryGate).toBeLessThanOrEqual(LD2410_MAX_GATE);
            } else {
              expect(parser.ackDataLength).toBeLessThanOrEqual(parser.ackData.length);
            }
            expect(++calls).toBeLessThanOrEqual(budget);
          }
          expect(parser.free).toBeGreaterThanOrEqual(parser.capacity - 73);
          if (took === 0) expect(parser.free).toBe(0); // only a full buffer takes nothing
        }
        expect(parser.buffered).toBeLessThanOrEqual(parser.capacity);
      }
    });
  });

  it("the driver over a hostile port: never throws, entries and presence within their ranges", () => {
    const script = fc.array(fc.tuple(fc.oneof(anyBytes(300), ld2410Stream, fc.constant("throw" as const)), fc.integer({ min: 1, max: 2500 })), { maxLength: 15 });
    fuzzProperty("ld2410.driver", 400, script, (steps) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Ld2410({ buses, clock, sensor: { port: "radar" } });
      driver.configure();
      let sinceReadingMs = 0;
      for (const [chunk, ms] of steps) {
        buses.serialChunks.push(chunk);
        clock.advanceBy(ms);
        sinceReadingMs += ms;
        const values = sampleChecked(driver);
        if (values) {
          expect(Number.isInteger(values[0])).toBe(true);
          // Presence is handed over by the next reading: never more than the time since the last one.
          expect(values[1]!).toBeLessThanOrEqual(sinceReadingMs / 1000 + 1e-9);
          sinceReadingMs = 0;
        }
      }
      checkHealth(driver);
    });
  });
});

// --- Sensirion SHT4x and SCD4x --------------------------------------------------------------------

function sensirionWord(value: number): number[] {
  const bytes = Uint8Array.of(value >> 8, value & 0xff);
  return [bytes[0]!, bytes[1]!, sensirionCrc8(bytes, 0, 2)];
}

/** A response of `words` with valid CRCs. */
const validResponse = (words: number) => fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: words, maxLength: words }).map((ws) => Uint8Array.from(ws.flatMap(sensirionWord)));
/** A burst of up to 8 flipped bits inside one 3-byte word: CRC-8 0x31 detects every such burst. */
const flippedWord = (words: number) =>
  fc.tuple(validResponse(words), fc.integer({ min: 0, max: words - 1 }), fc.integer({ min: 0, max: 16 }), fc.integer({ min: 1, max: 255 })).map(([response, word, shift, burst]) => {
    const out = response.slice();
    const bits = (burst << shift) & 0xffffff; // within the word's 24 bits
    const pattern = bits === 0 ? 1 : bits;
    out[3 * word]! ^= pattern >> 16;
    out[3 * word + 1]! ^= (pattern >> 8) & 0xff;
    out[3 * word + 2]! ^= pattern & 0xff;
    return out;
  });

const i2cAnswer = (bytes: number) => fc.oneof(anyBytes(bytes + 2), validResponse(bytes / 3), fc.constant("throw" as const));
/** An SCD4x measurement a working part sends: 400..5000 ppm, 0..40 °C, any humidity, with valid CRCs. */
const plausibleScdMeasurement = fc
  .tuple(fc.integer({ min: 400, max: 5000 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffff }))
  .map(([co2, celsius, rh]) => Uint8Array.from([co2, Math.round(((celsius + 45) * 65535) / 175), rh].flatMap(sensirionWord)));
const scdAnswer = fc.oneof(
  { weight: 1, arbitrary: i2cAnswer(3) },
  { weight: 1, arbitrary: i2cAnswer(9) },
  { weight: 2, arbitrary: plausibleScdMeasurement },
  { weight: 2, arbitrary: fc.constant(Uint8Array.from(sensirionWord(0x8006))) }, // data ready
);

describe("Sensirion words under fuzzing", () => {
  it("SHT4x over a hostile bus: never throws, values within -40..125 °C and 0..100 %RH", () => {
    const step = fc.tuple(i2cAnswer(6), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 1 }));
    fuzzProperty("sht4x.random", 1000, fc.array(step, { maxLength: 20 }), (steps) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Sht4x({ buses, clock, sensor: { bus: "main" } });
      driver.configure();
      for (const [answer, ms, nacks] of steps) {
        buses.i2cAnswers.push(answer);
        buses.i2cWriteNacks = nacks;
        clock.advanceBy(ms);
        sampleChecked(driver);
      }
      checkHealth(driver);
    });
  });

  it("SHT4x: a burst of flipped bits in either word is a checksum drop, never a reading", () => {
    fuzzProperty("sht4x.crc", 1500, flippedWord(2), (response) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Sht4x({ buses, clock, sensor: { bus: "main" } });
      driver.configure();
      clock.advanceBy(10);
      buses.i2cAnswers.push(response);
      expect(sampleChecked(driver)).toBeUndefined();
      expect(driver.health.drops.checksum).toBe(1);
      expect(driver.health.readings).toBe(0);
    });
  });

  it("SCD4x over a hostile bus: never throws, CO2 within (0, 40000] ppm, -10..60 °C, 0..100 %RH", () => {
    const step = fc.tuple(scdAnswer, fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 1 }));
    fuzzProperty("scd4x.random", 600, fc.array(step, { maxLength: 40 }), (steps) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Scd4x({ buses, clock, sensor: { bus: "main" } });
      driver.configure();
      for (const [answer, ms, nacks] of steps) {
        buses.i2cAnswers.push(answer);
        buses.i2cWriteNacks = nacks;
        clock.advanceBy(ms);
        const values = sampleChecked(driver);
        if (values) expect(values[0]!).toBeGreaterThan(0);
      }
      checkHealth(driver);
    });
  });

  it("SCD4x: a burst of flipped bits in any word of a measurement is a checksum drop", () => {
    fuzzProperty("scd4x.crc", 1000, flippedWord(3), (measurement) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new Scd4x({ buses, clock, sensor: { bus: "main" } });
      driver.configure(); // stop
      clock.advanceBy(600);
      driver.sample(); // start
      clock.advanceBy(1000);
      driver.sample(); // get_data_ready
      clock.advanceBy(10);
      buses.i2cAnswers.push(Uint8Array.from(sensirionWord(0x0001))); // ready
      driver.sample(); // read_measurement
      clock.advanceBy(10);
      buses.i2cAnswers.push(measurement);
      const before = driver.health.drops.checksum;
      expect(sampleChecked(driver)).toBeUndefined();
      expect(driver.health.drops.checksum).toBe(before + 1);
      expect(driver.health.readings).toBe(0);
    });
  });
});

// --- BLE advertisements ---------------------------------------------------------------------------

const advertisement = fc.record({
  address: fc.oneof(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.uint8Array({ maxLength: 10 }), fc.constantFrom(new Uint8Array(6), new Uint8Array(6).fill(0xff))),
  addressType: fc.oneof(fc.constantFrom("public", "random"), fc.string({ maxLength: 8 })),
  rssi: fc.oneof(fc.integer({ min: -130, max: 25 }), fc.double(), fc.constantFrom(127, Number.NaN, Number.POSITIVE_INFINITY)),
});

describe("BLE advertisements under fuzzing", () => {
  it("the scan hands on only well-formed, nearby, rate-limited addresses, and never throws", () => {
    const script = fc.array(fc.tuple(fc.array(advertisement, { maxLength: 40 }), fc.integer({ min: 0, max: 1500 }), fc.boolean()), { maxLength: 12 });
    fuzzProperty("ble.scan", 500, fc.tuple(script, fc.integer({ min: 1, max: 30 }), fc.integer({ min: -127, max: 20 })), ([steps, maxPerSecond, minRssi]) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const handed: Array<{ length: number; kind: BleAddressKind; rssi: number; at: number }> = [];
      const driver = new BleScan({
        buses,
        clock,
        sensor: {},
        maxPerSecond,
        minRssi,
        onIdentifier: (address, kind, rssi) => handed.push({ length: address.length, kind, rssi, at: clock.monotonicMs() }),
      });
      driver.configure();
      let accepted = 0;
      for (const [adverts, ms, radioDown] of steps) {
        buses.bleOpenFails = radioDown;
        for (const advert of adverts) {
          const before = handed.length;
          try {
            // Typed "public" | "random" by the platform; a host binding could still deliver anything.
            buses.bleDeliver?.(advert as unknown as BleAdvertisement);
          } catch (error) {
            throw new Error(`advertisement callback threw ${(error as Error).name}`);
          }
          if (handed.length > before) expect(classifyBleAddress(advert.address, advert.addressType)).toBe(handed.at(-1)!.kind);
        }
        clock.advanceBy(ms);
        const values = sampleChecked(driver);
        if (values) accepted += values[0]!;
      }
      for (const h of handed) {
        expect(h.length).toBe(6);
        expect(h.rssi >= minRssi && h.rssi <= BLE_RSSI_MAX).toBe(true);
      }
      // Within any one flood window (1 s from its first accepted advertisement) at most maxPerSecond.
      for (let i = 0; i < handed.length; i++) {
        const inWindow = handed.filter((h) => h.at >= handed[i]!.at && h.at < handed[i]!.at + 1000).length;
        expect(inWindow).toBeLessThanOrEqual(2 * maxPerSecond);
      }
      expect(accepted).toBeLessThanOrEqual(handed.length);
      checkHealth(driver);
    });
  });
});

// --- sound meter and loop detector ----------------------------------------------------------------

describe("analog and digital inputs under fuzzing", () => {
  it("the sound meter on any ADC value (NaN, infinities, negatives, fractions, throws): levels within 30..130 dB", () => {
    const reading = fc.oneof(fc.integer({ min: -10, max: 5000 }), fc.double(), fc.constant("throw" as const));
    fuzzProperty("sound.adc", 1000, fc.array(reading, { maxLength: 60 }), (readings) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new SoundLevelMeter({ buses, clock, sensor: { pin: "sound" } });
      driver.configure();
      for (const value of readings) {
        buses.analogValues.push(value);
        clock.advanceBy(125);
        sampleChecked(driver);
      }
      checkHealth(driver);
    });
  });

  it("the loop detector on any edge timeline: vehicles counted whole, occupancy within the interval", () => {
    // Per step: edges (ms apart, with the level after each), then a sample; sometimes the pin read throws.
    const edge = fc.tuple(fc.integer({ min: 0, max: 400 }), fc.constantFrom<0 | 1>(0, 1));
    const step = fc.tuple(fc.array(edge, { maxLength: 30 }), fc.integer({ min: 1, max: 3000 }), fc.boolean());
    fuzzProperty("vehicle.edges", 800, fc.tuple(fc.array(step, { maxLength: 15 }), fc.boolean()), ([steps, activeHigh]) => {
      const buses = new HostileBuses();
      const clock = new SimClock({ startWallMs: START });
      const driver = new VehicleDetector({ buses, clock, sensor: { pin: "loop" }, activeHigh });
      driver.configure();
      let lastSampleMs = clock.monotonicMs();
      for (const [edges, ms, throws] of steps) {
        for (const [gap, level] of edges) {
          clock.advanceBy(gap);
          buses.digitalLevel = level;
          buses.digitalThrows = throws && level === 1;
          try {
            buses.onEdge?.();
          } catch (error) {
            throw new Error(`edge handler threw ${(error as Error).name}`);
          }
        }
        buses.digitalThrows = false;
        clock.advanceBy(ms);
        const values = sampleChecked(driver);
        const now = clock.monotonicMs();
        if (values) {
          expect(Number.isInteger(values[0])).toBe(true);
          // Occupancy is reported up to a horizon 30 ms (the debounce) behind the sample.
          expect(values[1]!).toBeLessThanOrEqual((now - lastSampleMs) / 1000 + 0.031);
        }
        lastSampleMs = now;
      }
      checkHealth(driver);
    });
  });
});
