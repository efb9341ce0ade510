/**
 * A UART whose received bytes wait in a ring buffer until the driver polls.
 *
 * On ESP32 the ECMA-419 Serial reads straight from the UART's 128-byte hardware FIFO; a driver that
 * polls every 100 ms would lose bytes whenever more than that arrives between polls (the radar
 * at 256000 baud). `onReadable` drains the FIFO into the ring as bytes arrive. The ring is bounded:
 * when it is full the oldest bytes are overwritten and counted, and the driver then sees a broken
 * frame, which it drops and counts as such.
 */
import SerialIO from "embedded:io/serial";
import type { Serial } from "../../src/platform.js";
import { ByteRing } from "./byte-ring.js";

export interface BufferedSerialOptions {
  readonly receive: number;
  readonly transmit: number;
  readonly port: number;
  readonly baud: number;
  /** Ring size in bytes: at least two of the part's largest frames, polled at the driver's interval. */
  readonly ringBytes: number;
}

export class BufferedSerial implements Serial {
  readonly #uart: SerialIO;
  readonly #ring: ByteRing;
  readonly #chunk = new Uint8Array(64);

  constructor(options: BufferedSerialOptions) {
    this.#ring = new ByteRing(options.ringBytes);
    this.#uart = new SerialIO({
      receive: options.receive,
      transmit: options.transmit,
      port: options.port,
      baud: options.baud,
      format: "buffer",
      onReadable: () => this.#drain(),
    });
  }

  /** Bytes overwritten before the driver read them. */
  get overrunBytes(): number {
    return this.#ring.overrunBytes;
  }

  read(buffer: Uint8Array): number {
    this.#drain(); // what arrived since the last interrupt
    return this.#ring.read(buffer);
  }

  write(buffer: Uint8Array): number {
    this.#uart.write(buffer);
    return buffer.length;
  }

  close(): void {
    this.#uart.close();
    this.#ring.clear();
  }

  #drain(): void {
    for (;;) {
      const got = this.#uart.read(this.#chunk);
      if (!got) return;
      this.#ring.write(this.#chunk, got);
    }
  }
}
