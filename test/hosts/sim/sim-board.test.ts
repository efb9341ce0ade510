import { describe, expect, it } from "vitest";
import { SimBoard, type SimDigitalDevice, type SimI2CDevice, type SimSerialDevice } from "../../../hosts/sim/sim-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { Sht4xPart } from "../../../hosts/sim/sht4x-part.js";
import { StreetClimate } from "../../../hosts/sim/street-climate.js";
import { sensirionWordValid } from "../../../src/sensors/sensirion-crc.js";

/** A part that answers every read with its own tag byte and remembers writes. */
class TagDevice implements SimI2CDevice {
  readonly written: number[][] = [];
  constructor(readonly tag: number) {}
  write(bytes: Uint8Array): void {
    this.written.push(Array.from(bytes));
  }
  read(into: Uint8Array): void {
    into.fill(this.tag);
  }
}

describe("SimBoard I2C", () => {
  it("routes transactions by bus and address", () => {
    const board = new SimBoard({ i2cBuses: ["main", "aux"] });
    const a = new TagDevice(0xa1);
    const b = new TagDevice(0xb2);
    const c = new TagDevice(0xc3);
    board.attachI2C("main", 0x44, a);
    board.attachI2C("main", 0x62, b);
    board.attachI2C("aux", 0x44, c);
    const buf = new Uint8Array(2);
    board.openI2C({ bus: "main", address: 0x44 }).read(buf);
    expect(Array.from(buf)).toEqual([0xa1, 0xa1]);
    board.openI2C({ bus: "main", address: 0x62 }).read(buf);
    expect(Array.from(buf)).toEqual([0xb2, 0xb2]);
    const aux = board.openI2C({ bus: "aux", address: 0x44 });
    aux.write(Uint8Array.of(1, 2, 3));
    expect(c.written).toEqual([[1, 2, 3]]);
    expect(a.written).toEqual([]);
  });

  it("opens an empty address but NACKs its transactions; hot-plugging works", () => {
    const board = new SimBoard();
    const i2c = board.openI2C({ bus: "main", address: 0x59 });
    expect(() => i2c.write(Uint8Array.of(0))).toThrow(/NACK: no device at 0x59/);
    expect(() => i2c.read(new Uint8Array(1))).toThrow(/NACK/);
    board.attachI2C("main", 0x59, new TagDevice(7));
    const buf = new Uint8Array(1);
    i2c.read(buf);
    expect(buf[0]).toBe(7);
    board.detachI2C("main", 0x59);
    expect(() => i2c.read(buf)).toThrow(/NACK/);
  });

  it("throws on use of a closed handle; closing twice is harmless", () => {
    const board = new SimBoard();
    board.attachI2C("main", 0x44, new TagDevice(1));
    const i2c = board.openI2C({ bus: "main", address: 0x44 });
    i2c.close();
    i2c.close();
    expect(() => i2c.read(new Uint8Array(1))).toThrow(/closed/);
    expect(() => i2c.write(new Uint8Array(1))).toThrow(/closed/);
    // another handle to the same part still works
    board.openI2C({ bus: "main", address: 0x44 }).read(new Uint8Array(1));
  });

  it("rejects unknown buses, bad addresses and double attachment", () => {
    const board = new SimBoard();
    expect(() => board.openI2C({ bus: "nope", address: 0x44 })).toThrow(/no simulated I2C bus named "nope"/);
    expect(() => board.openI2C({ bus: "main", address: 0x80 })).toThrow(RangeError);
    board.attachI2C("main", 0x44, new TagDevice(1));
    expect(() => board.attachI2C("main", 0x44, new TagDevice(2))).toThrow(/already/);
  });

  it("carries a real SHT4x exchange end to end", () => {
    const clock = new SimClock({ startWallMs: Date.UTC(2026, 0, 10, 8) });
    const board = new SimBoard();
    board.attachI2C("main", 0x44, new Sht4xPart({ clock, climate: new StreetClimate({ seed: 1 }), seed: 1 }));
    const i2c = board.openI2C({ bus: "main", address: 0x44, hz: 100_000 });
    i2c.write(Uint8Array.of(0xfd));
    expect(() => i2c.read(new Uint8Array(6))).toThrow(/NACK/);
    clock.advanceBy(10);
    const buf = new Uint8Array(6);
    i2c.read(buf);
    expect(sensirionWordValid(buf, 0) && sensirionWordValid(buf, 3)).toBe(true);
  });
});

describe("SimBoard serial, analog, digital", () => {
  it("throws clearly when nothing is attached", () => {
    const board = new SimBoard();
    expect(() => board.openSerial({ port: "pm", baud: 9600 })).toThrow('no simulated serial port named "pm"');
    expect(() => board.openAnalog({ pin: "sound" })).toThrow('no simulated analog input named "sound"');
    expect(() => board.openDigital({ pin: "loop", mode: "input" })).toThrow('no simulated digital pin named "loop"');
  });

  it("forwards serial traffic both ways, one open handle at a time", () => {
    const board = new SimBoard();
    const received: number[] = [];
    let outbox = [0x42, 0x4d, 0x00];
    let openedAt = 0;
    const device: SimSerialDevice = {
      open: (baud) => {
        openedAt = baud;
      },
      receive: (bytes) => {
        received.push(...bytes);
        return bytes.length;
      },
      transmit: (into) => {
        const n = Math.min(into.length, outbox.length);
        for (let i = 0; i < n; i++) into[i] = outbox[i]!;
        outbox = outbox.slice(n);
        return n;
      },
    };
    board.attachSerial("pm", device);
    const serial = board.openSerial({ port: "pm", baud: 9600 });
    expect(openedAt).toBe(9600);
    expect(() => board.openSerial({ port: "pm", baud: 9600 })).toThrow(/already open/);
    expect(serial.write(Uint8Array.of(1, 2))).toBe(2);
    expect(received).toEqual([1, 2]);
    const buf = new Uint8Array(2);
    expect(serial.read(buf)).toBe(2);
    expect(Array.from(buf)).toEqual([0x42, 0x4d]);
    expect(serial.read(buf)).toBe(1);
    expect(serial.read(buf)).toBe(0);
    serial.close();
    expect(() => serial.read(buf)).toThrow(/closed/);
    board.openSerial({ port: "pm", baud: 9600 }).close(); // released on close
  });

  it("reads analog inputs rounded and clamped to the resolution", () => {
    const board = new SimBoard();
    let value = 1000.4;
    board.attachAnalog("sound", { resolution: 12, sample: () => value });
    const adc = board.openAnalog({ pin: "sound" });
    expect(adc.resolution).toBe(12);
    expect(adc.read()).toBe(1000);
    value = 99_999;
    expect(adc.read()).toBe(4095);
    value = -3;
    expect(adc.read()).toBe(0);
    adc.close();
    expect(() => adc.read()).toThrow(/closed/);
  });

  it("reads, drives and reports edges on digital pins", () => {
    const board = new SimBoard();
    let level: 0 | 1 = 0;
    let notify: () => void = () => {};
    const driven: number[] = [];
    const device: SimDigitalDevice = {
      level: () => level,
      drive: (value) => driven.push(value),
      setChangeListener: (listener) => {
        notify = listener;
      },
    };
    board.attachDigital("loop", device);
    let rising = 0;
    const pin = board.openDigital({ pin: "loop", mode: "input", edge: 1, onReadable: () => rising++ });
    expect(pin.read()).toBe(0);
    level = 1;
    notify();
    notify(); // no change, no edge
    level = 0;
    notify(); // falling: not subscribed
    level = 1;
    notify();
    expect(rising).toBe(2);
    expect(pin.read()).toBe(1);
    expect(() => pin.write(1)).toThrow(/not an output/);
    pin.close();
    level = 0;
    notify();
    level = 1;
    notify();
    expect(rising).toBe(2); // no callbacks after close

    board.attachDigital("led", { level: () => 0, drive: (value) => driven.push(value) });
    const led = board.openDigital({ pin: "led", mode: "output" });
    led.write(1);
    led.write(0);
    expect(driven).toEqual([1, 0]);
  });
});
