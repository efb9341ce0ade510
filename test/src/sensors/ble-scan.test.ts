import { describe, expect, it } from "vitest";
import type { BleAdvertisement, BleScanOptions, Buses } from "../../../src/platform.js";
import { BleScan, classifyBleAddress, type BleAddressKind, type BleScanDriverOptions } from "../../../src/sensors/ble-scan.js";
import { SimStreetRadio } from "../../../hosts/sim/ble-radio.js";
import { SimBoard, type SimBleRadio } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

/** A weekday, 17:00 local (UTC+1): the evening peak of footfall. */
const START = Date.UTC(2026, 6, 15, 16, 0, 0);
const HOUR_MS = 3_600_000;

function hex(address: Uint8Array): string {
  return Array.from(address, (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

function bytes(text: string): Uint8Array {
  return Uint8Array.from(text.split(":"), (part) => parseInt(part, 16));
}

function unused(): never {
  throw new Error("not on this board");
}

describe("classifyBleAddress (Bluetooth Core 5.4, Vol 6, Part B, §1.3)", () => {
  it.each([
    // Addresses written MSB first, as the platform delivers them; the kind follows from the top two bits.
    ["00:1a:7d:da:71:13", "public", "public"], // an IEEE OUI (00:1A:7D) + NIC: any bits
    ["c0:1a:7d:da:71:13", "public", "public"], // public addresses have no type bits
    ["d3:4f:12:9a:00:01", "random", "random-static"], // 0xd3 = 11|010011
    ["c0:00:00:00:00:01", "random", "random-static"],
    ["4f:21:e5:9a:00:01", "random", "resolvable-private"], // 0x4f = 01|001111
    ["40:00:01:00:00:00", "random", "resolvable-private"], // prand varies; the hash may be anything
    ["1a:21:e5:9a:00:01", "random", "non-resolvable-private"], // 0x1a = 00|011010
    ["3f:ff:ff:ff:ff:fe", "random", "non-resolvable-private"],
  ] as const)("%s (%s) is %s", (address, type, kind) => {
    expect(classifyBleAddress(bytes(address), type)).toBe(kind);
  });

  it.each([
    ["8a:21:e5:9a:00:01", "random", "reserved type bits 10"],
    ["bf:ff:ff:ff:ff:ff", "random", "reserved type bits 10"],
    ["c0:00:00:00:00:00", "random", "static with an all-zero random part"],
    ["ff:ff:ff:ff:ff:ff", "random", "static with an all-one random part"],
    ["00:00:00:00:00:00", "random", "non-resolvable with an all-zero random part"],
    ["3f:ff:ff:ff:ff:ff", "random", "non-resolvable with an all-one random part"],
    ["40:00:00:12:34:56", "random", "RPA whose prand random part is all zeros"],
    ["7f:ff:ff:12:34:56", "random", "RPA whose prand random part is all ones"],
    ["00:00:00:00:00:00", "public", "all-zero public address"],
    ["ff:ff:ff:ff:ff:ff", "public", "all-one public address"],
    ["4f:21:e5:9a:00", "random", "5 bytes"],
    ["4f:21:e5:9a:00:01:02", "random", "7 bytes"],
    ["4f:21:e5:9a:00:01", "anonymous", "an unknown address type"],
  ] as const)("%s (%s) is malformed: %s", (address, type, _why) => {
    expect(classifyBleAddress(bytes(address), type)).toBeUndefined();
  });
});

/** A BLE radio the test drives by hand, behind a board that has nothing else. */
class HandRadio {
  listener: ((advertisement: BleAdvertisement) => void) | undefined;
  opens = 0;
  closes = 0;
  failOpen = false;
  /** One buffer and one object, reused for every advertisement, as a host does. */
  readonly address = new Uint8Array(6);
  readonly advertisement = { address: this.address as Uint8Array, addressType: "random" as "public" | "random", rssi: -60 };
  readonly buses: Buses = {
    openI2C: unused,
    openSerial: unused,
    openAnalog: unused,
    openDigital: unused,
    openBleScanner: (options: BleScanOptions) => {
      if (this.failOpen) throw new Error("BLE controller not responding");
      this.opens++;
      this.listener = options.onAdvertisement;
      return {
        close: () => {
          this.closes++;
          this.listener = undefined;
        },
      };
    },
  };

  /** Delivers one advertisement (`address` as text or bytes of any length). */
  emit(address: string, addressType: "public" | "random" | string, rssi: number): void {
    const value = bytes(address);
    if (value.length === 6) {
      this.address.set(value);
      this.advertisement.address = this.address;
    } else {
      this.advertisement.address = value;
    }
    this.advertisement.addressType = addressType as "public" | "random";
    this.advertisement.rssi = rssi;
    this.listener?.(this.advertisement);
  }
}

interface Identified {
  readonly address: string;
  readonly kind: BleAddressKind;
  readonly rssi: number;
}

function handDriver(options: Partial<BleScanDriverOptions> = {}) {
  const clock = new SimClock({ startWallMs: START });
  const radio = new HandRadio();
  const identified: Identified[] = [];
  const driver = new BleScan({
    buses: radio.buses,
    clock,
    sensor: {},
    onIdentifier: (address, kind, rssi) => identified.push({ address: hex(address), kind, rssi }),
    ...options,
  });
  return { clock, radio, identified, driver };
}

describe("BleScan on hand-made advertisements", () => {
  it("hands each accepted address on once, with its kind and RSSI, and counts it per sample", () => {
    const { radio, identified, driver } = handDriver();
    driver.configure();
    expect(radio.opens).toBe(1);
    radio.emit("00:1a:7d:da:71:13", "public", -60);
    radio.emit("d3:4f:12:9a:00:01", "random", -70);
    radio.emit("4f:21:e5:9a:00:01", "random", -80);
    radio.emit("1a:21:e5:9a:00:01", "random", -85);
    radio.emit("4f:21:e5:9a:00:01", "random", -81); // a repeat sighting is another advertisement
    expect(identified).toEqual([
      { address: "00:1a:7d:da:71:13", kind: "public", rssi: -60 },
      { address: "d3:4f:12:9a:00:01", kind: "random-static", rssi: -70 },
      { address: "4f:21:e5:9a:00:01", kind: "resolvable-private", rssi: -80 },
      { address: "1a:21:e5:9a:00:01", kind: "non-resolvable-private", rssi: -85 },
      { address: "4f:21:e5:9a:00:01", kind: "resolvable-private", rssi: -81 },
    ]);
    expect([...driver.sample()!]).toEqual([5, 0]);
    expect([...driver.sample()!]).toEqual([0, 0]); // since the previous sample
    expect(driver.health.readings).toBe(5);
    expect(driver.outputs).toEqual([
      { quantity: "advertisements", kind: "count", unit: "", min: 0, max: 100_000 },
      { quantity: "devices", kind: "identifiers", unit: "", min: 0, max: 0, counts: "devices" }, // never a value: addresses go to onIdentifier
    ]);
  });

  it("passes the host's own buffer, never a copy, and keeps nothing of it", () => {
    const radio = new HandRadio();
    const received: Uint8Array[] = [];
    let calls = 0;
    const spy = new BleScan({
      buses: radio.buses,
      clock: new SimClock({ startWallMs: START }),
      sensor: {},
      onIdentifier: (address) => {
        calls++;
        received.push(address);
      },
    });
    spy.configure();
    // An advertisement whose fields count reads after the callback has returned.
    let live = true;
    let readsAfter = 0;
    const buffer = bytes("4f:21:e5:9a:00:01");
    const advertisement: BleAdvertisement = {
      get address() {
        if (!live) readsAfter++;
        return buffer;
      },
      get addressType() {
        if (!live) readsAfter++;
        return "random" as const;
      },
      get rssi() {
        if (!live) readsAfter++;
        return -60;
      },
    };
    radio.listener!(advertisement);
    live = false;
    expect(calls).toBe(1); // exactly once per advertisement
    expect(received[0]).toBe(buffer); // the same object: the driver made no copy to keep
    const first = [...spy.sample()!];
    buffer.fill(0xee); // the host reuses its buffer
    buffer[0] = 0x4f;
    const state = JSON.stringify({ health: spy.health, weak: spy.weakAdvertisements, errors: spy.identifierErrors });
    spy.sample();
    spy.configure();
    expect(readsAfter).toBe(0); // nothing reads the advertisement outside the callback
    expect(first).toEqual([1, 0]);
    expect([...spy.sample()!]).toEqual([0, 0]);
    expect(JSON.stringify({ health: spy.health, weak: spy.weakAdvertisements, errors: spy.identifierErrors })).toBe(state);
    // Its public surface holds numbers only: no field can carry an address.
    for (const value of Object.values(spy)) expect(["number", "string", "object"]).toContain(typeof value);
    expect(Object.keys(spy).sort()).toEqual(["health", "identifierErrors", "outputs", "part", "scanRestarts", "weakAdvertisements"]);
  });

  it("counts advertisements weaker than minRssi separately: not nearby, not readings, not errors", () => {
    const { radio, identified, driver } = handDriver();
    driver.configure();
    radio.emit("4f:21:e5:9a:00:01", "random", -86);
    radio.emit("4f:21:e5:9a:00:02", "random", -127);
    radio.emit("4f:21:e5:9a:00:03", "random", -85); // the default threshold itself is nearby
    expect(identified.map((i) => i.address)).toEqual(["4f:21:e5:9a:00:03"]);
    expect(driver.weakAdvertisements).toBe(2);
    expect([...driver.sample()!]).toEqual([1, 0]);
    expect(driver.health.totalDrops).toBe(0);
    expect(driver.health.readings).toBe(1);

    const strict = handDriver({ minRssi: -70 });
    strict.driver.configure();
    strict.radio.emit("4f:21:e5:9a:00:01", "random", -71);
    strict.radio.emit("4f:21:e5:9a:00:01", "random", -70);
    expect(strict.identified).toHaveLength(1);
    expect(strict.driver.weakAdvertisements).toBe(1);
    expect(() => handDriver({ minRssi: -200 })).toThrow(RangeError);
  });

  it("drops malformed advertisements as frame, goes faulty after N in a row and recovers on the next good one", () => {
    const { radio, identified, driver } = handDriver({ faultyAfter: 5 });
    driver.configure();
    radio.emit("4f:21:e5:9a:00", "random", -60); // truncated
    radio.emit("4f:21:e5:9a:00:01:02", "random", -60); // overlong
    radio.emit("8a:21:e5:9a:00:01", "random", -60); // reserved type
    radio.emit("4f:21:e5:9a:00:01", "random", 127); // ESP-IDF: RSSI not available
    expect(driver.health.faulty).toBe(false);
    radio.emit("4f:21:e5:9a:00:01", "random", Number.NaN);
    expect(driver.health.faulty).toBe(true);
    radio.emit("4f:21:e5:9a:00:01", "random", -128);
    radio.emit("4f:21:e5:9a:00:01", "random", 21);
    radio.emit("4f:21:e5:9a:00:01", "anonymous", -60);
    expect(identified).toHaveLength(0);
    expect(driver.health.drops.frame).toBe(8);
    expect([...driver.sample()!]).toEqual([0, 0]);
    radio.emit("4f:21:e5:9a:00:01", "random", -60);
    expect(driver.health.faulty).toBe(false);
    expect(driver.health.faultEpisodes).toBe(1);
  });

  it("drops advertisements beyond maxPerSecond as range, so a flood never reaches the privacy engine", () => {
    const { clock, radio, identified, driver } = handDriver({ maxPerSecond: 10 });
    driver.configure();
    for (let i = 0; i < 25; i++) radio.emit(`1a:21:e5:9a:00:${(i + 1).toString(16).padStart(2, "0")}`, "random", -50);
    expect(identified).toHaveLength(10);
    expect(driver.health.drops.range).toBe(15);
    clock.advanceBy(999);
    radio.emit("1a:21:e5:9a:01:01", "random", -50);
    expect(identified).toHaveLength(10); // still the same second
    clock.advanceBy(1);
    radio.emit("1a:21:e5:9a:01:02", "random", -50);
    expect(identified).toHaveLength(11);
    expect([...driver.sample()!]).toEqual([11, 0]);
  });

  it("survives an onIdentifier that throws: counted, not passed on, nothing escapes", () => {
    const radio = new HandRadio();
    const driver = new BleScan({
      buses: radio.buses,
      clock: new SimClock({ startWallMs: START }),
      sensor: {},
      onIdentifier: () => {
        throw new Error("sketch full");
      },
    });
    driver.configure();
    expect(() => radio.emit("4f:21:e5:9a:00:01", "random", -60)).not.toThrow();
    expect(driver.identifierErrors).toBe(1);
    expect([...driver.sample()!]).toEqual([0, 0]);
  });

  it("counts a scan that cannot be opened as bus, retries on every sample, and recovers", () => {
    const { radio, driver } = handDriver({ faultyAfter: 3 });
    radio.failOpen = true;
    expect(() => driver.configure()).not.toThrow();
    expect(driver.health.drops.bus).toBe(1);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.faulty).toBe(false);
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops.bus).toBe(3);
    expect(driver.health.faulty).toBe(true);
    radio.failOpen = false;
    expect([...driver.sample()!]).toEqual([0, 0]); // opened
    expect(radio.opens).toBe(1);
    radio.emit("4f:21:e5:9a:00:01", "random", -60);
    expect(driver.health.faulty).toBe(false);
  });

  it("restarts a scan that has heard nothing for restartAfterSilentMs, and only then", () => {
    const { clock, radio, driver } = handDriver({ restartAfterSilentMs: 10_000 });
    driver.configure();
    for (let s = 0; s < 20; s++) {
      clock.advanceBy(1000);
      if (s % 3 === 0) radio.emit("4f:21:e5:9a:00:01", "random", -120); // weak, but the radio is alive
      driver.sample();
    }
    expect(driver.scanRestarts).toBe(0);
    for (let s = 0; s < 10; s++) {
      clock.advanceBy(1000);
      driver.sample();
    }
    expect(driver.scanRestarts).toBe(1);
    expect(radio.closes).toBe(1);
    expect(radio.opens).toBe(2);
    expect(radio.listener).toBeDefined();
    expect(driver.health.totalDrops).toBe(0); // a quiet street is not a fault
  });

  it("stops the scan on close(), ignores late deliveries, and configure() starts it again", () => {
    const { radio, identified, driver } = handDriver();
    driver.configure();
    const listener = radio.listener!;
    driver.close();
    expect(radio.closes).toBe(1);
    expect(driver.sample()).toBeUndefined();
    expect(radio.opens).toBe(1); // no reopening after close
    radio.advertisement.address = bytes("4f:21:e5:9a:00:01");
    listener(radio.advertisement);
    expect(identified).toHaveLength(0);
    driver.close(); // harmless
    driver.configure();
    expect(radio.opens).toBe(2);
    expect(driver.sample()).toBeDefined();
  });
});

/** Buses whose BLE scanner releases the radio cleanly when its start throws (see the report on SimBoard). */
function radioBuses(radio: SimBleRadio): Buses {
  return {
    openI2C: unused,
    openSerial: unused,
    openAnalog: unused,
    openDigital: unused,
    openBleScanner(options: BleScanOptions) {
      radio.start(options.onAdvertisement);
      let open = true;
      return {
        close() {
          if (!open) return;
          open = false;
          radio.stop();
        },
      };
    },
  };
}

const CANARY = bytes("ca:4a:21:e5:00:01");

function street(options: { buses?: "board" | "direct"; restartAfterSilentMs?: number; faultyAfter?: number } = {}) {
  const clock = new SimClock({ startWallMs: START });
  const activity = new StreetActivity({ seed: 1, siteSeed: 6, peakPedestriansPerHour: 600 });
  const radio = new SimStreetRadio({ clock, timers: clock, activity, seed: "ble-scan-test", canaries: [CANARY] });
  let buses: Buses;
  if (options.buses === "direct") buses = radioBuses(radio);
  else {
    const board = new SimBoard();
    board.attachBle(radio);
    buses = board;
  }
  const sightings = new Map<string, { kind: BleAddressKind; count: number }>();
  let calls = 0;
  const driver = new BleScan({
    buses,
    clock,
    sensor: {},
    faultyAfter: options.faultyAfter ?? 5,
    restartAfterSilentMs: options.restartAfterSilentMs,
    onIdentifier: (address, kind) => {
      calls++;
      const key = hex(address);
      const entry = sightings.get(key);
      if (entry) entry.count++;
      else sightings.set(key, { kind, count: 1 });
    },
  });
  const outputs: number[] = [];
  let undefinedSamples = 0;
  driver.configure();
  clock.repeat(() => {
    const values = driver.sample();
    if (values === undefined) undefinedSamples++;
    else outputs.push(values[0]!);
  }, 1000);
  return { clock, activity, radio, driver, sightings, outputs, calls: () => calls, undefinedSamples: () => undefinedSamples };
}

describe("BleScan against the simulated street", () => {
  const run = street();
  run.clock.advanceBy(HOUR_MS);
  const { activity, radio, driver, sightings, outputs } = run;

  it("accounts for every advertisement: each accepted one handed on once and counted once", () => {
    const total = outputs.reduce((sum, n) => sum + n, 0);
    expect(outputs).toHaveLength(3600);
    expect(total).toBe(run.calls());
    expect(total).toBe(driver.health.readings);
    expect(radio.stats.delivered).toBe(total + driver.weakAdvertisements + driver.health.totalDrops);
    expect(driver.health.totalDrops).toBe(0);
    expect(driver.weakAdvertisements).toBeGreaterThan(0); // some devices and a beacon are too far
    expect(driver.health.faulty).toBe(false);
  });

  it("sees about as many distinct devices as the activity model puts near the node, with repeat sightings", () => {
    let devices = 0;
    activity.pedestriansBetween(START - 70_000, START + HOUR_MS, (pass) => {
      if (pass.atMs + pass.dwellMs > START) devices += pass.devices;
    });
    const byKind = (kind: BleAddressKind) => [...sightings.values()].filter((s) => s.kind === kind);
    const rpa = byKind("resolvable-private");
    // One advertisement above -85 dBm is enough to be seen; visits of seconds rarely span an address rotation.
    expect(rpa.length).toBeGreaterThan(0.9 * devices);
    expect(rpa.length).toBeLessThanOrEqual(1.05 * devices);
    expect(rpa.filter((s) => s.count >= 2).length).toBeGreaterThan(0.8 * rpa.length);
    // Public: the canary and those of the site's 4 beacons that are near enough; one-offs seen once each.
    const publicAddresses = byKind("public");
    expect(publicAddresses.length).toBeGreaterThanOrEqual(2);
    expect(publicAddresses.length).toBeLessThanOrEqual(1 + radio.beaconCount);
    const nrpa = byKind("non-resolvable-private");
    expect(nrpa.every((s) => s.count === 1)).toBe(true);
    expect(nrpa.length).toBeLessThanOrEqual(radio.stats.oneOffAdvertisements);
  });

  it("delivers the canary to the privacy engine, and nothing the node outputs contains it", () => {
    const canary = sightings.get(hex(CANARY));
    expect(canary?.kind).toBe("public");
    expect(canary!.count).toBeGreaterThan(2500); // every second, 85 % received
    // Outputs are counts, and neither they nor the health and counters carry address bytes.
    expect(outputs.every((n) => Number.isInteger(n) && n >= 0 && n <= 150)).toBe(true);
    const everything = JSON.stringify({ outputs, health: driver.health, driver, part: driver.part });
    const needles = [hex(CANARY), hex(CANARY).replaceAll(":", ""), [...CANARY].join(","), String((CANARY[0]! << 8) | CANARY[1]!)];
    for (const needle of needles) expect(everything).not.toContain(needle);
  });
});

describe("BleScan faults on the simulated street", () => {
  it("malformed advertisements: dropped as frame, faulty while only garbage arrives, healthy after clearFaults", () => {
    const { clock, radio, driver } = street();
    clock.advanceBy(10_000);
    radio.injectFault("malformed");
    clock.advanceBy(10_000);
    expect(driver.health.drops.frame).toBe(radio.stats.malformed);
    expect(driver.health.drops.frame).toBeGreaterThan(20);
    expect(driver.health.faulty).toBe(true);
    radio.clearFaults();
    clock.advanceBy(2000);
    expect(driver.health.faulty).toBe(false);
    expect(driver.health.faultEpisodes).toBe(1);
  });

  it("a noise burst: the excess over maxPerSecond is dropped as range, and nothing throws", () => {
    const { clock, radio, driver, outputs, calls } = street();
    clock.advanceBy(10_000);
    const before = calls();
    radio.injectFault("noise-burst", { count: 400 });
    expect(() => clock.advanceBy(1000)).not.toThrow();
    expect(radio.stats.burstAdvertisements).toBe(400);
    expect(driver.health.drops.range).toBeGreaterThanOrEqual(250);
    expect(calls() - before).toBeLessThanOrEqual(150 + 30);
    expect(Math.max(...outputs)).toBeLessThanOrEqual(150 + 30);
    clock.advanceBy(5000);
    expect(driver.health.faulty).toBe(false); // the street's own advertisements resumed
  });

  it("a hung radio (starts, stays silent) is restarted after restartAfterSilentMs and resumes after clearFaults", () => {
    const { clock, radio, driver } = street({ restartAfterSilentMs: 30_000 });
    clock.advanceBy(5000);
    radio.injectFault("radio-down", { startFails: false });
    clock.advanceBy(65_000);
    expect(driver.scanRestarts).toBe(2);
    radio.clearFaults();
    const readings = driver.health.readings;
    clock.advanceBy(5000);
    expect(driver.health.readings).toBeGreaterThan(readings);
    expect(driver.health.totalDrops).toBe(0);
  });

  it("a dead radio: the restart fails, counted as bus until faulty, and the scan comes back after clearFaults", () => {
    // Direct buses: SimBoard keeps its BLE scanner claimed when the radio's start throws (see the report).
    const { clock, radio, driver, undefinedSamples } = street({ buses: "direct", restartAfterSilentMs: 10_000, faultyAfter: 5 });
    clock.advanceBy(5000);
    radio.injectFault("radio-down");
    clock.advanceBy(20_000);
    expect(driver.scanRestarts).toBe(1);
    expect(driver.health.drops.bus).toBeGreaterThanOrEqual(5);
    expect(driver.health.faulty).toBe(true);
    expect(undefinedSamples()).toBe(driver.health.drops.bus);
    radio.clearFaults();
    clock.advanceBy(3000);
    expect(driver.health.faulty).toBe(false);
    expect(radio.running).toBe(true);
  });

  it("a board without a radio: bus drops until one is attached, then readings", () => {
    const clock = new SimClock({ startWallMs: START });
    const board = new SimBoard();
    const driver = new BleScan({ buses: board, clock, sensor: {}, faultyAfter: 3, onIdentifier: () => {} });
    driver.configure();
    expect(driver.sample()).toBeUndefined();
    expect(driver.sample()).toBeUndefined();
    expect(driver.health.drops.bus).toBe(3);
    expect(driver.health.faulty).toBe(true);
    const activity = new StreetActivity({ seed: 1, siteSeed: 6 });
    board.attachBle(new SimStreetRadio({ clock, timers: clock, activity, seed: 1, canaries: [CANARY] }));
    expect([...driver.sample()!]).toEqual([0, 0]);
    clock.advanceBy(3000);
    expect(driver.sample()![0]).toBeGreaterThan(0);
    expect(driver.health.faulty).toBe(false);
  });
});
