import { describe, expect, it } from "vitest";
import type { BleAdvertisement } from "../../../src/platform.js";
import { SimStreetRadio, type RadioStreet } from "../../../hosts/sim/ble-radio.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { StreetActivity, type PedestrianPass } from "../../../hosts/sim/street-activity.js";

/** A weekday, 17:00 local (UTC+1): the evening peak of footfall. */
const START = Date.UTC(2026, 6, 15, 16, 0, 0);
const HOUR_MS = 3_600_000;

function hex(address: Uint8Array): string {
  return Array.from(address, (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

interface Sighting {
  readonly atMs: number;
  readonly address: string;
  readonly addressType: "public" | "random";
  readonly length: number;
  readonly rssi: number;
}

/** Starts `radio` with a listener that copies every advertisement (as a node must, if it keeps anything). */
function record(radio: SimStreetRadio, clock: SimClock): Sighting[] {
  const sightings: Sighting[] = [];
  radio.start((ad) => {
    sightings.push({ atMs: clock.wallMs(), address: hex(ad.address), addressType: ad.addressType, length: ad.address.length, rssi: ad.rssi });
  });
  return sightings;
}

/** A street with nobody in it but the given pedestrians and beacons. */
function stubStreet(pedestrians: readonly PedestrianPass[], beacons: number[] = []): RadioStreet {
  return {
    pedestriansBetween(fromMs, toMs, onPass) {
      for (const pass of pedestrians) if (pass.atMs >= fromMs && pass.atMs < toMs) onPass(pass);
    },
    staticBeacons: () => [...beacons],
  };
}

function street(siteSeed: number) {
  const clock = new SimClock({ startWallMs: START });
  const activity = new StreetActivity({ seed: 1, siteSeed, peakPedestriansPerHour: 600 });
  return { clock, activity };
}

describe("SimStreetRadio over an hour of street", () => {
  // Site 6 has four fixed beacons (checked below), so every source kind is on the air.
  const { clock, activity } = street(6);
  const radio = new SimStreetRadio({ clock, timers: clock, activity, seed: "radio-hour" });
  const sightings = record(radio, clock);
  clock.advanceBy(HOUR_MS);
  radio.stop();

  const rpa = sightings.filter((s) => s.addressType === "random" && parseInt(s.address.slice(0, 2), 16) >> 6 === 0b01);
  const nrpa = sightings.filter((s) => s.addressType === "random" && parseInt(s.address.slice(0, 2), 16) >> 6 === 0b00);
  const publicSightings = sightings.filter((s) => s.addressType === "public");

  it("delivers only well-formed advertisements of the expected kinds when no fault is injected", () => {
    expect(sightings.length).toBe(radio.stats.delivered);
    expect(rpa.length + nrpa.length + publicSightings.length).toBe(sightings.length);
    expect(radio.stats.pedestrianAdvertisements).toBe(rpa.length);
    expect(radio.stats.oneOffAdvertisements).toBe(nrpa.length);
    expect(radio.stats.beaconAdvertisements).toBe(publicSightings.length);
    // (Aggregated first: thousands of separate expects would dominate the test's time.)
    // -97 dBm: the receiver's sensitivity, give or take its calibration error.
    const floor = Math.round(-97 + radio.rssiOffsetDb) - 1;
    const wellFormed = sightings.filter((s) => s.length === 6 && Number.isInteger(s.rssi) && s.rssi >= floor && s.rssi <= 20);
    expect(wellFormed.length).toBe(sightings.length);
    expect(Math.abs(radio.rssiOffsetDb)).toBeLessThanOrEqual(3);
  });

  it("sees the devices the activity model puts in range, each under the addresses of its rotation epochs", () => {
    // Everything the model says was in range during the hour: pedestrians × devices × rotation epochs.
    const predicted = new Set<string>();
    let devices = 0;
    const into = new Uint8Array(6);
    activity.pedestriansBetween(START - 70_000, START + HOUR_MS, (pass) => {
      const fromMs = Math.max(START, pass.atMs);
      const toMs = Math.min(START + HOUR_MS, pass.atMs + pass.dwellMs);
      if (toMs <= fromMs) return;
      for (let d = 0; d < pass.devices; d++) {
        devices++;
        // Every address the device uses while present (a visit spans at most one or two epochs).
        for (let t = fromMs; t < toMs; t += 250) {
          radio.deviceAddress(pass.id, d, t, into);
          predicted.add(hex(into));
        }
      }
    });
    const seen = new Set(rpa.map((s) => s.address));
    // No address the model does not explain...
    for (const address of seen) expect(predicted.has(address)).toBe(true);
    // ...and most of what it predicts is seen (far, short visits and missed receptions lose a few).
    expect(devices).toBeGreaterThan(300);
    expect(predicted.size).toBeGreaterThanOrEqual(devices);
    expect(predicted.size).toBeLessThan(devices * 1.05); // a visit of seconds rarely spans a rotation
    expect(seen.size).toBeGreaterThan(0.93 * predicted.size);
  });

  it("has repeat sightings: most devices advertise several times while passing", () => {
    const counts = new Map<string, number>();
    for (const s of rpa) counts.set(s.address, (counts.get(s.address) ?? 0) + 1);
    const repeated = [...counts.values()].filter((n) => n >= 2).length;
    expect(repeated).toBeGreaterThan(0.8 * counts.size);
    expect(rpa.length / counts.size).toBeGreaterThan(2);
  });

  it("has the site's fixed beacons advertising under stable public addresses all hour", () => {
    expect(radio.beaconCount).toBe(4);
    const beacons = new Set(publicSightings.map((s) => s.address));
    expect(beacons.size).toBe(4);
    for (const address of beacons) {
      const times = publicSightings.filter((s) => s.address === address).map((s) => s.atMs);
      expect(Math.min(...times)).toBeLessThan(START + 60_000);
      expect(Math.max(...times)).toBeGreaterThan(START + HOUR_MS - 60_000);
    }
  });

  it("has occasional one-off non-resolvable addresses, each seen once", () => {
    expect(nrpa.length).toBeGreaterThan(20); // 60 per hour by default
    expect(nrpa.length).toBeLessThan(110);
    expect(new Set(nrpa.map((s) => s.address)).size).toBe(nrpa.length);
  });

  it("is deterministic: the same seeds give the same advertisements", () => {
    const again = street(6);
    const twin = new SimStreetRadio({ clock: again.clock, timers: again.clock, activity: again.activity, seed: "radio-hour" });
    const twinSightings = record(twin, again.clock);
    again.clock.advanceBy(HOUR_MS);
    const digest = (list: readonly Sighting[]): string => list.map((s) => `${s.atMs} ${s.address} ${s.addressType} ${s.rssi}`).join("\n");
    expect(twinSightings.length).toBe(sightings.length);
    expect(digest(twinSightings) === digest(sightings)).toBe(true);
  });
});

describe("SimStreetRadio devices", () => {
  const clock = new SimClock({ startWallMs: START });
  const radio = new SimStreetRadio({ clock, timers: clock, activity: stubStreet([]), seed: 1 });

  it("gives a pedestrian's device a resolvable private address that changes exactly at its rotation epochs", () => {
    const into = new Uint8Array(6);
    const addressAt = (wallMs: number): string => {
      radio.deviceAddress(0x1234abcd, 0, wallMs, into);
      return hex(into);
    };
    let boundaries = 0;
    let previous = addressAt(START);
    let previousEpoch = radio.rotationEpoch(0x1234abcd, 0, START);
    for (let t = START + 1000; t <= START + 2 * HOUR_MS; t += 1000) {
      const address = addressAt(t);
      const epoch = radio.rotationEpoch(0x1234abcd, 0, t);
      expect(address !== previous).toBe(epoch !== previousEpoch);
      if (epoch !== previousEpoch) boundaries++;
      expect(into[0]! >> 6).toBe(0b01); // RPA type bits
      previous = address;
      previousEpoch = epoch;
    }
    expect(boundaries).toBe(8); // 2 hours of 15-minute epochs
  });

  it("gives different devices of one person, and different people, different addresses and rotation phases", () => {
    const a = new Uint8Array(6);
    const b = new Uint8Array(6);
    radio.deviceAddress(77, 0, START, a);
    radio.deviceAddress(77, 1, START, b);
    expect(hex(a)).not.toBe(hex(b));
    radio.deviceAddress(78, 0, START, b);
    expect(hex(a)).not.toBe(hex(b));
    const phases = new Set<number>();
    for (let id = 0; id < 50; id++) {
      // The first boundary after START, in seconds: spread over the 15 minutes.
      let t = START;
      const epoch = radio.rotationEpoch(id, 0, START);
      while (radio.rotationEpoch(id, 0, t) === epoch) t += 1000;
      phases.add(Math.floor((t - START) / 60_000));
    }
    expect(phases.size).toBeGreaterThan(8);
  });

  it("delivers a lingering device's rotations end to end", () => {
    const linger = new SimClock({ startWallMs: START });
    const pass: PedestrianPass = { atMs: START, dwellMs: HOUR_MS, distanceCm: 150, id: 0xbeef, devices: 1 };
    const lingerRadio = new SimStreetRadio({ clock: linger, timers: linger, activity: stubStreet([pass]), seed: 2, oneOffsPerHour: 0 });
    const sightings = record(lingerRadio, linger);
    linger.advanceBy(HOUR_MS);
    const distinct = [...new Set(sightings.map((s) => s.address))];
    const epochs = new Set<number>();
    for (let t = START; t < START + HOUR_MS; t += 1000) epochs.add(lingerRadio.rotationEpoch(0xbeef, 0, t));
    expect(distinct.length).toBe(epochs.size); // 4 or 5 epochs in an hour
    // Sightings follow the rotation: each address is that of the epoch it was delivered in (within one interval).
    const into = new Uint8Array(6);
    for (const s of sightings) {
      lingerRadio.deviceAddress(0xbeef, 0, s.atMs - 1, into);
      const now = hex(into);
      lingerRadio.deviceAddress(0xbeef, 0, s.atMs - 500, into);
      expect([now, hex(into)]).toContain(s.address);
    }
    // A phone advertising every 1..2 s, 85 % received: between 1,500 and 3,600 sightings.
    expect(sightings.length).toBeGreaterThan(1500);
    expect(sightings.length).toBeLessThan(3600);
  });

  it("derives RSSI from distance by log-distance path loss", () => {
    // The same device (same id: same interval, phase and transmit power) walking past at 1 m and at 8 m,
    // no fading, no losses: the advertisement nearest to mid-dwell, where the walker is closest.
    const closest = (distanceCm: number): Sighting => {
      const c = new SimClock({ startWallMs: START });
      const pass: PedestrianPass = { atMs: START, dwellMs: 8000, distanceCm, id: 42, devices: 1 };
      const r = new SimStreetRadio({ clock: c, timers: c, activity: stubStreet([pass]), seed: 3, oneOffsPerHour: 0, fadingSigmaDb: 0, receptionProbability: 1, rssiOffsetDb: 0 });
      const sightings = record(r, c);
      c.advanceBy(10_000);
      expect(sightings.length).toBeGreaterThanOrEqual(4);
      return sightings.reduce((best, s) => (Math.abs(s.atMs - (START + 4000)) < Math.abs(best.atMs - (START + 4000)) ? s : best));
    };
    const near = closest(100);
    const far = closest(800);
    expect(near.atMs).toBe(far.atMs);
    // Within one delivery interval of mid-dwell the walker (1.4 m/s) is at most 0.7 m along the pavement.
    // -59 dBm at 1 m (± the device's 3 dB transmit spread), 2.5 × 10 × log10(8) ≈ 22.6 dB weaker at 8 m.
    expect(near.rssi).toBeGreaterThanOrEqual(-64);
    expect(near.rssi).toBeLessThanOrEqual(-56);
    expect(near.rssi - far.rssi).toBeGreaterThanOrEqual(19);
    expect(near.rssi - far.rssi).toBeLessThanOrEqual(24);
  });
});

describe("SimStreetRadio delivery", () => {
  it("reuses one advertisement object and one address buffer, and wipes the address after each callback", () => {
    const { clock, activity } = street(6);
    const radio = new SimStreetRadio({ clock, timers: clock, activity, seed: 9 });
    const objects = new Set<BleAdvertisement>();
    const buffers = new Set<Uint8Array>();
    let kept: Uint8Array | undefined;
    let nonZeroDuringCallback = 0;
    radio.start((ad) => {
      objects.add(ad);
      buffers.add(ad.address);
      kept = ad.address;
      if (ad.address.some((b) => b !== 0)) nonZeroDuringCallback++;
    });
    clock.advanceBy(60_000);
    expect(radio.stats.delivered).toBeGreaterThan(50);
    expect(objects.size).toBe(1);
    expect(buffers.size).toBe(1);
    expect(nonZeroDuringCallback).toBe(radio.stats.delivered);
    expect([...kept!]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("delivers canary addresses as a permanently present device, from its own copy", () => {
    const clock = new SimClock({ startWallMs: START });
    const canary = Uint8Array.of(0xca, 0x4a, 0x21, 0xe5, 0x00, 0x01);
    const radio = new SimStreetRadio({ clock, timers: clock, activity: stubStreet([]), seed: 4, canaries: [canary, Uint8Array.of(1, 2, 3, 4, 5, 6)] });
    canary[5] = 0x99; // the radio copied it
    const sightings = record(radio, clock);
    clock.advanceBy(600_000);
    const first = sightings.filter((s) => s.address === "ca:4a:21:e5:00:01");
    const second = sightings.filter((s) => s.address === "01:02:03:04:05:06");
    // Every second for 10 minutes, 85 % received.
    for (const list of [first, second]) {
      expect(list.length).toBeGreaterThan(450);
      expect(list.length).toBeLessThanOrEqual(600);
      for (const s of list) {
        expect(s.addressType).toBe("public");
        expect(s.rssi).toBeGreaterThan(-85); // 2 m away: always "nearby"
      }
    }
    expect(radio.stats.canaryAdvertisements).toBe(first.length + second.length);
    expect(() => new SimStreetRadio({ clock, timers: clock, activity: stubStreet([]), seed: 4, canaries: [new Uint8Array(5)] })).toThrow(RangeError);
  });

  it("stops delivering and clears its timer on stop(), and refuses a second start", () => {
    const { clock, activity } = street(6);
    const radio = new SimStreetRadio({ clock, timers: clock, activity, seed: 9 });
    const sightings = record(radio, clock);
    expect(() => radio.start(() => {})).toThrow(/already started/);
    clock.advanceBy(10_000);
    const before = sightings.length;
    expect(before).toBeGreaterThan(0);
    radio.stop();
    expect(clock.pendingTimers).toBe(0);
    clock.advanceBy(10_000);
    expect(sightings.length).toBe(before);
    expect(radio.running).toBe(false);
  });
});

describe("SimStreetRadio faults", () => {
  function canaryRadio(seed = 11) {
    const clock = new SimClock({ startWallMs: START });
    const radio = new SimStreetRadio({ clock, timers: clock, activity: stubStreet([], [0x1234567]), seed, canaries: [Uint8Array.of(0xc0, 1, 2, 3, 4, 5)] });
    return { clock, radio };
  }

  it("radio-down: start throws, a running radio goes silent, clearFaults brings it back", () => {
    const { clock, radio } = canaryRadio();
    radio.injectFault("radio-down");
    expect(() => radio.start(() => {})).toThrow(/radio down/);
    expect(radio.running).toBe(false);
    radio.clearFaults();
    const sightings = record(radio, clock);
    clock.advanceBy(5000);
    const before = sightings.length;
    expect(before).toBeGreaterThan(0);
    radio.injectFault("radio-down");
    clock.advanceBy(5000);
    expect(sightings.length).toBe(before);
    expect(radio.stats.silentTicks).toBe(10);
    radio.clearFaults();
    clock.advanceBy(5000);
    expect(sightings.length).toBeGreaterThan(before);
  });

  it("radio-down with startFails false: a hung controller starts but delivers nothing", () => {
    const { clock, radio } = canaryRadio();
    radio.injectFault("radio-down", { startFails: false });
    const sightings = record(radio, clock);
    clock.advanceBy(5000);
    expect(sightings).toHaveLength(0);
    radio.clearFaults();
    clock.advanceBy(5000);
    expect(sightings.length).toBeGreaterThan(0);
  });

  it("malformed: wrong address lengths, the reserved random type, RSSI 127", () => {
    const { clock, radio } = canaryRadio();
    const sightings = record(radio, clock);
    radio.injectFault("malformed");
    clock.advanceBy(30_000);
    expect(radio.stats.malformed).toBe(sightings.length);
    expect(sightings.length).toBeGreaterThan(30);
    const lengths = sightings.filter((s) => s.length !== 6);
    const reserved = sightings.filter((s) => s.length === 6 && s.addressType === "random" && parseInt(s.address.slice(0, 2), 16) >> 6 === 0b10);
    const noRssi = sightings.filter((s) => s.rssi === 127);
    expect(new Set(lengths.map((s) => s.length))).toEqual(new Set([5, 7]));
    expect(lengths.length + reserved.length + noRssi.length).toBe(sightings.length);
    expect(Math.min(lengths.length, reserved.length, noRssi.length)).toBeGreaterThan(sightings.length / 4);

    radio.clearFaults();
    radio.resetStats();
    sightings.length = 0;
    radio.injectFault("malformed", { rate: 0.5, variant: "reserved" });
    clock.advanceBy(120_000);
    expect(radio.stats.malformed / radio.stats.delivered).toBeGreaterThan(0.35);
    expect(radio.stats.malformed / radio.stats.delivered).toBeLessThan(0.65);
    radio.clearFaults();
    const delivered = radio.stats.delivered;
    clock.advanceBy(10_000);
    expect(radio.stats.malformed).toBeLessThan(delivered); // nothing new is malformed
    expect(sightings.slice(-5).every((s) => s.length === 6 && s.rssi !== 127)).toBe(true);
    expect(() => radio.injectFault("malformed", { rate: 2 })).toThrow(RangeError);
  });

  it("noise-burst: hundreds of strong one-off addresses in the next interval, then quiet", () => {
    const { clock, radio } = canaryRadio();
    const sightings = record(radio, clock);
    clock.advanceBy(2000);
    const before = sightings.length;
    radio.injectFault("noise-burst", { count: 300 });
    clock.advanceBy(500);
    const burst = sightings.slice(before).filter((s) => s.addressType === "random");
    expect(burst).toHaveLength(300);
    expect(radio.stats.burstAdvertisements).toBe(300);
    expect(new Set(burst.map((s) => s.address)).size).toBe(300);
    for (const s of burst) {
      expect(parseInt(s.address.slice(0, 2), 16) >> 6).toBe(0b00); // non-resolvable private
      expect(s.rssi).toBeGreaterThan(-85); // nearby: a driver would count it
    }
    const after = sightings.length;
    clock.advanceBy(2000);
    expect(sightings.length - after).toBeLessThan(30); // back to the beacon and the canary
    expect(() => radio.injectFault("noise-burst", { count: 0 })).toThrow(RangeError);
  });
});
