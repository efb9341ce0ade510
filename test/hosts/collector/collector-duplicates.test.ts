/**
 * What the collector makes of a message it has seen something of before: a QoS 1 copy (harmless,
 * counted), a device that restarted its counter under a key (a nonce reuse: alerted, the key named
 * compromised), a window sealed again (one summary per device and window start: the same values are
 * dropped, other values are a conflict, alerted), across restarts and within the bounds kept.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector, type CollectorOptions, type HandleResult } from "../../../hosts/collector/collector.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { jsonLines, keyringOf, T0, TestNode, type SealedMessage } from "./sealed-messages.js";

const DEVICE = "lamp-7";
const outcome = (result: HandleResult) => (result.ok ? "stored" : result.cause);

describe("duplicates, counter reuse and window conflicts at the collector", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function setup(extra: Partial<CollectorOptions> = {}) {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-duplicates-"));
    dirs.push(dir);
    const files = { outputFile: join(dir, "summaries.jsonl"), healthFile: join(dir, "health.jsonl"), stateFile: join(dir, "collector.json") };
    const make = (more: Partial<CollectorOptions> = {}) => {
      const alerts: Alert[] = [];
      const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(DEVICE), ...files, checkpointMs: Infinity, ...extra, ...more });
      collector.onAlert((alert) => alerts.push(alert));
      const feed = (messages: readonly SealedMessage[]) => messages.map((m) => outcome(collector.handle(m.topic, m.payload)));
      return { collector, alerts, feed };
    };
    const lines = (file: "summaries" | "health" | "alerts") => jsonLines(readFileSync(join(dir, `${file}.jsonl`), "utf8"));
    return { dir, make, lines };
  }

  it("counts a byte-identical copy as a duplicate, and a different message under a used counter as counter reuse, with one alert", async () => {
    const { make, lines } = setup();
    const { collector, alerts, feed } = make();
    const node = new TestNode(DEVICE);
    const sent = [node.summary(0), node.health(0), node.summary(1), node.health(1)];
    expect(feed(sent)).toEqual(["stored", "stored", "stored", "stored"]);
    expect(feed(sent)).toEqual(["duplicate", "duplicate", "duplicate", "duplicate"]);
    expect(alerts).toEqual([]);

    // The node's store was lost and it was provisioned again with the same key: counters 0, 1, ... again.
    const restarted = new TestNode(DEVICE);
    const resealed = [restarted.summary(10), restarted.health(10), restarted.summary(11)];
    expect(feed(resealed)).toEqual(["counter-reuse", "counter-reuse", "counter-reuse"]);
    expect(collector.stats.rejected).toMatchObject({ duplicate: 4, "counter-reuse": 3, replay: 0 });
    expect(collector.stats.accepted).toBe(4);
    expect(alerts).toHaveLength(1); // one per device and epoch; every message is counted
    expect(alerts[0]).toMatchObject({ kind: "counter-reuse", device: DEVICE, epoch: 0 });
    expect(alerts[0]!.detail).toMatch(/key of epoch 0 must be considered compromised/);
    expect(alerts[0]!.action).toContain(`npm run provision -- ${DEVICE} --new-key`);
    expect(collector.stats.alerts["counter-reuse"]).toBe(1);
    await collector.stop();
    expect(lines("summaries").map((l) => l.windowStart)).toEqual([T0 / 1000, T0 / 1000 + 300]); // nothing of the reused counters
    expect(lines("alerts")).toEqual([JSON.parse(JSON.stringify(alerts[0]))]);
  });

  it("tells the same apart after a restart, from the checkpoint and from the journal alone (a crash before any checkpoint)", async () => {
    const { make } = setup();
    const node = new TestNode(DEVICE);
    const sent = [node.summary(0), node.health(0), node.summary(1)];
    const first = make();
    expect(first.feed(sent)).toEqual(["stored", "stored", "stored"]);
    // No stop(): as after kill -9, nothing but the journal lines is on disk (the checkpoint is owed).
    const afterCrash = make();
    expect(afterCrash.collector.stats.store.replayedLines).toBe(3);
    expect(afterCrash.feed(sent)).toEqual(["duplicate", "duplicate", "duplicate"]);
    const restarted = new TestNode(DEVICE);
    expect(afterCrash.feed([restarted.summary(5)])).toEqual(["counter-reuse"]);
    await afterCrash.collector.stop();

    const afterStop = make();
    expect(afterStop.collector.stats.store.replayedLines).toBe(0); // the checkpoint of stop() covers the journal
    expect(afterStop.feed(sent)).toEqual(["duplicate", "duplicate", "duplicate"]);
    expect(afterStop.feed([restarted.health(5)])).toEqual(["counter-reuse"]);
    expect(afterStop.alerts.map((a) => a.kind)).toEqual(["counter-reuse"]);
    await afterStop.collector.stop();
  });

  it("below the replay window: an authentic message sealed later than the epoch's newest is counter reuse, an old one a replay", () => {
    const opener = new MessageOpener(keyringOf(DEVICE), { replayWindow: 64, now: () => T0 });
    const node = new TestNode(DEVICE);
    const sent: SealedMessage[] = [];
    for (let window = 0; window < 60; window++) sent.push(node.summary(window), node.health(window)); // counters 0..119
    for (const m of sent) expect(opener.open(m.topic, m.payload).ok).toBe(true);
    const cause = (m: SealedMessage) => {
      const r = opener.open(m.topic, m.payload);
      return r.ok ? "accepted" : r.cause;
    };
    expect(cause(sent[0]!)).toBe("replay"); // counter 0, 119 behind: too old to compare, and sealed long before
    const restarted = new TestNode(DEVICE);
    expect(cause(restarted.summary(70))).toBe("counter-reuse"); // counter 0 again, sealed after counter 119
    const forged = restarted.summary(71).payload.slice();
    forged[forged.length - 1]! ^= 1;
    expect(cause({ ...sent[0]!, payload: forged })).toBe("replay"); // not authentic: as any altered replay
  });

  it("keeps the tags of the newest two epochs only; older epochs fall back on the seal time", () => {
    const opener = new MessageOpener(keyringOf(DEVICE), { now: () => T0 });
    const node = new TestNode(DEVICE);
    const epoch0 = node.summary(0);
    node.rotate();
    const epoch1 = node.summary(1);
    node.rotate();
    const epoch2 = node.summary(2);
    for (const m of [epoch0, epoch1, epoch2]) expect(opener.open(m.topic, m.payload).ok).toBe(true);
    const state = opener.exportCounters();
    expect([...state.keys()].sort()).toEqual([`${DEVICE}/0`, `${DEVICE}/1`, `${DEVICE}/2`]);
    expect(state.get(`${DEVICE}/0`)!.tags).toBeUndefined();
    expect(state.get(`${DEVICE}/1`)!.tags).toHaveLength(16 + 128 * 16);
    expect(opener.open(epoch1.topic, epoch1.payload)).toMatchObject({ ok: false, cause: "duplicate" });
    expect(opener.open(epoch0.topic, epoch0.payload)).toMatchObject({ ok: false, cause: "replay" }); // no tag kept: a copy cannot be proved
  });

  it("keeps one summary per device and window start: the same values again are dropped, other values are a conflict", async () => {
    const { dir, make, lines } = setup();
    const { collector, alerts, feed } = make();
    const node = new TestNode(DEVICE);
    expect(feed([node.summary(0), node.summary(1)])).toEqual(["stored", "stored"]);
    // Sealed again with new counters (a restart that resumed its clock a little back).
    expect(feed([node.summary(1)])).toEqual(["window-duplicate"]);
    const conflicting = node.summary(0, 77);
    expect(feed([conflicting])).toEqual(["window-conflict"]);
    // Its QoS 1 copy is a duplicate of a message already judged: no second alert.
    expect(feed([conflicting])).toEqual(["duplicate"]);
    expect(collector.stats).toMatchObject({ summaries: 2, windowDuplicates: 1, windowConflicts: 1 });
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ kind: "window-conflict", device: DEVICE });
    expect(alerts[0]!.detail).toContain(new Date(T0).toISOString());
    expect(alerts[0]!.detail).toMatch(/counter 0; epoch 0 counter 3 carries other values/);
    await collector.stop();
    expect(lines("summaries").map((l) => [l.windowStart, l.counter])).toEqual([
      [T0 / 1000, 0],
      [T0 / 1000 + 300, 1],
    ]);
    expect(lines("alerts").map((l) => l.kind)).toEqual(["window-conflict"]);

    // The index comes back from the checkpoint...
    const restarted = make();
    expect(restarted.feed([node.summary(1), node.summary(0, 78)])).toEqual(["window-duplicate", "window-conflict"]);
    await restarted.collector.stop();
    // ...and, without one, from the journal.
    rmSync(join(dir, "collector.json"));
    const rebuilt = make();
    expect(rebuilt.collector.stats.store.replayedLines).toBe(2);
    expect(rebuilt.feed([node.summary(1), node.summary(0, 79), node.summary(2)])).toEqual(["window-duplicate", "window-conflict", "stored"]);
    await rebuilt.collector.stop();
    expect(lines("summaries")).toHaveLength(3);
  });

  it("bounds the window index per device, and counts a summary older than every window it holds", async () => {
    const { dir, make } = setup({ windowsPerDevice: 4 });
    const { collector, feed } = make();
    const node = new TestNode(DEVICE);
    expect(feed([0, 1, 2, 3, 4, 5].map((w) => node.summary(w)))).toEqual(Array(6).fill("stored"));
    expect(feed([node.summary(3)])).toEqual(["window-duplicate"]); // still held
    expect(feed([node.summary(0)])).toEqual(["stored"]); // forgotten: older than the 4 latest windows held
    expect(collector.stats.windowsUnchecked).toBe(1);
    await collector.stop();
    const saved = JSON.parse(readFileSync(join(dir, "collector.json"), "utf8")) as { windows: Record<string, unknown[]> };
    expect(saved.windows[DEVICE]).toHaveLength(4);
  });

  it("writes every alert it raises to alerts.jsonl and logs it at error level", async () => {
    const logged: Array<{ level: string; event: string; kind: unknown }> = [];
    const { make, lines } = setup({ log: (level, event, detail) => logged.push({ level, event, kind: detail?.kind }) });
    const { collector, feed } = make();
    const node = new TestNode(DEVICE);
    feed([node.summary(0), node.summary(0, 60), new TestNode(DEVICE).summary(9)]);
    await collector.stop();
    expect(lines("alerts").map((l) => [l.kind, l.device, typeof l.time, typeof l.detail, typeof l.action])).toEqual([
      ["window-conflict", DEVICE, "string", "string", "string"],
      ["counter-reuse", DEVICE, "string", "string", "string"],
    ]);
    expect(logged.filter((e) => e.event === "collector-alert")).toEqual([
      { level: "error", event: "collector-alert", kind: "window-conflict" },
      { level: "error", event: "collector-alert", kind: "counter-reuse" },
    ]);
  });
});
