/**
 * How big the same window would have been as a one-message-per-reading stream, estimated from
 * what its summary says: the method of BENCHMARKS.md ("Size on the wire"), which measures it from
 * recorded bus traffic; here only the summary is at hand, so the readings are its counts.
 *
 * A Tasmota-style firmware publishes one small JSON telemetry message per reading of a sensor, at
 * QoS 0, on `tele/<device>/SENSOR`:
 *
 *   {"Time":"2026-03-09T06:00:15","SHT4X":{"Temperature":7.13,"Humidity":86.4}}
 *
 * - Readings per sensor: the largest `count` statistic among its channels (a sensor's channels are
 *   read together, one message carrying all of them). Which channel belongs to which sensor comes
 *   from the node's disclosure (its data types name their part); without one, each channel counts
 *   as a sensor of its own.
 * - A channel without a `count` statistic (people, vehicles, devices: released as sums and distinct
 *   counts) says nothing of how often it was read, and is left out: listed in `uncounted`. So the
 *   estimate is a lower bound. (BENCHMARKS.md counts, for the radar and Bluetooth, one message per
 *   reading and per advertisement, with the address: those streams are larger still.)
 * - Each message is sized as one example: the window's mean (or its first value) with the
 *   channel's declared decimals, the window's start as its time.
 * - Bytes are MQTT 3.1.1 PUBLISH packets (section 3.3): fixed header, remaining length, topic,
 *   packet id at QoS 1 only, payload; the sealed summary is one such packet at QoS 1.
 */
import type { SummaryJson } from "./summary-json.js";

const PREFERRED_VALUE = ["mean", "leq", "sum", "distinct", "max", "min"];

/** The bytes of an MQTT 3.1.1 PUBLISH packet carrying `payloadBytes` on `topic`. */
export function mqttPublishBytes(topic: string, payloadBytes: number, qos: 0 | 1): number {
  const remaining = 2 + Buffer.byteLength(topic) + (qos > 0 ? 2 : 0) + payloadBytes;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/** What the disclosure says of a channel: the part that measures it and its decimals. */
export interface DisclosedChannel {
  readonly part: string;
  readonly decimals?: number;
}

export interface SensorStream {
  readonly sensor: string;
  readonly channels: readonly string[];
  readonly readings: number;
  readonly topic: string;
  /** One of its messages, as it would be published. */
  readonly example: string;
  readonly bytes: number;
}

export interface PerReadingStream {
  readonly messages: number;
  readonly bytes: number;
  readonly sensors: readonly SensorStream[];
  /** Channels without a count of readings: not in the estimate. */
  readonly uncounted: readonly string[];
}

/** The estimate for one stored summary; `channels`: the disclosure's, by channel name. */
export function perReadingStream(summary: SummaryJson, channels: ReadonlyMap<string, DisclosedChannel>): PerReadingStream {
  const byChannel = new Map<string, { count: number | undefined; value: number | undefined; rank: number }>();
  for (const s of summary.statistics) {
    const entry = byChannel.get(s.channel) ?? { count: undefined, value: undefined, rank: Infinity };
    // A channel without readings ("missing") was read no time: nothing to estimate, nothing left out.
    if (s.stat === "status" && s.status === "missing") entry.count = 0;
    else if (s.stat === "count") {
      if (s.value !== null) entry.count = s.value;
    } else if (s.value !== null && rank(s.stat) < entry.rank) {
      entry.value = s.value;
      entry.rank = rank(s.stat);
    }
    byChannel.set(s.channel, entry);
  }
  const sensors = new Map<string, { channels: string[]; readings: number; body: Record<string, number> }>();
  const uncounted: string[] = [];
  for (const [channel, { count, value }] of byChannel) {
    if (count === undefined || count <= 0) {
      if (count === undefined) uncounted.push(channel);
      continue;
    }
    const disclosed = channels.get(channel);
    const sensor = (disclosed?.part ?? channel).toUpperCase();
    // Names are the node's text: a body without a prototype takes "__proto__" as a name like any other.
    const group = sensors.get(sensor) ?? { channels: [], readings: 0, body: Object.create(null) as Record<string, number> };
    group.channels.push(channel);
    group.readings = Math.max(group.readings, count);
    group.body[channel.charAt(0).toUpperCase() + channel.slice(1)] = rounded(value ?? 0, disclosed?.decimals);
    sensors.set(sensor, group);
  }
  const topic = `tele/${summary.device}/SENSOR`;
  const time = summary.windowStartIso.replace(/Z$/, "");
  const streams: SensorStream[] = [...sensors].map(([sensor, group]) => {
    const example = JSON.stringify({ Time: time, [sensor]: group.body });
    return { sensor, channels: group.channels, readings: group.readings, topic, example, bytes: group.readings * mqttPublishBytes(topic, Buffer.byteLength(example), 0) };
  });
  return {
    messages: streams.reduce((sum, s) => sum + s.readings, 0),
    bytes: streams.reduce((sum, s) => sum + s.bytes, 0),
    sensors: streams,
    uncounted,
  };
}

/** The example's value: the mean, else the level, else what there is. */
function rank(stat: string): number {
  const i = PREFERRED_VALUE.indexOf(stat);
  return i < 0 ? PREFERRED_VALUE.length : i;
}

function rounded(value: number, decimals: number | undefined): number {
  if (decimals === undefined || !Number.isInteger(decimals) || decimals < 0 || decimals > 6) return value;
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}
