/**
 * The collector on a real disk that fills up or turns read-only (a small tmpfs): every failed write
 * is caught, logged once per episode with its code, counted and alerted; nothing half-written stays;
 * nothing unstored is acknowledged, so that through a real broker every message arrives once the
 * disk takes writes again.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector, type CollectorOptions, type HandleResult } from "../../../hosts/collector/collector.js";
import type { LogDetail, LogLevel } from "../../../src/platform.js";
import { cleanups, peerClient, runCleanups, startBroker } from "../../support/mqtt-test-brokers.js";
import { waitFor, waitForQuiet } from "../../support/wait-for.js";
import { counterOf, jsonLines, keyringOf, street, TestNode } from "./sealed-messages.js";
import { canMountTmpfs, mountSmallTmpfs, TMPFS_REQUIRED, type SmallTmpfs } from "../../support/small-tmpfs.js";

const DEVICES = ["lamp-7", "lamp-8"];
const available = TMPFS_REQUIRED || canMountTmpfs();
if (!available) console.warn("cannot mount a tmpfs (needs root): skipping the full-disk and read-only tests (CI runs them)");
const outcome = (result: HandleResult) => (result.ok ? "stored" : result.cause);

describe.runIf(available)("the collector on a disk that fills up or turns read-only (tmpfs)", () => {
  afterEach(runCleanups);

  function disk(bytes = 256 * 1024): SmallTmpfs {
    const tmpfs = mountSmallTmpfs(bytes);
    cleanups.push(() => tmpfs.unmount());
    return tmpfs;
  }

  function collector(dir: string, extra: Partial<CollectorOptions> = {}) {
    const logs: Array<{ level: LogLevel; event: string; detail: LogDetail | undefined }> = [];
    const alerts: Alert[] = [];
    const collector = new Collector({
      brokerUrl: "mqtt://127.0.0.1:1",
      keyring: keyringOf(...DEVICES),
      outputFile: join(dir, "summaries.jsonl"),
      healthFile: join(dir, "health.jsonl"),
      stateFile: join(dir, "collector.json"),
      checkpointMs: Infinity,
      log: (level, event, detail) => logs.push({ level, event, detail }),
      ...extra,
    });
    collector.onAlert((alert) => alerts.push(alert));
    return { collector, logs, alerts };
  }

  const read = (dir: string, file: string) => readFileSync(join(dir, file), "utf8");
  const temporaries = (dir: string) => readdirSync(dir).filter((name) => name.includes(".tmp-"));

  it("meets ENOSPC mid-line: cuts it back, acknowledges nothing, logs once, and stores it once there is room", async () => {
    const tmpfs = disk();
    const { collector: c, logs, alerts } = collector(tmpfs.dir);
    const messages = street(DEVICES.map((d) => new TestNode(d)), 0, 40);
    // Store until the last page of summaries.jsonl has room for part of a summary line only, so
    // that the next one is cut off mid-write when the disk is full (tmpfs allocates whole pages).
    const summaryBytes = () => Buffer.byteLength(read(tmpfs.dir, "summaries.jsonl"));
    let next = 0;
    for (;;) {
      const m = messages[next]!;
      const lines = next > 0 ? read(tmpfs.dir, "summaries.jsonl").split("\n") : [];
      const lineBytes = lines.length > 1 ? Buffer.byteLength(lines[lines.length - 2]!) + 1 : Infinity;
      if (next > 0 && m.topic.endsWith("/summary") && 4096 - (summaryBytes() % 4096) < lineBytes - 8) break;
      expect(outcome(c.handle(m.topic, m.payload))).toBe("stored");
      next++;
    }
    const before = { summaries: read(tmpfs.dir, "summaries.jsonl"), health: read(tmpfs.dir, "health.jsonl") };
    tmpfs.fill();

    for (let attempt = 0; attempt < 3; attempt++) expect(outcome(c.handle(messages[next]!.topic, messages[next]!.payload))).toBe("store-failed");
    expect(read(tmpfs.dir, "summaries.jsonl")).toBe(before.summaries); // no half line
    expect(c.stats.store).toMatchObject({ failing: true, failures: 3, lastCause: "ENOSPC", lastFile: join(tmpfs.dir, "summaries.jsonl") });
    expect(logs.filter((e) => e.event === "collector-store-failed")).toEqual([
      { level: "error", event: "collector-store-failed", detail: expect.objectContaining({ file: join(tmpfs.dir, "summaries.jsonl"), code: "ENOSPC" }) },
    ]);
    expect(alerts.map((a) => a.kind)).toEqual(["store-failed"]);
    expect(alerts[0]!.detail).toContain("ENOSPC");

    // A checkpoint on the full disk fails too, and leaves the old checkpoint and no temporary.
    const checkpoint = read(tmpfs.dir, "collector.json");
    await c.stop();
    expect(read(tmpfs.dir, "collector.json")).toBe(checkpoint);
    expect(temporaries(tmpfs.dir)).toEqual([]);
    expect(logs.filter((e) => e.event === "collector-store-failed").map((e) => e.detail?.file)).toEqual([join(tmpfs.dir, "summaries.jsonl"), join(tmpfs.dir, "collector.json")]);

    tmpfs.free();
    expect(messages.slice(next).map((m) => outcome(c.handle(m.topic, m.payload)))).toEqual(Array(messages.length - next).fill("stored"));
    expect(c.stats.store.failing).toBe(true); // the checkpoint's own episode ends with the next checkpoint
    await c.stop();
    expect(c.stats.store).toMatchObject({ failing: false, recoveries: 2 });
    expect(alerts.map((a) => a.kind)).toEqual(["store-failed", "store-failed", "store-recovered", "store-recovered"]);
    expect(logs.filter((e) => e.event === "collector-store-recovered")).toHaveLength(2);
    const stored = jsonLines(read(tmpfs.dir, "summaries.jsonl")).concat(jsonLines(read(tmpfs.dir, "health.jsonl"))).map(counterOf);
    expect(stored).toHaveLength(messages.length);
    expect(new Set(stored).size).toBe(messages.length);
  });

  it("meets EROFS at an append and at start on a read-only folder, without crashing, and carries on once writable", async () => {
    const tmpfs = disk();
    const messages = street(DEVICES.map((d) => new TestNode(d)), 0, 2);
    const { collector: first } = collector(tmpfs.dir);
    expect(outcome(first.handle(messages[0]!.topic, messages[0]!.payload))).toBe("stored");
    await first.stop();
    tmpfs.readOnly();

    const { collector: c, logs, alerts } = collector(tmpfs.dir); // starts on a read-only folder
    expect(outcome(c.handle(messages[0]!.topic, messages[0]!.payload))).toBe("duplicate"); // nothing to write
    expect(outcome(c.handle(messages[1]!.topic, messages[1]!.payload))).toBe("store-failed");
    expect(c.stats.store.lastCause).toBe("EROFS");
    expect(logs.filter((e) => e.event === "collector-store-failed").map((e) => e.detail?.code)).toEqual(["EROFS"]);
    await c.stop(); // its checkpoint fails too, and is logged
    expect(temporaries(tmpfs.dir)).toEqual([]);

    tmpfs.readWrite();
    expect(messages.slice(1).map((m) => outcome(c.handle(m.topic, m.payload)))).toEqual(["stored", "stored", "stored", "stored", "stored", "stored", "stored"]);
    await c.stop();
    expect(c.stats.store.failing).toBe(false);
    expect(alerts.filter((a) => a.kind === "store-recovered").length).toBeGreaterThanOrEqual(1);
    expect(jsonLines(read(tmpfs.dir, "summaries.jsonl")).length + jsonLines(read(tmpfs.dir, "health.jsonl")).length).toBe(messages.length);
  });

  it("through a real broker: stops consuming while the disk is full, and gets every message once there is room", async () => {
    const tmpfs = disk();
    const broker = await startBroker();
    const { collector: c, alerts } = collector(tmpfs.dir, { brokerUrl: `mqtt://127.0.0.1:${broker.port}`, storeRetryMs: { first: 50, max: 400 } });
    cleanups.push(() => c.stop());
    await c.start();
    const messages = street(DEVICES.map((d) => new TestNode(d)), 0, 16); // enough to outgrow the last pages of the logs
    const publisher = await peerClient(broker.port);
    for (const m of messages.slice(0, 4)) await publisher.publishAsync(m.topic, Buffer.from(m.payload), { qos: 1 });
    await waitFor(() => c.stats.accepted === 4, "the first messages", 10_000);

    tmpfs.fill();
    for (const m of messages.slice(4)) await publisher.publishAsync(m.topic, Buffer.from(m.payload), { qos: 1 });
    await waitFor(() => c.stats.store.failures >= 3, "retries against the full disk", 10_000);
    const storedWhileFull = c.stats.accepted;
    expect(storedWhileFull).toBeLessThan(messages.length);
    await waitFor(() => c.stats.store.failures >= 6, "more retries", 10_000);
    expect(c.stats.accepted).toBe(storedWhileFull); // nothing more gets in, and nothing is acknowledged
    expect(c.stats.store.lastCause).toBe("ENOSPC");

    tmpfs.free();
    await waitFor(() => c.stats.accepted === messages.length, "every message once the disk has room", 15_000);
    await waitForQuiet(() => c.stats.accepted + c.rejectedTotal, "late copies");
    expect(c.stats.accepted).toBe(messages.length);
    expect(c.stats.store.failing).toBe(false);
    expect(alerts.map((a) => a.kind)).toEqual(["store-failed", "store-recovered"]);
    const stored = jsonLines(read(tmpfs.dir, "summaries.jsonl")).concat(jsonLines(read(tmpfs.dir, "health.jsonl"))).map(counterOf);
    expect(new Set(stored).size).toBe(messages.length);
    expect(stored).toHaveLength(messages.length);
  });
});
