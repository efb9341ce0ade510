/**
 * Record what a board's parts say on their buses, then play it back: the firmware sees the same
 * bytes, levels, edges and radio packets it saw from the simulated parts, at a fraction of the
 * cost and with no allocation per event. Benchmarks and long runs use this to meter the firmware
 * rather than the simulation of the street and its silicon.
 *
 * Polled buses (I2C, UART, ADC) play back in call order; event sources (digital edges, BLE
 * advertisements) play back at their recorded times, offset by the recording's length on every
 * cycle, each through one re-armed timer. Recordings loop.
 */
import type {
  Analog,
  AnalogOptions,
  BleAdvertisement,
  BleScanner,
  BleScanOptions,
  Buses,
  Clock,
  Digital,
  DigitalOptions,
  I2C,
  I2COptions,
  Serial,
  SerialOptions,
  TimerHandle,
} from "../../src/platform.js";
import type { SimClock } from "./sim-clock.js";

/** Byte strings in one buffer, with their offsets. */
interface ByteSequence {
  readonly bytes: Uint8Array;
  /** Start of item i at offsets[i]; end at offsets[i + 1]. */
  readonly offsets: Uint32Array;
}

export interface BusRecording {
  /** Length of the recording: event times are in [0, durationMs). */
  readonly durationMs: number;
  readonly i2cReads: ReadonlyMap<string, ByteSequence>;
  readonly serialReads: ReadonlyMap<string, ByteSequence>;
  readonly analogReads: ReadonlyMap<string, Float64Array>;
  readonly digitalEdges: ReadonlyMap<string, { readonly timesMs: Float64Array; readonly levels: Uint8Array }>;
  readonly ble: {
    readonly timesMs: Float64Array;
    readonly addresses: Uint8Array;
    readonly random: Uint8Array;
    readonly rssi: Int8Array;
  };
}

class ByteSequenceBuilder {
  readonly #chunks: Uint8Array[] = [];
  add(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
  }
  build(): ByteSequence {
    const offsets = new Uint32Array(this.#chunks.length + 1);
    let total = 0;
    this.#chunks.forEach((chunk, i) => {
      offsets[i] = total;
      total += chunk.length;
    });
    offsets[this.#chunks.length] = total;
    const bytes = new Uint8Array(total);
    this.#chunks.forEach((chunk, i) => bytes.set(chunk, offsets[i]!));
    this.#chunks.length = 0; // one object per read: let them go, the sequence holds the bytes now
    return { bytes, offsets };
  }
}

/** Wraps a board and records everything its parts deliver to the node. */
export class BusRecorder implements Buses {
  readonly #inner: Buses;
  readonly #clock: Clock;
  readonly #startMs: number;
  readonly #i2c = new Map<string, ByteSequenceBuilder>();
  readonly #serial = new Map<string, ByteSequenceBuilder>();
  readonly #analog = new Map<string, number[]>();
  readonly #digital = new Map<string, { times: number[]; levels: number[] }>();
  readonly #ble = { times: [] as number[], addresses: [] as number[], random: [] as number[], rssi: [] as number[] };

  constructor(inner: Buses, clock: Clock) {
    this.#inner = inner;
    this.#clock = clock;
    this.#startMs = clock.monotonicMs();
  }

  openI2C(options: I2COptions): I2C {
    const handle = this.#inner.openI2C(options);
    const reads = getOrCreate(this.#i2c, `${options.bus}/${options.address}`, () => new ByteSequenceBuilder());
    return {
      read(buffer: Uint8Array, stop?: boolean): void {
        handle.read(buffer, stop);
        reads.add(buffer);
      },
      write: (buffer, stop) => handle.write(buffer, stop),
      close: () => handle.close(),
    };
  }

  openSerial(options: SerialOptions): Serial {
    const handle = this.#inner.openSerial(options);
    const reads = getOrCreate(this.#serial, options.port, () => new ByteSequenceBuilder());
    return {
      read(buffer: Uint8Array): number {
        const count = handle.read(buffer);
        reads.add(buffer.subarray(0, count));
        return count;
      },
      write: (buffer) => handle.write(buffer),
      close: () => handle.close(),
    };
  }

  openAnalog(options: AnalogOptions): Analog {
    const handle = this.#inner.openAnalog(options);
    const reads = getOrCreate(this.#analog, options.pin, () => []);
    return {
      resolution: handle.resolution,
      read(): number {
        const value = handle.read();
        reads.push(value);
        return value;
      },
      close: () => handle.close(),
    };
  }

  openDigital(options: DigitalOptions): Digital {
    const edges = getOrCreate(this.#digital, options.pin, () => ({ times: [], levels: [] }));
    let handle: Digital | undefined;
    const onReadable = options.onReadable;
    handle = this.#inner.openDigital({
      ...options,
      ...(onReadable
        ? {
            onReadable: () => {
              edges.times.push(this.#clock.monotonicMs() - this.#startMs);
              edges.levels.push(handle!.read());
              onReadable();
            },
          }
        : {}),
    });
    return handle;
  }

  openBleScanner(options: BleScanOptions): BleScanner {
    const ble = this.#ble;
    return this.#inner.openBleScanner({
      onAdvertisement: (advertisement: BleAdvertisement) => {
        ble.times.push(this.#clock.monotonicMs() - this.#startMs);
        for (let i = 0; i < 6; i++) ble.addresses.push(advertisement.address[i] ?? 0);
        ble.random.push(advertisement.addressType === "random" ? 1 : 0);
        ble.rssi.push(advertisement.rssi);
        options.onAdvertisement(advertisement);
      },
    });
  }

  /** The recording so far, `durationMs` long (events at or after that are left out). */
  finish(durationMs: number): BusRecording {
    const bleCount = this.#ble.times.filter((t) => t < durationMs).length;
    const recording: BusRecording = {
      durationMs,
      i2cReads: new Map([...this.#i2c].map(([key, builder]) => [key, builder.build()])),
      serialReads: new Map([...this.#serial].map(([key, builder]) => [key, builder.build()])),
      analogReads: new Map([...this.#analog].map(([key, values]) => [key, Float64Array.from(values)])),
      digitalEdges: new Map(
        [...this.#digital].map(([key, { times, levels }]) => {
          const n = times.filter((t) => t < durationMs).length;
          return [key, { timesMs: Float64Array.from(times.slice(0, n)), levels: Uint8Array.from(levels.slice(0, n)) }];
        }),
      ),
      ble: {
        timesMs: Float64Array.from(this.#ble.times.slice(0, bleCount)),
        addresses: Uint8Array.from(this.#ble.addresses.slice(0, bleCount * 6)),
        random: Uint8Array.from(this.#ble.random.slice(0, bleCount)),
        rssi: Int8Array.from(this.#ble.rssi.slice(0, bleCount)),
      },
    };
    // The recording is in typed arrays now; drop the per-reading arrays (a slot per number in XS),
    // in case something still holds the recorder (the recording node's parts and timers do).
    this.#analog.clear();
    this.#digital.clear();
    for (const list of Object.values(this.#ble)) list.length = 0;
    return recording;
  }
}

/** A board that plays a recording back. Needs the virtual clock for its event timers. */
export class ReplayBoard implements Buses {
  readonly #recording: BusRecording;
  readonly #clock: SimClock;

  constructor(recording: BusRecording, clock: SimClock) {
    this.#recording = recording;
    this.#clock = clock;
  }

  openI2C(options: I2COptions): I2C {
    return sequenceReader(this.#recording.i2cReads.get(`${options.bus}/${options.address}`), `I2C ${options.bus}/${options.address}`) as unknown as I2C;
  }

  openSerial(options: SerialOptions): Serial {
    return sequenceReader(this.#recording.serialReads.get(options.port), `serial ${options.port}`);
  }

  openAnalog(options: AnalogOptions): Analog {
    const values = this.#recording.analogReads.get(options.pin);
    if (!values || values.length === 0) throw new Error(`no recorded analog input "${options.pin}"`);
    let next = 0;
    return {
      resolution: 12,
      read(): number {
        const value = values[next]!;
        next = (next + 1) % values.length;
        return value;
      },
      close(): void {},
    };
  }

  openDigital(options: DigitalOptions): Digital {
    const edges = this.#recording.digitalEdges.get(options.pin);
    if (!edges) throw new Error(`no recorded digital pin "${options.pin}"`);
    let level: 0 | 1 = 0;
    const onReadable = options.onReadable;
    const player = new EventPlayer(this.#clock, edges.timesMs, this.#recording.durationMs, (i) => {
      level = edges.levels[i] === 1 ? 1 : 0;
      onReadable?.();
    });
    player.start();
    return {
      read: () => level,
      write(): void {},
      close: () => player.stop(),
    };
  }

  openBleScanner(options: BleScanOptions): BleScanner {
    const { ble } = this.#recording;
    const address = new Uint8Array(6);
    const advertisement = { address, addressType: "public" as "public" | "random", rssi: 0 };
    const player = new EventPlayer(this.#clock, ble.timesMs, this.#recording.durationMs, (i) => {
      for (let b = 0; b < 6; b++) address[b] = ble.addresses[i * 6 + b]!;
      advertisement.addressType = ble.random[i] === 1 ? "random" : "public";
      advertisement.rssi = ble.rssi[i]!;
      options.onAdvertisement(advertisement);
      address.fill(0);
    });
    player.start();
    return { close: () => player.stop() };
  }
}

/** Plays timed events in a loop through one re-armed timer. */
class EventPlayer {
  #next = 0;
  #cycleStartMs = 0;
  #timer: TimerHandle | undefined;
  #running = false;
  readonly #fire = () => this.#onTimer();

  constructor(
    readonly clock: SimClock,
    readonly timesMs: Float64Array,
    readonly cycleMs: number,
    readonly emit: (index: number) => void,
  ) {}

  start(): void {
    if (this.timesMs.length === 0) return;
    this.#running = true;
    this.#cycleStartMs = this.clock.monotonicMs();
    this.#timer = this.clock.once(this.#fire, this.#delayToNext());
  }

  stop(): void {
    this.#running = false;
    if (this.#timer) this.clock.clear(this.#timer);
  }

  #onTimer(): void {
    if (!this.#running) return;
    this.emit(this.#next);
    this.#next++;
    if (this.#next === this.timesMs.length) {
      this.#next = 0;
      this.#cycleStartMs += this.cycleMs;
    }
    this.clock.rearm(this.#timer!, this.#delayToNext());
  }

  #delayToNext(): number {
    return Math.max(1, this.#cycleStartMs + this.timesMs[this.#next]! - this.clock.monotonicMs());
  }
}

/** A polled handle that answers each read with the next recorded item, looping; byte copies, no views. */
function sequenceReader(sequence: ByteSequence | undefined, what: string): Serial {
  if (!sequence || sequence.offsets.length < 2) throw new Error(`nothing recorded on ${what}`);
  const items = sequence.offsets.length - 1;
  const { bytes, offsets } = sequence;
  let next = 0;
  return {
    read(buffer: Uint8Array): number {
      const start = offsets[next]!;
      const count = Math.min(offsets[next + 1]! - start, buffer.length);
      for (let i = 0; i < count; i++) buffer[i] = bytes[start + i]!;
      next = (next + 1) % items;
      return count;
    },
    write: (buffer: Uint8Array) => buffer.length,
    close(): void {},
  };
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}
