import { describe, expect, it } from "vitest";
import { Outbox, type OutboxOptions, type PushOutcome } from "../../../src/uplink/outbox.js";
import { decodeDropTotals, DROP_TOTALS_KEY, QUEUE_KEY_PREFIX, queueKey } from "../../../src/uplink/queue-record.js";
import type { KeyValueStore, LogDetail, LogLevel, StoreWrite } from "../../../src/platform.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { PreferenceStore } from "../../../hosts/moddable/preference-store.js";
import { EmulatedNvs } from "../../../hosts/sim/emulated-nvs.js";

const TOPIC = "civicnode/demo-street/street-01/summary";
/** A sealed message stand-in: `size` bytes, its first two bytes the message's number. */
function payload(n: number, size = 200): Uint8Array {
  const bytes = new Uint8Array(size).fill(0xa0 | (n & 0x0f));
  bytes[0] = n >> 8;
  bytes[1] = n & 0xff;
  return bytes;
}
const numberOf = (bytes: Uint8Array) => (bytes[0]! << 8) | bytes[1]!;

interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail?: LogDetail;
}

function outboxOver(store: KeyValueStore, transport: LoopbackTransport, options: Partial<OutboxOptions> = {}, lines: LogLine[] = []): Outbox {
  const outbox = new Outbox(store, transport, (level, event, detail) => lines.push({ level, event, detail }), {
    capacity: 16,
    budgetBytes: 64 * 1024,
    ramBytes: 4096,
    maxInFlight: 2,
    ...options,
  });
  outbox.load();
  return outbox;
}

const push = (outbox: Outbox, n: number, size = 200): PushOutcome => outbox.push({ kind: n % 4 === 3 ? "health" : "summary", timeS: 1_800_000_000 + n * 300, topic: TOPIC, payload: payload(n, size) });
const sent = (transport: LoopbackTransport) => transport.published.map((message) => numberOf(message.payload));

describe("Outbox: store-and-forward on flash", () => {
  it("writes each message to the store before offering it, and deletes it on PUBACK only", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport();
    transport.autoAcknowledge = false;
    const outbox = outboxOver(store, transport);
    expect(push(outbox, 1)).toBe("stored");
    expect(store.keys(QUEUE_KEY_PREFIX)).toEqual([queueKey(0)]);
    expect(sent(transport)).toEqual([1]);
    transport.acknowledgeAll();
    expect(store.keys(QUEUE_KEY_PREFIX)).toEqual([]);
    expect(outbox.depth).toBe(0);
    expect(outbox.stats.delivered).toBe(1);
  });

  it("resends what was not acknowledged after a reconnect, oldest first, at most maxInFlight at once", () => {
    const transport = new LoopbackTransport();
    transport.autoAcknowledge = false;
    const outbox = outboxOver(new MemoryStore(), transport);
    for (let n = 1; n <= 3; n++) push(outbox, n);
    expect(sent(transport)).toEqual([1, 2]);
    transport.setConnected(false); // both settle undelivered
    expect(outbox.stats.retried).toBe(2);
    transport.autoAcknowledge = true;
    transport.setConnected(true);
    outbox.pump();
    expect(sent(transport)).toEqual([1, 2, 1, 2, 3]);
    expect(outbox.depth).toBe(0);
  });

  it("survives a reboot: a new outbox on the same store sends what the old one had not delivered, in order", () => {
    const store = new MemoryStore();
    const offline = new LoopbackTransport(false);
    const before = outboxOver(store, offline);
    for (let n = 1; n <= 5; n++) push(before, n);
    expect(before.depth).toBe(5);
    // Power cut: the RAM of `before` is gone, the store stays.
    const transport = new LoopbackTransport();
    const after = outboxOver(store, transport);
    expect(after.depth).toBe(5);
    after.pump();
    expect(sent(transport)).toEqual([1, 2, 3, 4, 5]);
    expect(store.keys(QUEUE_KEY_PREFIX)).toEqual([]);
    // New messages never reuse the keys of the old ones while those may still exist.
    push(after, 6);
    expect(sent(transport)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("continues the sequence after a reboot, so a new record never replaces a queued one", () => {
    const store = new MemoryStore();
    const first = outboxOver(store, new LoopbackTransport(false));
    push(first, 1);
    push(first, 2);
    const second = outboxOver(store, new LoopbackTransport(false));
    push(second, 3);
    expect(store.keys(QUEUE_KEY_PREFIX).sort()).toEqual([queueKey(0), queueKey(1), queueKey(2)]);
  });

  it("drops the oldest beyond the byte budget, in the same commit as the new record, and persists the count", () => {
    const store = new MemoryStore();
    const lines: LogLine[] = [];
    const outbox = outboxOver(store, new LoopbackTransport(false), { budgetBytes: 16384, capacity: 100 }, lines);
    // Records of 1,000-byte messages take 1,000 + 19 + the topic: 16 fit in 16,384 bytes... 15 with the topic.
    for (let n = 1; n <= 20; n++) push(outbox, n, 1000);
    expect(outbox.storedBytes).toBeLessThanOrEqual(16384);
    const kept = outbox.depth;
    expect(kept).toBe(15);
    expect(outbox.stats.dropped).toBe(20 - kept);
    expect(decodeDropTotals(store.get(DROP_TOTALS_KEY)!)).toEqual({ full: 20 - kept, corrupt: 0 });
    expect(lines.filter((line) => line.event === "outbox-dropped" && line.level === "warn")).toHaveLength(20 - kept);
    // A reboot remembers the drops and sends the newest 15.
    const transport = new LoopbackTransport();
    const after = outboxOver(store, transport, { budgetBytes: 16384, capacity: 100 });
    expect(after.stats.dropped).toBe(5);
    after.pump();
    expect(sent(transport)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  });

  it("drops the oldest beyond its capacity in messages", () => {
    const transport = new LoopbackTransport(false);
    const outbox = outboxOver(new MemoryStore(), transport, { capacity: 3, maxInFlight: 1 });
    for (let n = 1; n <= 5; n++) push(outbox, n);
    expect(outbox.depth).toBe(3);
    expect(outbox.stats.dropped).toBe(2);
    transport.setConnected(true);
    outbox.pump();
    expect(sent(transport)).toEqual([3, 4, 5]);
  });

  it("drops a message in flight only last, and ignores its late acknowledgement", () => {
    const transport = new LoopbackTransport();
    transport.autoAcknowledge = false;
    const outbox = outboxOver(new MemoryStore(), transport, { capacity: 2, maxInFlight: 1 });
    push(outbox, 1); // in flight
    push(outbox, 2);
    push(outbox, 3); // drops 2, not 1 which the broker may be acknowledging
    expect(outbox.stats.dropped).toBe(1);
    transport.acknowledgeAll();
    expect(sent(transport)).toEqual([1, 3]);
    push(outbox, 4);
    push(outbox, 5); // 3 in flight, 4 queued: 4 goes
    transport.acknowledgeAll();
    transport.acknowledgeAll();
    expect(sent(transport)).toEqual([1, 3, 5]);
    expect(outbox.stats.dropped).toBe(2);
    expect(outbox.depth).toBe(0);
  });

  it("skips, deletes and counts a corrupt record found at boot, and sends the others", () => {
    const store = new MemoryStore();
    const first = outboxOver(store, new LoopbackTransport(false));
    for (let n = 1; n <= 3; n++) push(first, n);
    const record = store.get(queueKey(1))!;
    record[20] ^= 0x01; // a flipped bit in the middle record
    store.commit([{ key: queueKey(1), value: record }]);
    store.commit([{ key: "ob.garbage", value: Uint8Array.of(1, 2, 3) }]); // a foreign key in the queue's space
    const lines: LogLine[] = [];
    const transport = new LoopbackTransport();
    const after = outboxOver(store, transport, {}, lines);
    expect(after.stats.droppedCorrupt).toBe(2);
    expect(lines.filter((line) => line.event === "outbox-record-corrupt")).toHaveLength(2);
    after.pump();
    expect(sent(transport)).toEqual([1, 3]);
    expect(store.keys(QUEUE_KEY_PREFIX)).toEqual([]);
    expect(decodeDropTotals(store.get(DROP_TOTALS_KEY)!)).toEqual({ full: 0, corrupt: 2 });
  });

  it("skips and counts a record that rotted after boot, without blocking the queue", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport(false);
    const outbox = outboxOver(store, transport);
    for (let n = 1; n <= 3; n++) push(outbox, n);
    store.commit([{ key: queueKey(0), value: Uint8Array.of(0x43, 0x51, 1, 0) }]); // truncated
    transport.setConnected(true);
    outbox.pump();
    expect(sent(transport)).toEqual([2, 3]);
    expect(outbox.stats.droppedCorrupt).toBe(1);
  });

  it("holds messages in RAM while the store fails, logs the episode once, and moves them to the store when it recovers", () => {
    const inner = new MemoryStore();
    let failing = false;
    const store: KeyValueStore = {
      get: (key) => inner.get(key),
      keys: (prefix) => inner.keys(prefix),
      commit: (writes: readonly StoreWrite[]) => {
        if (failing) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        inner.commit(writes);
      },
    };
    const lines: LogLine[] = [];
    const transport = new LoopbackTransport(false);
    const outbox = outboxOver(store, transport, {}, lines);
    push(outbox, 1);
    failing = true;
    expect(push(outbox, 2)).toBe("ram");
    expect(push(outbox, 3)).toBe("ram");
    expect(outbox.ramOnly).toBe(2);
    expect(outbox.storeFailure).toBe("ENOSPC");
    expect(outbox.stats.storeErrors).toBe(3); // two pushes, and one try to move the first held message back
    expect(lines.filter((line) => line.event === "outbox-store-failed")).toEqual([
      { level: "warn", event: "outbox-store-failed", detail: expect.objectContaining({ cause: "ENOSPC", operation: "write" }) },
    ]);
    failing = false;
    expect(push(outbox, 4)).toBe("stored");
    expect(outbox.ramOnly).toBe(0);
    expect(lines.some((line) => line.event === "outbox-store-recovered")).toBe(true);
    // Everything is on flash now, in order: a reboot sends 1, 2, 3, 4.
    const fresh = new LoopbackTransport();
    const rebooted = outboxOver(inner, fresh);
    rebooted.pump();
    expect(sent(fresh)).toEqual([1, 2, 3, 4]);
  });

  it("bounds what RAM holds while the store fails, dropping the oldest held and counting it", () => {
    const store: KeyValueStore = {
      get: () => undefined,
      keys: () => [],
      commit: () => {
        throw Object.assign(new Error("EROFS: read-only file system"), { code: "EROFS" });
      },
    };
    const transport = new LoopbackTransport(false);
    const outbox = outboxOver(store, transport, { ramBytes: 1000 });
    for (let n = 1; n <= 8; n++) push(outbox, n, 200);
    expect(outbox.ramOnly).toBe(5);
    expect(outbox.stats.dropped).toBe(3);
    expect(push(outbox, 9, 2000)).toBe("dropped"); // larger than the whole RAM budget
    expect(outbox.stats.dropped).toBe(4);
    transport.setConnected(true);
    outbox.pump();
    expect(sent(transport)).toEqual([4, 5, 6, 7, 8]);
  });

  it("publishes the disclosure retained, from RAM, keeping only its latest version", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport(false);
    const outbox = outboxOver(store, transport);
    outbox.publishRetained("civicnode/z/d/disclosure", Uint8Array.of(1));
    outbox.publishRetained("civicnode/z/d/disclosure", Uint8Array.of(2));
    expect(store.keys("")).toEqual([]);
    transport.setConnected(true);
    outbox.pump();
    expect(transport.published).toEqual([{ topic: "civicnode/z/d/disclosure", payload: Uint8Array.of(2), qos: 1, retain: true }]);
  });
});

/**
 * A scenario that exercises every kind of outbox write: queueing while offline past the budget
 * (drops), delivering (deletes), and queueing while online.
 */
function scenario(outbox: Outbox, transport: LoopbackTransport, stored: Set<number>): void {
  const track = (n: number, size: number) => {
    if (push(outbox, n, size) === "stored") stored.add(n);
  };
  transport.setConnected(false);
  for (let n = 1; n <= 8; n++) track(n, 700);
  transport.setConnected(true);
  outbox.pump();
  for (let n = 9; n <= 12; n++) track(n, 300);
}

describe("Outbox: a power cut at any write loses nothing it stored without counting it", () => {
  const options = { budgetBytes: 5000, capacity: 8, ramBytes: 2000, maxInFlight: 2 };

  /** After the cut: reboot on what the store holds, reconnect, drain; returns what was delivered after the reboot. */
  function reboot(store: KeyValueStore): { delivered: number[]; dropped: number } {
    const transport = new LoopbackTransport();
    const outbox = outboxOver(store, transport, options);
    outbox.pump();
    expect(outbox.depth).toBe(0);
    return { delivered: sent(transport), dropped: outbox.stats.dropped + outbox.stats.droppedCorrupt };
  }

  it("on an atomic store (the simulator's file): cut before each commit in turn", () => {
    const reference = new MemoryStore();
    scenario(outboxOver(reference, new LoopbackTransport(), options), new LoopbackTransport(), new Set());
    const commits = reference.commits;
    expect(commits).toBeGreaterThan(10);
    for (let cut = 0; cut <= commits; cut++) {
      const store = new MemoryStore();
      const transport = new LoopbackTransport();
      const stored = new Set<number>();
      const deliveredBefore = new Set<number>();
      let alive = true;
      // The cut: commit `cut` does not happen, and nothing after it (the node is dead).
      const dying: KeyValueStore = {
        get: (key) => store.get(key),
        keys: (prefix) => store.keys(prefix),
        commit: (writes) => {
          if (!alive || store.commits === cut) {
            alive = false;
            throw new Error("power cut");
          }
          store.commit(writes);
        },
      };
      const node = new Outbox(dying, transport, () => {}, options);
      node.load();
      scenario(node, transport, stored); // the outbox never throws for a failing store
      // What the broker acknowledged before the cut reached it.
      for (const message of transport.published) deliveredBefore.add(numberOf(message.payload));
      const after = reboot(store);
      const droppedBefore = store.get(DROP_TOTALS_KEY) ? decodeDropTotals(store.get(DROP_TOTALS_KEY)!)!.full : 0;
      // Every message stored before the cut reached the broker (before or after), or is counted as dropped.
      const reached = new Set([...deliveredBefore, ...after.delivered]);
      const missing = [...stored].filter((n) => !reached.has(n));
      expect(missing.length, `cut ${cut}: missing ${missing.join(", ")}, dropped ${droppedBefore}`).toBeLessThanOrEqual(droppedBefore);
      // And what arrives after the reboot arrives in order.
      expect(after.delivered, `cut ${cut}`).toEqual([...after.delivered].sort((a, b) => a - b));
    }
  });

  it("on ESP32 NVS through Preference (journaled commits): cut at each NVS operation in turn", () => {
    const reference = new EmulatedNvs();
    scenario(outboxOver(new PreferenceStore(reference.preference, "civicnode"), new LoopbackTransport(), options), new LoopbackTransport(), new Set());
    const operations = reference.operations;
    expect(operations).toBeGreaterThan(30);
    for (let cut = 0; cut <= operations; cut++) {
      const nvs = new EmulatedNvs();
      nvs.cutPowerAt(cut);
      const transport = new LoopbackTransport();
      const stored = new Set<number>();
      try {
        const outbox = outboxOver(new PreferenceStore(nvs.preference, "civicnode"), transport, options);
        scenario(outbox, transport, stored);
      } catch (error) {
        // Only opening the store at boot may throw (it reads the journal); the outbox never does.
        expect(String(error), `cut ${cut}`).toMatch(/power cut/);
      }
      const deliveredBefore = new Set(transport.published.map((message) => numberOf(message.payload)));
      nvs.powerOn();
      const store = new PreferenceStore(nvs.preference, "civicnode");
      const droppedTotals = store.get(DROP_TOTALS_KEY);
      const dropped = droppedTotals ? decodeDropTotals(droppedTotals)!.full : 0;
      const after = reboot(store);
      const reached = new Set([...deliveredBefore, ...after.delivered]);
      const missing = [...stored].filter((n) => !reached.has(n));
      expect(missing.length, `cut at NVS operation ${cut}: missing ${missing.join(", ")}, dropped ${dropped}`).toBeLessThanOrEqual(dropped);
      expect(after.delivered, `cut ${cut}`).toEqual([...after.delivered].sort((a, b) => a - b));
    }
  });
});
