/**
 * The radio environment around a simulated node: the BLE advertisements its passive scanner receives
 * in a street. Plug it into a `SimBoard` with `board.attachBle(radio)`; the node's `openBleScanner`
 * then starts it.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node. Deterministic from its seed
 * and the street model; virtual time from a `Clock`, delivery driven by a repeating `Timers` timer.
 *
 * What is on the air (Bluetooth Core Specification 5.4, Vol 6, Part B, §1.3 for the address formats):
 * - Pedestrians (from `StreetActivity.pedestriansBetween`, present during [atMs, atMs + dwellMs)) carry
 *   0..3 devices (phone, watch, earbuds). Each advertises, as phones do in the background, every 1..2 s
 *   (a per-device interval and phase), from a RESOLVABLE PRIVATE address (top bits 01: 22 random bits of
 *   prand, then a 24-bit hash standing in for ah(IRK, prand)) that rotates every `rotationMs` (15 min, as
 *   iOS and Android do) at a per-device phase. Address = f(pedestrian id, device index, rotation epoch),
 *   so it is the same on every run and on every node that sees that person, and changes at each epoch.
 * - The site's fixed beacons (`StreetActivity.staticBeacons()`: shop beacons, a parked car) advertise
 *   continuously every 100 ms .. 1 s from PUBLIC addresses, at 3..25 m (some too far to count as nearby).
 * - Occasional one-off NON-RESOLVABLE private addresses (top bits 00): one advertisement each, Poisson
 *   at `oneOffsPerHour`.
 * - `canaries`: fixed addresses the tests choose, advertised as public addresses every second from 2 m,
 *   for as long as the radio runs. Tests search everything the node outputs for them.
 * Signal: log-distance path loss, -59 dBm at 1 m, exponent 2.5, a per-device transmit-power offset
 * (watches and earbuds transmit weaker), Gaussian fading (σ 4 dB), rounded to whole dBm as controllers
 * report, plus this receiver's RSSI calibration error (antenna, enclosure: drawn within ±3 dB from the
 * seed unless pinned). A pedestrian walks past at 1.4 m/s, closest at `distanceCm` mid-dwell. Advertisements below
 * the receiver's sensitivity (-97 dBm, ESP32) are not received, and `receptionProbability` (0.85) of the
 * rest are (the scanner listens on one of three advertising channels at a time; collisions).
 *
 * Delivery: every `intervalMs` (500 ms) of virtual time, the advertisements of the interval just ended,
 * grouped by source (not interleaved in time: a driver counting per second cannot tell). One
 * advertisement object and one address buffer are reused for every delivery, and the address is
 * zeroed when the callback returns, like a host reusing its HCI event buffer: a node that keeps a
 * reference instead of copying reads garbage.
 *
 * Example:
 *   const radio = new SimStreetRadio({ clock, timers: clock, activity, seed: "node-1" });
 *   board.attachBle(radio);
 *
 * Fault injection for tests: see `injectFault`.
 */

import type { BleAdvertisement, Clock, TimerHandle, Timers } from "../../src/platform.js";
import { hashUnit, mix32, Prng, type Seed } from "./prng.js";
import type { SimBleRadio } from "./sim-board.js";
import type { PedestrianPass, StreetActivity } from "./street-activity.js";

/** What the radio reads from the street (a `StreetActivity`, or a stub in tests). */
export type RadioStreet = Pick<StreetActivity, "pedestriansBetween" | "staticBeacons">;

/**
 * - "radio-down": the receiver is dead: nothing is delivered while it is down, and (unless
 *   `startFails: false`, a hung controller that still accepts commands) `start()` throws, until `clearFaults()`.
 * - "malformed": a fraction `rate` (default 1) of advertisements is delivered malformed, `variant`
 *   "length" (a truncated or overlong address: 5 or 7 bytes), "reserved" (a random address with the
 *   reserved type bits 10), "rssi" (RSSI 127, what ESP-IDF reports when it has none), or "mixed"
 *   (default: the three in turn), until `clearFaults()`.
 * - "noise-burst": the next delivery carries `count` (default 400) one-off non-resolvable private
 *   addresses from a strong nearby source (a BLE spam device), one advertisement each.
 */
export type SimBleFaultKind = "radio-down" | "malformed" | "noise-burst";

export interface SimBleFaultOptions {
  /** For "radio-down": whether `start()` throws (default true). */
  readonly startFails?: boolean;
  /** For "malformed": the fraction of advertisements affected, 0..1 (default 1). */
  readonly rate?: number;
  /** For "malformed": which defect (default "mixed"). */
  readonly variant?: "length" | "reserved" | "rssi" | "mixed";
  /** For "noise-burst": how many one-off addresses (default 400). */
  readonly count?: number;
}

/** Counters since construction or `resetStats()`. */
export interface SimBleStats {
  /** Delivery intervals that ran while started. */
  ticks: number;
  /** Intervals in which a down radio delivered nothing. */
  silentTicks: number;
  /** Every advertisement handed to the node, malformed ones included. */
  delivered: number;
  /** Delivered, by source. */
  pedestrianAdvertisements: number;
  beaconAdvertisements: number;
  canaryAdvertisements: number;
  oneOffAdvertisements: number;
  burstAdvertisements: number;
  /** Delivered with an injected defect. */
  malformed: number;
  /** Sent but below the receiver's sensitivity. */
  belowSensitivity: number;
  /** Sent, strong enough, but missed (channel, collision). */
  missed: number;
}

export interface SimStreetRadioOptions {
  /** Wall time places advertisements in the street model. */
  readonly clock: Clock;
  /** Drives delivery while started. */
  readonly timers: Timers;
  readonly activity: RadioStreet;
  /** Seeds fading, reception losses, one-off addresses and faults (not the devices' addresses). */
  readonly seed: Seed;
  /** Fixed 6-byte addresses of a permanently present device (copied). */
  readonly canaries?: readonly Uint8Array[];
  /** Delivery interval, ms; default 500. */
  readonly intervalMs?: number;
  /** Address rotation period of pedestrians' devices, ms; default 15 minutes. */
  readonly rotationMs?: number;
  /** One-off non-resolvable private addresses per hour; default 60. */
  readonly oneOffsPerHour?: number;
  /** Share of receivable advertisements actually received; default 0.85. */
  readonly receptionProbability?: number;
  /** Fading standard deviation, dB; default 4 (0 for a clean channel). */
  readonly fadingSigmaDb?: number;
  /** This receiver's RSSI reporting error, dB; drawn from the seed within ±3 dB when absent. */
  readonly rssiOffsetDb?: number;
}

export const SIM_BLE_DEFAULT_INTERVAL_MS = 500;
export const SIM_BLE_DEFAULT_ROTATION_MS = 15 * 60_000;
/** RSSI at 1 m of a phone, and the log-distance path loss exponent (street, some obstruction). */
export const SIM_BLE_RSSI_AT_1M = -59;
export const SIM_BLE_PATH_LOSS_EXPONENT = 2.5;
/** Weakest advertisement the receiver decodes (ESP32: about -97 dBm on 1 Mbit/s BLE). */
export const SIM_BLE_SENSITIVITY_DBM = -97;
/** The longest a pedestrian stays (StreetActivity: 2.5 + 6 + up to 60 s of lingering), with margin. */
const LOOKBACK_MS = 70_000;
const WALK_SPEED_M_PER_MS = 1.4 / 1000;
/** A lingering pedestrian stands about; they are never farther along the pavement than this. */
const MAX_ALONG_M = 8;
const CANARY_INTERVAL_MS = 1000;
const CANARY_DISTANCE_M = 2;
const ADDRESS_LENGTH = 6;
/** Transmit power offsets by device index: phone, watch, earbuds (dB, before the per-device spread). */
const DEVICE_TX_OFFSET_DB = [0, -4, -6];
/** The defects a "mixed" malformed fault applies in turn. */
const MIXED_DEFECTS = ["length", "reserved", "rssi"] as const;

interface FixedSource {
  readonly address: Uint8Array;
  readonly addressType: "public" | "random";
  readonly intervalMs: number;
  readonly phaseMs: number;
  /** RSSI before fading. */
  readonly meanRssi: number;
}

/** The one reused advertisement object (mutable here, read-only for the node). */
interface MutableAdvertisement {
  address: Uint8Array;
  addressType: "public" | "random";
  rssi: number;
}

function meanRssiAt(distanceM: number, txOffsetDb: number): number {
  return SIM_BLE_RSSI_AT_1M + txOffsetDb - 10 * SIM_BLE_PATH_LOSS_EXPONENT * Math.log10(distanceM < 0.1 ? 0.1 : distanceM);
}

/** Makes sure the bits of `address` below `topMask`'s type bits are neither all 0 nor all 1 (spec §1.3.2). */
function ensureNotDegenerate(address: Uint8Array, topMask: number): void {
  let allZero = (address[0]! & topMask) === 0;
  let allOne = (address[0]! & topMask) === topMask;
  for (let i = 1; i < ADDRESS_LENGTH; i++) {
    if (address[i] !== 0) allZero = false;
    if (address[i] !== 0xff) allOne = false;
  }
  if (allZero || allOne) address[ADDRESS_LENGTH - 1] = address[ADDRESS_LENGTH - 1]! ^ 0x01;
}

export class SimStreetRadio implements SimBleRadio {
  readonly intervalMs: number;
  readonly rotationMs: number;
  /** The site's fixed beacons (public addresses), as delivered. */
  readonly beaconCount: number;
  /** This receiver's RSSI calibration error, added to every reported RSSI. */
  readonly rssiOffsetDb: number;

  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #activity: RadioStreet;
  readonly #noise: Prng;
  readonly #oneOffsPerHour: number;
  readonly #reception: number;
  readonly #fadingSigma: number;
  readonly #beacons: readonly FixedSource[];
  readonly #canaries: readonly FixedSource[];
  readonly #counters: SimBleStats = SimStreetRadio.zeroStats();

  /** Reused for every delivery. */
  readonly #address = new Uint8Array(ADDRESS_LENGTH);
  readonly #shortAddress = new Uint8Array(ADDRESS_LENGTH - 1);
  readonly #longAddress = new Uint8Array(ADDRESS_LENGTH + 1);
  readonly #advertisement: MutableAdvertisement = { address: this.#address, addressType: "random", rssi: 0 };

  #listener: ((advertisement: BleAdvertisement) => void) | undefined;
  #timer: TimerHandle | undefined;
  /** Pedestrians with devices whose presence may overlap the coming intervals. */
  readonly #present: PedestrianPass[] = [];
  /** Arrivals are known up to this wall time (NaN: nothing queried yet). */
  #queriedUntil = Number.NaN;
  readonly #collect = (pass: PedestrianPass): void => {
    if (pass.devices > 0) this.#present.push(pass);
  };
  readonly #tick = (): void => this.#deliverInterval();

  // Fault state
  #down = false;
  #startFails = true;
  #malformedRate = 0;
  #malformedVariant: "length" | "reserved" | "rssi" | "mixed" = "mixed";
  #malformedTurn = 0;
  #burstPending = 0;

  constructor(options: SimStreetRadioOptions) {
    this.#clock = options.clock;
    this.#timers = options.timers;
    this.#activity = options.activity;
    this.intervalMs = options.intervalMs ?? SIM_BLE_DEFAULT_INTERVAL_MS;
    this.rotationMs = options.rotationMs ?? SIM_BLE_DEFAULT_ROTATION_MS;
    this.#oneOffsPerHour = options.oneOffsPerHour ?? 60;
    this.#reception = options.receptionProbability ?? 0.85;
    this.#fadingSigma = options.fadingSigmaDb ?? 4;
    if (!(this.intervalMs >= 1)) throw new RangeError("SimStreetRadio: intervalMs must be >= 1");
    if (!(this.rotationMs >= 1000)) throw new RangeError("SimStreetRadio: rotationMs must be >= 1000");
    if (!(this.#reception >= 0 && this.#reception <= 1)) throw new RangeError("SimStreetRadio: receptionProbability must be 0..1");
    const prng = new Prng(options.seed).fork("ble-radio");
    this.#noise = prng.fork("noise");
    const drawnOffset = prng.fork("calibration").range(-3, 3);
    this.rssiOffsetDb = options.rssiOffsetDb ?? drawnOffset;

    const layout = prng.fork("beacons");
    this.#beacons = options.activity.staticBeacons().map((beacon) => {
      const address = new Uint8Array(ADDRESS_LENGTH);
      const oui = mix32(beacon ^ 0x0e1ab1e);
      address[0] = (oui >>> 24) & 0xfc; // a universally administered unicast OUI
      address[1] = (oui >>> 16) & 0xff;
      address[2] = (oui >>> 8) & 0xff;
      address[3] = (beacon >>> 16) & 0xff;
      address[4] = (beacon >>> 8) & 0xff;
      address[5] = beacon & 0xff;
      ensureNotDegenerate(address, 0xff);
      const intervalMs = 100 + Math.round(900 * layout.next());
      return {
        address,
        addressType: "public",
        intervalMs,
        phaseMs: Math.floor(intervalMs * layout.next()),
        meanRssi: meanRssiAt(layout.range(3, 25), layout.range(-4, 4)),
      } satisfies FixedSource;
    });
    this.beaconCount = this.#beacons.length;
    this.#canaries = (options.canaries ?? []).map((canary, i) => {
      if (canary.length !== ADDRESS_LENGTH) throw new RangeError(`SimStreetRadio: canary ${i} must be ${ADDRESS_LENGTH} bytes`);
      return {
        address: Uint8Array.from(canary),
        addressType: "public",
        intervalMs: CANARY_INTERVAL_MS,
        phaseMs: (137 * i) % CANARY_INTERVAL_MS,
        meanRssi: meanRssiAt(CANARY_DISTANCE_M, 0),
      } satisfies FixedSource;
    });
  }

  private static zeroStats(): SimBleStats {
    return {
      ticks: 0,
      silentTicks: 0,
      delivered: 0,
      pedestrianAdvertisements: 0,
      beaconAdvertisements: 0,
      canaryAdvertisements: 0,
      oneOffAdvertisements: 0,
      burstAdvertisements: 0,
      malformed: 0,
      belowSensitivity: 0,
      missed: 0,
    };
  }

  /** Live counters (the same object on every access; do not modify). */
  get stats(): Readonly<SimBleStats> {
    return this.#counters;
  }

  resetStats(): void {
    Object.assign(this.#counters, SimStreetRadio.zeroStats());
  }

  /** True while started (a scan is open). */
  get running(): boolean {
    return this.#listener !== undefined;
  }

  // The board's side

  start(onAdvertisement: (advertisement: BleAdvertisement) => void): void {
    if (this.#listener !== undefined) throw new Error("SimStreetRadio: already started");
    if (this.#down && this.#startFails) throw new Error("BLE radio down (simulated): controller does not respond");
    this.#listener = onAdvertisement;
    this.#queriedUntil = Number.NaN;
    this.#present.length = 0;
    this.#timer = this.#timers.repeat(this.#tick, this.intervalMs);
  }

  stop(): void {
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    this.#timer = undefined;
    this.#listener = undefined;
    this.#present.length = 0;
  }

  // Fault injection

  /** Injects a fault; see `SimBleFaultKind`. Faults of different kinds combine. */
  injectFault(kind: SimBleFaultKind, options: SimBleFaultOptions = {}): void {
    switch (kind) {
      case "radio-down":
        this.#down = true;
        this.#startFails = options.startFails ?? true;
        return;
      case "malformed": {
        const rate = options.rate ?? 1;
        if (!(rate >= 0 && rate <= 1)) throw new RangeError("injectFault: rate must be within 0..1");
        this.#malformedRate = rate;
        this.#malformedVariant = options.variant ?? "mixed";
        return;
      }
      case "noise-burst": {
        const count = options.count ?? 400;
        if (!Number.isInteger(count) || count < 1) throw new RangeError("injectFault: count must be an integer >= 1");
        this.#burstPending += count;
        return;
      }
      default:
        throw new RangeError(`injectFault: unknown fault kind ${String(kind)}`);
    }
  }

  /** Removes every fault; a radio that was down delivers again from its next interval. */
  clearFaults(): void {
    this.#down = false;
    this.#startFails = true;
    this.#malformedRate = 0;
    this.#malformedVariant = "mixed";
    this.#burstPending = 0;
  }

  // The street's devices, for tests

  /** The rotation epoch of a pedestrian's device at `wallMs`: its address changes when this does. */
  rotationEpoch(pedestrianId: number, deviceIndex: number, wallMs: number): number {
    const phaseMs = Math.floor(this.rotationMs * hashUnit(pedestrianId, 0x207a, deviceIndex));
    return Math.floor((wallMs + phaseMs) / this.rotationMs);
  }

  /** Writes the resolvable private address that device `deviceIndex` of a pedestrian uses at `wallMs`. */
  deviceAddress(pedestrianId: number, deviceIndex: number, wallMs: number, into: Uint8Array): void {
    const epoch = this.rotationEpoch(pedestrianId, deviceIndex, wallMs);
    // prand: 22 random bits per epoch, then the type bits 01 on top (spec §1.3.2.2).
    let random = mix32(mix32(pedestrianId ^ 0x5a17) ^ mix32(deviceIndex * 0x9e3779b9 + epoch)) & 0x3fffff;
    if (random === 0 || random === 0x3fffff) random ^= 0x1;
    const prand = 0x400000 | random;
    // hash = ah(IRK, prand): the device's identity key enciphering prand; a keyed mix stands in.
    const irk = mix32(mix32(pedestrianId ^ 0x1e4) + deviceIndex);
    const hash = mix32(irk ^ prand) & 0xffffff;
    into[0] = prand >>> 16;
    into[1] = (prand >>> 8) & 0xff;
    into[2] = prand & 0xff;
    into[3] = hash >>> 16;
    into[4] = (hash >>> 8) & 0xff;
    into[5] = hash & 0xff;
  }

  // Delivery

  /** Delivers the advertisements of the interval that ends now. */
  #deliverInterval(): void {
    if (this.#listener === undefined) return;
    this.#counters.ticks++;
    const toMs = this.#clock.wallMs();
    const fromMs = toMs - this.intervalMs;
    this.#updatePresent(fromMs, toMs);
    if (this.#down) {
      this.#counters.silentTicks++;
      return;
    }
    for (const pass of this.#present) {
      for (let device = 0; device < pass.devices; device++) this.#deliverDevice(pass, device, fromMs, toMs);
    }
    for (const beacon of this.#beacons) this.#deliverFixed(beacon, fromMs, toMs, "beacon");
    for (const canary of this.#canaries) this.#deliverFixed(canary, fromMs, toMs, "canary");
    this.#deliverOneOffs();
    this.#deliverBurst();
  }

  /** Learns the arrivals up to `toMs` and forgets who left before `fromMs`. */
  #updatePresent(fromMs: number, toMs: number): void {
    const present = this.#present;
    if (!(toMs >= this.#queriedUntil && toMs - this.#queriedUntil <= LOOKBACK_MS)) {
      // First interval, or the wall clock jumped: rebuild from everyone who could still be here.
      present.length = 0;
      this.#queriedUntil = toMs - LOOKBACK_MS;
    }
    if (toMs > this.#queriedUntil) this.#activity.pedestriansBetween(this.#queriedUntil, toMs, this.#collect);
    this.#queriedUntil = toMs;
    let kept = 0;
    for (let i = 0; i < present.length; i++) {
      const pass = present[i]!;
      if (pass.atMs + pass.dwellMs > fromMs) present[kept++] = pass;
    }
    present.length = kept;
  }

  #deliverDevice(pass: PedestrianPass, device: number, fromMs: number, toMs: number): void {
    const id = pass.id;
    const intervalMs = 1000 + Math.floor(1000 * hashUnit(id, 0xad1, device));
    const anchorMs = pass.atMs + Math.floor(intervalMs * hashUnit(id, 0xad2, device));
    const txOffset = (DEVICE_TX_OFFSET_DB[device] ?? -6) + 6 * hashUnit(id, 0xad3, device) - 3;
    const startMs = Math.max(fromMs, pass.atMs);
    const endMs = Math.min(toMs, pass.atMs + pass.dwellMs);
    const closestM = pass.distanceCm / 100;
    const midMs = pass.atMs + pass.dwellMs / 2;
    for (let atMs = anchorMs + Math.ceil((startMs - anchorMs) / intervalMs) * intervalMs; atMs < endMs; atMs += intervalMs) {
      let along = Math.abs(atMs - midMs) * WALK_SPEED_M_PER_MS;
      if (along > MAX_ALONG_M) along = MAX_ALONG_M;
      const meanRssi = meanRssiAt(Math.sqrt(closestM * closestM + along * along), txOffset);
      this.deviceAddress(id, device, atMs, this.#address);
      this.#advertisement.addressType = "random";
      if (this.#transmit(meanRssi, true)) this.#counters.pedestrianAdvertisements++;
    }
  }

  #deliverFixed(source: FixedSource, fromMs: number, toMs: number, kind: "beacon" | "canary"): void {
    const intervalMs = source.intervalMs;
    const anchorMs = source.phaseMs;
    for (let atMs = anchorMs + Math.ceil((fromMs - anchorMs) / intervalMs) * intervalMs; atMs < toMs; atMs += intervalMs) {
      this.#address.set(source.address);
      this.#advertisement.addressType = source.addressType;
      if (!this.#transmit(source.meanRssi, true)) continue;
      if (kind === "beacon") this.#counters.beaconAdvertisements++;
      else this.#counters.canaryAdvertisements++;
    }
  }

  #deliverOneOffs(): void {
    // Poisson count for this interval by inverse CDF (the mean is far below 1).
    const lambda = (this.#oneOffsPerHour * this.intervalMs) / 3_600_000;
    const u = this.#noise.next();
    let count = 0;
    let p = Math.exp(-lambda);
    let cumulative = p;
    while (u > cumulative && count < 16) {
      count++;
      p *= lambda / count;
      cumulative += p;
    }
    for (let i = 0; i < count; i++) {
      this.#fillNonResolvable();
      if (this.#transmit(meanRssiAt(this.#noise.range(2, 25), 0), true)) this.#counters.oneOffAdvertisements++;
    }
  }

  #deliverBurst(): void {
    const count = this.#burstPending;
    this.#burstPending = 0;
    for (let i = 0; i < count; i++) {
      this.#fillNonResolvable();
      // A spam device a metre or two away: strong, and received reliably.
      if (this.#transmit(meanRssiAt(this.#noise.range(0.5, 2), 0), false)) this.#counters.burstAdvertisements++;
    }
  }

  /** A fresh non-resolvable private address (type bits 00) in the shared buffer. */
  #fillNonResolvable(): void {
    const address = this.#address;
    const high = this.#noise.nextUint32();
    const low = this.#noise.nextUint32();
    address[0] = (high >>> 24) & 0x3f;
    address[1] = (high >>> 16) & 0xff;
    address[2] = (high >>> 8) & 0xff;
    address[3] = high & 0xff;
    address[4] = (low >>> 8) & 0xff;
    address[5] = low & 0xff;
    ensureNotDegenerate(address, 0x3f);
    this.#advertisement.addressType = "random";
  }

  /**
   * Sends the advertisement in the shared buffer at `meanRssi` plus fading; returns whether the node
   * received it. `lossy`: subject to missed receptions (channel, collisions).
   */
  #transmit(meanRssi: number, lossy: boolean): boolean {
    const fading = this.#noise.normal() * this.#fadingSigma;
    const missed = this.#noise.next() >= this.#reception; // drawn always: the stream does not depend on faults
    const power = meanRssi + fading;
    let rssi = Math.round(power + this.rssiOffsetDb);
    if (rssi > 20) rssi = 20;
    if (rssi < -127) rssi = -127;
    if (power < SIM_BLE_SENSITIVITY_DBM) {
      this.#counters.belowSensitivity++;
      this.#address.fill(0);
      return false;
    }
    if (lossy && missed) {
      this.#counters.missed++;
      this.#address.fill(0);
      return false;
    }
    const advertisement = this.#advertisement;
    advertisement.address = this.#address;
    advertisement.rssi = rssi;
    if (this.#malformedRate > 0 && (this.#malformedRate >= 1 || this.#noise.next() < this.#malformedRate)) this.#malform();
    const listener = this.#listener;
    if (listener === undefined) return false; // stopped from inside an earlier callback
    this.#counters.delivered++;
    try {
      listener(advertisement);
    } finally {
      // The host reuses its buffers: whatever the node kept a reference to is gone now.
      this.#address.fill(0);
      this.#shortAddress.fill(0);
      this.#longAddress.fill(0);
    }
    return true;
  }

  /** Applies the injected defect to the advertisement about to be delivered. */
  #malform(): void {
    this.#counters.malformed++;
    const advertisement = this.#advertisement;
    const turn = this.#malformedTurn++;
    const variant = this.#malformedVariant === "mixed" ? MIXED_DEFECTS[turn % MIXED_DEFECTS.length]! : this.#malformedVariant;
    switch (variant) {
      case "length": {
        const wrong = turn % 2 === 0 ? this.#shortAddress : this.#longAddress;
        for (let i = 0; i < wrong.length; i++) wrong[i] = this.#address[i % ADDRESS_LENGTH]!;
        advertisement.address = wrong;
        return;
      }
      case "reserved":
        this.#address[0] = (this.#address[0]! & 0x3f) | 0x80;
        advertisement.addressType = "random";
        return;
      case "rssi":
        advertisement.rssi = 127;
        return;
    }
  }
}
