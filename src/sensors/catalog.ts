/**
 * The drivers this firmware carries, by part name: turns a validated sensor configuration into an
 * open driver on the board's buses.
 */
import type { Buses, Clock } from "../platform.js";
import { ConfigError, type SensorConfig } from "../policy/node-config.js";
import type { SensorDriver } from "./sensor-driver.js";
import { Sht4x } from "./sht4x.js";

export function openSensor(config: SensorConfig, buses: Buses, clock: Clock, path: string): SensorDriver {
  let driver: SensorDriver;
  switch (config.part) {
    case "sht4x":
      driver = new Sht4x({ buses, clock, faultyAfter: config.faultyAfter, sensor: { bus: config.bus, address: config.address } });
      break;
  }
  config.channels.forEach((channel, j) => {
    if (!driver.outputs.some((output) => output.quantity === channel.output)) {
      driver.close();
      const known = driver.outputs.map((output) => output.quantity).join(", ");
      throw new ConfigError(`${path}.channels[${j}].output: ${config.part} has no output "${channel.output}" (it has ${known})`);
    }
  });
  return driver;
}
