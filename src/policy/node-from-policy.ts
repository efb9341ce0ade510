/**
 * A node's configuration from its three sources: its identity (provisioning), its board (which part
 * sits on which bus, how often it is read, the uplink's buffers: hardware, not policy) and the
 * deployment policy (what is collected and released, and how it is protected). The result is the
 * JSON that parseNodeConfig validates (node-config.ts), so the node runs on exactly what the policy
 * says and nothing else:
 *   - a board sensor gets the policy's channels that name it; a sensor the policy does not name is
 *     left out, so it is never opened or read;
 *   - a channel naming a sensor the board does not have is an error at its JSON Pointer;
 *   - the window, the pseudonym epoch, the totals, the downlink's limits and the disclosure's facts
 *     are the policy's.
 */
import type { DataType, DeploymentPolicy } from "./deployment-policy.js";
import { PolicyError } from "./deployment-policy.js";
import type { SignedNodePolicy } from "./signed-policy.js";
import { partOutput } from "../sensors/catalog.js";
import type { PartName } from "./node-config.js";

/** The dataType of a channel on an output that counts people, vehicles or devices. */
const COUNT_TYPES: Readonly<Record<"people" | "vehicles" | "devices", DataType>> = { people: "people-count", vehicles: "vehicle-count", devices: "device-count" };

export interface NodeIdentity {
  readonly zone: string;
  readonly device: string;
}

/** The hardware half of a node's configuration. */
export interface BoardConfig {
  /** As node-config.ts's sensors, without `channels` (the policy brings them). */
  readonly sensors: ReadonlyArray<Readonly<Record<string, unknown>> & { readonly id: string }>;
  /** node-config.ts's uplink settings (buffers, counter block, health period). */
  readonly uplink?: Readonly<Record<string, unknown>>;
}

/**
 * The configuration a node runs on from its verified signed policy: as nodeConfigFromPolicy, plus
 * the policy's serial and hash, which the node publishes in its disclosure and binds into every
 * message it seals.
 */
export function nodeConfigFromSignedPolicy(signed: SignedNodePolicy, board: BoardConfig): Record<string, unknown> {
  const config = nodeConfigFromPolicy({ zone: signed.zone, device: signed.device }, board, signed.policy);
  const disclosure = config.disclosure as Record<string, unknown>;
  disclosure.policySerial = signed.serial;
  disclosure.policyHash = hex(signed.hash);
  disclosure.position = { latitude: signed.position.latitude, longitude: signed.position.longitude };
  return config;
}

function hex(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += (byte < 16 ? "0" : "") + byte.toString(16);
  return text;
}

export function nodeConfigFromPolicy(identity: NodeIdentity, board: BoardConfig, policy: DeploymentPolicy): Record<string, unknown> {
  const boardSensors = new Map(board.sensors.map((sensor) => [sensor.id, sensor] as const));
  policy.channels.forEach((channel, i) => {
    const sensor = boardSensors.get(channel.sensor);
    if (!sensor) {
      throw new PolicyError(`/channels/${i}/sensor`, "x-board-sensor", `no sensor "${channel.sensor}" on this board (it has ${[...boardSensors.keys()].join(", ")})`);
    }
    // What a part's output counts is the firmware's to say, not the policy's: a count of people (or
    // of what they carry or drive) is declared as such, and so gets its privacy treatment.
    const output = typeof sensor.part === "string" ? partOutput(sensor.part as PartName, channel.output) : undefined;
    const expected = output?.counts === undefined ? undefined : COUNT_TYPES[output.counts];
    if (expected !== undefined && channel.dataType !== expected) {
      throw new PolicyError(`/channels/${i}/dataType`, "x-counts", `${String(sensor.part)}'s ${channel.output} counts ${output!.counts}: its dataType is ${expected}, which needs a privacy treatment`);
    }
  });
  const sensors = board.sensors
    .map((sensor) => ({
      ...sensor,
      channels: policy.channels
        .filter((channel) => channel.sensor === sensor.id)
        .map(({ name, output, dataType, decimals, stats, filters, privacy }) => ({ name, output, dataType, decimals, stats: [...stats], filters: [...filters], ...(privacy ? { privacy: { ...privacy } } : {}) })),
    }))
    .filter((sensor) => sensor.channels.length > 0);
  return {
    zone: identity.zone,
    device: identity.device,
    windowSeconds: policy.windowSeconds,
    sensors,
    ...(board.uplink ? { uplink: { ...board.uplink } } : {}),
    privacy: { pseudonymEpochSeconds: policy.pseudonymEpochSeconds, totals: policy.totals.map(({ total, parts }) => ({ total, parts: [...parts] })) },
    downlink: { allowedWindowSeconds: [...policy.downlink.allowedWindowSeconds], maxIntervalFactor: policy.downlink.maxIntervalFactor },
    disclosure: {
      policy: policy.name,
      accountable: { ...policy.accountable },
      purposes: [...policy.purposes],
      location: { publishedPrecisionMeters: policy.publishedPrecisionMeters },
      retention: { ...policy.retention },
      access: policy.access.map((grant) => ({ ...grant })),
    },
  };
}
