/**
 * The messages the collector's benchmark publishes: sealed summaries of the size and shape a real
 * node sends, from a fleet of simulated devices, each sealed by the node's own code.
 *
 * The template is a real summary: one reference street node (hosts/sim: the reference board, the
 * street's configuration, src/node.ts) runs through two windows on a virtual clock, and its second
 * summary is opened to take its records (every channel's statistics and statuses) and its fixed,
 * padded plaintext size. Each bench device then seals, with an UplinkSealer over its own flash
 * (MemoryStore provisioned from its root key), one summary a window with those records, values
 * varied from a seeded generator, padded to the same size: so every message costs the collector
 * what a real one does (same bytes to authenticate, decrypt and decode, same rows to store).
 *
 * Example:
 *   const fleet = new BenchFleet({ devices: 200 });
 *   const messages = fleet.summaries(100);   // 100 windows of every device, in publishing order
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { CivicNode } from "../../../src/node.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { nodeTopic } from "../../../src/uplink/topics.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { openEncrypt0, parseEncrypt0 } from "../../../src/wire/cose-encrypt0.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { epochKeysFromRoot, keyIdFromRoot } from "../../../src/wire/key-schedule.js";
import { decodeKid } from "../../../src/wire/kid.js";
import { PADDING_RECORD, readSenmlPack, writeSenmlPack, type SenmlRecordOut } from "../../../src/wire/senml.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";
import { LoopbackTransport } from "../../sim/loopback-transport.js";
import { MemoryStore } from "../../sim/memory-store.js";
import { Prng, SeededRandom } from "../../sim/prng.js";
import { simulatedReferenceBoard } from "../../sim/reference-board.js";
import { SimClock } from "../../sim/sim-clock.js";
import { streetNodeConfig } from "../../sim/street.js";
import { Keyring } from "../keyring.js";

const WINDOW_S = 300;
/** Devices per zone, as a district's streets would group them. */
const DEVICES_PER_ZONE = 50;

/** The reference node's summary, as the template of every bench message. */
export interface SummaryTemplate {
  /** Records after the window record, names without the device prefix ("temperature/mean"). */
  readonly records: readonly SenmlRecordOut[];
  /** The padded SenML plaintext's size, which the node keeps fixed (bytes). */
  readonly plaintextBytes: number;
  /** The sealed COSE_Encrypt0 message's size (bytes). */
  readonly sealedBytes: number;
}

export interface BenchMessage {
  readonly device: string;
  readonly topic: string;
  readonly payload: Uint8Array;
  /** The SenML plaintext that was sealed (for the decode stage in isolation). */
  readonly plaintext: Uint8Array;
}

export interface BenchDevice {
  readonly device: string;
  readonly zone: string;
  readonly rootKey: Uint8Array;
  /** keyIdFromRoot, hex: what the database records for the device's key. */
  readonly keyId: string;
}

/** Runs one reference street node through two windows and takes its second summary apart. */
export function referenceSummary(): SummaryTemplate {
  const device = "street-01";
  const zone = "demo-street";
  const rootKey = rootKeyOf(device);
  const startWallMs = Date.UTC(2026, 2, 9, 8, 0, 0); // a window boundary
  const clock = new SimClock({ startWallMs });
  const store = new MemoryStore();
  store.commit(provisioningWrites(rootKey, device));
  const transport = new LoopbackTransport();
  clock.advanceTo(5_000); // boots 5 s into the window, as the reference scenario does
  const { board } = simulatedReferenceBoard(device, zone, clock, clock);
  const node = new CivicNode(
    { clock, timers: clock, random: new SeededRandom(`${device}/random`), store, transport, buses: board, log: () => {} },
    parseNodeConfig(streetNodeConfig(device, zone)),
  );
  node.start();
  clock.advanceTo(2 * WINDOW_S * 1000 + 1_000);
  node.stop();
  const summaries = transport.published.filter((m) => m.topic === nodeTopic(zone, device, "summary"));
  const sealed = summaries[1]?.payload;
  if (!sealed) throw new Error(`the reference node sealed ${summaries.length} summaries in two windows, expected 2`);

  const envelope = parseEncrypt0(sealed);
  const kid = decodeKid(envelope.kid)!;
  const keys = epochKeysFromRoot(rootKey, device, kid.epoch);
  const plaintext = openEncrypt0(envelope, keys, utf8Encode(nodeTopic(zone, device, "summary")));
  keys.wipe();
  const prefix = `${device}/`;
  const records: SenmlRecordOut[] = [];
  for (const record of readSenmlPack(plaintext)) {
    const name = record.name.slice(prefix.length);
    if (name === PADDING_RECORD || name === "window") continue;
    records.push(record.stringValue !== undefined ? { name, status: record.stringValue } : { name, unit: record.unit, value: record.value });
  }
  return { records, plaintextBytes: plaintext.length, sealedBytes: sealed.length };
}

/** A fixed, distinct root key per bench device (throwaway keys of a benchmark). */
function rootKeyOf(device: string): Uint8Array {
  return sha256(utf8Encode(`civicnode bench root key/${device}`));
}

export interface BenchFleetOptions {
  readonly devices: number;
  /** Seeds the statistics' variation. */
  readonly seed?: string;
  readonly template?: SummaryTemplate;
}

export class BenchFleet {
  readonly template: SummaryTemplate;
  readonly devices: readonly BenchDevice[];
  readonly #sealers: UplinkSealer[];
  readonly #prng: Prng;
  readonly #writer: CborWriter;
  /** Window start of the next `summaries` call (Unix s). */
  #nextWindow: number | undefined;

  constructor(options: BenchFleetOptions) {
    this.template = options.template ?? referenceSummary();
    this.#prng = new Prng(options.seed ?? "civicnode collector bench");
    this.#writer = new CborWriter(this.template.plaintextBytes + 64);
    const devices: BenchDevice[] = [];
    this.#sealers = [];
    for (let n = 1; n <= options.devices; n++) {
      const device = `node-${String(n).padStart(4, "0")}`; // as long as the reference's "street-01": the same kid size
      const zone = `district-${String(Math.ceil(n / DEVICES_PER_ZONE)).padStart(2, "0")}`;
      const rootKey = rootKeyOf(device);
      devices.push({ device, zone, rootKey, keyId: bytesToHex(keyIdFromRoot(rootKey, device)) });
      const store = new MemoryStore();
      store.commit(provisioningWrites(rootKey, device));
      const sealer = new UplinkSealer(store, device, { counterBlock: 16, maxMessageBytes: this.template.sealedBytes + 64 });
      sealer.boot();
      this.#sealers.push(sealer);
    }
    this.devices = devices;
  }

  /** The collector's keyring for the fleet, provisioned a day before `nowMs`. */
  keyring(nowMs = Date.now()): Keyring {
    const keyring = new Keyring();
    const created = new Date(nowMs - 86_400_000).toISOString();
    for (const { device, zone, rootKey } of this.devices) keyring.add(device, zone, rootKey, created);
    return keyring;
  }

  /**
   * The next `windows` windows' summaries of every device, window by window as a street publishes
   * them. The windows end before now (a collector may judge a summary from the future implausible),
   * and every call continues after the previous one.
   */
  summaries(windows: number, nowMs = Date.now()): BenchMessage[] {
    const first = this.#nextWindow ?? Math.floor(nowMs / 1000 / WINDOW_S) * WINDOW_S - (windows + 1) * WINDOW_S;
    this.#nextWindow = first + windows * WINDOW_S;
    const messages: BenchMessage[] = [];
    for (let w = 0; w < windows; w++) {
      const windowStart = first + w * WINDOW_S;
      this.devices.forEach(({ device, zone }, d) => {
        const topic = nodeTopic(zone, device, "summary");
        this.#writer.reset();
        writeSenmlPack(this.#writer, `${device}/`, windowStart, [{ name: "window", unit: "s", value: WINDOW_S }, ...this.#varied()], this.template.plaintextBytes);
        const plaintext = this.#writer.written().slice();
        const payload = this.#sealers[d]!.seal(plaintext, utf8Encode(topic), (windowStart + WINDOW_S) * 1000);
        // Only the counter's length (1 to 5 bytes of partial IV) may differ from the reference.
        if (Math.abs(payload.length - this.template.sealedBytes) > 4) throw new Error(`a bench summary sealed to ${payload.length} bytes, the reference to ${this.template.sealedBytes}`);
        messages.push({ device, topic, payload, plaintext });
      });
    }
    return messages;
  }

  /** The template's records with every value moved a little (same encoded size class: floats stay floats). */
  #varied(): SenmlRecordOut[] {
    return this.template.records.map((record) => {
      if (record.value === undefined) return record;
      const value = Number.isInteger(record.value) ? record.value + Math.floor(this.#prng.next() * 3) : record.value + (this.#prng.next() - 0.5) / 8;
      return { ...record, value };
    });
  }
}
