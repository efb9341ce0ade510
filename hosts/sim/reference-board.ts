/**
 * The reference street-node board with simulated parts on its buses, seeded per node so that every
 * node of a street sits in its own micro-climate and has its own part tolerances.
 */
import type { Clock } from "../../src/platform.js";
import { SHT4X_DEFAULT_ADDRESS } from "../../src/sensors/sht4x.js";
import { CannedI2CDevice } from "./canned-i2c-device.js";
import { SimBoard } from "./sim-board.js";
import { SimClock } from "./sim-clock.js";
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

/**
 * The reference board with canned parts: each bus address answers from a ring of responses recorded
 * from its simulated part, so that a benchmark meters the firmware rather than the simulation of
 * the silicon. The recording uses its own clock; the board itself needs none.
 */
export function cannedReferenceBoard(device: string, street: string, startWallMs: number, frames = 64): SimBoard {
  const recordingClock = new SimClock({ startWallMs });
  const { parts } = simulatedReferenceBoard(device, street, recordingClock);
  const measure = Uint8Array.of(0xfd);
  const sht4xFrames: Uint8Array[] = [];
  for (let i = 0; i < frames; i++) {
    parts.sht4x.write(measure);
    recordingClock.advanceBy(10_000);
    const frame = new Uint8Array(6);
    parts.sht4x.read(frame);
    sht4xFrames.push(frame);
  }
  const board = new SimBoard({ i2cBuses: ["main"] });
  board.attachI2C("main", SHT4X_DEFAULT_ADDRESS, new CannedI2CDevice(sht4xFrames));
  return board;
}
