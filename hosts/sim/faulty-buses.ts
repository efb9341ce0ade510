/**
 * Faults at the level of the board's buses, for boards that have no simulated parts to break (a
 * recorded board played back, bus-recording.ts): now and then a bus misbehaves for a while, as a
 * loose connector, a wet sensor or a hung UART does, and recovers. The drivers above see NACKs,
 * corrupted bytes, silence, garbage, an ADC at a rail, a pin that no longer moves, a radio that
 * hears nothing or hears malformed packets; they must count it and go on.
 *
 * Episodes per bus come from that bus's seeded stream (a Poisson process, `meanHoursBetween` on
 * average, lasting 5 to 30 minutes), on the node's timers. Reads allocate nothing. Portable.
 */
import type {
  Analog,
  AnalogOptions,
  BleScanner,
  BleScanOptions,
  Buses,
  Digital,
  DigitalOptions,
  I2C,
  I2COptions,
  Serial,
  SerialOptions,
  TimerHandle,
  Timers,
} from "../../src/platform.js";
import { Prng } from "./prng.js";

export interface FaultyBusesOptions {
  readonly seed: string;
  /** Mean simulated hours between episodes on each bus. */
  readonly meanHoursBetween: number;
  /** The kinds of bus that fault (all by default). */
  readonly buses?: readonly BusKind[];
}

export type BusKind = "i2c" | "serial" | "analog" | "digital" | "ble";

/** One bus's fault state and the episodes that switch it. */
class BusFaults {
  /** The kind in progress, or -1. */
  kind = -1;
  episodes = 0;
  readonly random: Prng;
  readonly #timers: Timers;
  readonly #meanMs: number;
  readonly #kinds: number;
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(random: Prng, timers: Timers, meanMs: number, kinds: number) {
    this.random = random;
    this.#timers = timers;
    this.#meanMs = meanMs;
    this.#kinds = kinds;
    this.#scheduleNext();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) this.#timers.clear(this.#timer);
  }

  #scheduleNext(): void {
    if (this.#stopped) return;
    // Exponential waiting time: episodes are a Poisson process.
    const wait = -Math.log(1 - this.random.next()) * this.#meanMs;
    this.#timer = this.#timers.once(() => {
      this.kind = this.random.int(0, this.#kinds);
      this.episodes++;
      this.#timer = this.#timers.once(() => {
        this.kind = -1;
        this.#scheduleNext();
      }, 300_000 + this.random.next() * 1_500_000);
    }, Math.max(1, wait));
  }
}

const I2C_NACK = 0;
const SERIAL_SILENT = 0;
const ANALOG_RAIL = 0;
const BLE_SILENT = 0;

export class FaultyBuses implements Buses {
  readonly #inner: Buses;
  readonly #timers: Timers;
  readonly #root: Prng;
  readonly #meanMs: number;
  /** One per bus, kept across re-opens: a driver that reopens a stalled bus meets the same fault. */
  readonly #faults = new Map<string, BusFaults>();
  readonly #kinds: ReadonlySet<BusKind>;

  constructor(inner: Buses, timers: Timers, options: FaultyBusesOptions) {
    this.#inner = inner;
    this.#timers = timers;
    this.#root = new Prng(options.seed);
    this.#meanMs = options.meanHoursBetween * 3_600_000;
    this.#kinds = new Set(options.buses ?? ["i2c", "serial", "analog", "digital", "ble"]);
  }

  /** Fault episodes started so far, over every bus. */
  get episodes(): number {
    let episodes = 0;
    for (const faults of this.#faults.values()) episodes += faults.episodes;
    return episodes;
  }

  stop(): void {
    for (const faults of this.#faults.values()) faults.stop();
  }

  openI2C(options: I2COptions): I2C {
    const inner = this.#inner.openI2C(options);
    if (!this.#kinds.has("i2c")) return inner;
    // NACK (the part does not answer), or one byte of each read corrupted (its CRC fails).
    const faults = this.#bus(`i2c/${options.bus}/${options.address}`, 2);
    return {
      read(buffer: Uint8Array, stop?: boolean): void {
        if (faults.kind === I2C_NACK) throw new Error("I2C NACK (simulated fault)");
        inner.read(buffer, stop);
        if (faults.kind > I2C_NACK && buffer.length > 0) buffer[faults.random.int(0, buffer.length)]! ^= 0x5a;
      },
      write(buffer: Uint8Array, stop?: boolean): void {
        if (faults.kind === I2C_NACK) throw new Error("I2C NACK (simulated fault)");
        inner.write(buffer, stop);
      },
      close: () => inner.close(),
    };
  }

  openSerial(options: SerialOptions): Serial {
    const inner = this.#inner.openSerial(options);
    if (!this.#kinds.has("serial")) return inner;
    // Silence (a hung part), or garbage (a wrong baud rate, a floating line).
    const faults = this.#bus(`serial/${options.port}`, 2);
    return {
      read(buffer: Uint8Array): number {
        const count = inner.read(buffer);
        if (faults.kind === SERIAL_SILENT) return 0;
        if (faults.kind > SERIAL_SILENT) for (let i = 0; i < count; i++) buffer[i] = faults.random.int(0, 256);
        return count;
      },
      write: (buffer: Uint8Array) => inner.write(buffer),
      close: () => inner.close(),
    };
  }

  openAnalog(options: AnalogOptions): Analog {
    const inner = this.#inner.openAnalog(options);
    if (!this.#kinds.has("analog")) return inner;
    // The ADC at a rail (a short, an open divider), or noise (a broken ground).
    const faults = this.#bus(`analog/${options.pin}`, 2);
    return {
      resolution: inner.resolution,
      read(): number {
        const value = inner.read();
        if (faults.kind === ANALOG_RAIL) return 0;
        if (faults.kind > ANALOG_RAIL) return faults.random.int(0, 1 << inner.resolution);
        return value;
      },
      close: () => inner.close(),
    };
  }

  openDigital(options: DigitalOptions): Digital {
    if (!this.#kinds.has("digital")) return this.#inner.openDigital(options);
    // A stuck input: edges stop reaching the driver.
    const faults = this.#bus(`digital/${options.pin}`, 1);
    const onReadable = options.onReadable;
    const inner = this.#inner.openDigital({
      ...options,
      ...(onReadable
        ? {
            onReadable: () => {
              if (faults.kind < 0) onReadable();
            },
          }
        : {}),
    });
    return inner;
  }

  openBleScanner(options: BleScanOptions): BleScanner {
    if (!this.#kinds.has("ble")) return this.#inner.openBleScanner(options);
    // The radio hears nothing (a detuned antenna), or packets with impossible signal strengths.
    const faults = this.#bus("ble", 2);
    const onAdvertisement = options.onAdvertisement;
    const malformed: { address: Uint8Array; addressType: "public" | "random"; rssi: number } = { address: new Uint8Array(6), addressType: "public", rssi: 127 };
    return this.#inner.openBleScanner({
      onAdvertisement: (advertisement) => {
        if (faults.kind === BLE_SILENT) return;
        if (faults.kind > BLE_SILENT) {
          malformed.address = advertisement.address;
          malformed.addressType = advertisement.addressType;
          onAdvertisement(malformed);
        } else onAdvertisement(advertisement);
      },
    });
  }

  #bus(label: string, kinds: number): BusFaults {
    let faults = this.#faults.get(label);
    if (faults === undefined) {
      faults = new BusFaults(this.#root.fork(label), this.#timers, this.#meanMs, kinds);
      this.#faults.set(label, faults);
    }
    return faults;
  }
}
