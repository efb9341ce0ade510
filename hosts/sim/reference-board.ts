/**
 * The reference street-node board with simulated parts on its buses, seeded per node so that every
 * node of a street sits in its own micro-climate and has its own part tolerances.
 */
import type { Clock } from "../../src/platform.js";
import { SHT4X_DEFAULT_ADDRESS } from "../../src/sensors/sht4x.js";
import { SimBoard } from "./sim-board.js";
import { Sht4xPart } from "./sht4x-part.js";
import { StreetClimate } from "./street-climate.js";

export interface SimulatedParts {
  readonly sht4x: Sht4xPart;
  readonly climate: StreetClimate;
}

export interface ReferenceBoard {
  readonly board: SimBoard;
  readonly parts: SimulatedParts;
}

/**
 * Builds the board of node `device` in street `street`: the street seeds the weather that all its
 * nodes share, the device seeds the node's site and its parts.
 */
export function simulatedReferenceBoard(device: string, street: string, clock: Clock): ReferenceBoard {
  const climate = new StreetClimate({ seed: `${street}/weather`, siteSeed: `${device}/site` });
  const sht4x = new Sht4xPart({ clock, climate, seed: `${device}/sht4x` });
  const board = new SimBoard({ i2cBuses: ["main"] });
  board.attachI2C("main", SHT4X_DEFAULT_ADDRESS, sht4x);
  return { board, parts: { sht4x, climate } };
}
