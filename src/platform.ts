/**
 * The only door between the firmware core and the world.
 *
 * A host (Moddable on ESP32, the Node simulator, the XS lane) implements these interfaces; the core
 * never asks which host it is on. Everything here is synchronous or callback-based, in the style of
 * ECMA-419, so the same core runs on XS without promises in its hot paths.
 */

/** Time as the node sees it. */
export interface Clock {
  /** Milliseconds since boot. Never goes backwards, also not when the wall clock is set. */
  monotonicMs(): number;
  /** Unix time in milliseconds. Only meaningful once `wallSynced()` is true. */
  wallMs(): number;
  /** True once the wall clock has been set from SNTP, an RTC or the host. */
  wallSynced(): boolean;
}

/** An opaque handle returned by `Timers`. */
export type TimerHandle = object;

/** Timers on the monotonic clock. Callbacks run on the node's single thread, never re-entrantly. */
export interface Timers {
  /** Runs `callback` once, `ms` milliseconds from now. */
  once(callback: () => void, ms: number): TimerHandle;
  /** Runs `callback` every `ms` milliseconds until cleared. */
  repeat(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; clearing a fired or cleared timer is harmless. */
  clear(handle: TimerHandle): void;
}

/** Cryptographically secure random bytes (ESP32 hardware RNG, OS randomness on hosts). */
export interface Random {
  /** Fills `target` entirely with CSPRNG output. */
  fill(target: Uint8Array): void;
}

/** One write of an atomic store commit; `value: undefined` deletes the key. */
export interface StoreWrite {
  readonly key: string;
  readonly value: Uint8Array | undefined;
}

/** Longest key the store accepts: ESP32 NVS allows 15 characters. */
export const STORE_KEY_MAX_LENGTH = 15;
/** Largest value the store accepts: ESP32 NVS blobs through Preference stay under 4,000 bytes. */
export const STORE_VALUE_MAX_BYTES = 4000;

/**
 * Persistent key-value storage (NVS on ESP32, a file on hosts).
 * Keys are at most `STORE_KEY_MAX_LENGTH` characters of `[a-z0-9._-]`.
 */
export interface KeyValueStore {
  /** The stored value, or undefined when absent. The caller owns the returned copy. */
  get(key: string): Uint8Array | undefined;
  /**
   * The keys present that start with `prefix`, in no particular order. The outbox finds its
   * records with it at boot; NVS lists a namespace's entries (nvs_entry_find), a file its keys.
   */
  keys(prefix: string): string[];
  /**
   * Applies every write or none of them, even across a power cut in the middle.
   * Throws when the store cannot persist (full, failing flash); the previous state then stands.
   */
  commit(writes: readonly StoreWrite[]): void;
}

export interface PublishOptions {
  /** 0: fire and forget; 1: the callback reports the broker's PUBACK. */
  readonly qos: 0 | 1;
  readonly retain?: boolean;
}

/** Called once per accepted publish: `true` when the broker acknowledged it, `false` when the connection dropped first. */
export type PublishSettled = (delivered: boolean) => void;

/** An MQTT session to the broker, kept up (reconnects with backoff) by the host. */
export interface Transport {
  /** True while a session with the broker is established. */
  readonly connected: boolean;
  /**
   * Sends one message. Returns false, without calling `onSettled`, when it cannot take the message
   * now (disconnected, or too many messages awaiting acknowledgement); the caller keeps it and retries.
   */
  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean;
  /** Subscribes (again after every reconnect) and delivers matching messages to `onMessage`. */
  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void;
  /** Registers the one listener for connection changes. */
  onConnectionChange(listener: (connected: boolean) => void): void;
}

/**
 * ECMA-419-shaped buses. Options name a bus or pin of the board description (`docs/board.md`);
 * the host maps those names to real pins or to simulated parts. Methods throw on bus errors
 * (an I2C NACK, a missing device): drivers catch and count them.
 */
export interface I2COptions {
  /** The board's I2C bus name, e.g. "main". */
  readonly bus: string;
  /** 7-bit device address. */
  readonly address: number;
  readonly hz?: number;
}

/** ECMA-419 I2C, buffer forms only so that drivers read into preallocated memory. */
export interface I2C {
  /** Reads `buffer.length` bytes into `buffer`. Throws on NACK. */
  read(buffer: Uint8Array, stop?: boolean): void;
  /** Writes all of `buffer`. Throws on NACK. */
  write(buffer: Uint8Array, stop?: boolean): void;
  close(): void;
}

export interface SerialOptions {
  /** The board's UART name, e.g. "pm". */
  readonly port: string;
  readonly baud: number;
}

/** ECMA-419 Serial (format "buffer"), polled by its driver. */
export interface Serial {
  /** Reads up to `buffer.length` available bytes into `buffer`; returns how many (0 when none). */
  read(buffer: Uint8Array): number;
  /** Writes `buffer`; returns the number of bytes accepted. */
  write(buffer: Uint8Array): number;
  close(): void;
}

export interface AnalogOptions {
  /** The board's analog input name, e.g. "sound". */
  readonly pin: string;
}

/** ECMA-419 Analog input. */
export interface Analog {
  /** Bits of a reading: `read()` returns 0 .. 2^resolution - 1. */
  readonly resolution: number;
  read(): number;
  close(): void;
}

export interface DigitalOptions {
  /** The board's digital pin name, e.g. "loop". */
  readonly pin: string;
  readonly mode: "input" | "inputPullUp" | "inputPullDown" | "output";
  /** Edges that call `onReadable`: 1 rising, 2 falling, 3 both. */
  readonly edge?: 1 | 2 | 3;
  readonly onReadable?: () => void;
}

/** ECMA-419 Digital pin. */
export interface Digital {
  read(): 0 | 1;
  write(value: 0 | 1): void;
  close(): void;
}

/** One received BLE advertisement. Valid only during the callback: the host reuses it. */
export interface BleAdvertisement {
  /** The advertiser's 48-bit device address, most significant byte first. */
  readonly address: Uint8Array;
  /** Public (IEEE-assigned) or random (static, resolvable or non-resolvable private) address. */
  readonly addressType: "public" | "random";
  /** Received signal strength, dBm. */
  readonly rssi: number;
}

export interface BleScanOptions {
  /** Called for every advertisement received, duplicates included. */
  readonly onAdvertisement: (advertisement: BleAdvertisement) => void;
}

/** A running passive BLE scan; `close()` stops it. */
export interface BleScanner {
  close(): void;
}

/** Opens the buses of the board the node runs on. */
export interface Buses {
  openI2C(options: I2COptions): I2C;
  openSerial(options: SerialOptions): Serial;
  openAnalog(options: AnalogOptions): Analog;
  openDigital(options: DigitalOptions): Digital;
  /** Starts a passive BLE scan on the board's radio. */
  openBleScanner(options: BleScanOptions): BleScanner;
}

export type LogLevel = "debug" | "info" | "warn" | "error";
/** Structured details of a log line: small scalars only, never key material or raw readings. */
export type LogDetail = Readonly<Record<string, string | number | boolean>>;

export interface Log {
  (level: LogLevel, event: string, detail?: LogDetail): void;
}

/** Everything the core gets from its host. */
export interface Platform {
  readonly clock: Clock;
  readonly timers: Timers;
  readonly random: Random;
  readonly store: KeyValueStore;
  readonly transport: Transport;
  readonly buses: Buses;
  readonly log: Log;
}
