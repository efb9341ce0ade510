/**
 * The simulated reference board: implements the platform's `Buses` by routing the node's bus traffic to
 * simulated parts attached by the simulation (`attachI2C`, `attachSerial`, `attachAnalog`, `attachDigital`).
 *
 * Portable: no Node APIs; runs on XS as it does on Node.
 *
 * Behaves like hardware where a driver could tell the difference:
 * - I2C: opening any address on a known bus succeeds; a transaction to an address with nothing attached
 *   throws `Error("NACK: no device at 0x44 on I2C bus main")`. The device is looked up per transaction,
 *   so parts can be attached or detached (hot-plugged) while a handle is open. Several handles may share
 *   a bus and an address.
 * - Serial ports, analog inputs and digital pins are opened by one handle at a time (a second open throws
 *   until the first is closed). Opening a name with nothing attached throws
 *   `Error('no simulated serial port named "pm"')` (analog input / digital pin likewise).
 * - Every handle throws on use after `close()`; closing twice is harmless.
 *
 * Device-side interfaces are deliberately small; a part implements just the one it plugs into.
 */

import type {
  Analog,
  AnalogOptions,
  BleAdvertisement,
  BleScanner,
  BleScanOptions,
  Buses,
  Digital,
  DigitalOptions,
  I2C,
  I2COptions,
  Serial,
  SerialOptions,
} from "../../src/platform.js";

/**
 * A simulated I2C part, seen from the bus. One call is one transaction (start, address, data, stop).
 * A NACK (of the address or of a data byte) is modelled by throwing an Error whose message contains "NACK".
 * `bytes` and `into` belong to the caller: copy what must be kept, fill `into` entirely.
 */
export interface SimI2CDevice {
  write(bytes: Uint8Array, stop?: boolean): void;
  read(into: Uint8Array, stop?: boolean): void;
}

/**
 * A simulated UART part, seen from the node's port. The line settings are the node's business: the board
 * passes the baud rate to `open` so that a part can refuse a wrong one (by throwing) or garble its output.
 */
export interface SimSerialDevice {
  /** Called when the node opens the port. */
  open?(baud: number): void;
  /** The node sent `bytes` (copy them if kept); returns how many were accepted. */
  receive(bytes: Uint8Array): number;
  /** Moves up to `into.length` bytes the part has sent into `into`; returns how many (0 when none). */
  transmit(into: Uint8Array): number;
  /** Called when the node closes the port. */
  close?(): void;
}

/** A simulated analog source, seen from the ADC. */
export interface SimAnalogDevice {
  /** Bits of the ADC that samples this input, e.g. 12 on the ESP32. */
  readonly resolution: number;
  /** The current reading in ADC counts; the board rounds and clamps it to 0 .. 2^resolution - 1. */
  sample(): number;
}

/** A simulated part on a digital pin. */
export interface SimDigitalDevice {
  /** The level on the pin (for an output pin: what the node drives, as the part sees it). */
  level(): 0 | 1;
  /** The node drives the pin (output mode). */
  drive?(value: 0 | 1): void;
  /**
   * The board registers one listener, which the part calls whenever the level may have changed; the board
   * compares with the last level it saw and calls the node's `onReadable` on a matching edge (synchronously).
   */
  setChangeListener?(listener: () => void): void;
}

/** A simulated radio environment, seen from the board's BLE receiver. */
export interface SimBleRadio {
  /** Starts delivering advertisements (reusing one object is fine: the node copies what it keeps). */
  start(onAdvertisement: (advertisement: BleAdvertisement) => void): void;
  stop(): void;
}

function hex(address: number): string {
  return `0x${address.toString(16).padStart(2, "0")}`;
}

function checkAddress(address: number): void {
  if (!Number.isInteger(address) || address < 0 || address > 0x7f) {
    throw new RangeError(`I2C address must be a 7-bit integer, got ${address}`);
  }
}

interface DigitalPinState {
  readonly device: SimDigitalDevice;
  lastLevel: 0 | 1;
  /** The open handle's edge listener, if any. */
  onEdge: ((from: 0 | 1, to: 0 | 1) => void) | undefined;
}

export interface SimBoardOptions {
  /** I2C bus names of the board; default ["main"]. Attaching to another name adds that bus. */
  readonly i2cBuses?: readonly string[];
}

export class SimBoard implements Buses {
  private readonly i2c = new Map<string, Map<number, SimI2CDevice>>();
  private readonly serialPorts = new Map<string, SimSerialDevice>();
  private readonly analogPins = new Map<string, SimAnalogDevice>();
  private readonly digitalPins = new Map<string, DigitalPinState>();
  private bleRadio: SimBleRadio | undefined;
  /** Serial ports, analog and digital pins currently open ("serial:pm", "analog:sound", "digital:loop"). */
  private readonly inUse = new Set<string>();

  constructor(options: SimBoardOptions = {}) {
    for (const bus of options.i2cBuses ?? ["main"]) this.i2c.set(bus, new Map());
  }

  // Attaching parts (the simulation's side)

  /** Puts `device` on I2C bus `bus` at 7-bit `address`; throws if the address is taken. */
  attachI2C(bus: string, address: number, device: SimI2CDevice): void {
    checkAddress(address);
    let devices = this.i2c.get(bus);
    if (devices === undefined) {
      devices = new Map();
      this.i2c.set(bus, devices);
    }
    if (devices.has(address)) throw new Error(`I2C bus ${bus} already has a device at ${hex(address)}`);
    devices.set(address, device);
  }

  /** Removes the device at `address` (unplugged); later transactions to it NACK. */
  detachI2C(bus: string, address: number): void {
    this.i2c.get(bus)?.delete(address);
  }

  attachSerial(port: string, device: SimSerialDevice): void {
    if (this.serialPorts.has(port)) throw new Error(`serial port "${port}" already has a device`);
    this.serialPorts.set(port, device);
  }

  attachAnalog(pin: string, device: SimAnalogDevice): void {
    if (this.analogPins.has(pin)) throw new Error(`analog input "${pin}" already has a device`);
    if (!Number.isInteger(device.resolution) || device.resolution < 1 || device.resolution > 24) {
      throw new RangeError(`analog input "${pin}": resolution must be 1..24 bits`);
    }
    this.analogPins.set(pin, device);
  }

  /** Puts a radio environment around the board's BLE receiver (one per board). */
  attachBle(radio: SimBleRadio): void {
    if (this.bleRadio) throw new Error("the board already has a BLE radio environment");
    this.bleRadio = radio;
  }

  attachDigital(pin: string, device: SimDigitalDevice): void {
    if (this.digitalPins.has(pin)) throw new Error(`digital pin "${pin}" already has a device`);
    const state: DigitalPinState = { device, lastLevel: device.level(), onEdge: undefined };
    this.digitalPins.set(pin, state);
    device.setChangeListener?.(() => {
      const level = device.level();
      const previous = state.lastLevel;
      if (level === previous) return;
      state.lastLevel = level;
      state.onEdge?.(previous, level);
    });
  }

  // Buses (the node's side)

  openBleScanner(options: BleScanOptions): BleScanner {
    const radio = this.bleRadio;
    if (radio === undefined) throw new Error("no simulated BLE radio on this board");
    const release = this.claim("ble", "BLE scanner");
    try {
      radio.start(options.onAdvertisement);
    } catch (error) {
      release(); // a radio that failed to start must not stay claimed
      throw error;
    }
    let open = true;
    return {
      close(): void {
        if (!open) return;
        open = false;
        radio.stop();
        release();
      },
    };
  }

  openI2C(options: I2COptions): I2C {
    const { bus, address } = options;
    checkAddress(address);
    const devices = this.i2c.get(bus);
    if (devices === undefined) throw new Error(`no simulated I2C bus named "${bus}"`);
    let open = true;
    const device = (): SimI2CDevice => {
      if (!open) throw new Error(`I2C handle for ${hex(address)} on bus ${bus} is closed`);
      const attached = devices.get(address);
      if (attached === undefined) throw new Error(`NACK: no device at ${hex(address)} on I2C bus ${bus}`);
      return attached;
    };
    return {
      read(buffer: Uint8Array, stop?: boolean): void {
        device().read(buffer, stop);
      },
      write(buffer: Uint8Array, stop?: boolean): void {
        device().write(buffer, stop);
      },
      close(): void {
        open = false;
      },
    };
  }

  openSerial(options: SerialOptions): Serial {
    const { port, baud } = options;
    const device = this.serialPorts.get(port);
    if (device === undefined) throw new Error(`no simulated serial port named "${port}"`);
    const release = this.claim(`serial:${port}`, `serial port "${port}"`);
    try {
      device.open?.(baud);
    } catch (error) {
      release();
      throw error;
    }
    let open = true;
    const check = (): void => {
      if (!open) throw new Error(`serial port "${port}" is closed`);
    };
    return {
      read(buffer: Uint8Array): number {
        check();
        return device.transmit(buffer);
      },
      write(buffer: Uint8Array): number {
        check();
        return device.receive(buffer);
      },
      close(): void {
        if (!open) return;
        open = false;
        release();
        device.close?.();
      },
    };
  }

  openAnalog(options: AnalogOptions): Analog {
    const { pin } = options;
    const device = this.analogPins.get(pin);
    if (device === undefined) throw new Error(`no simulated analog input named "${pin}"`);
    const release = this.claim(`analog:${pin}`, `analog input "${pin}"`);
    const resolution = device.resolution;
    const max = 2 ** resolution - 1;
    let open = true;
    return {
      resolution,
      read(): number {
        if (!open) throw new Error(`analog input "${pin}" is closed`);
        const value = Math.round(device.sample());
        return value > max ? max : value > 0 ? value : 0; // NaN reads as 0
      },
      close(): void {
        if (!open) return;
        open = false;
        release();
      },
    };
  }

  openDigital(options: DigitalOptions): Digital {
    const { pin, mode, edge, onReadable } = options;
    const state = this.digitalPins.get(pin);
    if (state === undefined) throw new Error(`no simulated digital pin named "${pin}"`);
    const release = this.claim(`digital:${pin}`, `digital pin "${pin}"`);
    const device = state.device;
    state.lastLevel = device.level();
    if (onReadable !== undefined && edge !== undefined && mode !== "output") {
      state.onEdge = (from, to) => {
        if ((to === 1 && from === 0 && (edge & 1) !== 0) || (to === 0 && from === 1 && (edge & 2) !== 0)) {
          onReadable();
        }
      };
    }
    let open = true;
    const check = (): void => {
      if (!open) throw new Error(`digital pin "${pin}" is closed`);
    };
    return {
      read(): 0 | 1 {
        check();
        return device.level();
      },
      write(value: 0 | 1): void {
        check();
        if (mode !== "output") throw new Error(`digital pin "${pin}" is not an output`);
        device.drive?.(value === 0 ? 0 : 1);
      },
      close(): void {
        if (!open) return;
        open = false;
        state.onEdge = undefined;
        release();
      },
    };
  }

  /** Marks `key` in use, throwing if it already is; returns the release function. */
  private claim(key: string, what: string): () => void {
    if (this.inUse.has(key)) throw new Error(`${what} is already open`);
    this.inUse.add(key);
    return () => {
      this.inUse.delete(key);
    };
  }
}
