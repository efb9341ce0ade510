/**
 * The drivers this firmware carries, by part name: turns a validated sensor configuration into an
 * open driver on the board's buses, and checks what depends on the part's outputs (that each
 * channel takes an output the part has, and asks for statistics that fit it).
 */
import type { Buses, Clock } from "../platform.js";
import { ConfigError, type SensorConfig } from "../policy/node-config.js";
import type { IdentifierObserver } from "../privacy/identifier-intake.js";
import { statsAllowedFor } from "../aggregate/channel-statistics.js";
import type { DriverContext, SensorDriver, SensorOutput } from "./sensor-driver.js";
import { BleScan, OUTPUTS as BLE_SCAN_OUTPUTS } from "./ble-scan.js";
import { Ld2410, OUTPUTS as LD2410_OUTPUTS } from "./ld2410.js";
import { Pms5003, OUTPUTS as PMS5003_OUTPUTS } from "./pms5003.js";
import { Scd4x, OUTPUTS as SCD4X_OUTPUTS } from "./scd4x.js";
import { Sht4x, OUTPUTS as SHT4X_OUTPUTS } from "./sht4x.js";
import { SoundLevelMeter, OUTPUTS as SOUND_LEVEL_METER_OUTPUTS } from "./sound-level-meter.js";
import { VehicleDetector, OUTPUTS as VEHICLE_DETECTOR_OUTPUTS } from "./vehicle-detector.js";

const KIND_NAMES = { level: "levels", count: "counts", duration: "durations", identifiers: "identifiers" } as const;

export interface SensorServices {
  readonly buses: Buses;
  readonly clock: Clock;
  /** Where identifiers (BLE addresses) go: the privacy intake, never the window. */
  readonly identifiers: IdentifierObserver;
}

/** Settings each part accepts under `settings` (checked further by the driver itself). */
const PART_SETTINGS: Record<SensorConfig["part"], readonly string[]> = {
  sht4x: ["repeatability", "stuckAfter"],
  scd4x: ["stuckAfter", "timeoutMs"],
  pms5003: ["stuckAfter", "timeoutMs"],
  "sound-level-meter": ["adcFullScaleVolts", "dividerRatio", "calibration", "rangeToleranceDb", "stuckAfter"],
  ld2410: ["maxDistanceCm", "clearMs", "minPresenceMs", "timeoutMs", "stuckAfter", "rangeCm", "maxGate", "holdS"],
  "vehicle-detector": ["activeHigh", "debounceMs", "minOccupancyMs", "maxOccupancyMs", "chatterEdgesPerSecond"],
  "ble-scan": ["minRssi", "maxPerSecond", "restartAfterSilentMs"],
};

/** What each part measures, known without opening its driver (the disclosure is built from it). */
const PART_OUTPUTS: Record<SensorConfig["part"], readonly SensorOutput[]> = {
  sht4x: SHT4X_OUTPUTS,
  scd4x: SCD4X_OUTPUTS,
  pms5003: PMS5003_OUTPUTS,
  "sound-level-meter": SOUND_LEVEL_METER_OUTPUTS,
  ld2410: LD2410_OUTPUTS,
  "vehicle-detector": VEHICLE_DETECTOR_OUTPUTS,
  "ble-scan": BLE_SCAN_OUTPUTS,
};

/** The output of `part` named `quantity`, or undefined when the part has none such. */
export function partOutput(part: SensorConfig["part"], quantity: string): SensorOutput | undefined {
  return PART_OUTPUTS[part].find((output) => output.quantity === quantity);
}

export function openSensor(config: SensorConfig, services: SensorServices, path: string): SensorDriver {
  for (const key of Object.keys(config.settings)) {
    if (!PART_SETTINGS[config.part].includes(key)) {
      throw new ConfigError(`${path}.settings.${key}: ${config.part} has no such setting (it has: ${PART_SETTINGS[config.part].join(", ") || "none"})`);
    }
  }
  const context: DriverContext = { buses: services.buses, clock: services.clock, faultyAfter: config.faultyAfter };
  let driver: SensorDriver;
  try {
    driver = createDriver(config, context, services);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new ConfigError(`${path}.settings: ${error.message}`);
    throw error;
  }
  try {
    config.channels.forEach((channel, j) => {
      const output = driver.outputs.find((o) => o.quantity === channel.output);
      if (!output) {
        const known = driver.outputs.map((o) => o.quantity).join(", ");
        throw new ConfigError(`${path}.channels[${j}].output: ${config.part} has no output "${channel.output}" (it has ${known})`);
      }
      const allowed = statsAllowedFor(output);
      channel.stats.forEach((stat, k) => {
        if (!allowed.includes(stat)) {
          const why = output.logarithmic && stat === "mean" ? " (decibels are averaged by energy: use leq)" : "";
          throw new ConfigError(`${path}.channels[${j}].stats[${k}]: "${stat}" does not fit ${output.quantity}${why}; use ${allowed.join(", ")}`);
        }
      });
      if (output.kind !== "level" && channel.filters.length > 0) {
        throw new ConfigError(`${path}.channels[${j}].filters: filters apply to measured levels, not to ${KIND_NAMES[output.kind]}`);
      }
      if (channel.privacy && output.kind === "level") {
        throw new ConfigError(`${path}.channels[${j}].privacy: applies to counts of people, devices and vehicles, not to a measured level`);
      }
    });
  } catch (error) {
    driver.close();
    throw error;
  }
  return driver;
}

function createDriver(config: SensorConfig, context: DriverContext, services: SensorServices): SensorDriver {
  // Settings were checked against PART_SETTINGS; each driver checks their values (RangeError).
  const settings = config.settings as Record<string, never>;
  const i2c = { bus: config.bus!, ...(config.address === undefined ? {} : { address: config.address }) };
  switch (config.part) {
    case "sht4x":
      return new Sht4x({ ...context, ...settings, sensor: i2c });
    case "scd4x":
      return new Scd4x({ ...context, ...settings, sensor: i2c });
    case "pms5003":
      return new Pms5003({ ...context, ...settings, sensor: { port: config.port! } });
    case "sound-level-meter":
      return new SoundLevelMeter({ ...context, ...settings, sensor: { pin: config.pin! } });
    case "ld2410":
      return new Ld2410({ ...context, ...settings, sensor: { port: config.port! } });
    case "vehicle-detector":
      return new VehicleDetector({ ...context, ...settings, sensor: { pin: config.pin! } });
    case "ble-scan": {
      const identifiers = services.identifiers;
      return new BleScan({ ...context, ...settings, sensor: {}, onIdentifier: (address, kind, rssi) => identifiers.observe(address, kind, rssi) });
    }
  }
}
