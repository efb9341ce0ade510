/**
 * The firmware's settings from the manifest's `config` (Moddable's `mc/config`), checked once at
 * boot. Values given on the mcconfig command line (`mcconfig ... broker=mqtt://10.0.0.2:1883`)
 * arrive as strings, so numbers and flags are accepted as strings too. A bad setting stops the node
 * with a message that names it, instead of a node that half works.
 *
 * Identity (device id and zone) and the signed policy come from provisioning (docs/provisioning.md),
 * in the store; `device` and `zone` here are the fallback for a simulator that was not provisioned.
 */
import { isValidId } from "../../src/uplink/topics.js";

export interface BrokerAddress {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
}

export interface FirmwareSettings {
  readonly device: string;
  readonly zone: string;
  readonly broker: BrokerAddress;
  /** Resource name of the pinned CA (DER) for an mqtts:// broker. */
  readonly brokerCa: string | undefined;
  /** Sealed messages the outbox holds (17 bytes of RAM each: the messages themselves stay in NVS). */
  readonly outboxCapacity: number;
  /** Bytes of NVS the outbox's records may take (esp32: 160 KB of the 280 KB partition, hosts/moddable/esp32/partitions.csv). */
  readonly outboxBytes: number;
  /** Wi-Fi station (ESP32, config `wifiSsid`, `wifiPassword`); empty on a simulator, whose host is on the network already. */
  readonly ssid: string;
  readonly password: string | undefined;
  readonly sntpHosts: readonly string[];
  readonly logDebug: boolean;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

export function firmwareSettings(config: Readonly<Record<string, unknown>>): FirmwareSettings {
  const text = (key: string, fallback?: string): string => {
    const value = config[key] ?? fallback;
    if (typeof value !== "string") throw new SettingsError(`config.${key} must be a string`);
    return value;
  };
  const device = text("device");
  const zone = text("zone");
  if (!isValidId(device)) throw new SettingsError(`config.device "${device}" is not a valid id (1-32 of a-z 0-9 -)`);
  if (!isValidId(zone)) throw new SettingsError(`config.zone "${zone}" is not a valid id (1-32 of a-z 0-9 -)`);
  const broker = brokerAddress(text("broker"));
  const brokerCa = text("brokerCa", "") || undefined;
  if (broker.secure && !brokerCa) throw new SettingsError("config.broker is mqtts:// but config.brokerCa names no CA certificate (docs/tls.md)");
  if (!broker.secure && brokerCa) throw new SettingsError("config.brokerCa is set but config.broker is not mqtts://");
  // What the node collects, and its window, are the signed policy's, provisioned into its store: a
  // build setting must not change what the policy promises.
  if (config.windowSeconds !== undefined) throw new SettingsError("config.windowSeconds is not a setting: the window is the signed policy's (npm run provision -- <device> --policy FILE, docs/provisioning.md)");
  if (config.policy !== undefined) throw new SettingsError("config.policy is not a setting: a node runs the policy signed for it, provisioned into its store (npm run provision -- <device> --policy FILE, docs/provisioning.md)");
  const outboxCapacity = Number(config.outboxCapacity ?? 256);
  if (!Number.isInteger(outboxCapacity) || outboxCapacity < 4 || outboxCapacity > 1024) {
    throw new SettingsError(`config.outboxCapacity ${String(config.outboxCapacity)} must be a whole number from 4 to 1024`);
  }
  const outboxBytes = Number(config.outboxBytes ?? 65536);
  if (!Number.isInteger(outboxBytes) || outboxBytes < 16384 || outboxBytes > 4 * 1024 * 1024) {
    throw new SettingsError(`config.outboxBytes ${String(config.outboxBytes)} must be a whole number of bytes from 16384 to 4194304 (and fit the NVS partition)`);
  }
  const sntp = text("sntp", "");
  return {
    device,
    zone,
    broker,
    brokerCa,
    outboxCapacity,
    outboxBytes,
    // Not the SDK's `ssid`/`password`: those would make its one-shot setup connect before main
    // (build/devices/esp32/setup/network.js), which never reconnects. NetworkLink does that for life.
    ssid: text("wifiSsid", ""),
    password: text("wifiPassword", "") || undefined,
    sntpHosts: sntp === "" ? [] : sntp.split(",").map((host) => host.trim()).filter((host) => host !== ""),
    logDebug: config.logDebug === true || config.logDebug === "true" || config.logDebug === "1",
  };
}

/** `mqtt://host[:port]` or `mqtts://host[:port]`; no URL class on XS, so parsed by hand. */
export function brokerAddress(url: string): BrokerAddress {
  const match = /^(mqtts?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) throw new SettingsError(`config.broker "${url}" is not mqtt://host[:port] or mqtts://host[:port]`);
  const secure = match[1] === "mqtts";
  const port = match[3] === undefined ? (secure ? 8883 : 1883) : Number(match[3]);
  if (port < 1 || port > 65535) throw new SettingsError(`config.broker port ${port} is out of range`);
  return { secure, host: match[2]!.replace(/^\[(.*)\]$/, "$1"), port };
}
