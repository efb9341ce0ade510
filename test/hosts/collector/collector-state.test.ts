/** The collector's replay windows across restarts, and across a device provisioned with a new key. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Collector } from "../../../hosts/collector/collector.js";
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

describe("the collector's saved replay state", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function collector(rootKey: Uint8Array, stateFile: string, events: string[] = []): Collector {
    return new Collector({
      brokerUrl: "mqtt://127.0.0.1:1",
      keyring: keyringWith(rootKey),
      stateFile,
      log: (_level: string, event: string, detail?: LogDetail) => events.push(`${event} ${JSON.stringify(detail ?? {})}`),
    });
  }

  it("refuses replays after a restart, and opens a device's new key from counter 0 after it is provisioned again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-state-"));
    dirs.push(dir);
    const stateFile = join(dir, "collector.json");
    const old = sealedBy(OLD_KEY, 3);

    const first = collector(OLD_KEY, stateFile);
    expect(old.map((m) => outcome(first.handle(TOPIC, m)))).toEqual(["accepted", "accepted", "accepted"]);
    await first.stop();
    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { keys: Record<string, string> };
    expect(saved.keys[DEVICE]).toMatch(/^[0-9a-f]{16}$/);

    // Same key: the saved windows hold (and their tags recognise the copies).
    const restarted = collector(OLD_KEY, stateFile);
    expect(old.map((m) => outcome(restarted.handle(TOPIC, m)))).toEqual(["duplicate", "duplicate", "duplicate"]);
    await restarted.stop();

    // Provisioned again (npm run provision -- lamp-7 --new-key): the node starts over at counter 0.
    const events: string[] = [];
    const rekeyed = collector(NEW_KEY, stateFile, events);
    expect(events.filter((e) => e.startsWith("replay-state-reset"))).toEqual([`replay-state-reset ${JSON.stringify({ device: DEVICE, reason: "the keyring holds a new key for this device" })}`]);
    // The node seals its first windows again under the new key: the values are the same, so the
    // windows already stored are not stored twice; its next windows are new.
    const fresh = sealedBy(NEW_KEY, 6);
    expect(fresh.map((m) => outcome(rekeyed.handle(TOPIC, m)))).toEqual(["window-duplicate", "window-duplicate", "window-duplicate", "accepted", "accepted", "accepted"]);
    // ...and neither the new key's messages nor the old key's get in twice.
    expect(fresh.map((m) => outcome(rekeyed.handle(TOPIC, m)))).toEqual(Array(6).fill("duplicate"));
    expect(outcome(rekeyed.handle(TOPIC, old[0]!))).toBe("replay"); // not authentic under the new key
    await rekeyed.stop();
    const resaved = JSON.parse(readFileSync(stateFile, "utf8")) as { keys: Record<string, string> };
    expect(resaved.keys[DEVICE]).not.toBe(saved.keys[DEVICE]);
  });

  it("after a crash, ignores the old key's counters in the journal of a device provisioned again, and keeps its windows", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-state-"));
    dirs.push(dir);
    const files = { stateFile: join(dir, "collector.json"), outputFile: join(dir, "summaries.jsonl") };
    const make = (rootKey: Uint8Array, events: string[] = []) =>
      new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringWith(rootKey), ...files, checkpointMs: Infinity, log: (_l, event) => events.push(event) });
    const old = sealedBy(OLD_KEY, 3);
    const first = make(OLD_KEY);
    expect(old.map((m) => outcome(first.handle(TOPIC, m)))).toEqual(["accepted", "accepted", "accepted"]);
    // Killed: the checkpoint on disk predates the three lines, which the next start replays.

    const events: string[] = [];
    const rekeyed = make(NEW_KEY, events);
    expect(events).toContain("replay-state-reset");
    expect(rekeyed.stats.store.replayedLines).toBe(3);
    // Counters 0.. of the new key are new (not a counter reuse of the old key's), its first windows are stored already.
    expect(sealedBy(NEW_KEY, 4).map((m) => outcome(rekeyed.handle(TOPIC, m)))).toEqual(["window-duplicate", "window-duplicate", "window-duplicate", "accepted"]);
    expect(rekeyed.stats.rejected["counter-reuse"]).toBe(0);
    await rekeyed.stop();
  });

  it("keeps the windows of a version 1 state file (windows only: no key ids, tags or logs)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-state-"));
    dirs.push(dir);
    const stateFile = join(dir, "collector.json");
    const old = sealedBy(OLD_KEY, 2);
    const first = collector(OLD_KEY, stateFile);
    for (const m of old) first.handle(TOPIC, m);
    await first.stop();
    const saved = JSON.parse(readFileSync(stateFile, "utf8")) as { counters: Record<string, { window: string }> };
    const replay = Object.fromEntries(Object.entries(saved.counters).map(([key, c]) => [key, c.window]));
    writeFileSync(stateFile, JSON.stringify({ format: "civicnode-collector-state", version: 1, replay }));
    const restarted = collector(OLD_KEY, stateFile);
    // Without tags a copy cannot be told from a replay: refused all the same.
    expect(old.map((m) => outcome(restarted.handle(TOPIC, m)))).toEqual(["replay", "replay"]);
    await restarted.stop();
    const upgraded = JSON.parse(readFileSync(stateFile, "utf8")) as { version: number; keys: Record<string, string> };
    expect(upgraded.version).toBe(2);
    expect(upgraded.keys[DEVICE]).toMatch(/^[0-9a-f]{16}$/);
  });
});
