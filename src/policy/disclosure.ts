/**
 * The node's public disclosure: what it collects, why, how it processes it, who is accountable,
 * and every privacy parameter, in the vocabulary of DTPR (Digital Trust for Places and Routines:
 * accountable, purpose, technology, data type, processing, storage, access, retention). It is
 * published in the clear (UTF-8 JSON) and retained on `civicnode/<zone>/<device>/disclosure`, so
 * that anyone can read what a node on their street does. It is built from the same configuration
 * the node runs on, so it cannot drift from what the node does.
 */
import type { NodeConfig, StatName } from "./node-config.js";
import type { SensorOutput } from "../sensors/sensor-driver.js";
import { partOutput } from "../sensors/catalog.js";
import { coarsePosition } from "./coarse-position.js";
import { utf8Encode } from "../wire/utf8.js";

export interface DisclosedChannel {
  readonly name: string;
  readonly part: string;
  readonly output: SensorOutput;
  readonly stats: readonly StatName[];
}

const MEANING: Partial<Record<string, string>> = {
  devices: "distinct Bluetooth advertisers heard (phones rotate their addresses, people carry several devices, beacons count too): activity, not people",
  people: "entries into the radar's zone (people walking together are one entry): activity, not a head count",
  vehicles: "vehicles over the inductive loop",
  noise: "A-weighted sound level from a sound-level meter; no audio is ever recorded",
};

/**
 * The disclosure of a node running `config`: built from the configuration alone (the parts'
 * outputs are known without opening a driver), so that the provisioning host and the node build
 * the same bytes, the host to sign them and the node to check that what it publishes is what the
 * operator signed. A channel whose part has no such output is left out (opening the driver refuses
 * such a configuration anyway).
 */
export function disclosureFor(config: NodeConfig): Record<string, unknown> {
  const channels: DisclosedChannel[] = [];
  for (const sensor of config.sensors) {
    for (const channel of sensor.channels) {
      const output = partOutput(sensor.part, channel.output);
      if (output) channels.push({ name: channel.name, part: sensor.part, output, stats: channel.stats });
    }
  }
  return disclosureDocument(config, channels);
}

/** Version 2: the facts come from the deployment policy (deployment-policy.ts), which names itself. */
export const DISCLOSURE_VERSION = 2;

export function disclosureDocument(config: NodeConfig, channels: readonly DisclosedChannel[]): Record<string, unknown> {
  const channelConfig = new Map(config.sensors.flatMap((sensor) => sensor.channels.map((channel) => [channel.name, channel] as const)));
  const facts = config.disclosure;
  return {
    format: "civicnode-disclosure",
    version: DISCLOSURE_VERSION,
    device: config.device,
    zone: config.zone,
    // Which signed policy the node runs on: the same hash is bound into every message it seals.
    policy: {
      name: facts.policy,
      ...(facts.policySerial === undefined ? {} : { serial: facts.policySerial }),
      ...(facts.policyHash === undefined ? {} : { sha256: facts.policyHash }),
    },
    accountable: { organisation: facts.accountable.organisation, contact: facts.accountable.contact },
    purposes: [...facts.purposes],
    // The position to the policy's precision, never closer (coarse-position.ts).
    location: {
      ...(facts.position ? coarsePosition(facts.position, facts.publishedPrecisionMeters) : {}),
      precisionMeters: facts.publishedPrecisionMeters,
    },
    technology: [...new Set(channels.map((c) => c.part))],
    dataTypes: channels.map(({ name, part, output, stats }) => {
      const channel = channelConfig.get(name);
      const privacy = channel?.privacy;
      return {
        channel: name,
        ...(channel?.dataType ? { dataType: channel.dataType } : {}),
        part,
        quantity: output.quantity,
        unit: output.unit,
        released: stats,
        ...(channel ? { decimals: channel.decimals } : {}),
        ...(MEANING[name] ? { meaning: MEANING[name] } : {}),
        ...(privacy
          ? {
              privacy: {
                kAnonymity: privacy.k,
                epsilonPerRelease: privacy.epsilon,
                sensitivity: privacy.sensitivity,
                dailyEpsilon: privacy.dailyEpsilon,
              },
            }
          : {}),
      };
    }),
    processing: [
      `readings are aggregated on the node into ${config.windowSeconds}-second windows; only window statistics leave it`,
      "Bluetooth addresses are replaced on arrival by keyed pseudonyms (a key held only in memory and replaced every " +
        `${config.privacy.pseudonymEpochSeconds} seconds) and counted with a HyperLogLog sketch; no address is stored or sent`,
      "counts of people, devices and vehicles below k are withheld; released counts carry differential-privacy noise under a daily budget",
      "every summary is encrypted and authenticated (COSE_Encrypt0, ChaCha20-Poly1305) with keys that move forward every " +
        `${config.uplink.epochSeconds} seconds and cannot be turned back`,
    ],
    storage: "on the node: nothing raw beyond one window; keys and counters in its flash. Upstream: the city's collector stores window summaries and health reports",
    access: facts.access.map(({ who, data }) => ({ who, data })),
    retention: {
      rawReadings: `at most ${config.windowSeconds} seconds, in memory`,
      identifiers: "not retained: pseudonymised on arrival, the pseudonym forgotten after counting",
      summariesDays: facts.retention.summariesDays,
      healthDays: facts.retention.healthDays,
    },
  };
}

/** The document as the bytes the node publishes. */
export function encodeDisclosure(document: Record<string, unknown>): Uint8Array {
  return utf8Encode(JSON.stringify(document));
}
