/**
 * The reference street-node board (docs/board.md) with simulated parts on its buses. Every part
 * reads one shared street: the climate and the activity (vehicles, pedestrians, noise, PM, CO2)
 * come from the street's seed and the node's site, so the loop detector counts the cars the sound
 * meter hears and the radar counts the people whose phones the BLE scanner sees. Part tolerances
 * and noise are seeded per node.
 */
import type { Clock, Timers } from "../../src/platform.js";
import { SimStreetRadio } from "./ble-radio.js";
import { Ld2410Part } from "./ld2410-part.js";
import { Pms5003Part } from "./pms5003-part.js";
import { Scd4xPart } from "./scd4x-part.js";
import { SimBoard } from "./sim-board.js";
import { Sht4xPart } from "./sht4x-part.js";
import { SoundLevelMeterPart } from "./sound-level-meter-part.js";
import { StreetActivity } from "./street-activity.js";
import { StreetClimate } from "./street-climate.js";
import { VehicleDetectorPart } from "./vehicle-detector-part.js";

export const BOARD = {
  i2c: "main",
  sht4xAddress: 0x44,
  scd4xAddress: 0x62,
  pmPort: "pm",
  radarPort: "radar",
  soundPin: "sound",
  loopPin: "loop",
} as const;

export interface SimulatedParts {
  readonly climate: StreetClimate;
  readonly activity: StreetActivity;
  readonly sht4x: Sht4xPart;
  readonly scd4x: Scd4xPart;
  readonly pms5003: Pms5003Part;
  readonly sound: SoundLevelMeterPart;
  readonly radar: Ld2410Part;
  readonly loop: VehicleDetectorPart;
  readonly radio: SimStreetRadio;
}

export interface ReferenceBoard {
  readonly board: SimBoard;
  readonly parts: SimulatedParts;
}

export interface ReferenceBoardOptions {
  /** Fixed BLE addresses that the radio keeps on the air, for tests that search the output for them. */
  readonly canaries?: readonly Uint8Array[];
}

/**
 * Builds the board of node `device` in street `street`: the street seeds the weather and the day
 * to day variation all its nodes share, the device seeds the node's site and its parts.
 */
export function simulatedReferenceBoard(device: string, street: string, clock: Clock, timers: Timers, options: ReferenceBoardOptions = {}): ReferenceBoard {
  const climate = new StreetClimate({ seed: `${street}/weather`, siteSeed: `${device}/site` });
  const activity = new StreetActivity({ seed: `${street}/activity`, siteSeed: `${device}/site` });
  const parts: SimulatedParts = {
    climate,
    activity,
    sht4x: new Sht4xPart({ clock, climate, seed: `${device}/sht4x` }),
    scd4x: new Scd4xPart({ clock, activity, climate, seed: `${device}/scd4x` }),
    pms5003: new Pms5003Part({ clock, activity, seed: `${device}/pms5003` }),
    sound: new SoundLevelMeterPart({ clock, activity, seed: `${device}/sound` }),
    radar: new Ld2410Part({ clock, activity, seed: `${device}/radar` }),
    loop: new VehicleDetectorPart({ clock, timers, activity, seed: `${device}/loop` }),
    radio: new SimStreetRadio({ clock, timers, activity, seed: `${device}/radio`, ...(options.canaries ? { canaries: [...options.canaries] } : {}) }),
  };
  const board = new SimBoard({ i2cBuses: [BOARD.i2c] });
  board.attachI2C(BOARD.i2c, BOARD.sht4xAddress, parts.sht4x);
  board.attachI2C(BOARD.i2c, BOARD.scd4xAddress, parts.scd4x);
  board.attachSerial(BOARD.pmPort, parts.pms5003);
  board.attachSerial(BOARD.radarPort, parts.radar);
  board.attachAnalog(BOARD.soundPin, parts.sound);
  board.attachDigital(BOARD.loopPin, parts.loop);
  board.attachBle(parts.radio);
  return { board, parts };
}
