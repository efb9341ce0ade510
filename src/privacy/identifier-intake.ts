/**
 * Where person-linked identifiers enter the node (BLE advertiser addresses): the only consumer of
 * a scanner's addresses. The address is handled inside the call and not kept: nothing here stores,
 * copies, logs or forwards it. The intake counts what it was offered, by address kind, so health
 * reports can show that the scanner works without revealing anything about who was near.
 *
 * The privacy engine plugs in here: a keyed pseudonym of the address feeds a distinct-count sketch
 * (src/privacy/), so that what a window releases is "distinct advertisers", never an address.
 */

import type { BleAddressKind } from "../sensors/ble-scan.js";

export interface IdentifierObserver {
  /** Called once per sighting; `address` is valid only during the call and must not be kept. */
  observe(address: Uint8Array, kind: BleAddressKind, rssi: number): void;
}

export class IdentifierIntake implements IdentifierObserver {
  /** Sightings offered since boot, by kind. Fixed keys: never grows. */
  readonly sightings: Record<BleAddressKind, number> = { public: 0, "random-static": 0, "resolvable-private": 0, "non-resolvable-private": 0 };
  #observer: IdentifierObserver | undefined;

  /** The privacy engine that takes identifiers from now on (one at a time). */
  attach(observer: IdentifierObserver): void {
    this.#observer = observer;
  }

  observe(address: Uint8Array, kind: BleAddressKind, rssi: number): void {
    this.sightings[kind]++;
    this.#observer?.observe(address, kind, rssi);
  }
}
