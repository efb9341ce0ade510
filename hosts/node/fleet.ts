/**
 * Runs a street of simulated nodes: each node is the real firmware core on its own platform (its
 * own flash file, its own MQTT session, OS randomness, a simulated reference board). A real-time
 * pump drives simulated time `speed` times faster than the wall clock.
 *
 * Engine "node": every core runs in this process, all on one virtual clock.
 * Engine "xs": every core runs in its own xsnap-worker (the XS engine) with its board and virtual
 * clock; flash, randomness, MQTT and log are bridged to this process.
 *
 * A node of this process that stores a policy update (src/policy/policy-update.ts) asks to be
 * restarted, and is: its core stopped, its MQTT session closed, then both made anew from its flash,
 * as a power cycle would. The XS engine's nodes take no policy update (their bundle carries no
 * Ed25519: docs/governance.md).
 */
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Buses, Log, LogDetail, LogLevel, Platform } from "../../src/platform.js";
import type { Keyring } from "../collector/keyring.js";
import { FaultPlan } from "../sim/fault-plan.js";
import { simulatedReferenceBoard, type SimulatedParts } from "../sim/reference-board.js";
import { SimClock } from "../sim/sim-clock.js";
import REFERENCE_STREET_POLICY from "../../src/policy/reference-street.policy.json" with { type: "json" };
import { nodeConfigFromSignedPolicy } from "../../src/policy/node-from-policy.js";
import { provisionedPolicy, SIGNED_POLICY_STORE_KEY, SignedPolicyError } from "../../src/policy/signed-policy.js";
import { recordSignedPolicy } from "../collector/policy-registry.js";
import type { OperatorKey } from "../collector/operator-key.js";
import { applyPolicyUpdate } from "../../src/policy/policy-update.js";
import { streetBoard, streetPosition } from "../sim/street.js";
import { installSignedPolicy } from "./street-policy.js";
import type { FileStore } from "./file-store.js";
import { FlashRefusedError, flashPath, inspectFlash, provisionFlash, refusalMessage } from "./flash-provisioning.js";
import { MqttTransport } from "./mqtt-transport.js";
import { OsRandom } from "./os-random.js";
import { bundleForXs } from "../xs/bundle.js";
import { XsStreetNode } from "../xs/xs-street-node.js";

export type Engine = "node" | "xs";

export interface FleetOptions {
  readonly engine?: Engine;
  /** Mean simulated hours between fault episodes per part (FaultPlan); 0 or absent: no faults. */
  readonly faultHours?: number;
  readonly brokerUrl: string;
  /** For an mqtts:// broker: the CA certificate (PEM) every node pins. */
  readonly ca?: string;
  readonly devices: readonly string[];
  readonly zone: string;
  readonly speed: number;
  readonly stateDir: string;
  readonly keyring: Keyring;
  /** Signs each node's policy (street-policy.ts). */
  readonly operator: OperatorKey;
  /** The oversight key's public half, given to each node: without it a node takes no change that weakens privacy. */
  readonly oversightKey?: Uint8Array;
  /** The deployment policy (a validated policy.json document; default: the reference street's). */
  readonly policy?: unknown;
  /** Simulated wall time at start (Unix ms). */
  readonly startWallMs: number;
  readonly log: Log;
}

/** A node whose core runs in this process. */
export interface FleetNode {
  readonly device: string;
  readonly node: CivicNode;
  readonly transport: MqttTransport;
  readonly parts: SimulatedParts;
}

/** What the fleet knows of every node, whichever engine runs it. */
export interface FleetMember {
  readonly device: string;
  readonly transport: MqttTransport;
  readonly outboxDepth: number;
  /** Messages the outbox dropped (full or corrupt), since the node was provisioned. */
  readonly dropped: number;
  /** Store operations that failed since boot, and the cause of a failure in progress. */
  readonly storeErrors: number;
  readonly storeFailure: string | undefined;
  readonly sealFailures: number;
}

/** How often the pump advances virtual time, in real milliseconds. */
const PUMP_INTERVAL_MS = 20;

export class Fleet {
  readonly clock: SimClock;
  /** Nodes running in this process (engine "node"). */
  readonly nodes: FleetNode[] = [];
  /** Nodes running in XS workers (engine "xs"). */
  readonly xsNodes: XsStreetNode[] = [];
  readonly #options: FleetOptions;
  readonly #faultPlans: FaultPlan[] = [];
  /** What a restart of a node of this process needs: its flash and its board. */
  readonly #hardware = new Map<string, { store: FileStore; board: Buses; parts: SimulatedParts }>();
  #stopping = false;
  #pump: NodeJS.Timeout | undefined;
  #realStart = 0;

  constructor(options: FleetOptions) {
    this.#options = options;
    this.clock = new SimClock({
      startWallMs: options.startWallMs,
      onError: (error) => options.log("error", "timer-callback-failed", { message: (error as Error).message }),
    });
  }

  /** Provisions and boots every node, connects them, and starts the clock. */
  async start(): Promise<void> {
    const { devices, zone, stateDir, keyring, brokerUrl, log } = this.#options;
    const xsBundle = this.#options.engine === "xs" ? bundleForXs("street-node").code : undefined;
    for (const device of devices) {
      const store = provisionedStore(stateDir, keyring, device);
      const configJson = JSON.stringify(this.#policyConfig(store, device, zone));
      const tls = this.#options.ca !== undefined ? { tls: { ca: this.#options.ca } } : {};
      const transport = new MqttTransport({ url: brokerUrl, clientId: device, ...tls, log: prefixed(log, device) });
      if (xsBundle !== undefined) {
        const node = await XsStreetNode.start({
          device,
          street: zone,
          configJson,
          startWallMs: this.#options.startWallMs,
          faultHours: this.#options.faultHours ?? 0,
          bundle: xsBundle,
          store,
          random: new OsRandom(),
          transport,
          log: prefixed(log, device),
        });
        this.xsNodes.push(node);
      } else {
        const { board, parts } = simulatedReferenceBoard(device, zone, this.clock, this.clock);
        if (this.#options.faultHours) {
          this.#faultPlans.push(new FaultPlan(parts, this.clock, { seed: `${device}/faults`, meanHoursBetween: this.#options.faultHours, onEpisode: (sensor, kind, started) => log("info", started ? "fault-injected" : "fault-cleared", { device, sensor, kind }) }));
        }
        this.#hardware.set(device, { store, board, parts });
        this.nodes.push(this.#boot(device, configJson, transport));
      }
      transport.start();
    }
    this.#realStart = performance.now();
    this.#pump = setInterval(() => this.#advance(), PUMP_INTERVAL_MS);
  }

  /** A node of this process booted on `configJson` (from its flash). */
  #boot(device: string, configJson: string, transport: MqttTransport): FleetNode {
    const { store, board, parts } = this.#hardware.get(device)!;
    const platform: Platform = { clock: this.clock, timers: this.clock, random: new OsRandom(), store, transport, buses: board, log: prefixed(this.#options.log, device) };
    const node = new CivicNode(platform, parseNodeConfig(JSON.parse(configJson)), { applyPolicyUpdate, restart: () => this.#restart(device) });
    node.start();
    return { device, node, transport, parts };
  }

  /** Power-cycles a node of this process, after the command that asked for it has run. */
  #restart(device: string): void {
    setImmediate(async () => {
      const at = this.nodes.findIndex((member) => member.device === device);
      if (this.#stopping || at < 0) return;
      const { node, transport } = this.nodes[at]!;
      node.stop();
      await transport.close();
      if (this.#stopping) return;
      try {
        const { store } = this.#hardware.get(device)!;
        const configJson = JSON.stringify(nodeConfigFromSignedPolicy(provisionedPolicy(store, { device, zone: this.#options.zone }), streetBoard()));
        const tls = this.#options.ca !== undefined ? { tls: { ca: this.#options.ca } } : {};
        const fresh = new MqttTransport({ url: this.#options.brokerUrl, clientId: device, ...tls, log: prefixed(this.#options.log, device) });
        this.nodes[at] = this.#boot(device, configJson, fresh);
        fresh.start();
      } catch (error) {
        this.#options.log("error", "node-restart-failed", { device, message: (error as Error).message });
      }
    });
  }

  /**
   * The configuration `device` runs on: the signed policy its flash holds (given to it first, or
   * again when the policy changed), verified under the operator's key as the node does at boot.
   * Throws NodePolicyError when the flash holds a policy that does not verify.
   */
  #policyConfig(store: FileStore, device: string, zone: string): Record<string, unknown> {
    const { operator, policy = REFERENCE_STREET_POLICY } = this.#options;
    const identity = { device, zone };
    const installed = installSignedPolicy(store, identity, streetPosition(device), policy, streetBoard(), operator, this.clock.wallMs() / 1000, this.#options.oversightKey);
    if (installed.outcome === "unverifiable") throw new NodePolicyError(device, `its flash holds a policy that does not verify (${installed.why}); nothing was written over it`);
    // The operator's record, which the collector checks every message's policy binding against.
    recordSignedPolicy(this.#options.stateDir, device, installed.serial, store.get(SIGNED_POLICY_STORE_KEY)!);
    try {
      return nodeConfigFromSignedPolicy(provisionedPolicy(store, identity), streetBoard());
    } catch (error) {
      if (error instanceof SignedPolicyError) throw new NodePolicyError(device, error.message);
      throw error;
    }
  }

  /** Every node, with what the console view shows of it. */
  get members(): FleetMember[] {
    return [
      ...this.nodes.map(({ device, transport, node }) => ({
        device,
        transport,
        outboxDepth: node.outbox.depth,
        dropped: node.outbox.stats.dropped + node.outbox.stats.droppedCorrupt,
        storeErrors: node.storeErrors,
        storeFailure: node.storeFailure,
        sealFailures: node.stats.sealFailures,
      })),
      ...this.xsNodes.map((node) => ({
        device: node.device,
        transport: node.transport,
        outboxDepth: node.outboxDepth,
        dropped: node.dropped,
        storeErrors: node.storeErrors,
        storeFailure: node.storeFailure,
        sealFailures: node.sealFailures,
      })),
    ];
  }

  /** Simulated wall time now (the XS nodes' clocks follow the same target). */
  get wallMs(): number {
    return this.clock.wallMs();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#pump) clearInterval(this.#pump);
    this.#pump = undefined;
    for (const plan of this.#faultPlans) plan.stop();
    for (const { node } of this.nodes) node.stop();
    await Promise.all(this.xsNodes.map((node) => node.stop()));
    await Promise.all(this.members.map(({ transport }) => transport.close()));
  }

  #advance(): void {
    const target = (performance.now() - this.#realStart) * this.#options.speed;
    this.clock.advanceTo(target);
    for (const node of this.xsNodes) node.advance(target);
  }
}

/**
 * The node's flash, holding the device's root key from the keyring (`npm start` prepares every
 * flash first, with prepareStreetFlash). A key goes into a flash only if the keyring never issued
 * it (a fleet on a keyring made in memory); a flash that is lost, unreadable or holds another key
 * is refused when the key was issued, since starting its counters over would repeat nonces.
 */
function provisionedStore(stateDir: string, keyring: Keyring, device: string): FileStore {
  const entry = keyring.get(device);
  if (!entry) throw new Error(`device ${device} is not in the keyring`);
  const path = flashPath(stateDir, device);
  const flash = inspectFlash(path, entry.rootKey, device);
  if (flash.kind === "holds-key") return flash.store;
  if (entry.issued !== undefined) throw new FlashRefusedError(device, refusalMessage(stateDir, device, entry, flash));
  return provisionFlash(path, keyring.markIssued(device).rootKey, device);
}

function prefixed(log: Log, device: string): Log {
  return (level: LogLevel, event: string, detail?: LogDetail) => log(level, event, { device, ...detail });
}

/** A node that will not start on the policy its flash holds. */
export class NodePolicyError extends Error {
  override name = "NodePolicyError";
  constructor(
    readonly device: string,
    why: string,
  ) {
    super(`${device} refuses to start: ${why}`);
  }
}
