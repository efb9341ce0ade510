import { describe, expect, it } from "vitest";
import { sensirionCrc8 } from "../../../src/sensors/sensirion-crc.js";
import { Sht4x } from "../../../src/sensors/sht4x.js";
import { SimBoard, type SimI2CDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { Sht4xPart } from "../../../hosts/sim/sht4x-part.js";

const START = Date.UTC(2026, 6, 15, 12, 0, 0);

describe("Sensirion CRC-8", () => {
  it("gives 0x92 for 0xBEEF (datasheet example)", () => {
    expect(sensirionCrc8(Uint8Array.of(0xbe, 0xef), 0, 2)).toBe(0x92);
  });
  it("gives 0x81 for 0x0000 and differs for any single flipped bit of 0xBEEF", () => {
    expect(sensirionCrc8(Uint8Array.of(0, 0), 0, 2)).toBe(0x81);
    for (let bit = 0; bit < 16; bit++) {
      const word = 0xbeef ^ (1 << bit);
      expect(sensirionCrc8(Uint8Array.of(word >> 8, word & 0xff), 0, 2)).not.toBe(0x92);
    }
  });
});

/** A device that answers with fixed bytes: datasheet byte sequences, no simulation. */
class ScriptedDevice implements SimI2CDevice {
  writes: number[][] = [];
  constructor(private response: number[]) {}
  read(buffer: Uint8Array): void {
    buffer.set(this.response.slice(0, buffer.length));
  }
  write(buffer: Uint8Array): void {
    this.writes.push([...buffer]);
  }
}

/** An SHT4x driver on a board whose address 0x44 answers with `response`. */
function scripted(response: number[], clock: SimClock) {
  const device = new ScriptedDevice(response);
  const board = new SimBoard();
  board.attachI2C("main", 0x44, device);
  return { device, driver: new Sht4x({ buses: board, clock, sensor: { bus: "main" } }) };
}

function word(value: number): number[] {
  const bytes = Uint8Array.of(value >> 8, value & 0xff);
  return [bytes[0]!, bytes[1]!, sensirionCrc8(bytes, 0, 2)];
}

describe("SHT4x driver on datasheet bytes", () => {
  const clock = new SimClock({ startWallMs: START });

  it.each([
    // S_T, S_RH -> T, RH from the datasheet formulas: T = -45 + 175 S/65535, RH = -6 + 125 S/65535
    [0x6666, 0x8000, -45 + (175 * 0x6666) / 65535, -6 + (125 * 0x8000) / 65535],
    [0x4000, 0x3000, -45 + (175 * 0x4000) / 65535, -6 + (125 * 0x3000) / 65535],
    [26214, 26214, 25.0, 44.0],
  ])("S_T=%d S_RH=%d -> %f °C, %f %%RH", (st, srh, t, rh) => {
    const { device, driver } = scripted([...word(st), ...word(srh)], clock);
    driver.configure();
    expect(device.writes).toEqual([[0xfd]]); // high repeatability measure command
    clock.advanceBy(10);
    const values = driver.sample();
    expect(values).toBeDefined();
    expect(values![0]).toBeCloseTo(t, 3);
    expect(values![1]).toBeCloseTo(rh, 3);
    expect(device.writes).toEqual([[0xfd], [0xfd]]); // and the next measurement was started
  });

  it("crops humidity to 0..100 as the datasheet says", () => {
    const high = scripted([...word(26214), ...word(0xffff)], clock).driver;
    high.configure();
    clock.advanceBy(10);
    expect(high.sample()![1]).toBe(100);
    const low = scripted([...word(26214), ...word(0)], clock).driver;
    low.configure();
    clock.advanceBy(10);
    expect(low.sample()![1]).toBe(0);
  });

  it("drops a reading outside the part's range (S_T = 0xFFFF is 130 °C) and counts it", () => {
    const { driver } = scripted([...word(0xffff), ...word(0x8000)], clock);
    driver.configure();
    clock.advanceBy(10);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops.range).toBe(1);
  });

  it("drops a reading whose CRC is wrong, counts it, and does not throw", () => {
    const bytes = [...word(26214), ...word(26214)];
    bytes[5] ^= 0x01;
    const { driver } = scripted(bytes, clock);
    driver.configure();
    clock.advanceBy(10);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops.checksum).toBe(1);
    expect(driver.health.readings).toBe(0);
  });
});

function simulatedSensor(options: { noise?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const climate = { at: () => ({ temperatureC: 21.5, humidityPct: 48 }) };
  const part = new Sht4xPart({ clock, climate, seed: "test-part", temperatureOffsetC: 0, humidityOffsetPct: 0, noiseScale: options.noise ?? 0 });
  const board = new SimBoard();
  board.attachI2C("main", 0x44, part);
  const driver = new Sht4x({ buses: board, clock, faultyAfter: 3, sensor: { bus: "main", address: 0x44 } });
  driver.configure();
  const tick = () => {
    clock.advanceBy(10_000);
    return driver.sample();
  };
  return { clock, part, board, driver, tick };
}

describe("SHT4x driver against the simulated part", () => {
  it("reads the air the part is in", () => {
    const { tick } = simulatedSensor();
    const values = tick()!;
    expect(values[0]).toBeCloseTo(21.5, 2);
    expect(values[1]).toBeCloseTo(48, 2);
  });

  it("reports not-ready, not a failure, when sampled before the conversion ends", () => {
    const { clock, driver } = simulatedSensor();
    clock.advanceBy(2);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops["not-ready"]).toBe(1);
    expect(driver.health.consecutiveFailures).toBe(0);
    clock.advanceBy(10);
    expect(driver.sample()).toBeDefined();
  });

  it("drops a corrupted-CRC reading, counts it, and reads again next time", () => {
    const { part, driver, tick } = simulatedSensor();
    part.injectFault("crc", { count: 1, word: "humidity" });
    expect(tick()).toBeUndefined();
    expect(driver.health.drops.checksum).toBe(1);
    expect(tick()).toBeDefined();
    expect(driver.health.readings).toBe(1);
  });

  it("counts NACKs as bus drops and never throws", () => {
    const { part, driver, tick } = simulatedSensor();
    part.injectFault("nack", { count: 2 });
    expect(() => tick()).not.toThrow();
    expect(driver.health.drops.bus).toBeGreaterThanOrEqual(1);
  });

  it("marks an unplugged part faulty after N failures and recovers by itself", () => {
    const { part, driver, tick } = simulatedSensor();
    expect(tick()).toBeDefined();
    part.injectFault("unplugged");
    for (let i = 0; i < 3; i++) expect(tick()).toBeUndefined();
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.faultEpisodes).toBe(1);
    part.clearFaults();
    let recovered;
    for (let i = 0; i < 3 && !recovered; i++) recovered = tick();
    expect(recovered).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("survives a part that is absent from the bus from the start", () => {
    const clock = new SimClock({ startWallMs: START });
    const board = new SimBoard();
    const driver = new Sht4x({ buses: board, clock, faultyAfter: 2, sensor: { bus: "main" } });
    expect(() => driver.configure()).not.toThrow();
    clock.advanceBy(10_000);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.faulty).toBe(true);
    expect(driver.health.drops.bus).toBe(2);
  });

  it("drops readings as stuck once the raw words repeat too long, and recovers when they move", () => {
    const { part, driver, tick } = simulatedSensor({ noise: 1 });
    expect(tick()).toBeDefined();
    part.injectFault("stuck");
    let stuckDrops = 0;
    for (let i = 0; i < 70; i++) if (tick() === undefined) stuckDrops++;
    expect(driver.health.drops.stuck).toBe(stuckDrops);
    expect(stuckDrops).toBeGreaterThanOrEqual(8);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    tick();
    expect(tick()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("drops out-of-range readings as range, goes faulty, and recovers", () => {
    const { part, driver, tick } = simulatedSensor();
    part.injectFault("out-of-range");
    expect(tick()).toBeDefined(); // the measurement started before the fault
    for (let i = 0; i < 3; i++) expect(tick()).toBeUndefined();
    expect(driver.health.drops.range).toBe(3);
    expect(driver.health.faulty).toBe(true);
    part.clearFaults();
    tick();
    expect(tick()).toBeDefined();
    expect(driver.health.faulty).toBe(false);
  });

  it("passes a noise burst through the driver (plausible values), where a median filter can reject it", () => {
    const { part, tick } = simulatedSensor();
    part.injectFault("noise-burst", { count: 3, temperatureC: 20 });
    tick(); // the measurement started before the burst
    const burst = [tick()![0]!, tick()![0]!, tick()![0]!];
    expect(burst.some((t) => Math.abs(t - 21.5) > 2)).toBe(true);
    expect(Math.abs(tick()![0]! - 21.5)).toBeLessThan(0.5);
  });

  it("reuses one values array (no allocation per reading)", () => {
    const { tick } = simulatedSensor({ noise: 1 });
    const first = tick();
    const second = tick();
    expect(second).toBe(first);
  });
});
