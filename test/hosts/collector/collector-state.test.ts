/**
 * The collector's replay state across restarts (in its database), across a device provisioned with
 * a new key, and the file-based collector's state folder imported once.
 */
import { appendFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Collector, type SummaryLine } from "../../../hosts/collector/collector.js";
import { startCollectorService } from "../../../hosts/collector/collector-service.js";
import type { SqlCollectorDb } from "../../../hosts/collector/db/sql-collector-db.js";
import { openCollectorDb } from "../../../hosts/collector/db/open-collector-db.js";
import { storedLines } from "../../../hosts/collector/db/stored-lines.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { startBroker, runCleanups } from "../../support/mqtt-test-brokers.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import type { HandleResult } from "../../../hosts/collector/collector.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import type { LogDetail } from "../../../src/platform.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { writeSenmlPack } from "../../../src/wire/senml.js";
import { UplinkSealer } from "../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../src/wire/utf8.js";

const ZONE = "old-town";
const DEVICE = "lamp-7";
const TOPIC = `civicnode/${ZONE}/${DEVICE}/summary`;
const T0 = Date.UTC(2026, 9, 1, 8, 0, 0);
const OLD_KEY = new Uint8Array(32).fill(0x37);
const NEW_KEY = new Uint8Array(32).fill(0x73);

function keyringWith(rootKey: Uint8Array): Keyring {
  const keyring = new Keyring();
  keyring.add(DEVICE, ZONE, rootKey, new Date(T0 - 86_400_000).toISOString());
  return keyring;
}

/** `count` summaries sealed by a node freshly provisioned with `rootKey` (counters from 0). */
function sealedBy(rootKey: Uint8Array, count: number): Uint8Array[] {
  const store = new MemoryStore();
  store.commit(provisioningWrites(rootKey, DEVICE));
  const sealer = new UplinkSealer(store, DEVICE, { counterBlock: 16, maxMessageBytes: 1024 });
  sealer.boot();
  return Array.from({ length: count }, (_, i) => {
    const writer = new CborWriter(512);
    writeSenmlPack(writer, `${DEVICE}/`, T0 / 1000 + i * 300, [
      { name: "window", unit: "s", value: 300 },
      { name: "noise/leq", unit: "dB", value: 50 + i },
    ]);
    return sealer.seal(writer.written(), utf8Encode(TOPIC), T0 + i * 300_000);
  });
}

const outcome = (result: HandleResult) => (result.ok ? "accepted" : result.cause);

describe("the collector's replay state", () => {
  const dirs: string[] = [];
  const dbs: SqlCollectorDb[] = [];
  afterEach(async () => {
    await runCleanups();
    for (const db of dbs.splice(0)) await db.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function folder(): string {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-state-"));
    dirs.push(dir);
    return dir;
  }

  /** A collector as after a (re)start: the database opened again from its file, the keyring's devices recorded. */
  async function collector(rootKey: Uint8Array, dir: string, events: string[] = []): Promise<{ collector: Collector; feed: (messages: Uint8Array[]) => Promise<string[]> }> {
    const db = await openCollectorDb({ location: join(dir, "collector.db") });
    dbs.push(db);
    const made = new Collector({
      brokerUrl: "mqtt://127.0.0.1:1",
      keyring: keyringWith(rootKey),
      db,
      log: (_level: string, event: string, detail?: LogDetail) => events.push(`${event} ${JSON.stringify(detail ?? {})}`),
    });
    await made.prepare();
    const feed = async (messages: Uint8Array[]) => {
      const out: string[] = [];
      for (const m of messages) out.push(outcome(await made.handle(TOPIC, m)));
      return out;
    };
    return { collector: made, feed };
  }

  it("refuses replays after a restart, and opens a device's new key from counter 0 after it is provisioned again", async () => {
    const dir = folder();
    const old = sealedBy(OLD_KEY, 3);

    const first = await collector(OLD_KEY, dir);
    expect(await first.feed(old)).toEqual(["accepted", "accepted", "accepted"]);
    // No stop(): as after kill -9, what the database committed is all there is.

    // Same key: the stored replay state holds (and its tags recognise the copies).
    const restarted = await collector(OLD_KEY, dir);
    expect(await restarted.feed(old)).toEqual(["duplicate", "duplicate", "duplicate"]);
    await restarted.collector.stop();

    // Provisioned again (npm run provision -- lamp-7 --new-key): the node starts over at counter 0.
    const events: string[] = [];
    const rekeyed = await collector(NEW_KEY, dir, events);
    expect(events.filter((e) => e.startsWith("collector-device-rekeyed"))).toHaveLength(1);
    // The node seals its first windows again under the new key: the values are the same, so the
    // windows already stored are not stored twice; its next windows are new.
    const fresh = sealedBy(NEW_KEY, 6);
    expect(await rekeyed.feed(fresh)).toEqual(["window-duplicate", "window-duplicate", "window-duplicate", "accepted", "accepted", "accepted"]);
    // ...and neither the new key's messages nor the old key's get in twice.
    expect(await rekeyed.feed(fresh)).toEqual(Array(6).fill("duplicate"));
    expect(await rekeyed.feed([old[0]!])).toEqual(["authentication"]); // not authentic under the new key
    expect(rekeyed.collector.stats.rejected["counter-reuse"]).toBe(0);
    await rekeyed.collector.stop();
    expect((await storedLines(dbs.at(-1)!)).summaries.map((s) => s.windowStart)).toEqual([0, 1, 2, 3, 4, 5].map((i) => T0 / 1000 + i * 300));
  });

  it("refuses a message as stale-key, without holding the broker's stream, when the database holds a newer key for its device", async () => {
    const dir = folder();
    const stale = await collector(OLD_KEY, dir);
    // The same database, re-keyed by another instance whose keyring is newer.
    const newer = await collector(NEW_KEY, dir);
    const results = await stale.collector.handleBatch([{ topic: TOPIC, payload: sealedBy(OLD_KEY, 1)[0]! }]);
    expect(results).toEqual(["ack"]); // refused for good, not held: it would stop every device
    expect(stale.collector.stats.rejected["stale-key"]).toBe(1);
    expect(stale.collector.stats.accepted).toBe(0);
    // The up-to-date instance stores the device's messages under its new key.
    expect(await newer.feed(sealedBy(NEW_KEY, 1))).toEqual(["accepted"]);
  });

  it("imports a file-based collector's state folder once, then tells its messages' copies from new ones", async () => {
    const dir = folder();
    // What the file-based collector wrote: one JSON line per stored summary, with its tag.
    const old = sealedBy(OLD_KEY, 4);
    const opener = new MessageOpener(keyringWith(OLD_KEY), { now: () => T0 });
    for (const payload of old.slice(0, 3)) {
      const result = opener.open(TOPIC, payload);
      if (!result.ok || result.kind !== "summary") throw new Error("a test message did not open");
      const line: SummaryLine = { receivedAt: new Date(T0).toISOString(), windowStartIso: new Date(result.summary.windowStart * 1000).toISOString(), ...result.summary, tag: Buffer.from(result.use.tag!).toString("hex") };
      appendFileSync(join(dir, "summaries.jsonl"), `${JSON.stringify(line)}\n`);
    }
    const broker = await startBroker();
    const start = () => startCollectorService({ stateDir: dir, brokerUrl: `mqtt://127.0.0.1:${broker.port}`, keyring: keyringWith(OLD_KEY), http: "off", log: () => {} });
    const first = await start();
    expect(first.imported).toMatchObject({ summaries: 3 });
    expect(await first.collector.handle(TOPIC, old[1]!)).toMatchObject({ ok: false, cause: "duplicate" });
    expect(await first.collector.handle(TOPIC, old[3]!)).toMatchObject({ ok: true });
    await first.stop();
    const second = await start();
    expect(second.imported).toBeUndefined(); // once
    expect(await second.collector.handle(TOPIC, old[0]!)).toMatchObject({ ok: false, cause: "duplicate" });
    const { summaries } = await storedLines(second.db);
    expect(summaries.map((s) => s.counter)).toEqual([0, 1, 2, 3]);
    await second.stop();
    expect(existsSync(join(dir, "summaries.jsonl"))).toBe(true); // the journal stays where it was
  });
});
