/**
 * Boots a street node on Moddable, whatever the board: identity, store, transport and core.
 *
 * Identity (device id and zone) comes from provisioning, in the store (`node.device`, `node.zone`,
 * docs/provisioning.md), so that one firmware image serves every node; the manifest's `device`
 * and `zone` are the fallback of an unprovisioned simulator. A node that is not provisioned, or
 * whose key records are unreadable, says so on the console and waits, rather than crash-looping
 * or inventing a key.
 */
import { CivicNode } from "../../src/node.js";
import { ConfigError, parseNodeConfig } from "../../src/policy/node-config.js";
import type { Buses, KeyValueStore, Log, Platform, Random } from "../../src/platform.js";
import { utf8Decode } from "../../src/wire/utf8.js";
import { KeyStateCorruptError, NotProvisionedError } from "../../src/wire/uplink-sealer.js";
import { isValidId } from "../../src/uplink/topics.js";
import { streetBoard } from "../sim/street-board.js";
import { parsePolicy, PolicyError } from "../../src/policy/deployment-policy.js";
import { nodeConfigFromPolicy } from "../../src/policy/node-from-policy.js";
import type { FirmwareSettings } from "./firmware-settings.js";
import type { ModdableClock } from "./moddable-clock.js";
import { DeviceMqttTransport } from "./mqtt/mqtt-session.js";
import type { OpenSocket } from "./mqtt/socket.js";

/** Store keys written by provisioning (hosts/collector/provision.ts). */
export const DEVICE_STORE_KEY = "node.device";
export const ZONE_STORE_KEY = "node.zone";

export interface FirmwareHost {
  readonly settings: FirmwareSettings;
  readonly clock: ModdableClock;
  readonly random: Random;
  readonly store: KeyValueStore;
  readonly openSocket: OpenSocket;
  readonly log: Log;
  /** The board, for the node's identity (a simulated board seeds its parts with the device id). */
  readonly board: (device: string, zone: string) => Buses;
}

export interface RunningFirmware {
  readonly node: CivicNode;
  readonly transport: DeviceMqttTransport;
}

/** Starts the node; undefined (after saying why) when it cannot run. */
export function startFirmware(host: FirmwareHost): RunningFirmware | undefined {
  const { settings, clock, random, store, log } = host;
  const device = storedId(store, DEVICE_STORE_KEY) ?? settings.device;
  const zone = storedId(store, ZONE_STORE_KEY) ?? settings.zone;
  let node: CivicNode;
  try {
    // The reference board under the policy the build carries (config.policy); the board's outbox
    // sized by the build. A policy signed for this node, from its store, is what it will run next.
    const board = streetBoard();
    const raw = nodeConfigFromPolicy({ zone, device }, { ...board, uplink: { ...board.uplink, outboxCapacity: settings.outboxCapacity, outboxBytes: settings.outboxBytes } }, parsePolicy(settings.policy));
    const config = parseNodeConfig(raw);
    const transport = new DeviceMqttTransport({
      host: settings.broker.host,
      port: settings.broker.port,
      clientId: `civicnode-${device}`,
      openSocket: host.openSocket,
      timers: clock,
      clock,
      random,
      log,
    });
    const platform: Platform = { clock, timers: clock, random, store, transport, buses: host.board(device, zone), log };
    node = new CivicNode(platform, config);
    node.start();
    transport.start();
    log("info", "firmware-started", { device, zone, broker: `${settings.broker.host}:${settings.broker.port}`, tls: settings.broker.secure });
    return { node, transport };
  } catch (error) {
    if (error instanceof NotProvisionedError) {
      log("error", "not-provisioned", { device, help: "write the device's root key with npm run provision (docs/provisioning.md)" });
    } else if (error instanceof KeyStateCorruptError) {
      log("error", "key-state-corrupt", { device, help: "the key records in flash are unreadable: provision the device again with a new key" });
    } else if (error instanceof ConfigError || error instanceof PolicyError) {
      log("error", "config-invalid", { device, message: error.message });
    } else {
      log("error", "firmware-failed", { device, error: (error as Error).name, message: (error as Error).message });
    }
    return undefined;
  }
}

/** An id written by provisioning, or undefined when absent or not a valid id. */
function storedId(store: KeyValueStore, key: string): string | undefined {
  const bytes = store.get(key);
  if (!bytes) return undefined;
  try {
    const id = utf8Decode(bytes, 0, bytes.length);
    return isValidId(id) ? id : undefined;
  } catch {
    return undefined;
  }
}
