/**
 * The node under what a street does to it: power cuts, a broker away for hours, a store that loses a
 * record, a wall clock that is unknown at boot or jumps. Each test boots the real core on the
 * simulated reference board and decodes what it published with the collector's opener.
 */
import { describe, expect, it } from "vitest";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { LogDetail, LogLevel, Platform } from "../../src/platform.js";
import { encodeCounterRecord, SEAL_COUNTER_KEY } from "../../src/wire/seal-counter.js";
import { provisioningWrites, storeHoldsKey } from "../../src/wire/key-ratchet.js";
import { QUEUE_KEY_PREFIX } from "../../src/uplink/queue-record.js";
import { WINDOW_MARK_KEY, decodeWindowMark } from "../../src/aggregate/window-mark.js";
import { LoopbackTransport } from "../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../hosts/sim/reference-board.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../hosts/sim/street.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { MessageOpener, type DecodedHealth, type DecodedSummary } from "../../hosts/collector/message-opener.js";

const START = Date.UTC(2026, 6, 15, 6, 0, 0);
const WINDOW = 300_000;
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 0x40 + i);
const DEVICE = "street-03";

interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly detail?: LogDetail;
}

/** One boot of the node on `store` (a power cut is simply never calling stop()). */
function boot(store: MemoryStore, clock: SimClock, transport: LoopbackTransport, config: Record<string, unknown> = streetNodeConfig(DEVICE)) {
  if (store.keys("").length === 0 && !storeHoldsKey(store, ROOT, DEVICE)) store.commit(provisioningWrites(ROOT, DEVICE));
  const { board } = simulatedReferenceBoard(DEVICE, "demo-street", clock, clock);
  const lines: LogLine[] = [];
  const platform: Platform = { clock, timers: clock, random: new SeededRandom(`${DEVICE}/${clock.monotonicMs()}`), store, transport, buses: board, log: (level, event, detail) => lines.push({ level, event, detail }) };
  const node = new CivicNode(platform, parseNodeConfig(config));
  node.start();
  return { node, lines };
}

/** Cuts the power of a node: its timers stop firing, nothing of it runs again, its RAM is gone. */
function cutPower(node: CivicNode, transport: LoopbackTransport): void {
  transport.setConnected(false);
  node.stop(); // stops timers only; no flush, no store write (stop() writes nothing)
}

function opened(transport: LoopbackTransport) {
  const keyring = new Keyring();
  keyring.add(DEVICE, "demo-street", ROOT);
  const opener = new MessageOpener(keyring);
  const summaries: DecodedSummary[] = [];
  const health: DecodedHealth[] = [];
  const rejected: string[] = [];
  for (const message of transport.published) {
    if (message.topic.endsWith("/disclosure")) continue;
    const result = opener.open(message.topic, message.payload);
    if (!result.ok) rejected.push(result.cause);
    else if (result.kind === "summary") summaries.push(result.summary);
    else health.push(result.health);
  }
  return { summaries, health, rejected };
}

/** Windows must follow each other without overlap, each of positive length, none twice. */
function expectOrderedWindows(summaries: readonly DecodedSummary[]): void {
  const starts = summaries.map((s) => s.windowStart);
  expect(new Set(starts).size, `window starts ${starts.join(", ")}`).toBe(starts.length);
  for (let i = 0; i < summaries.length; i++) {
    expect(summaries[i]!.windowSeconds).toBeGreaterThan(0);
    if (i > 0) expect(summaries[i]!.windowStart).toBeGreaterThanOrEqual(summaries[i - 1]!.windowStart + summaries[i - 1]!.windowSeconds);
  }
}

describe("a node's queue on flash", () => {
  it("delivers after a power cut the summaries it queued while the broker was away (finding 3)", () => {
    const store = new MemoryStore();
    const clock = new SimClock({ startWallMs: START });
    const offline = new LoopbackTransport(false);
    const first = boot(store, clock, offline);
    clock.advanceBy(12 * WINDOW + 1); // an hour without a broker: 12 summaries, 4 health reports
    expect(first.node.outbox.depth).toBe(16);
    expect(store.keys(QUEUE_KEY_PREFIX)).toHaveLength(16);
    cutPower(first.node, offline);

    const transport = new LoopbackTransport(true);
    const second = boot(store, clock, transport);
    clock.advanceBy(WINDOW);
    const { summaries, health, rejected } = opened(transport);
    expect(rejected).toEqual([]);
    // The 12 windows of the outage first, in order, then the window after the reboot.
    expect(summaries.map((s) => s.windowStart)).toEqual(Array.from({ length: 13 }, (_, i) => (START + i * WINDOW) / 1000));
    expect(health.map((h) => h.time)).toEqual([1, 2, 3, 4].map((q) => (START + q * 900_000) / 1000));
    expect(second.node.outbox.depth).toBe(0);
    expect(store.keys(QUEUE_KEY_PREFIX)).toEqual([]);
  });

  it("drops the oldest when its byte budget is full, and reports every drop: log, console cause and a health total that survives reboots", () => {
    const store = new MemoryStore();
    const clock = new SimClock({ startWallMs: START });
    const offline = new LoopbackTransport(false);
    const config = streetNodeConfig(DEVICE) as { uplink: Record<string, unknown> };
    config.uplink = { ...config.uplink, outboxBytes: 16384 }; // about 14 sealed summaries
    const first = boot(store, clock, offline, config);
    clock.advanceBy(24 * WINDOW + 1); // two hours: 24 summaries and 8 health reports
    const dropped = first.node.outbox.stats.dropped;
    expect(dropped).toBeGreaterThan(10);
    expect(first.node.outbox.storedBytes).toBeLessThanOrEqual(16384);
    expect(first.lines.filter((line) => line.event === "outbox-dropped" && line.level === "warn")).toHaveLength(dropped);
    cutPower(first.node, offline);

    const transport = new LoopbackTransport(true);
    boot(store, clock, transport, config);
    clock.advanceBy(3 * WINDOW); // through the next quarter hour: a health report
    const { summaries, health } = opened(transport);
    // What arrives is the newest of the outage, in order, and the reports say how many went.
    expectOrderedWindows(summaries);
    expect(summaries.at(-1)!.windowStart).toBe((START + 26 * WINDOW) / 1000);
    expect(health.at(-1)!.node.dropped).toBe(dropped);
    const delivered = summaries.length + health.length;
    // Nothing else is missing: produced = delivered + dropped.
    expect(24 + 8 + 3 + 1).toBe(delivered + dropped);
  });
});

describe("a node's counter and windows across reboots", () => {
  it("says in the log and in its next health report when a corrupt counter record moved it to a new epoch (finding 6)", () => {
    const store = new MemoryStore();
    const clock = new SimClock({ startWallMs: START });
    const transport = new LoopbackTransport(true);
    const first = boot(store, clock, transport);
    clock.advanceBy(2 * WINDOW + 1);
    cutPower(first.node, transport);
    const record = encodeCounterRecord({ epoch: 0, ceiling: 32 });
    record[9] ^= 0xff; // the CRC no longer matches
    store.commit([{ key: SEAL_COUNTER_KEY, value: record }]);

    transport.setConnected(true);
    const second = boot(store, clock, transport);
    expect(second.node.epoch).toBe(1);
    expect(second.lines).toContainEqual({ level: "warn", event: "counter-record-lost", detail: expect.objectContaining({ epoch: 1 }) });
    clock.advanceBy(2 * WINDOW); // through 06:15: a health report
    const { health, rejected } = opened(transport);
    expect(rejected).toEqual([]);
    const entries = health.flatMap((report) => report.audit.map((a) => a.entry));
    expect(entries).toContain("epoch-rotated counter-lost to 1");
    // The audit history of the first boot is still there, not overwritten by the second.
    expect(second.node.audit.entries.map((entry) => entry.event)).toEqual(["audit-reset", "boot", "epoch-rotated", "boot"]);
  });

  it("never seals a window twice when it reboots with the clock behind its newest window (finding 5)", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport(true);
    const early = new SimClock({ startWallMs: START });
    const first = boot(store, early, transport);
    early.advanceBy(6 * WINDOW + 1); // windows 06:00 .. 06:30 sealed
    cutPower(first.node, transport);
    expect(decodeWindowMark(store.get(WINDOW_MARK_KEY)!)).toBe((START + 6 * WINDOW) / 1000);

    // The host resumes 20 minutes earlier than where the node stopped (a stale saved time).
    transport.setConnected(true);
    const behind = new SimClock({ startWallMs: START + 6 * WINDOW - 20 * 60_000 });
    const second = boot(store, behind, transport);
    behind.advanceBy(8 * WINDOW);
    const { summaries } = opened(transport);
    expectOrderedWindows(summaries);
    expect(summaries.map((s) => s.windowStart)).toEqual(Array.from({ length: 10 }, (_, i) => (START + i * WINDOW) / 1000));
    expect(second.lines).toContainEqual({ level: "warn", event: "clock-behind-window", detail: expect.objectContaining({ behindS: 1200 }) });
    expect(second.node.stats.clockBehind).toBe(1);
  });

  it("takes no window while the wall clock is unknown, and none before its newest sealed window once it is set", () => {
    const store = new MemoryStore();
    const transport = new LoopbackTransport(true);
    const clock = new SimClock({ startWallMs: START });
    const first = boot(store, clock, transport);
    clock.advanceBy(2 * WINDOW + 1);
    cutPower(first.node, transport);
    transport.setConnected(true);
    const unsynced = new SimClock({ startWallMs: 0, synced: false });
    const second = boot(store, unsynced, transport);
    unsynced.advanceBy(10 * WINDOW); // no SNTP answer for 50 minutes
    expect(second.node.stats.windowsClosed).toBe(0);
    unsynced.setWall(START + WINDOW + 60_000); // SNTP answers with a time inside the newest sealed window
    unsynced.advanceBy(3 * WINDOW);
    const { summaries } = opened(transport);
    expectOrderedWindows(summaries);
    expect(summaries.map((s) => s.windowStart)).toEqual([0, 1, 2, 3].map((i) => (START + i * WINDOW) / 1000));
  });
});

describe("a node's windows when the wall clock jumps", () => {
  it("discards the open window's readings when the clock is set back past its start, and seals nothing twice", () => {
    const store = new MemoryStore();
    const clock = new SimClock({ startWallMs: START });
    const transport = new LoopbackTransport(true);
    const { node, lines } = boot(store, clock, transport);
    clock.advanceBy(2 * WINDOW + 120_000); // inside the third window, 06:12
    clock.setWall(START + WINDOW + 30_000); // SNTP says it is 06:05:30
    clock.advanceBy(4 * WINDOW);
    const { summaries } = opened(transport);
    expectOrderedWindows(summaries);
    expect(node.stats.windowsDiscarded).toBe(1);
    expect(lines.some((line) => line.event === "clock-behind-window" && line.detail?.discarded === true)).toBe(true);
    // The third window [06:10, 06:15) is sealed once, with readings taken after the clock caught up.
    const third = summaries.find((s) => s.windowStart === (START + 2 * WINDOW) / 1000)!;
    expect(third.channels.temperature!.count).toBeGreaterThan(25);
    expect(summaries.filter((s) => s.windowStart === (START + 2 * WINDOW) / 1000)).toHaveLength(1);
  });

  it("closes the open window with its own readings when the clock jumps forward, and starts the next at the new time", () => {
    const store = new MemoryStore();
    const clock = new SimClock({ startWallMs: START });
    const transport = new LoopbackTransport(true);
    boot(store, clock, transport);
    clock.advanceBy(WINDOW + 100_000); // 06:06:40
    clock.setWall(START + 3 * 3_600_000 + 10_000); // SNTP: it is 09:00:10
    clock.advanceBy(2 * WINDOW);
    const { summaries } = opened(transport);
    expectOrderedWindows(summaries);
    const starts = summaries.map((s) => s.windowStart - START / 1000);
    expect(starts).toEqual([0, 300, 3 * 3600, 3 * 3600 + 300]);
    // The second window ran 100 s of readings before the jump: it is sealed with its length, not stretched.
    expect(summaries[1]!.windowSeconds).toBe(300);
    expect(summaries[1]!.channels.temperature!.count).toBeLessThanOrEqual(11);
  });
});
