/**
 * Passive BLE advertisement scanning: how many devices (phones, watches, earbuds, beacons) are near
 * the node, counted WITHOUT the node ever keeping who they are.
 *
 * Why this driver is shaped the way it is: an advertiser's address identifies a person's device, so
 * it is personal data. The driver never stores an address, never copies one and never puts one in
 * an output. Each accepted advertisement's address is handed, exactly once and synchronously, to the
 * `onIdentifier` callback (the privacy engine, which pseudonymises it at once with a keyed hash and
 * counts distinct pseudonyms in a sketch). The buffer handed on is the host's own, valid only during
 * that call (`BleAdvertisement` in `src/platform.ts`); the driver forgets it when the call returns.
 * The only thing the driver outputs is how many advertisements it accepted.
 *
 * Address kinds (Bluetooth Core Specification 5.4, Vol 6, Part B, §1.3): a public address is an
 * IEEE-assigned MAC; a random address is classified by its two most significant bits:
 *   11 static random, 01 resolvable private (RPA), 00 non-resolvable private (NRPA), 10 reserved.
 * The spec also requires that the random part (46 bits of a static or non-resolvable address, the
 * 22 bits of an RPA's prand) is neither all zeros nor all ones; addresses breaking that, reserved
 * ones, all-zero or all-one public addresses, wrong lengths and RSSI outside -127..20 dBm (ESP-IDF
 * reports 127 when it has no RSSI) are dropped as "frame".
 *
 * Nearby: advertisers weaker than `minRssi` (default -85 dBm, roughly 10 m from a phone in a street)
 * are not nearby. They are neither readings nor errors; they are counted in `weakAdvertisements`.
 *
 * Floods: more than `maxPerSecond` accepted advertisements within one second (default 150, far more
 * than the devices near a street node produce) are implausible for the quantity measured: a burst
 * of one-off addresses (a BLE spam device, a faulty radio). The excess is dropped as "range" and never
 * reaches the privacy engine, whose sketch would otherwise count hundreds of phantom devices.
 *
 * Health: one reading per accepted advertisement, one drop per rejected one (see above), one "bus"
 * drop per failed attempt to open the scan. So the part turns faulty when the radio delivers only
 * garbage or cannot be started, and healthy again with the next good advertisement. A scan that has
 * heard nothing at all for `restartAfterSilentMs` (BLE stacks are known to stall) is closed and
 * reopened; a radio that is down then fails to open, which is counted.
 *
 * The scan is opened by `configure()`, not by the constructor: opening it starts deliveries, and no
 * identifier should flow to the privacy engine before the node has configured its sensors.
 *
 * Hot path: the advertisement callback runs for every advertisement (tens per second) and allocates
 * nothing; the callback function and the scan options are created once, in the constructor.
 *
 * Example:
 *   const ble = new BleScan({ buses, clock, sensor: {}, onIdentifier: (address, kind, rssi) => privacy.observe(address, kind) });
 *   ble.configure();            // starts the passive scan
 *   // ... every second
 *   const values = ble.sample(); // Float64Array [advertisements accepted since the previous sample] or undefined
 */
import type { BleAdvertisement, BleScanner, BleScanOptions, Buses, Clock } from "../platform.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { SensorHealth } from "./sensor-health.js";

/** What an advertiser's address is, by its type and (for random addresses) its two top bits. */
export type BleAddressKind = "public" | "random-static" | "resolvable-private" | "non-resolvable-private";

/** Called once per accepted advertisement. `address` is the host's buffer: valid only during the call. */
export type BleIdentifierCallback = (address: Uint8Array, kind: BleAddressKind, rssi: number) => void;

export const BLE_ADDRESS_LENGTH = 6;
/** Weakest and strongest RSSI a BLE controller reports (HCI LE Advertising Report: -127..20 dBm). */
export const BLE_RSSI_MIN = -127;
export const BLE_RSSI_MAX = 20;
export const BLE_DEFAULT_MIN_RSSI = -85;
export const BLE_DEFAULT_MAX_PER_SECOND = 150;
export const BLE_DEFAULT_RESTART_AFTER_SILENT_MS = 300_000;

/** What the part measures (also what its disclosure lists, without a driver open: catalog.ts). */
export const OUTPUTS: readonly SensorOutput[] = [
  // Accepted advertisements since the previous sample. With the default per-second cap (150) and
  // sampling intervals up to 10 minutes the count stays below the maximum.
  { quantity: "advertisements", kind: "count", unit: "", min: 0, max: 100_000 },
  // The advertisers themselves: never a value here (always 0, "the scan was listening"); their
  // addresses go to `onIdentifier`, where the privacy engine counts distinct pseudonyms.
  { quantity: "devices", kind: "identifiers", unit: "", min: 0, max: 0, counts: "devices" },
];

export interface BleScanDriverOptions extends DriverContext {
  /** The board has one BLE radio: nothing to choose. */
  readonly sensor: Readonly<Record<string, never>>;
  /** Advertisements weaker than this (dBm) are not nearby; default -85. */
  readonly minRssi?: number;
  /** Accepted advertisements per second above which the excess is dropped as "range"; default 150. */
  readonly maxPerSecond?: number;
  /** Restart a scan that has heard nothing for this long (ms); default 5 minutes, 0 disables. */
  readonly restartAfterSilentMs?: number;
  /** The privacy engine's intake: pseudonymise `address` before returning, keep nothing of it. */
  readonly onIdentifier: BleIdentifierCallback;
}

/**
 * True when the whole address, its first byte masked with `topMask` (0x3f leaves out the two type
 * bits of a random address), is all zeros or all ones.
 */
function degenerate(address: Uint8Array, topMask: number): boolean {
  const head = address[0]! & topMask;
  let allZero = head === 0;
  let allOne = head === topMask;
  for (let i = 1; i < BLE_ADDRESS_LENGTH; i++) {
    const byte = address[i]!;
    if (byte !== 0) allZero = false;
    if (byte !== 0xff) allOne = false;
  }
  return allZero || allOne;
}

/**
 * The kind of an advertiser's address, or undefined when it is malformed (wrong length, reserved
 * random type, a degenerate random part, an all-zero or all-one public address, an unknown type).
 */
export function classifyBleAddress(address: Uint8Array, addressType: string): BleAddressKind | undefined {
  if (address.length !== BLE_ADDRESS_LENGTH) return undefined;
  if (addressType === "public") return degenerate(address, 0xff) ? undefined : "public";
  if (addressType !== "random") return undefined;
  switch (address[0]! >>> 6) {
    case 0b11:
      return degenerate(address, 0x3f) ? undefined : "random-static";
    case 0b01:
      // An RPA is prand (24 bits, 22 of them random) followed by a 24-bit hash: only prand must vary.
      return prandDegenerate(address) ? undefined : "resolvable-private";
    case 0b00:
      return degenerate(address, 0x3f) ? undefined : "non-resolvable-private";
    default:
      return undefined; // 0b10 is reserved for future use
  }
}

/** True when the 22 random bits of an RPA's prand (address bytes 0..2, below the type bits) are all 0 or all 1. */
function prandDegenerate(address: Uint8Array): boolean {
  const head = address[0]! & 0x3f;
  const b1 = address[1]!;
  const b2 = address[2]!;
  return (head === 0 && b1 === 0 && b2 === 0) || (head === 0x3f && b1 === 0xff && b2 === 0xff);
}

export class BleScan implements SensorDriver {
  readonly part = "ble-scan";
  readonly outputs = OUTPUTS;
  readonly health: SensorHealth;
  /** Advertisements received but weaker than `minRssi`, since boot: not nearby, not an error. */
  weakAdvertisements = 0;
  /** Times the onIdentifier callback threw (the advertisement is then not counted). */
  identifierErrors = 0;
  /** Times a silent scan was closed and reopened. */
  scanRestarts = 0;

  readonly #buses: Buses;
  readonly #clock: Clock;
  readonly #minRssi: number;
  readonly #maxPerSecond: number;
  readonly #restartAfterSilentMs: number;
  readonly #onIdentifier: BleIdentifierCallback;
  /** Created once: the host keeps calling this one function. */
  readonly #scanOptions: BleScanOptions;
  readonly #values = new Float64Array(2);
  #scanner: BleScanner | undefined;
  #closed = false;
  /** Accepted since the previous sample. */
  #accepted = 0;
  /** Anything heard (accepted, weak or malformed) since the previous sample. */
  #heard = 0;
  #lastHeardMs = 0;
  /** Start of the current one-second flood window, and what was accepted within it. */
  #floodWindowMs = Number.NEGATIVE_INFINITY;
  #floodCount = 0;

  constructor(options: BleScanDriverOptions) {
    this.#buses = options.buses;
    this.#clock = options.clock;
    this.#minRssi = options.minRssi ?? BLE_DEFAULT_MIN_RSSI;
    this.#maxPerSecond = options.maxPerSecond ?? BLE_DEFAULT_MAX_PER_SECOND;
    this.#restartAfterSilentMs = options.restartAfterSilentMs ?? BLE_DEFAULT_RESTART_AFTER_SILENT_MS;
    if (typeof options.onIdentifier !== "function") throw new TypeError("BleScan: onIdentifier must be a function");
    if (!(this.#minRssi >= BLE_RSSI_MIN && this.#minRssi <= BLE_RSSI_MAX)) throw new RangeError("BleScan: minRssi must be within -127..20 dBm");
    if (!(this.#maxPerSecond >= 1)) throw new RangeError("BleScan: maxPerSecond must be at least 1");
    if (!(this.#restartAfterSilentMs >= 0)) throw new RangeError("BleScan: restartAfterSilentMs must be >= 0");
    this.#onIdentifier = options.onIdentifier;
    this.#scanOptions = { onAdvertisement: (advertisement) => this.#receive(advertisement) };
    this.health = new SensorHealth(options.faultyAfter ?? 5);
  }

  /** Starts the passive scan (the radio is the board's: opening it is what configuring means here). */
  configure(): void {
    this.#closed = false;
    if (this.#scanner === undefined) this.#open();
  }

  sample(): Float64Array | undefined {
    if (this.#closed) return undefined;
    const now = this.#clock.monotonicMs();
    if (this.#scanner === undefined) {
      if (!this.#open()) return undefined;
    } else if (this.#heard > 0) {
      this.#lastHeardMs = now;
    } else if (this.#restartAfterSilentMs > 0 && now - this.#lastHeardMs >= this.#restartAfterSilentMs) {
      this.scanRestarts++;
      this.#stop();
      if (!this.#open()) return undefined;
    }
    this.#heard = 0;
    this.#values[0] = this.#accepted;
    this.#values[1] = 0;
    this.#accepted = 0;
    return this.#values;
  }

  close(): void {
    this.#closed = true;
    this.#stop();
  }

  /** Opens the scan; a failure is a "bus" drop, retried on the next sample. */
  #open(): boolean {
    try {
      this.#scanner = this.#buses.openBleScanner(this.#scanOptions);
    } catch {
      this.#scanner = undefined;
      this.health.recordDrop("bus");
      return false;
    }
    this.#lastHeardMs = this.#clock.monotonicMs();
    return true;
  }

  #stop(): void {
    const scanner = this.#scanner;
    this.#scanner = undefined;
    if (scanner === undefined) return;
    try {
      scanner.close();
    } catch {
      // Closing a failed radio can fail too; the handle is dropped either way.
    }
  }

  /** One advertisement, straight from the host. Allocates nothing, keeps nothing of the address. */
  #receive(advertisement: BleAdvertisement): void {
    if (this.#closed) return; // a late delivery after close()
    this.#heard++;
    const address = advertisement.address;
    const rssi = advertisement.rssi;
    const kind = classifyBleAddress(address, advertisement.addressType);
    if (kind === undefined || !(rssi >= BLE_RSSI_MIN && rssi <= BLE_RSSI_MAX)) {
      this.health.recordDrop("frame");
      return;
    }
    if (rssi < this.#minRssi) {
      this.weakAdvertisements++;
      return;
    }
    const now = this.#clock.monotonicMs();
    if (now - this.#floodWindowMs >= 1000) {
      this.#floodWindowMs = now;
      this.#floodCount = 0;
    }
    if (this.#floodCount >= this.#maxPerSecond) {
      this.health.recordDrop("range");
      return;
    }
    this.#floodCount++;
    try {
      this.#onIdentifier(address, kind, rssi);
    } catch {
      this.identifierErrors++;
      return;
    }
    this.#accepted++;
    this.health.recordReading();
  }
}
