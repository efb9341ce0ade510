import { describe, expect, it } from "vitest";
import { coarsePosition } from "../../../src/policy/coarse-position.js";

const METERS_PER_DEGREE = 111_320;

function distanceMeters(a: { latitude: number; longitude: number }, b: { latitude: number; longitude: number }): number {
  const dLat = (a.latitude - b.latitude) * METERS_PER_DEGREE;
  const dLon = (a.longitude - b.longitude) * METERS_PER_DEGREE * Math.cos((a.latitude * Math.PI) / 180);
  return Math.hypot(dLat, dLon);
}

describe("a published position", () => {
  it("is the centre of the node's grid cell: within half a cell's diagonal, never the exact point", () => {
    for (const exact of [
      { latitude: 0, longitude: 0 },
      { latitude: 46.51972, longitude: 6.63361 },
      { latitude: -33.8688, longitude: 151.2093 },
      { latitude: 64.1466, longitude: -21.9426 },
    ]) {
      for (const meters of [10, 100, 1000]) {
        const published = coarsePosition(exact, meters);
        expect(distanceMeters(exact, published)).toBeLessThanOrEqual((meters * Math.SQRT2) / 2 + 0.5);
        expect(published).not.toEqual(exact);
      }
    }
  });

  it("is the same point for every node in one cell, and another for the next cell", () => {
    const a = coarsePosition({ latitude: 0.00001, longitude: 0.00001 }, 100);
    expect(coarsePosition({ latitude: 0.0008, longitude: 0.0008 }, 100)).toEqual(a);
    expect(a).toEqual({ latitude: 0.0004492, longitude: 0.0004492 });
    expect(coarsePosition({ latitude: 0.00001, longitude: 0.0009 }, 100)).not.toEqual(a);
  });

  it("stays on the globe near the poles and the antimeridian", () => {
    expect(coarsePosition({ latitude: 89.99999, longitude: 179.99999 }, 1000).latitude).toBeLessThanOrEqual(90);
    expect(coarsePosition({ latitude: -89.99999, longitude: -179.99999 }, 1000).longitude).toBeGreaterThanOrEqual(-180);
  });
});
