/**
 * One street node of the fault campaign: the real firmware core on the simulated reference board,
 * its flash a file, its uplink real MQTT over TCP (through the street's link), and a power switch.
 *
 * A power cut stops everything the node runs at once (its timers, its parts' timers, its TCP
 * connection, without an MQTT DISCONNECT) and keeps only what its flash holds; a reboot builds the
 * node anew from the flash file, as a board boots. The cut can be placed at a store commit (the
 * commit reaches the flash or not, then the power is gone: "mid-write") or at any instant.
 */
import { mkdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { CivicNode } from "../../../src/node.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import type { KeyValueStore, Log, LogDetail, LogLevel, Platform, PublishOptions, PublishSettled, StoreWrite, Transport } from "../../../src/platform.js";
import { decodeQueueRecord, QUEUE_KEY_PREFIX, sequenceOfKey } from "../../../src/uplink/queue-record.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { PreferenceStore, type PreferenceBackend } from "../../moddable/preference-store.js";
import { EmulatedNvs, PowerCut } from "../../sim/emulated-nvs.js";
import { FaultPlan } from "../../sim/fault-plan.js";
import { FaultyStore } from "../../sim/faulty-store.js";
import { SeededRandom } from "../../sim/prng.js";
import { simulatedReferenceBoard } from "../../sim/reference-board.js";
import { ScopedTimers } from "../../sim/scoped-timers.js";
import type { SimClock } from "../../sim/sim-clock.js";
import { streetNodeConfig } from "../../sim/street.js";
import { FileStore } from "../file-store.js";
import { MqttTransport } from "../mqtt-transport.js";
import type { NonceLedger } from "./nonce-ledger.js";

export interface CampaignNodeOptions {
  readonly device: string;
  readonly zone: string;
  readonly rootKey: Uint8Array;
  readonly stateDir: string;
  /** The street's link to the broker (LinkProxy). */
  readonly brokerUrl: string;
  readonly clock: SimClock;
  readonly ledger: NonceLedger;
  /** Mean simulated hours between sensor fault episodes per part; 0: none. */
  readonly faultHours: number;
  readonly seed: string;
  /**
   * The node's flash: "file", the simulator's (a file replaced atomically per commit); or "nvs",
   * ESP32 NVS as Moddable's Preference sees it (one erase or blob write at a time, made atomic by
   * the store's journal), where a power cut can fall between any two NVS operations of a commit.
   */
  readonly flash: "file" | "nvs";
  /** See CampaignRunOptions.sabotage: only the campaign's own tests break a node on purpose. */
  readonly sabotage?: "forget-queue" | "reuse-key" | undefined;
  readonly log: Log;
}

const NVS_DOMAIN = "civicnode";

/** The node's flash, watched: every outbox record that reaches it is a sealed message to account for. */
class WatchedStore implements KeyValueStore {
  readonly #inner: KeyValueStore;
  readonly #ledger: NonceLedger;

  constructor(inner: KeyValueStore, ledger: NonceLedger) {
    this.#inner = inner;
    this.#ledger = ledger;
  }

  get(key: string): Uint8Array | undefined {
    return this.#inner.get(key);
  }

  keys(prefix: string): string[] {
    return this.#inner.keys(prefix);
  }

  commit(writes: readonly StoreWrite[]): void {
    this.#inner.commit(writes);
    for (const { key, value } of writes) {
      const sequence = sequenceOfKey(key);
      if (sequence === undefined || value === undefined) continue;
      const record = decodeQueueRecord(value, sequence);
      if (record) this.#ledger.observe(record.payload);
    }
  }
}

/** The node's MQTT session, watched (every sealed message handed to the network) and switchable off. */
class WatchedTransport implements Transport {
  readonly #inner: MqttTransport;
  readonly #ledger: NonceLedger;
  #powered = true;

  constructor(inner: MqttTransport, ledger: NonceLedger) {
    this.#inner = inner;
    this.#ledger = ledger;
  }

  get connected(): boolean {
    return this.#powered && this.#inner.connected;
  }

  publish(topic: string, payload: Uint8Array, options: PublishOptions, onSettled: PublishSettled): boolean {
    if (!this.#powered) return false;
    this.#ledger.observe(payload);
    return this.#inner.publish(topic, payload, options, (delivered) => {
      if (this.#powered) onSettled(delivered);
    });
  }

  subscribe(topicFilter: string, onMessage: (topic: string, payload: Uint8Array) => void): void {
    this.#inner.subscribe(topicFilter, (topic, payload) => {
      if (this.#powered) onMessage(topic, payload);
    });
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    this.#inner.onConnectionChange((connected) => {
      if (this.#powered) listener(connected);
    });
  }

  powerOff(): void {
    this.#powered = false;
  }
}

interface Boot {
  readonly node: CivicNode;
  readonly store: FaultyStore;
  readonly timers: ScopedTimers;
  readonly transport: WatchedTransport;
  readonly mqtt: MqttTransport;
  readonly sockets: Set<Socket>;
  readonly faults: FaultPlan | undefined;
  readonly power: { on: boolean };
}

export class CampaignNode {
  readonly device: string;
  readonly #options: CampaignNodeOptions;
  readonly #storePath: string;
  /** The NVS partition of a node with flash "nvs": it outlives every boot, as the chip does. */
  readonly #nvs = new EmulatedNvs();
  #boot: Boot | undefined;
  #boots = 0;
  /** The disk's failure in progress (ENOSPC, EROFS, EIO), carried over reboots. */
  #diskFault: string | undefined;
  /** Power cuts so far, and how many of them hit a store commit. */
  powerCuts = 0;
  cutsMidWrite = 0;
  /** Largest number of bytes the outbox held in the store. */
  peakQueueBytes = 0;

  constructor(options: CampaignNodeOptions) {
    this.device = options.device;
    this.#options = options;
    this.#storePath = join(options.stateDir, "nodes", options.device, "store.json");
    mkdirSync(join(this.#storePath, ".."), { recursive: true });
    const flash = options.flash === "nvs" ? new PreferenceStore(this.#nvs.preference, NVS_DOMAIN) : new FileStore(this.#storePath);
    flash.commit(provisioningWrites(options.rootKey, options.device));
  }

  get flash(): "file" | "nvs" {
    return this.#options.flash;
  }

  /** The flash as it is now: a file read anew, or the NVS partition after a reboot's journal recovery. */
  #openFlash(log: Log): KeyValueStore {
    if (this.#options.flash === "file") return new FileStore(this.#storePath);
    this.#nvs.powerOn();
    // Every NVS operation may be the one the power fails in: the node dies at that instant.
    const nvs = this.#nvs.preference;
    const guarded = <T>(operation: () => T): T => {
      try {
        return operation();
      } catch (error) {
        if (error instanceof PowerCut) this.cutPower(true);
        throw error;
      }
    };
    const backend: PreferenceBackend = {
      get: (domain, key) => guarded(() => nvs.get(domain, key)),
      set: (domain, key, value) => guarded(() => nvs.set(domain, key, value)),
      delete: (domain, key) => guarded(() => nvs.delete(domain, key)),
      keys: (domain) => guarded(() => nvs.keys(domain)),
    };
    return new PreferenceStore(backend, NVS_DOMAIN, { onRecovery: (recovery) => log("warn", "store-journal-recovered", { recovery }) });
  }

  get powered(): boolean {
    return this.#boot !== undefined;
  }

  get node(): CivicNode | undefined {
    return this.#boot?.node;
  }

  /** Boots the node from its flash (again after a power cut). */
  powerOn(): void {
    if (this.#boot) return;
    const { device, zone, clock, ledger, brokerUrl, seed, faultHours } = this.#options;
    const boot = this.#boots++;
    const power = { on: true };
    const log = this.#bootLog(power);
    let flash: KeyValueStore;
    try {
      flash = this.#openFlash(log);
    } catch (error) {
      // The power failed while the journal was being recovered: the next boot tries again.
      log("warn", "boot-interrupted", { message: (error as Error).message });
      return;
    }
    this.#sabotage(flash, boot);
    const store = new FaultyStore(flash, () => this.cutPower(true));
    if (this.#diskFault) store.failWrites(this.#diskFault);
    const timers = new ScopedTimers(clock);
    const { board, parts } = simulatedReferenceBoard(device, zone, clock, timers);
    const faults = faultHours > 0 ? new FaultPlan(parts, timers, { seed: `${seed}/${device}/faults/${boot}`, meanHoursBetween: faultHours }) : undefined;
    const sockets = new Set<Socket>();
    const mqtt = new MqttTransport({
      url: brokerUrl,
      clientId: device,
      // Reconnect quickly: the campaign's simulated time runs hundreds of times faster than real time.
      reconnect: { initialMs: 50, maxMs: 500 },
      connectSocket: (host, port) => {
        const socket = connect({ host, port });
        sockets.add(socket);
        socket.once("close", () => sockets.delete(socket));
        return socket;
      },
      log,
    });
    const transport = new WatchedTransport(mqtt, ledger);
    const platform: Platform = {
      clock,
      timers,
      random: new SeededRandom(`${seed}/${device}/random/${boot}`),
      store: new WatchedStore(store, ledger),
      transport,
      buses: board,
      log,
    };
    const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig(device, zone)));
    this.#boot = { node, store, timers, transport, mqtt, sockets, faults, power };
    try {
      node.start();
    } catch (error) {
      log("error", "node-start-failed", { message: (error as Error).message });
      if (this.#boot) this.cutPower(false);
      return;
    }
    if (this.#boot) mqtt.start();
  }

  /** The power goes: nothing of the node runs any more; only its flash file stays. */
  cutPower(midWrite = false): void {
    const boot = this.#boot;
    if (!boot) return;
    this.#boot = undefined;
    boot.power.on = false;
    this.powerCuts++;
    if (midWrite) this.cutsMidWrite++;
    boot.transport.powerOff();
    boot.timers.clearAll();
    boot.faults?.stop();
    for (const socket of boot.sockets) socket.destroy(); // no DISCONNECT: the broker just loses the peer
    void boot.mqtt.close();
    this.#options.log("info", "power-cut", { device: this.device, midWrite });
  }

  /**
   * The power fails in the middle of a write: on a file flash at the next store commit (which
   * reaches the file or not: the file is replaced atomically), on NVS at one of the next few NVS
   * operations (`step`), which may fall between the journal, the writes and its deletion.
   */
  cutPowerInWrite(applies: boolean, step: number): void {
    if (!this.#boot) return;
    if (this.#options.flash === "nvs") this.#nvs.cutPowerAt(this.#nvs.operations + step);
    else this.#boot.store.cutPowerAtCommit(0, applies);
  }

  /** Cancels a cut placed by cutPowerInWrite that has not happened yet. */
  cancelPendingCut(): void {
    this.#boot?.store.cutPowerAtCommit(Number.MAX_SAFE_INTEGER, false);
    if (this.#options.flash === "nvs" && this.#nvs.powered) this.#nvs.powerOn();
  }

  /** The disk refuses writes with `code` (ENOSPC, EROFS, EIO) until called with undefined. */
  failDisk(code: string | undefined): void {
    this.#diskFault = code;
    this.#boot?.store.failWrites(code);
  }

  #sabotage(flash: KeyValueStore, boot: number): void {
    const { sabotage, rootKey, device } = this.#options;
    if (sabotage === "forget-queue") flash.commit(flash.keys(QUEUE_KEY_PREFIX).map((key) => ({ key, value: undefined })));
    if (sabotage === "reuse-key" && boot === 1) {
      flash.commit(flash.keys("").map((key) => ({ key, value: undefined })));
      flash.commit(provisioningWrites(rootKey, device));
    }
  }

  /** Samples what the table reports over time. */
  sample(): void {
    const bytes = this.#boot?.node.outbox.storedBytes ?? 0;
    if (bytes > this.peakQueueBytes) this.peakQueueBytes = bytes;
  }

  /** Messages the running node still holds (0 when off). */
  get queued(): number {
    return this.#boot?.node.outbox.depth ?? 0;
  }

  get connected(): boolean {
    return this.#boot?.transport.connected ?? false;
  }

  async close(): Promise<void> {
    const boot = this.#boot;
    this.#boot = undefined;
    if (!boot) return;
    boot.transport.powerOff();
    boot.timers.clearAll();
    boot.faults?.stop();
    await boot.mqtt.close();
  }

  /**
   * The log of one boot. Once that boot has lost its power it says nothing more: the code a cut
   * interrupts still runs to the end of its call in this process, but on a board nothing would,
   * and what it would report never happened outside RAM.
   */
  #bootLog(power: { on: boolean }): Log {
    const { log } = this.#options;
    const device = this.device;
    return (level: LogLevel, event: string, detail?: LogDetail) => {
      if (power.on) log(level, event, { device, ...detail });
    };
  }
}
