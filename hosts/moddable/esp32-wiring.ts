/**
 * The reference board's pins on the ESP32 (docs/board.md, last column), by the bus and pin names
 * the drivers use. A test holds this table and the document to each other.
 */
export const WIRING = Object.freeze({
  i2c: Object.freeze({ main: Object.freeze({ data: 21, clock: 22, hz: 100_000 }) }) as Readonly<Record<string, { data: number; clock: number; hz: number }>>,
  uart: Object.freeze({
    pm: Object.freeze({ port: 2, receive: 16, transmit: 17, ringBytes: 256 }),
    radar: Object.freeze({ port: 1, receive: 18, transmit: 19, ringBytes: 1024 }),
  }) as Readonly<Record<string, { port: number; receive: number; transmit: number; ringBytes: number }>>,
  analog: Object.freeze({ sound: 34 }) as Readonly<Record<string, number>>,
  digital: Object.freeze({ loop: 27 }) as Readonly<Record<string, number>>,
  /** The PMS5003's SET input: high runs the fan and the measurement. */
  pmsSetPin: 25,
});
