import { describe, expect, it } from "vitest";
import { StreetClimate, relativeHumidityPct } from "../../../hosts/sim/street-climate.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UTC_OFFSET_H = 1; // the default local offset

/** Wall time of `localHour` on day `day` of `month` (0-based) 2026, local time = UTC + 1 h. */
function local(month: number, day: number, localHour: number): number {
  return Date.UTC(2026, month, day, localHour - UTC_OFFSET_H);
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

describe("StreetClimate", () => {
  it("is deterministic for a seed", () => {
    const a = new StreetClimate({ seed: "node-17" });
    const b = new StreetClimate({ seed: "node-17" });
    for (let t = local(6, 1, 0); t < local(6, 3, 0); t += 7 * 60_000) {
      expect(a.at(t)).toEqual(b.at(t));
    }
    expect(a.site).toEqual(b.site);
  });

  it("depends only on the query time, not on the query order or step", () => {
    const t0 = local(2, 10, 0);
    const forward = new StreetClimate({ seed: 5 });
    const coarse = new StreetClimate({ seed: 5 });
    const backwards = new StreetClimate({ seed: 5 });
    const times: number[] = [];
    for (let t = t0; t < t0 + 5 * DAY; t += 10 * 60_000) times.push(t);
    const expected = times.map((t) => forward.at(t));
    // a far jump first, then big steps, then the full sequence backwards
    coarse.at(t0 + 300 * DAY);
    for (let i = 0; i < times.length; i += 37) expect(coarse.at(times[i]!)).toEqual(expected[i]);
    for (let i = times.length - 1; i >= 0; i--) expect(backwards.at(times[i]!)).toEqual(expected[i]);
  });

  it("differs between seeds", () => {
    const a = new StreetClimate({ seed: 1 });
    const b = new StreetClimate({ seed: 2 });
    let different = 0;
    for (let h = 0; h < 48; h++) {
      const t = local(0, 15, 0) + h * HOUR;
      if (Math.abs(a.at(t).temperatureC - b.at(t).temperatureC) > 0.05) different++;
    }
    expect(different).toBeGreaterThan(40);
    expect(a.site).not.toEqual(b.site);
  });

  it("keeps per-site values within their stated ranges, and lets them be pinned", () => {
    for (let seed = 0; seed < 50; seed++) {
      const { site } = new StreetClimate({ seed });
      expect(Math.abs(site.offsetC)).toBeLessThanOrEqual(1.5);
      expect(site.rangeFactor).toBeGreaterThanOrEqual(0.8);
      expect(site.rangeFactor).toBeLessThanOrEqual(1.2);
      expect(Math.abs(site.dewPointOffsetC)).toBeLessThanOrEqual(1);
    }
    const pinned = new StreetClimate({ seed: 1, siteOffsetC: 0, siteRangeFactor: 1, siteDewPointOffsetC: 0 });
    expect(pinned.site).toEqual({ offsetC: 0, rangeFactor: 1, dewPointOffsetC: 0 });
    const hot = new StreetClimate({ seed: 1, siteOffsetC: 1.5, siteRangeFactor: 1, siteDewPointOffsetC: 0 });
    const t = local(3, 1, 12);
    expect(hot.at(t).temperatureC - pinned.at(t).temperatureC).toBeCloseTo(1.5, 9);
  });

  it("is warmer at 15:00 than at 05:00 local over a July week, and drier", () => {
    for (const seed of [1, "node-a", 99]) {
      const climate = new StreetClimate({ seed });
      const at5: number[] = [];
      const at15: number[] = [];
      const rh5: number[] = [];
      const rh15: number[] = [];
      for (let day = 10; day < 17; day++) {
        const early = climate.at(local(6, day, 5));
        const afternoon = climate.at(local(6, day, 15));
        at5.push(early.temperatureC);
        at15.push(afternoon.temperatureC);
        rh5.push(early.humidityPct);
        rh15.push(afternoon.humidityPct);
      }
      expect(mean(at15) - mean(at5)).toBeGreaterThan(2);
      expect(mean(rh5)).toBeGreaterThan(mean(rh15));
    }
  });

  it("is colder in January than in July, with realistic monthly means", () => {
    const climate = new StreetClimate({ seed: 3 });
    const monthMean = (month: number): number => {
      const values: number[] = [];
      for (let t = Date.UTC(2026, month, 1); t < Date.UTC(2026, month + 1, 1); t += HOUR) values.push(climate.at(t).temperatureC);
      return mean(values);
    };
    const january = monthMean(0);
    const july = monthMean(6);
    expect(july - january).toBeGreaterThan(10);
    expect(january).toBeGreaterThan(-6);
    expect(january).toBeLessThan(8);
    expect(july).toBeGreaterThan(15);
    expect(july).toBeLessThan(26);
  });

  it("puts the daily minimum near sunrise and the maximum in mid-afternoon (multi-day average)", () => {
    const climate = new StreetClimate({ seed: 8 });
    const byHour = new Array<number>(24).fill(0);
    for (let day = 1; day <= 30; day++) {
      for (let h = 0; h < 24; h++) byHour[h]! += climate.at(local(5, day, h)).temperatureC; // June
    }
    const coldest = byHour.indexOf(Math.min(...byHour));
    const warmest = byHour.indexOf(Math.max(...byHour));
    expect(coldest).toBeGreaterThanOrEqual(3);
    expect(coldest).toBeLessThanOrEqual(6);
    expect(warmest).toBeGreaterThanOrEqual(14);
    expect(warmest).toBeLessThanOrEqual(16);
  });

  it("stays within realistic bounds over a year at 10-minute steps", () => {
    for (const seed of [11, "street-42"]) {
      const climate = new StreetClimate({ seed });
      let minT = Infinity;
      let maxT = -Infinity;
      let minRH = Infinity;
      let maxRH = -Infinity;
      let bad = 0;
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 10 * 60_000) {
        const { temperatureC, humidityPct, dewPointC } = climate.at(t);
        if (!Number.isFinite(temperatureC) || !Number.isFinite(humidityPct) || dewPointC > temperatureC) bad++;
        minT = Math.min(minT, temperatureC);
        maxT = Math.max(maxT, temperatureC);
        minRH = Math.min(minRH, humidityPct);
        maxRH = Math.max(maxRH, humidityPct);
      }
      expect(bad).toBe(0);
      expect(minT).toBeGreaterThanOrEqual(-25);
      expect(maxT).toBeLessThanOrEqual(45);
      expect(minT).toBeLessThan(0); // some frost in winter
      expect(maxT).toBeGreaterThan(25); // some summer days
      expect(minRH).toBeGreaterThan(0);
      expect(maxRH).toBeLessThanOrEqual(100);
      expect(minRH).toBeGreaterThan(5);
      expect(maxRH).toBeGreaterThan(90);
    }
  });

  it("varies slowly: no jumps between 10-minute samples", () => {
    const climate = new StreetClimate({ seed: 4 });
    let prev = climate.at(local(3, 1, 0));
    let maxStep = 0;
    for (let t = local(3, 1, 0) + 600_000; t < local(3, 15, 0); t += 600_000) {
      const next = climate.at(t);
      maxStep = Math.max(maxStep, Math.abs(next.temperatureC - prev.temperatureC));
      prev = next;
    }
    expect(maxStep).toBeLessThan(1.2);
  });

  it("flips the seasons in the southern hemisphere", () => {
    const south = new StreetClimate({ seed: 3, latitudeDeg: -35 });
    const jan = south.at(local(0, 15, 12)).temperatureC;
    const jul = south.at(local(6, 15, 12)).temperatureC;
    expect(jan).toBeGreaterThan(jul);
  });

  it("computes RH with the Magnus formula", () => {
    expect(relativeHumidityPct(20, 20)).toBeCloseTo(100, 9);
    // 20 °C air with a 10 °C dew point: about 52 %
    expect(relativeHumidityPct(20, 10)).toBeGreaterThan(51);
    expect(relativeHumidityPct(20, 10)).toBeLessThan(53);
  });

  it("shares the weather among the sites of one street: neighbours differ only by their site", () => {
    const a = new StreetClimate({ seed: "one-street", siteSeed: "node-a" });
    const b = new StreetClimate({ seed: "one-street", siteSeed: "node-b" });
    expect(a.site).not.toEqual(b.site);
    let maxGap = 0;
    for (let t = Date.UTC(2026, 3, 1); t < Date.UTC(2026, 3, 8); t += 600_000) {
      maxGap = Math.max(maxGap, Math.abs(a.at(t).temperatureC - b.at(t).temperatureC));
    }
    // offsets within ±1.5 °C each, range factors within 0.8..1.2 of a ≤10 °C diurnal range
    expect(maxGap).toBeLessThan(3 + 0.4 * 5 + 0.01);
  });
});
