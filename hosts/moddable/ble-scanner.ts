/**
 * A passive BLE scan on the ESP32 radio, handing each advertisement to the node's privacy intake.
 *
 * Passive: the node never sends scan requests, so it emits nothing over BLE. Duplicates stay on:
 * the intake decides what counts, and a sketch of distinct pseudonyms does not care how often one
 * address is heard. One advertisement object is reused for every callback (the intake copies
 * nothing out of it, see src/privacy/identifier-intake.ts); the SDK itself allocates per
 * advertisement, which is outside the node's control.
 */
import BLEClient from "bleclient";
import { GAP } from "gap";
import type { Client } from "gatt";
import type { BleAdvertisement, BleScanner, BleScanOptions } from "../../src/platform.js";

/** GAP address type 0 is a public (IEEE-assigned) address; the others are random. */
const PUBLIC_ADDRESS = 0;
/** Scan timing in 0.625 ms units: a 30 ms window every 50 ms keeps the radio free for Wi-Fi. */
const SCAN_INTERVAL = 0x50;
const SCAN_WINDOW = 0x30;

class ReusedAdvertisement implements BleAdvertisement {
  address: Uint8Array = new Uint8Array(6);
  addressType: "public" | "random" = "public";
  rssi = 0;
}

export class PassiveBleScanner extends BLEClient implements BleScanner {
  readonly #onAdvertisement: (advertisement: BleAdvertisement) => void;
  readonly #advertisement = new ReusedAdvertisement();

  constructor(options: BleScanOptions) {
    super();
    this.#onAdvertisement = options.onAdvertisement;
  }

  override onReady(): void {
    this.startScanning({ active: false, duplicates: true, filterPolicy: GAP.ScanFilterPolicy.NONE, interval: SCAN_INTERVAL, window: SCAN_WINDOW });
  }

  override onDiscovered(device: Client): void {
    const advertisement = this.#advertisement;
    // The address's byte order is the stack's; only consistency matters to a keyed pseudonym.
    advertisement.address = new Uint8Array(device.address);
    // A number at run time; the SDK's typing calls it the AddressType table, so read it untyped.
    const { addressType } = device as unknown as { readonly addressType: number };
    advertisement.addressType = addressType === PUBLIC_ADDRESS ? "public" : "random";
    advertisement.rssi = device.rssi;
    try {
      this.#onAdvertisement(advertisement);
    } finally {
      advertisement.address = EMPTY_ADDRESS; // nothing of the address outlives the callback here
    }
  }

  override close(): void {
    this.stopScanning();
    super.close();
  }
}

const EMPTY_ADDRESS = Object.freeze(new Uint8Array(0)) as Uint8Array;
