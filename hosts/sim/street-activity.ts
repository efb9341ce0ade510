/**
 * What happens in the street around a simulated node: vehicles and pedestrians passing, and the
 * noise, particulate matter and CO2 they cause. Every part on the simulated board reads from the
 * same model, so the loop detector counts the vehicles that the sound meter hears and the radar
 * counts the pedestrians whose phones the BLE scanner sees.
 *
 * The model is a pure function of its seeds and the queried time (any query order works, the same
 * queries give the same answers on Node and on XS):
 * - Arrivals are Poisson processes with a time-varying rate, drawn per one-second slot from a
 *   counter-based hash, so "the vehicles between t0 and t1" is well defined without state.
 * - Rates follow weekday and weekend profiles (morning and evening rush hours on weekdays, a late
 *   broad peak at weekends, quiet nights), scaled by a per-node "busyness" and a per-day factor.
 * - Noise is the energy sum of an ambient floor and each nearby vehicle's pass-by.
 * - PM and CO2 are a seasonal, diurnal background plus a traffic contribution.
 *
 * Times are Unix milliseconds; local hours use a fixed UTC offset (default +1 h).
 */
import { fnv1a32, hashUnit, mix32, type Seed } from "./prng.js";

export interface StreetActivityOptions {
  /** Seeds what the whole street shares (day-to-day variation). */
  readonly seed: Seed;
  /** Seeds this node's site: how busy it is, its own arrivals, static radio beacons. */
  readonly siteSeed: Seed;
  readonly utcOffsetHours?: number;
  /** Peak vehicles per hour on a weekday; default drawn per site in 150..900. */
  readonly peakVehiclesPerHour?: number;
  /** Peak pedestrians per hour on a weekday; default drawn per site in 120..900. */
  readonly peakPedestriansPerHour?: number;
}

/** One vehicle passing the node. */
export interface VehiclePass {
  /** When its front reaches the detector (Unix ms). */
  readonly atMs: number;
  /** How long it occupies an inductive loop (ms). */
  readonly occupancyMs: number;
  /** Its pass-by sound level at the node at closest approach, dBA. */
  readonly passByDb: number;
  /** Heavy vehicle (bus, truck). */
  readonly heavy: boolean;
}

/** One pedestrian passing the node. */
export interface PedestrianPass {
  /** When they enter the radar's field (Unix ms). */
  readonly atMs: number;
  /** How long they stay within range (ms). */
  readonly dwellMs: number;
  /** Closest distance to the node (cm). */
  readonly distanceCm: number;
  /** A stable identity of this passer-by (for the devices they carry). */
  readonly id: number;
  /** BLE-advertising devices they carry (phone, watch, earbuds): 0..3. */
  readonly devices: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const SLOT_MS = 1000;

/** Relative traffic by local hour, weekday and weekend (urban counts, peak = 1). */
const VEHICLES_WEEKDAY = [0.09, 0.06, 0.05, 0.05, 0.09, 0.25, 0.55, 0.9, 1.0, 0.75, 0.62, 0.62, 0.65, 0.66, 0.68, 0.76, 0.9, 1.0, 0.85, 0.62, 0.45, 0.34, 0.25, 0.16];
const VEHICLES_WEEKEND = [0.15, 0.1, 0.08, 0.06, 0.06, 0.09, 0.15, 0.25, 0.38, 0.5, 0.6, 0.66, 0.68, 0.68, 0.66, 0.65, 0.65, 0.62, 0.55, 0.45, 0.37, 0.3, 0.24, 0.18];
/** Relative footfall by local hour (commute, lunch and evening peaks; shopping at weekends). */
const PEDESTRIANS_WEEKDAY = [0.03, 0.02, 0.01, 0.01, 0.02, 0.06, 0.2, 0.62, 0.85, 0.55, 0.45, 0.55, 0.85, 0.8, 0.55, 0.55, 0.7, 1.0, 0.85, 0.6, 0.42, 0.28, 0.15, 0.07];
const PEDESTRIANS_WEEKEND = [0.06, 0.04, 0.02, 0.01, 0.01, 0.02, 0.04, 0.1, 0.22, 0.4, 0.62, 0.8, 0.9, 0.95, 1.0, 0.98, 0.92, 0.82, 0.7, 0.55, 0.42, 0.3, 0.18, 0.1];

export class StreetActivity {
  readonly peakVehiclesPerHour: number;
  readonly peakPedestriansPerHour: number;
  readonly #utcOffsetMs: number;
  readonly #streetKey: number;
  readonly #siteKey: number;

  constructor(options: StreetActivityOptions) {
    this.#streetKey = seedKey(options.seed);
    this.#siteKey = seedKey(options.siteSeed);
    this.#utcOffsetMs = (options.utcOffsetHours ?? 1) * HOUR_MS;
    this.peakVehiclesPerHour = options.peakVehiclesPerHour ?? 150 + 750 * hashUnit(this.#siteKey, 0x7ea1, 1);
    this.peakPedestriansPerHour = options.peakPedestriansPerHour ?? 120 + 780 * hashUnit(this.#siteKey, 0x7ea1, 2);
  }

  /** Vehicles per hour passing the node at `wallMs`. */
  vehiclesPerHour(wallMs: number): number {
    return this.peakVehiclesPerHour * this.#profile(wallMs, VEHICLES_WEEKDAY, VEHICLES_WEEKEND) * this.#dayFactor(wallMs, 1);
  }

  /** Pedestrians per hour passing the node at `wallMs`. */
  pedestriansPerHour(wallMs: number): number {
    return this.peakPedestriansPerHour * this.#profile(wallMs, PEDESTRIANS_WEEKDAY, PEDESTRIANS_WEEKEND) * this.#dayFactor(wallMs, 2);
  }

  /** Calls `onPass` for every vehicle whose front reaches the node in [fromMs, toMs), in time order. */
  vehiclesBetween(fromMs: number, toMs: number, onPass: (pass: VehiclePass) => void): void {
    this.#arrivals(fromMs, toMs, 0x0ca5, (wallMs) => this.vehiclesPerHour(wallMs), (atMs, key) => {
      const heavy = unit(key, 1) < 0.08;
      const speed = 8 + 8 * unit(key, 2); // 29 to 58 km/h, m/s
      const length = heavy ? 10 + 6 * unit(key, 3) : 3.8 + 1.4 * unit(key, 3);
      onPass({
        atMs,
        occupancyMs: ((length + 2) / speed) * 1000, // a 2 m loop
        passByDb: (heavy ? 76 : 69) + 6 * (unit(key, 4) - 0.5) + (speed - 12) * 0.4,
        heavy,
      });
    });
  }

  /** Calls `onPass` for every pedestrian entering the node's surroundings in [fromMs, toMs), in time order. */
  pedestriansBetween(fromMs: number, toMs: number, onPass: (pass: PedestrianPass) => void): void {
    this.#arrivals(fromMs, toMs, 0x9ed5, (wallMs) => this.pedestriansPerHour(wallMs), (atMs, key) => {
      const carries = unit(key, 5);
      onPass({
        atMs,
        dwellMs: 2500 + 6000 * unit(key, 6) + (unit(key, 7) < 0.05 ? 60_000 * unit(key, 8) : 0), // a few linger
        distanceCm: 80 + Math.floor(420 * unit(key, 9)),
        id: key,
        devices: carries < 0.12 ? 0 : carries < 0.7 ? 1 : carries < 0.93 ? 2 : 3,
      });
    });
  }

  /** Ambient (non-traffic) sound level, dBA: wind, distant city, people; quieter at night. */
  ambientNoiseDb(wallMs: number): number {
    const footfall = this.pedestriansPerHour(wallMs);
    return 36 + 4 * Math.log10(1 + footfall / 10) + 3 * (this.#dayFactor(wallMs, 3) - 1) * 5;
  }

  /**
   * Sound level at the node at `wallMs`, dBA (fast time weighting): the ambient floor plus every
   * vehicle within a few seconds of its pass-by, by energy.
   */
  noiseDb(wallMs: number): number {
    let energy = Math.pow(10, this.ambientNoiseDb(wallMs) / 10);
    this.vehiclesBetween(wallMs - 8000, wallMs + 8000, (pass) => {
      const dt = (wallMs - pass.atMs) / 1000;
      // Level falls with distance along the road: 10*log10(1 + (v*dt/d)^2) for d = 7.5 m, v ~ 12 m/s.
      const along = (12 * dt) / 7.5;
      energy += Math.pow(10, (pass.passByDb - 10 * Math.log10(1 + along * along)) / 10);
    });
    return 10 * Math.log10(energy);
  }

  /** Fine particulate matter PM2.5 at the node, µg/m³: seasonal and diurnal background plus traffic. */
  pm25(wallMs: number): number {
    const season = 0.5 + 0.5 * Math.cos((2 * Math.PI * (dayOfYear(wallMs) - 15)) / 365); // 1 in January
    const hour = this.#localHour(wallMs);
    const boundaryLayer = 1 + 0.35 * Math.cos((2 * Math.PI * (hour - 6)) / 24); // shallow mixing at night and early morning
    const background = (6 + 12 * season) * boundaryLayer * this.#dayFactor(wallMs, 4);
    return background + 0.012 * this.vehiclesPerHour(wallMs);
  }

  /** PM1.0 and PM10 follow PM2.5 with site-specific ratios; road dust adds to PM10 with traffic. */
  pm1(wallMs: number): number {
    return this.pm25(wallMs) * (0.66 + 0.1 * hashUnit(this.#siteKey, 0x9a1, 1));
  }

  pm10(wallMs: number): number {
    return this.pm25(wallMs) * (1.35 + 0.4 * hashUnit(this.#siteKey, 0x9a1, 2)) + 0.01 * this.vehiclesPerHour(wallMs);
  }

  /** CO2 at street level, ppm: the global background, night-time accumulation, traffic plumes. */
  co2Ppm(wallMs: number): number {
    const hour = this.#localHour(wallMs);
    const night = 18 * (0.5 + 0.5 * Math.cos((2 * Math.PI * (hour - 5)) / 24));
    return 421 + night + 0.04 * this.vehiclesPerHour(wallMs) + 6 * (this.#dayFactor(wallMs, 5) - 1) * 5;
  }

  /**
   * The public addresses of the few fixed BLE beacons near the node (shop beacons, a parked car's
   * head unit): 0 to 4 per site, stable over time.
   */
  staticBeacons(): number[] {
    const count = Math.floor(5 * hashUnit(this.#siteKey, 0xb1e, 0));
    return Array.from({ length: count }, (_, i) => mix32(this.#siteKey ^ (0xb1e0 + i)));
  }

  /** Local hour of day in [0, 24). */
  #localHour(wallMs: number): number {
    const local = wallMs + this.#utcOffsetMs;
    return (((local % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS;
  }

  /** The profile value at `wallMs`, smoothly interpolated between hours. */
  #profile(wallMs: number, weekday: readonly number[], weekend: readonly number[]): number {
    const local = wallMs + this.#utcOffsetMs;
    const day = Math.floor(local / DAY_MS);
    const weekdayIndex = (((day + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday: 0 = Sunday
    const table = weekdayIndex === 0 || weekdayIndex === 6 ? weekend : weekday;
    const hour = this.#localHour(wallMs);
    const h0 = Math.floor(hour);
    const f = hour - h0;
    const smooth = (1 - Math.cos(Math.PI * f)) / 2;
    return table[h0]! * (1 - smooth) + table[(h0 + 1) % 24]! * smooth;
  }

  /** A per-day, per-quantity factor around 1 (±15 %), shared by the street. */
  #dayFactor(wallMs: number, quantity: number): number {
    const day = Math.floor((wallMs + this.#utcOffsetMs) / DAY_MS);
    return 0.85 + 0.3 * hashUnit(this.#streetKey, quantity, day);
  }

  /** Poisson arrivals: for each one-second slot overlapping [from, to), a hashed count and offsets. */
  #arrivals(fromMs: number, toMs: number, stream: number, ratePerHour: (wallMs: number) => number, emit: (atMs: number, key: number) => void): void {
    const first = Math.floor(fromMs / SLOT_MS);
    const last = Math.ceil(toMs / SLOT_MS);
    for (let slot = first; slot < last; slot++) {
      const lambda = (ratePerHour(slot * SLOT_MS) * SLOT_MS) / HOUR_MS;
      const count = poisson(lambda, hashUnit(this.#siteKey, stream, slot));
      for (let i = 0; i < count; i++) {
        const key = mix32(mix32(this.#siteKey ^ stream) ^ (slot * 8 + i));
        // Stratified within the slot, so arrivals come out in time order.
        const atMs = slot * SLOT_MS + Math.floor((SLOT_MS * (i + unit(key, 0))) / count);
        if (atMs >= fromMs && atMs < toMs) emit(atMs, key);
      }
    }
  }
}

/** Inverse-CDF Poisson sample for a small mean, from one uniform draw. */
function poisson(lambda: number, u: number): number {
  let k = 0;
  let p = Math.exp(-lambda);
  let cumulative = p;
  while (u > cumulative && k < 16) {
    k++;
    p *= lambda / k;
    cumulative += p;
  }
  return k;
}

function unit(key: number, index: number): number {
  return hashUnit(key, 0x5eed, index);
}

function seedKey(seed: Seed): number {
  return typeof seed === "number" ? mix32(seed >>> 0) : fnv1a32(seed);
}

/** Day of the (UTC) year, 0-based, by calendar arithmetic: no Date object per call. */
function dayOfYear(wallMs: number): number {
  const days = Math.floor(wallMs / DAY_MS);
  // Days since 1970-01-01 to the civil date (H. Hinnant's algorithm), then back to 1 January.
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100)); // day of the March-based year
  const fromMarch = doy; // 0 = 1 March
  const leap = isLeap(era * 400 + yoe + (fromMarch >= 306 ? 1 : 0));
  return fromMarch >= 306 ? fromMarch - 306 : fromMarch + 59 + (leap ? 1 : 0);
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}
