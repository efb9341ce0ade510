/**
 * The "distinct devices" statistic of a window: every identifier the privacy intake hands over is
 * turned into a keyed pseudonym at once and added to a HyperLogLog sketch; the address is not
 * kept, and the pseudonym only until the next line. When the window closes the sketch gives the
 * estimate and is cleared; the pseudonym key rotates every pseudonym epoch.
 *
 * What the number means: distinct BLE advertisers heard in the window. Phones randomise their
 * addresses (typically every 15 minutes), so one phone present across a rotation counts twice;
 * one person may carry several devices, and many devices do not advertise at all. It measures
 * activity, not people.
 */
import type { Random } from "../platform.js";
import type { StatName } from "../policy/node-config.js";
import type { ChannelStatistics } from "../aggregate/channel-statistics.js";
import type { BleAddressKind } from "../sensors/ble-scan.js";
import type { IdentifierObserver } from "./identifier-intake.js";
import { HyperLogLog } from "./hyperloglog.js";
import { Pseudonymizer } from "./pseudonymizer.js";

export class DistinctDevices implements ChannelStatistics, IdentifierObserver {
  readonly #sketch = new HyperLogLog();
  readonly #pseudonyms: Pseudonymizer;
  readonly #hash = new Uint32Array(2);
  readonly #epochMs: number;
  #epochStartMs = -Infinity;
  /** Samples of the scanner in this window (it was listening), which make a zero a real zero. */
  count = 0;
  /** Identifiers observed in this window (sightings, repeats included). */
  sightings = 0;

  /** `epochSeconds`: how long a pseudonym key lives (a multiple of the window; default one window). */
  constructor(random: Random, epochSeconds: number) {
    this.#pseudonyms = new Pseudonymizer(random);
    this.#epochMs = epochSeconds * 1000;
  }

  /** Pseudonym epochs so far. */
  get epochs(): number {
    return this.#pseudonyms.epochs;
  }

  observe(address: Uint8Array, _kind: BleAddressKind, _rssi: number): void {
    const hash = this.#hash;
    this.#pseudonyms.pseudonym(address, address.length, hash);
    this.#sketch.add(hash[0]!, hash[1]!);
    hash[0] = 0;
    hash[1] = 0;
    this.sightings++;
  }

  /** A scanner sample: the value (advertisements) does not matter, only that it was listening. */
  add(_value: number): void {
    this.count++;
  }

  reset(windowStartMs: number): void {
    this.#sketch.reset();
    this.count = 0;
    this.sightings = 0;
    if (windowStartMs - this.#epochStartMs >= this.#epochMs) {
      this.#pseudonyms.rotate();
      this.#epochStartMs = windowStartMs;
    }
  }

  value(stat: StatName): number {
    if (stat !== "distinct" || this.count === 0) return NaN;
    return Math.round(this.#sketch.estimate());
  }

  /** Erases the key (shutdown). */
  wipe(): void {
    this.#pseudonyms.wipe();
    this.#sketch.reset();
  }
}
