/**
 * The reference board on an ESP32 (docs/board.md): the board's bus and pin names mapped to GPIOs,
 * opened with the ECMA-419 IO classes of the Moddable SDK.
 */
import Analog from "embedded:io/analog";
import Digital from "embedded:io/digital";
import I2CIO from "embedded:io/i2c";
import type {
  Analog as AnalogBus,
  AnalogOptions,
  BleScanner,
  BleScanOptions,
  Buses,
  Digital as DigitalPin,
  DigitalOptions,
  I2C,
  I2COptions,
  Serial,
  SerialOptions,
} from "../../src/platform.js";
import { BufferedSerial } from "./buffered-serial.js";
import { PassiveBleScanner } from "./ble-scanner.js";
import { WIRING } from "./esp32-wiring.js";
import { closeUntyped } from "./sdk-close.js";

const EDGES = Object.freeze({ 1: "rising", 2: "falling", 3: "both" });

export class Esp32ReferenceBoard implements Buses {
  #pmsSet: Digital | undefined;

  openI2C(options: I2COptions): I2C {
    const bus = WIRING.i2c[options.bus];
    if (!bus) throw new RangeError(`no I2C bus "${options.bus}" on this board`);
    const device = new I2CIO({ data: bus.data, clock: bus.clock, hz: Math.min(options.hz ?? bus.hz, bus.hz), address: options.address });
    return {
      read: (buffer, stop) => void device.read(buffer, stop),
      write: (buffer, stop) => device.write(buffer, stop),
      close: () => closeUntyped(device),
    };
  }

  openSerial(options: SerialOptions): Serial {
    const uart = WIRING.uart[options.port];
    if (!uart) throw new RangeError(`no UART "${options.port}" on this board`);
    if (options.port === "pm") this.#pmsSet ??= new Digital({ pin: WIRING.pmsSetPin, mode: Digital.Output });
    this.#pmsSet?.write(1);
    return new BufferedSerial({ ...uart, baud: options.baud });
  }

  openAnalog(options: AnalogOptions): AnalogBus {
    const pin = WIRING.analog[options.pin];
    if (pin === undefined) throw new RangeError(`no analog input "${options.pin}" on this board`);
    const input = new Analog({ pin, resolution: 12 });
    return { resolution: input.resolution, read: () => input.read(), close: () => closeUntyped(input) };
  }

  openDigital(options: DigitalOptions): DigitalPin {
    const pin = WIRING.digital[options.pin];
    if (pin === undefined) throw new RangeError(`no digital pin "${options.pin}" on this board`);
    const mode = { input: Digital.Input, inputPullUp: Digital.InputPullUp, inputPullDown: Digital.InputPullDown, output: Digital.Output }[options.mode];
    const edge = options.edge === undefined ? undefined : (options.edge & 1 ? Digital.Rising : 0) | (options.edge & 2 ? Digital.Falling : 0);
    if (options.edge !== undefined && !EDGES[options.edge]) throw new RangeError(`edge ${options.edge}`);
    const onReadable = options.onReadable;
    const io = new Digital({ pin, mode, ...(edge !== undefined && onReadable ? { edge, onReadable: () => onReadable() } : {}) });
    return { read: () => io.read(), write: (value) => io.write(value), close: () => io.close() };
  }

  openBleScanner(options: BleScanOptions): BleScanner {
    return new PassiveBleScanner(options);
  }
}
