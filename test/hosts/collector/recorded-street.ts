/**
 * A street of simulated nodes on an external broker, for the collector's process-level tests, with
 * each node's own record of what it sealed. Every node is the fault campaign's CampaignNode: the
 * real firmware core on the simulated reference board, its flash a file, its uplink real MQTT over
 * TCP, and a power switch (a reboot builds the node anew from its flash). One virtual clock runs
 * `speed` times faster than the wall clock, in steps, in the background.
 *
 * What a node sealed is read where the sealed bytes leave its RAM (written to its flash as an
 * outbox record, or handed to MQTT; nonce-ledger.ts): each (device, key epoch, counter) is one
 * message the collector must store exactly once. The node's own log (`message-sealed`, one per
 * seal) says how many it sealed, so the record can be checked against it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { CampaignNode } from "../../../hosts/node/faults/campaign-node.js";
import { NonceLedger } from "../../../hosts/node/faults/nonce-ledger.js";
import { Prng, SeededRandom } from "../../../hosts/sim/prng.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import type { LogDetail, LogLevel } from "../../../src/platform.js";
import { parseEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { decodeKid } from "../../../src/wire/kid.js";
import { sleep, waitFor } from "../../support/wait-for.js";

export const HOUR_MS = 3_600_000;
/** The street's clock starts on a window boundary, on a weekday morning. */
const START_WALL_MS = Date.UTC(2026, 2, 10, 7, 0, 0);
/** Real milliseconds between clock steps. */
const STEP_MS = 20;

/** "device/epoch/counter": one sealed message. */
export type MessageId = string;

export function messageId(device: string, epoch: number, counter: number): MessageId {
  return `${device}/${epoch}/${counter}`;
}

/** The nonce ledger, also keeping every (device, epoch, counter) it saw, and when (real ms) it first did. */
class SealRecord extends NonceLedger {
  readonly ids = new Set<MessageId>();
  readonly firstSeenMs = new Map<MessageId, number>();

  override observe(message: Uint8Array): void {
    super.observe(message);
    try {
      const envelope = parseEncrypt0(message);
      const kid = decodeKid(envelope.kid);
      const id = kid ? messageId(kid.device, kid.epoch, envelope.counter) : undefined;
      if (id !== undefined && !this.ids.has(id)) {
        this.ids.add(id);
        this.firstSeenMs.set(id, Date.now());
      }
    } catch {
      // not sealed (the disclosure): the ledger counted it
    }
  }
}

export interface RecordedStreetOptions {
  readonly brokerUrl: string;
  readonly devices: readonly string[];
  readonly zone: string;
  /** Simulated milliseconds per real millisecond. */
  readonly speed: number;
  readonly seed: string;
}

export interface StreetEvent {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail: LogDetail;
}

export class RecordedStreet {
  readonly clock: SimClock;
  readonly keyring = new Keyring();
  readonly events: StreetEvent[] = [];
  readonly #options: RecordedStreetOptions;
  readonly #dir: string;
  readonly #record = new SealRecord();
  readonly #nodes = new Map<string, CampaignNode>();
  readonly #marks: Array<{ readonly what: string; readonly atMs: number; readonly hours: number }> = [];
  #pump: Promise<void> | undefined;
  #running = false;

  constructor(options: RecordedStreetOptions) {
    this.#options = options;
    this.#dir = mkdtempSync(join(tmpdir(), "civicnode-street-"));
    this.clock = new SimClock({ startWallMs: START_WALL_MS, onError: (error) => this.#log("error", "timer-callback-failed", { message: (error as Error).message }) });
    const random = new Prng(options.seed);
    for (const device of options.devices) {
      const key = new Uint8Array(32);
      new SeededRandom(random.fork(`key/${device}`)).fill(key);
      this.keyring.add(device, options.zone, key, new Date(START_WALL_MS - HOUR_MS).toISOString());
      this.#nodes.set(
        device,
        new CampaignNode({
          device,
          zone: options.zone,
          rootKey: key,
          stateDir: this.#dir,
          brokerUrl: options.brokerUrl,
          clock: this.clock,
          ledger: this.#record,
          faultHours: 0,
          seed: options.seed,
          flash: "file",
          log: (level, event, detail) => this.#log(level, event, detail ?? {}),
        }),
      );
    }
  }

  /** Powers every node on and starts the clock. */
  start(): void {
    for (const node of this.#nodes.values()) node.powerOn();
    this.resume();
  }

  /** The clock runs again (in the background). */
  resume(): void {
    if (this.#running) return;
    this.#running = true;
    this.#pump = (async () => {
      while (this.#running) {
        const began = Date.now();
        this.clock.advanceTo(this.clock.monotonicMs() + this.#options.speed * STEP_MS);
        await sleep(Math.max(1, STEP_MS - (Date.now() - began)));
      }
    })();
  }

  /** Stops the clock: no new windows, no new seals; the nodes still send what they hold. */
  async pause(): Promise<void> {
    this.#running = false;
    await this.#pump;
  }

  /** Simulated time since the start (ms). */
  get simulatedMs(): number {
    return this.clock.monotonicMs();
  }

  /** Simulated time since the start (hours). */
  get hours(): number {
    return this.simulatedMs / HOUR_MS;
  }

  /** Resolves once the clock has reached `hours` of simulated time; its ceiling is that time at a tenth of the speed. */
  async reach(hours: number): Promise<void> {
    const target = hours * HOUR_MS;
    const ceiling = Math.max(10_000, ((target - this.simulatedMs) / this.#options.speed) * 10);
    await waitFor(() => this.simulatedMs >= target, `${hours} simulated hours`, ceiling, 10);
  }

  /** A power cut on `device` (no MQTT DISCONNECT; only its flash stays). */
  cutPower(device: string): void {
    this.#node(device).cutPower();
  }

  /** Boots `device` again from its flash. */
  powerOn(device: string): void {
    this.#node(device).powerOn();
  }

  /** Messages the nodes still hold in their outboxes. */
  get queued(): number {
    let sum = 0;
    for (const node of this.#nodes.values()) sum += node.queued;
    return sum;
  }

  get allConnected(): boolean {
    return [...this.#nodes.values()].every((node) => node.connected);
  }

  /** Every message the nodes sealed (device/epoch/counter). */
  get sealed(): ReadonlySet<MessageId> {
    return this.#record.ids;
  }

  /** When (Date.now()) the message left its node's RAM first: for a failure's explanation. */
  firstSeenMs(id: MessageId): number | undefined {
    return this.#record.firstSeenMs.get(id);
  }

  /** Notes a moment of the run (a fault, its end), for `whenSealed`. */
  mark(what: string): void {
    this.#marks.push({ what, atMs: Date.now(), hours: this.simulatedMs / HOUR_MS });
  }

  /** Where in the run `ids` were sealed, relative to the marks: what a missing message's failure says. */
  whenSealed(ids: readonly MessageId[]): string {
    const marks = this.#marks.map((m) => `  ${m.what} at ${m.hours.toFixed(2)} h`).join("\n");
    const lines = ids.slice(0, 12).map((id) => {
      const seen = this.#record.firstSeenMs.get(id);
      const before = seen === undefined ? undefined : [...this.#marks].reverse().find((m) => m.atMs <= seen);
      return `  ${id}: first left its node ${seen === undefined ? "never" : before ? `${seen - before.atMs} ms after "${before.what}"` : "before the first mark"}`;
    });
    return `marks:\n${marks}\nmissing:\n${lines.join("\n")}`;
  }

  /** Two different messages sealed under one (device, epoch, counter): must stay empty. */
  get nonceReuses(): readonly { device: string; epoch: number; counter: number }[] {
    return this.#record.reuses;
  }

  /** Seals per device, as the nodes logged them. */
  sealsLogged(device: string): number {
    return this.events.filter((e) => e.event === "message-sealed" && e.detail.device === device).length;
  }

  /** Events of `kind` the street logged (errors, drops). */
  eventsNamed(...names: string[]): StreetEvent[] {
    return this.events.filter((e) => names.includes(e.event));
  }

  /** Waits until every outbox is empty (the clock paused first, so nothing new is sealed). */
  async drained(timeoutMs: number): Promise<void> {
    await waitFor(() => this.queued === 0, `the nodes' outboxes to drain (${this.queued} left)`, timeoutMs, 50);
  }

  async close(): Promise<void> {
    await this.pause();
    for (const node of this.#nodes.values()) await node.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #node(device: string): CampaignNode {
    const node = this.#nodes.get(device);
    if (!node) throw new Error(`no node ${device} in the street`);
    return node;
  }

  #log(level: LogLevel, event: string, detail: LogDetail): void {
    // Only what the tests look at is kept: a long run logs every sample.
    if (event === "message-sealed" || level === "error" || level === "warn") this.events.push({ level, event, detail });
  }
}
