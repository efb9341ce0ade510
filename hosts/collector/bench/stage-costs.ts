/**
 * CPU per message of the collector's stages, each run in isolation over the benchmark's real
 * messages (process.cpuUsage, user + system): the opener (MessageOpener.verify: topic, envelope,
 * key, AEAD, and the decoding it ends with), the decoding alone (SenML to a summary, from the
 * plaintexts the devices sealed), and the store (db.admitBatch in the collector's batches, on a
 * fresh database). The MQTT stage is the counting subscriber's CPU, measured by the rate runs.
 * The in-memory stages keep the least of PASSES passes; the store one pass a fresh database.
 */
import { readSenmlPack } from "../../../src/wire/senml.js";
import { parseNodeTopic } from "../../../src/uplink/topics.js";
import { DEFAULT_BATCH } from "../broker-session.js";
import { openedMessageOf, type OpenedMessage } from "../db/collector-db.js";
import { openCollectorDb } from "../db/open-collector-db.js";
import { summaryFromRecords } from "../decoded-messages.js";
import type { Keyring } from "../keyring.js";
import { MessageOpener } from "../message-opener.js";
import type { BenchDevice, BenchMessage } from "./bench-fleet.js";
import { processTreeCpuSeconds } from "./process-cpu.js";

/** Messages run through a stage before it is measured (JIT, caches, prepared statements). */
const WARM_UP = 500;
/**
 * Passes of each in-memory stage; the least is kept. Other work on the machine only ever adds CPU
 * time to a pass (shared caches and cores), so the least is the stage's own cost.
 */
export const PASSES = 3;

function cpuMicros(since?: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/** µs of CPU per item of `items` through `stage`, after a warm-up on the first few: the least of PASSES passes. */
function perItem<T>(items: readonly T[], stage: (item: T) => unknown): number {
  for (const item of items.slice(0, WARM_UP)) stage(item);
  let least = Infinity;
  for (let pass = 0; pass < PASSES; pass++) {
    const start = process.cpuUsage();
    for (const item of items) stage(item);
    least = Math.min(least, cpuMicros(start) / items.length);
  }
  return least;
}

export interface OpenStageCosts {
  /** MessageOpener.verify: every check, the AEAD open, and the decoding (µs per message). */
  readonly verifyMicros: number;
  /** The decoding alone: readSenmlPack and summaryFromRecords of the plaintext (µs per message). */
  readonly decodeMicros: number;
}

export function openStageCosts(keyring: Keyring, messages: readonly BenchMessage[]): OpenStageCosts {
  const opener = new MessageOpener(keyring);
  const verifyMicros = perItem(messages, ({ topic, payload }) => {
    const result = opener.verify(topic, payload);
    if (!result.ok) throw new Error(`the opener refused a bench message: ${result.cause} ${result.detail}`);
  });
  const decodeMicros = perItem(messages, ({ topic, plaintext, device }) => summaryFromRecords(readSenmlPack(plaintext), parseNodeTopic(topic)!.zone, device, 0, 0));
  return { verifyMicros, decodeMicros };
}

/** The messages as the opener hands them to the store. */
export function openedMessages(keyring: Keyring, devices: readonly BenchDevice[], messages: readonly BenchMessage[], receivedAtMs = Date.now()): OpenedMessage[] {
  const opener = new MessageOpener(keyring);
  const keyIds = new Map(devices.map(({ device, keyId }) => [device, keyId]));
  return messages.map(({ topic, payload }) => {
    const result = opener.verify(topic, payload);
    if (!result.ok) throw new Error(`the opener refused a bench message: ${result.cause} ${result.detail}`);
    return openedMessageOf(result, topic, payload, keyIds.get(result.use.device)!, receivedAtMs);
  });
}

export interface StoreStageCost {
  /** This process's CPU per message (with SQLite: the whole engine, which runs in-process). */
  readonly clientMicros: number;
  /** The database server's CPU per message, when its process is known (PostgreSQL started by the benchmark). */
  readonly serverMicros: number | undefined;
  readonly stored: number;
}

/** admitBatch of `opened` in the collector's batches into the fresh database at `location`. */
export async function storeStageCost(location: string, devices: readonly BenchDevice[], opened: readonly OpenedMessage[], serverPid?: number): Promise<StoreStageCost> {
  const db = await openCollectorDb({ location });
  try {
    await db.syncDevices(devices.map(({ device, zone, keyId }) => ({ device, zone, keyId })));
    const batch = DEFAULT_BATCH.max;
    const server0 = serverPid === undefined ? undefined : processTreeCpuSeconds(serverPid);
    const start = process.cpuUsage();
    let stored = 0;
    for (let i = 0; i < opened.length; i += batch) {
      for (const { outcome } of await db.admitBatch(opened.slice(i, i + batch))) if (outcome === "stored") stored++;
    }
    const clientMicros = cpuMicros(start) / opened.length;
    const server1 = serverPid === undefined ? undefined : processTreeCpuSeconds(serverPid);
    const serverMicros = server0 === undefined || server1 === undefined ? undefined : ((server1 - server0) * 1e6) / opened.length;
    return { clientMicros, serverMicros, stored };
  } finally {
    await db.close();
  }
}
