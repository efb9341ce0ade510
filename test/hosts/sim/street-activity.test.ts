import { describe, expect, it } from "vitest";
import { StreetActivity } from "../../../hosts/sim/street-activity.js";

const HOUR = 3_600_000;
/** Local time (UTC+1, the model's default) on Tuesday 10 March 2026, and Sunday 15 March. */
const tuesday = (hour: number) => Date.UTC(2026, 2, 10, hour - 1, 0, 0);
const sunday = (hour: number) => Date.UTC(2026, 2, 15, hour - 1, 0, 0);

function countIn(activity: StreetActivity, what: "vehiclesBetween" | "pedestriansBetween", from: number, to: number): number {
  let n = 0;
  activity[what](from, to, () => n++);
  return n;
}

describe("the street model", () => {
  const street = new StreetActivity({ seed: "test-street", siteSeed: "node-a" });

  it("has weekday rush hours: traffic at 08:00 and 17:00 well above 03:00 and midday", () => {
    const at = (h: number) => countIn(street, "vehiclesBetween", tuesday(h), tuesday(h) + HOUR);
    expect(at(8)).toBeGreaterThan(5 * at(3));
    expect(at(17)).toBeGreaterThan(5 * at(3));
    expect(at(8)).toBeGreaterThan(at(12));
  });

  it("has a later, flatter weekend: Sunday 08:00 is quieter than Tuesday 08:00", () => {
    expect(street.vehiclesPerHour(sunday(8))).toBeLessThan(0.5 * street.vehiclesPerHour(tuesday(8)));
    expect(street.pedestriansPerHour(sunday(14))).toBeGreaterThan(street.pedestriansPerHour(sunday(8)));
  });

  it("has quieter nights: the sound level at 03:00 is below the level at 08:00", () => {
    const leq = (from: number) => {
      let energy = 0;
      for (let t = 0; t < HOUR; t += 5000) energy += Math.pow(10, street.noiseDb(from + t) / 10);
      return 10 * Math.log10(energy / (HOUR / 5000));
    };
    expect(leq(tuesday(8))).toBeGreaterThan(leq(tuesday(3)) + 6);
  });

  it("raises PM and CO2 with traffic, and PM in winter above summer", () => {
    expect(street.pm25(tuesday(8))).toBeGreaterThan(street.pm25(tuesday(14)) - 5); // rush hour plus morning inversion
    expect(street.pm10(tuesday(8))).toBeGreaterThan(street.pm25(tuesday(8)));
    expect(street.pm1(tuesday(8))).toBeLessThan(street.pm25(tuesday(8)));
    const january = Date.UTC(2026, 0, 14, 12);
    const july = Date.UTC(2026, 6, 15, 12);
    expect(street.pm25(january)).toBeGreaterThan(street.pm25(july));
    expect(street.co2Ppm(tuesday(8))).toBeGreaterThan(415);
    expect(street.co2Ppm(tuesday(8))).toBeLessThan(520);
  });

  it("gives every arrival query the same answer, in time order, whatever the query order", () => {
    const first: number[] = [];
    street.vehiclesBetween(tuesday(8), tuesday(8) + 600_000, (v) => first.push(v.atMs));
    const pieces: number[] = [];
    for (let t = tuesday(8) + 600_000 - 60_000; t >= tuesday(8); t -= 60_000) {
      const piece: number[] = [];
      street.vehiclesBetween(t, t + 60_000, (v) => piece.push(v.atMs));
      pieces.unshift(...piece);
    }
    expect(pieces).toEqual(first);
    expect([...first].sort((a, b) => a - b)).toEqual(first);
  });

  it("differs between sites of one street and between streets, but shares the street's days", () => {
    const other = new StreetActivity({ seed: "test-street", siteSeed: "node-b" });
    expect(other.peakVehiclesPerHour).not.toBe(street.peakVehiclesPerHour);
    // the day-to-day factor is the street's: both sites rise and fall together from one day to the next
    const ratio = (a: StreetActivity) => a.vehiclesPerHour(tuesday(8)) / a.vehiclesPerHour(tuesday(8) + 86_400_000);
    expect(ratio(other)).toBeCloseTo(ratio(street), 6);
  });

  it("arrival counts follow the rate (Poisson): an hour's count lies within 4 standard deviations", () => {
    for (const hour of [3, 8, 12, 17, 22]) {
      let expected = 0;
      for (let t = 0; t < HOUR; t += 1000) expected += street.vehiclesPerHour(tuesday(hour) + t) / 3600;
      const count = countIn(street, "vehiclesBetween", tuesday(hour), tuesday(hour) + HOUR);
      expect(Math.abs(count - expected)).toBeLessThan(4 * Math.sqrt(expected) + 2);
    }
  });
});
