/**
 * The disclosure's vocabulary in a resident's words: the parts (src/sensors/catalog.ts), SenML
 * units (RFC 8428 section 12.1, and the node's own), the statistics a channel releases
 * (src/aggregate/) and the data types of the deployment policy (src/policy/deployment-policy.ts).
 * A name not listed here is shown as the node wrote it: a newer node's word is never hidden.
 */

/** What each part of the catalog is, and what it cannot do. */
const PARTS: Readonly<Record<string, string>> = {
  sht4x: "a temperature and humidity sensor (Sensirion SHT4x)",
  scd4x: "a carbon dioxide (CO2) sensor (Sensirion SCD4x)",
  pms5003: "a fine-dust (particulate matter) sensor that counts particles in the air it draws in (Plantower PMS5003)",
  "sound-level-meter": "a sound-level meter: it measures how loud the street is; it does not record sound",
  ld2410: "a presence radar (HiLink LD2410): it senses movement and distance, not images, faces or who anyone is",
  "vehicle-detector": "an inductive loop in the road: it senses metal passing over it, not number plates or images",
  "ble-scan": "a Bluetooth receiver: it hears the signals phones, watches and other devices broadcast around it; it sends nothing itself",
};

/** Parts of the catalog: none records audio, images or video. */
export const KNOWN_PARTS: ReadonlySet<string> = new Set(Object.keys(PARTS));

const UNITS: Readonly<Record<string, string>> = {
  Cel: "°C",
  "%RH": "% relative humidity",
  ppm: "parts per million",
  "ug/m3": "micrograms per cubic metre",
  dB: "decibels (A-weighted)",
  s: "seconds",
  "": "a count",
};

const STATISTICS: Readonly<Record<string, string>> = {
  count: "how many readings were taken",
  mean: "the average",
  min: "the lowest reading",
  max: "the highest reading",
  leq: "the average sound level (Leq)",
  l10: "the level exceeded 10% of the time (L10: the loud moments)",
  l50: "the level exceeded half of the time (L50)",
  l90: "the level exceeded 90% of the time (L90: the background)",
  sum: "the total",
  distinct: "how many different devices were heard",
};

const DATA_TYPES: Readonly<Record<string, string>> = {
  environment: "the environment",
  "sound-level": "sound levels",
  activity: "activity",
  "people-count": "counts of people",
  "vehicle-count": "counts of vehicles",
  "device-count": "counts of devices",
};

export function partWords(part: string): string {
  return PARTS[part] ?? part;
}

export function unitWords(unit: string): string {
  return UNITS[unit] ?? unit;
}

export function statisticWords(stat: string): string {
  return STATISTICS[stat] ?? stat;
}

export function dataTypeWords(dataType: string): string {
  return DATA_TYPES[dataType] ?? dataType;
}

/** 300 -> "5 minutes", 3600 -> "1 hour", 90 -> "90 seconds", 86400 -> "24 hours". */
export function durationWords(seconds: number): string {
  const [amount, unit] = seconds % 3600 === 0 ? [seconds / 3600, "hour"] : seconds % 60 === 0 ? [seconds / 60, "minute"] : [seconds, "second"];
  return `${amount} ${unit}${amount === 1 ? "" : "s"}`;
}

/** 300 -> "5-minute", 3600 -> "1-hour", 90 -> "90-second": a duration before a noun. */
export function durationAdjective(seconds: number): string {
  return durationWords(seconds).replace(/s$/, "").replace(" ", "-");
}
