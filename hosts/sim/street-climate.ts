/**
 * Outdoor air temperature and relative humidity at one street location, as the simulated world's truth.
 *
 * Portable: no Node APIs, no `Math.random`; runs on XS as it does on Node.
 *
 * The model, all of it a PURE FUNCTION of the seed and the query time (any query order, backwards
 * included, gives the same value for the same time; caches only save work):
 *
 *   T(t) = seasonal mean(day of year) + site offset + weather anomaly(t)
 *          + diurnal range(day of year) × site factor × cloud factor(t) / 2 × diurnal shape(local hour)
 *
 * - Seasonal mean: a yearly cosine, by default 11 ± 9 °C, coldest mid-January (~2 °C), warmest
 *   mid-July (~20 °C): a temperate central-European city. Southern latitudes shift it by half a year.
 * - Diurnal shape: -1 at the minimum (just after sunrise, which follows from latitude, longitude and the
 *   day of year), +1 at the maximum (solar noon + 2.7 h, ≈ 15:00 local), half-cosine warming and cooling
 *   branches between them; its daily mean is 0. Peak-to-peak range by default 6 °C in winter and 10 °C
 *   in summer (observed ranges of Munich or Vienna), i.e. an amplitude of 3..5 °C.
 * - Weather: two slow, mean-reverting (Ornstein-Uhlenbeck-like) processes, a temperature anomaly
 *   (σ ≈ 2.8 °C, time constant 36 h) and a "dryness" (σ = 1, time constant 24 h). They are exponentially
 *   filtered seeded noise on a 3-hour grid, computed from a stateless counter-based hash (so no state has
 *   to be advanced), and interpolated smoothly (Catmull-Rom) between grid points. Beyond ±3 σ the anomaly is
 *   squeezed softly (at most ±4 σ), which keeps temperatures realistic.
 * - Humidity: dew point = seasonal mean + weather anomaly + site dew-point offset − depression, where the
 *   depression is ~2.5 °C in winter, ~7 °C in summer, scaled by the dryness; dry spells also widen the
 *   diurnal range (clear skies), humid ones narrow it. RH follows from the dew point and the temperature
 *   with the Magnus formula (over water, as humidity sensors report it), capped at 100 % (fog): high at
 *   night, low in the afternoon.
 * - Site (per node, from the seed): sun/shade offset in ±1.5 °C, diurnal range factor in 0.8..1.2,
 *   dew-point offset in ±1 °C. Each can be pinned through the options.
 * - Time: UTC plus a fixed offset (default +1 h, no daylight saving) for the local hour; the day of year
 *   is counted in mean tropical years from 2000-01-01, so the seasons never jump at New Year.
 * - Finally temperature is clamped to -25..45 °C, which only extreme option values can reach.
 */

import { Prng, hashUnit, type Seed } from "./prng.js";

/** What a climate source reports for one instant. */
export interface ClimateSample {
  readonly temperatureC: number;
  /** Relative humidity over water, 0 < RH <= 100. */
  readonly humidityPct: number;
}

/** Anything that can tell the ambient climate at a wall time (Unix ms). */
export interface ClimateSource {
  at(wallMs: number): ClimateSample;
}

export interface StreetClimateSample extends ClimateSample {
  /** Dew point of the air, <= temperatureC. */
  readonly dewPointC: number;
}

export interface StreetClimateOptions {
  /** Seeds the regional weather: nodes of one street share it. */
  readonly seed: Seed;
  /** Seeds this site's offsets (sun/shade, range, dew point); default: `seed`. */
  readonly siteSeed?: Seed;
  /** Default 48 (a temperate city); negative for the southern hemisphere. */
  readonly latitudeDeg?: number;
  /** Default 11.5 (central Europe); with the UTC offset it places solar noon on the local clock. */
  readonly longitudeDeg?: number;
  /** Fixed local offset from UTC in hours for the diurnal phase; default +1. */
  readonly utcOffsetHours?: number;
  /** Yearly mean temperature, default 11 °C. */
  readonly annualMeanC?: number;
  /** Half the difference between the warmest and coldest daily means, default 9 °C. */
  readonly annualAmplitudeC?: number;
  /** Peak-to-peak diurnal range in midwinter / midsummer, defaults 6 and 10 °C. */
  readonly diurnalRangeWinterC?: number;
  readonly diurnalRangeSummerC?: number;
  /** Standard deviation of the weather anomaly, default 2.8 °C. */
  readonly weatherSigmaC?: number;
  /** Time constant of the weather anomaly, default 36 h. */
  readonly weatherTimeConstantHours?: number;
  /** Dew-point depression below the daily mean in midwinter / midsummer, defaults 2.5 and 7 °C. */
  readonly dewPointDepressionWinterC?: number;
  readonly dewPointDepressionSummerC?: number;
  /** Site values; drawn from the seed when absent. */
  readonly siteOffsetC?: number;
  readonly siteRangeFactor?: number;
  readonly siteDewPointOffsetC?: number;
}

/** The per-site values in effect (drawn from the seed unless pinned). */
export interface StreetClimateSite {
  readonly offsetC: number;
  readonly rangeFactor: number;
  readonly dewPointOffsetC: number;
}

const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;
const TROPICAL_YEAR_DAYS = 365.2425;
/** 2000-01-01T00:00Z in days since the Unix epoch. */
const DAYS_1970_TO_2000 = 10_957;
/** Day of year (from 0) of the warmest daily mean in the northern hemisphere: about 19 July. */
const WARMEST_DAY = 199.5;
const GRID_HOURS = 3;
const SQRT3 = Math.sqrt(3);
const DEG = Math.PI / 180;
const MIN_TEMPERATURE_C = -25;
const MAX_TEMPERATURE_C = 45;

function mod(value: number, modulus: number): number {
  const r = value % modulus;
  return r < 0 ? r + modulus : r;
}

function clamp(value: number, lo: number, hi: number): number {
  return value < lo ? lo : value > hi ? hi : value;
}

/** Saturation vapour pressure over water (hPa), Magnus formula (Sonntag 1990 constants). */
export function saturationVapourPressureHPa(temperatureC: number): number {
  return 6.112 * Math.exp((17.62 * temperatureC) / (243.12 + temperatureC));
}

/** Relative humidity (%) of air at `temperatureC` with dew point `dewPointC` (Magnus); may exceed 100 if dew point > T. */
export function relativeHumidityPct(temperatureC: number, dewPointC: number): number {
  return (100 * saturationVapourPressureHPa(dewPointC)) / saturationVapourPressureHPa(temperatureC);
}

/** Identity within ±3, then squeezed smoothly so the result never leaves ±4. */
function softLimit(x: number): number {
  const magnitude = Math.abs(x);
  if (magnitude <= 3) return x;
  const squeezed = 3 + Math.tanh(magnitude - 3);
  return x < 0 ? -squeezed : squeezed;
}

/**
 * A unit-variance, mean-reverting random process on a fixed time grid: each grid value is exponentially
 * weighted seeded noise over the preceding ~4 time constants, so neighbouring values are correlated with
 * e^(-Δt/τ), as in an Ornstein-Uhlenbeck process, yet every value is a pure function of its grid index.
 */
class GridProcess {
  private readonly weights: Float64Array;
  /** A direct-mapped cache of knots (index k at slot k mod 64): fixed memory, so long runs stay flat. */
  private readonly cachedIndex = new Float64Array(64).fill(NaN);
  private readonly cachedValue = new Float64Array(64);

  constructor(
    private readonly key0: number,
    private readonly key1: number,
    timeConstantHours: number,
  ) {
    const decay = Math.exp(-GRID_HOURS / Math.max(timeConstantHours, 0.1));
    const terms = Math.max(2, Math.ceil((4 * timeConstantHours) / GRID_HOURS) + 1);
    this.weights = new Float64Array(terms);
    let sumOfSquares = 0;
    let weight = 1;
    for (let j = 0; j < terms; j++) {
      this.weights[j] = weight;
      sumOfSquares += weight * weight;
      weight *= decay;
    }
    const norm = 1 / Math.sqrt(sumOfSquares);
    for (let j = 0; j < terms; j++) this.weights[j] = this.weights[j]! * norm;
  }

  /** The value at grid index `k` (unit variance, mean 0). */
  knot(k: number): number {
    const slot = ((k % 64) + 64) % 64;
    if (this.cachedIndex[slot] === k) return this.cachedValue[slot]!;
    let sum = 0;
    const weights = this.weights;
    for (let j = 0; j < weights.length; j++) {
      // uniform noise scaled to unit variance
      sum += weights[j]! * (hashUnit(this.key0, this.key1, k - j) * 2 - 1) * SQRT3;
    }
    this.cachedIndex[slot] = k;
    this.cachedValue[slot] = sum;
    return sum;
  }

  /** The process at `hours` since the Unix epoch, Catmull-Rom interpolated between grid values. */
  at(hours: number): number {
    const u = hours / GRID_HOURS;
    const k = Math.floor(u);
    const f = u - k;
    const p0 = this.knot(k - 1);
    const p1 = this.knot(k);
    const p2 = this.knot(k + 1);
    const p3 = this.knot(k + 2);
    return (
      p1 +
      0.5 * f * (p2 - p0 + f * (2 * p0 - 5 * p1 + 4 * p2 - p3 + f * (3 * (p1 - p2) + p3 - p0)))
    );
  }
}

export class StreetClimate implements ClimateSource {
  readonly site: StreetClimateSite;
  private readonly latitudeRad: number;
  private readonly southern: boolean;
  private readonly utcOffsetHours: number;
  private readonly solarNoonLocalH: number;
  private readonly annualMeanC: number;
  private readonly annualAmplitudeC: number;
  private readonly rangeWinterC: number;
  private readonly rangeSummerC: number;
  private readonly weatherSigmaC: number;
  private readonly depressionWinterC: number;
  private readonly depressionSummerC: number;
  private readonly weather: GridProcess;
  private readonly dryness: GridProcess;

  constructor(options: StreetClimateOptions) {
    const latitudeDeg = clamp(options.latitudeDeg ?? 48, -89.9, 89.9);
    const longitudeDeg = options.longitudeDeg ?? 11.5;
    this.latitudeRad = latitudeDeg * DEG;
    this.southern = latitudeDeg < 0;
    this.utcOffsetHours = options.utcOffsetHours ?? 1;
    this.solarNoonLocalH = mod(12 + this.utcOffsetHours - longitudeDeg / 15, 24);
    this.annualMeanC = options.annualMeanC ?? 11;
    this.annualAmplitudeC = options.annualAmplitudeC ?? 9;
    this.rangeWinterC = options.diurnalRangeWinterC ?? 6;
    this.rangeSummerC = options.diurnalRangeSummerC ?? 10;
    this.weatherSigmaC = options.weatherSigmaC ?? 2.8;
    this.depressionWinterC = options.dewPointDepressionWinterC ?? 2.5;
    this.depressionSummerC = options.dewPointDepressionSummerC ?? 7;

    const prng = new Prng(options.seed).fork("street-climate");
    const sitePrng = options.siteSeed === undefined ? prng : new Prng(options.siteSeed).fork("street-climate");
    const drawnOffset = sitePrng.range(-1.5, 1.5);
    const drawnFactor = sitePrng.range(0.8, 1.2);
    const drawnDewOffset = sitePrng.range(-1, 1);
    this.site = {
      offsetC: options.siteOffsetC ?? drawnOffset,
      rangeFactor: options.siteRangeFactor ?? drawnFactor,
      dewPointOffsetC: options.siteDewPointOffsetC ?? drawnDewOffset,
    };
    const weatherStream = prng.fork("weather");
    const drynessStream = prng.fork("dryness");
    this.weather = new GridProcess(
      weatherStream.nextUint32(),
      weatherStream.nextUint32(),
      options.weatherTimeConstantHours ?? 36,
    );
    this.dryness = new GridProcess(drynessStream.nextUint32(), drynessStream.nextUint32(), 24);
  }

  /** Temperature, relative humidity and dew point at `wallMs` (Unix ms). */
  at(wallMs: number): StreetClimateSample {
    const days = wallMs / MS_PER_DAY;
    const hoursUtc = wallMs / MS_PER_HOUR;
    const dayOfYear = mod(days - DAYS_1970_TO_2000, TROPICAL_YEAR_DAYS);
    const localHour = mod(hoursUtc + this.utcOffsetHours, 24);

    // +1 at the warmest time of year, -1 at the coldest.
    const seasonPhase = (2 * Math.PI * (dayOfYear - WARMEST_DAY)) / TROPICAL_YEAR_DAYS;
    const summerness = this.southern ? -Math.cos(seasonPhase) : Math.cos(seasonPhase);
    const blend = (winter: number, summer: number): number =>
      0.5 * (winter + summer) + 0.5 * (summer - winter) * summerness;

    const seasonalMeanC = this.annualMeanC + this.annualAmplitudeC * summerness;
    const anomalyC = this.weatherSigmaC * softLimit(this.weather.at(hoursUtc));
    const dryness = softLimit(this.dryness.at(hoursUtc));

    const cloudFactor = clamp(1 + 0.25 * dryness, 0.4, 1.6);
    const rangeC = blend(this.rangeWinterC, this.rangeSummerC) * this.site.rangeFactor * cloudFactor;
    const shape = this.diurnalShape(localHour, dayOfYear);
    const temperatureC = clamp(
      seasonalMeanC + this.site.offsetC + anomalyC + 0.5 * rangeC * shape,
      MIN_TEMPERATURE_C,
      MAX_TEMPERATURE_C,
    );

    const depressionC = blend(this.depressionWinterC, this.depressionSummerC) * Math.exp(0.35 * dryness);
    const dewPointC = Math.min(temperatureC, seasonalMeanC + anomalyC + this.site.dewPointOffsetC - depressionC);
    const humidityPct = Math.min(100, relativeHumidityPct(temperatureC, dewPointC));
    return { temperatureC, humidityPct, dewPointC };
  }

  /** -1 at the daily minimum (shortly after sunrise), +1 at the maximum (mid-afternoon), daily mean 0. */
  private diurnalShape(localHour: number, dayOfYear: number): number {
    const declination = -23.44 * DEG * Math.cos((2 * Math.PI * (dayOfYear + 10)) / TROPICAL_YEAR_DAYS);
    const cosHourAngle = clamp(-Math.tan(this.latitudeRad) * Math.tan(declination), -1, 1);
    const halfDayHours = Math.acos(cosHourAngle) / (15 * DEG);
    const maxHour = this.solarNoonLocalH + 2.7;
    // Minimum just after sunrise, kept at least 4 h before the maximum (polar days and nights).
    const minHour = Math.min(this.solarNoonLocalH - halfDayHours + 0.3, maxHour - 4);
    const warming = maxHour - minHour;
    const sinceMin = mod(localHour - minHour, 24);
    if (sinceMin <= warming) return -Math.cos((Math.PI * sinceMin) / warming);
    return Math.cos((Math.PI * (sinceMin - warming)) / (24 - warming));
  }
}
