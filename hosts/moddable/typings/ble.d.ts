// The BLE client of the Moddable SDK (modules/network/ble), scanning only, as the SDK's typings
// (typings/ble/) declare the members used.

declare module "btutils" {
  /** An ArrayBuffer holding a Bluetooth address or UUID. */
  class Bytes extends ArrayBuffer {
    constructor(bytes: string | ArrayBufferLike, littleEndian?: boolean);
    equals(bytes: Bytes): boolean;
  }
  export { Bytes };
}

declare module "gap" {
  const GAP: {
    readonly AddressType: { readonly PUBLIC: 0; readonly RANDOM: 1; readonly RPA_PUBLIC: 2; readonly RPA_RANDOM: 3 };
    readonly ScanFilterPolicy: { readonly NONE: 0; readonly WHITELIST: 1; readonly NOT_RESOLVED_DIRECTED: 2; readonly WHITELIST_NOT_RESOLVED_DIRECTED: 3 };
  };
  export { GAP };
}

declare module "gatt" {
  import type { Bytes } from "btutils";
  /** A discovered peripheral, as passed to `onDiscovered`. */
  export interface Client {
    readonly address: Bytes;
    /** A GAP address type number (the SDK's typing says the AddressType table itself, which it is not). */
    readonly addressType: number;
    readonly rssi: number;
  }
}

declare module "bleclient" {
  import type { Client } from "gatt";
  import type { GAP } from "gap";
  type ScanFilterPolicy = (typeof GAP.ScanFilterPolicy)[keyof typeof GAP.ScanFilterPolicy];
  class BLEClient {
    constructor();
    /** The stack is up: scanning may start. */
    onReady(): void;
    startScanning(params?: { active: boolean; duplicates: boolean; filterPolicy: ScanFilterPolicy; interval: number; window: number }): void;
    stopScanning(): void;
    /** One advertisement (or scan response) received. */
    onDiscovered(device: Client): void;
    close(): void;
  }
  export { BLEClient as default };
}
