/**
 * Boots a street node on Moddable, whatever the board: identity, policy, store, transport and core.
 *
 * Everything that makes one node this node comes from provisioning, in the store
 * (docs/provisioning.md), so that one firmware image serves every node: its identity (`node.device`,
 * `node.zone`), its root key, and the policy it runs, signed by the operator (`policy.signed`,
 * verified with Ed25519 under `operator.pub` at every boot), with the disclosure it publishes. The
 * image carries no policy: a node without a signed policy, or whose policy does not verify, says so
 * on the console and waits, rather than run on defaults, crash-loop or invent a key. The manifest's
 * `device` and `zone` are the fallback identity of an unprovisioned simulator, which then says it is
 * not provisioned.
 *
 * A policy update taken over the downlink (src/policy/policy-update.ts) is applied by a restart:
 * the host's `reboot` (the ESP32 restarts the chip), or else the node and its MQTT session are
 * stopped and booted again from the store, in this process (the desktop simulator, the tests).
 */
// Before @noble/curves, which needs a TextEncoder as it loads.
import "./text-encoder-global.js";
import { ed25519 } from "@noble/curves/ed25519.js";
import { CivicNode } from "../../src/node.js";
import { ConfigError, parseNodeConfig } from "../../src/policy/node-config.js";
import type { Buses, Clock, KeyValueStore, Log, Platform, Random, Timers } from "../../src/platform.js";
import { utf8Decode } from "../../src/wire/utf8.js";
import { KeyStateCorruptError, NotProvisionedError } from "../../src/wire/uplink-sealer.js";
import { isValidId } from "../../src/uplink/topics.js";
import { streetBoard } from "../sim/street-board.js";
import { PolicyError } from "../../src/policy/deployment-policy.js";
import { nodeConfigFromSignedPolicy } from "../../src/policy/node-from-policy.js";
import { applyPolicyUpdate } from "../../src/policy/policy-update.js";
import { provisionedPolicy, SignedPolicyError } from "../../src/policy/signed-policy.js";
import type { FirmwareSettings } from "./firmware-settings.js";
import { DeviceMqttTransport } from "./mqtt/mqtt-session.js";
import type { OpenSocket } from "./mqtt/socket.js";

/** Store keys written by provisioning (hosts/collector/provision.ts). */
export const DEVICE_STORE_KEY = "node.device";
export const ZONE_STORE_KEY = "node.zone";

export interface FirmwareHost {
  readonly settings: FirmwareSettings;
  /** ModdableClock on Moddable; any clock and timers elsewhere (the tests run the firmware on Node). */
  readonly clock: Clock & Timers;
  readonly random: Random;
  readonly store: KeyValueStore;
  readonly openSocket: OpenSocket;
  readonly log: Log;
  /** The board, for the node's identity (a simulated board seeds its parts with the device id). */
  readonly board: (device: string, zone: string) => Buses;
  /** Restarts the device (ESP32: the chip); without one, a restart boots the node again in this process. */
  readonly reboot?: () => void;
}

/** The node that runs now: a restart after a policy update replaces it (and its transport). */
export interface RunningFirmware {
  /** Undefined when a restart could not boot the node again (it said why on the console). */
  readonly node: CivicNode | undefined;
  readonly transport: DeviceMqttTransport | undefined;
  /** Restarts done in this process. */
  readonly restarts: number;
  /** Stops the node and closes its MQTT session for good. */
  stop(): void;
}

/** Starts the node; undefined (after saying why) when it cannot run. */
export function startFirmware(host: FirmwareHost): RunningFirmware | undefined {
  // @noble/curves keeps a table of multiples of the Ed25519 base point from its first use: 7,052
  // slots and 227 KB of numbers, about 332 KiB (BENCHMARKS.md, Signatures), more than an ESP32's
  // heap, for a verification the node does at boot and at a policy update. Without it a
  // verification costs a fifth more computrons; the node keeps its RAM.
  ed25519.Point.BASE.precompute(1);
  let current: { node: CivicNode; transport: DeviceMqttTransport } | undefined;
  let restarts = 0;
  let stopped = false;
  const restart = (): void => {
    // After the command that asked for it has run to its end (its audit entry is written).
    host.clock.once(() => {
      if (stopped) return;
      if (host.reboot) {
        host.log("info", "firmware-rebooting", { why: "a policy update was taken" });
        host.reboot();
        return;
      }
      current?.node.stop();
      current?.transport.close();
      current = bootNode(host, restart);
      restarts++;
    }, 0);
  };
  current = bootNode(host, restart);
  if (current === undefined) return undefined;
  return {
    get node() {
      return current?.node;
    },
    get transport() {
      return current?.transport;
    },
    get restarts() {
      return restarts;
    },
    stop() {
      stopped = true;
      current?.node.stop();
      current?.transport.close();
    },
  };
}

/** Boots the node from what its store holds; undefined (after saying why) when it cannot run. */
function bootNode(host: FirmwareHost, restart: () => void): { node: CivicNode; transport: DeviceMqttTransport } | undefined {
  const { settings, clock, random, store, log } = host;
  const device = storedId(store, DEVICE_STORE_KEY) ?? settings.device;
  const zone = storedId(store, ZONE_STORE_KEY) ?? settings.zone;
  try {
    // The policy signed for this node (Ed25519, under the operator key provisioned with it), on the
    // reference board, its outbox sized by the build.
    const signed = provisionedPolicy(store, { device, zone });
    const board = streetBoard();
    const config = parseNodeConfig(nodeConfigFromSignedPolicy(signed, { ...board, uplink: { ...board.uplink, outboxCapacity: settings.outboxCapacity, outboxBytes: settings.outboxBytes } }));
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
    const node = new CivicNode(platform, config, { applyPolicyUpdate, restart });
    node.start();
    transport.start();
    log("info", "firmware-started", { device, zone, policy: signed.serial, broker: `${settings.broker.host}:${settings.broker.port}`, tls: settings.broker.secure });
    return { node, transport };
  } catch (error) {
    if (error instanceof NotProvisionedError) {
      log("error", "not-provisioned", { device, help: "write the device's root key and signed policy with npm run provision (docs/provisioning.md)" });
    } else if (error instanceof KeyStateCorruptError) {
      log("error", "key-state-corrupt", { device, help: "the key records in flash are unreadable: provision the device again with a new key" });
    } else if (error instanceof SignedPolicyError) {
      // A policy altered in flash is left there, for whoever investigates (docs/decisions.md).
      const help = error.failure === "missing" ? "write its signed policy with npm run provision -- <device> --policy FILE --position LAT,LON (docs/provisioning.md)" : "the flash is left as it is: investigate, then provision the node again";
      log("error", "policy-refused", { device, failure: error.failure, message: error.message, help });
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
