/**
 * The collector's files survive a power cut, and a failing disk, at every write it makes. A street
 * of two nodes (summaries and health reports, a QoS 1 copy, a window sealed again unchanged, a window
 * sealed again with other values) goes through a collector whose file operations fail or cut the
 * power at write n, for every n the sequence makes. After a cut a fresh collector starts on the same
 * files and gets what the broker still holds (everything not acknowledged) plus copies of the last
 * acknowledged messages: every message is stored exactly once, no line is torn, no temporary stays.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Collector, type CollectorOptions, type HandleResult } from "../../../hosts/collector/collector.js";
import { FaultyFileOps, type Fault } from "./faulty-file-ops.js";
import { counterOf, jsonLines, keyringOf, street, TestNode, type SealedMessage } from "./sealed-messages.js";

const DEVICES = ["lamp-7", "lamp-8"];

/** The sequence the street sends, sealed once for all runs. */
function sequence(): SealedMessage[] {
  const [seven, eight] = DEVICES.map((device) => new TestNode(device));
  const first = street([seven!, eight!], 0, 2);
  return [
    ...first,
    first[1]!, // a QoS 1 copy of lamp-7's first health report
    seven!.summary(1), // window 1 sealed again, same values, next counter
    ...street([seven!, eight!], 2, 4),
    eight!.summary(2, 99), // window 2 sealed again with other values
  ];
}

const SEQUENCE = sequence();
const stored = (result: HandleResult) => result.ok || result.cause !== "store-failed";

describe("the collector's files under power cuts and disk failures at every write", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function files(dir: string) {
    return {
      outputFile: join(dir, "summaries.jsonl"),
      healthFile: join(dir, "health.jsonl"),
      stateFile: join(dir, "collector.json"),
      alertsFile: join(dir, "alerts.jsonl"),
    };
  }

  function collector(dir: string, extra: Partial<CollectorOptions> = {}): Collector {
    return new Collector({
      brokerUrl: "mqtt://127.0.0.1:1",
      keyring: keyringOf(...DEVICES),
      ...files(dir),
      checkpointLines: 3, // checkpoints between the appends, so cuts land in them too
      checkpointMs: Infinity, // no timer: every write happens at a known point of the sequence
      ...extra,
    });
  }

  function freshDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "civicnode-crash-"));
    dirs.push(dir);
    return dir;
  }

  /** The counters stored without faults: the expectation of every faulty run, and its number of writes. */
  function reference(): { summaries: string[]; health: string[]; writes: number } {
    const dir = freshDir();
    const ops = new FaultyFileOps();
    const clean = collector(dir, { fileOps: ops });
    for (const message of SEQUENCE) expect(stored(clean.handle(message.topic, message.payload))).toBe(true);
    const writes = ops.writes;
    const read = readStored(dir);
    expect(read.summaries).toHaveLength(8); // 2 nodes x 4 windows: the copy and the windows sealed again are not stored
    expect(read.health).toHaveLength(8);
    expect(clean.stats.rejected.duplicate).toBe(1);
    expect(clean.stats.windowDuplicates).toBe(1);
    expect(clean.stats.windowConflicts).toBe(1);
    return { ...read, writes };
  }

  function readStored(dir: string): { summaries: string[]; health: string[] } {
    const { outputFile, healthFile, alertsFile } = files(dir);
    const read = (file: string) => jsonLines(readFileSync(file, "utf8")).map(counterOf);
    jsonLines(readFileSync(alertsFile, "utf8")); // whole lines only
    return { summaries: read(outputFile), health: read(healthFile) };
  }

  function expectExactlyOnce(dir: string, expected: { summaries: string[]; health: string[] }): void {
    const got = readStored(dir);
    expect([...got.summaries].sort()).toEqual([...expected.summaries].sort());
    expect([...got.health].sort()).toEqual([...expected.health].sort());
    expect(readdirSync(dir).filter((name) => name.includes(".tmp-"))).toEqual([]);
  }

  /** A later start on the same files takes none of the sequence again. */
  async function expectNothingTwice(dir: string, expected: { summaries: string[]; health: string[] }): Promise<void> {
    const again = collector(dir);
    for (const message of SEQUENCE) expect(again.handle(message.topic, message.payload).ok).toBe(false);
    expect(again.stats.accepted).toBe(0);
    await again.stop();
    expectExactlyOnce(dir, expected);
  }

  it("stores every message exactly once after a power cut at any write, restarted on the files", async () => {
    const expected = reference();
    expect(expected.writes).toBeGreaterThan(40);
    let tornRuns = 0;
    for (let at = 0; at <= expected.writes; at++) {
      const dir = freshDir();
      const ops = new FaultyFileOps({ kind: "cut", at });
      const dying = collector(dir, { fileOps: ops });
      let acknowledged = 0;
      for (const message of SEQUENCE) {
        if (!stored(dying.handle(message.topic, message.payload))) break;
        acknowledged++;
      }
      expect(ops.tripped).toBe(at < expected.writes);
      ops.tear(); // the power is gone: no stop(), unsynced bytes half lost
      const { outputFile, healthFile, alertsFile } = files(dir);
      const torn = [outputFile, healthFile, alertsFile].filter((file) => existsSync(file) && !/(^|\n)$/.test(readFileSync(file, "utf8"))).length;

      const restarted = collector(dir);
      const alerts: string[] = [];
      restarted.onAlert((alert) => alerts.push(alert.kind));
      expect(restarted.stats.store.tornLines).toBe(torn);
      expect(alerts.filter((kind) => kind === "torn-line")).toHaveLength(torn);
      if (torn > 0) tornRuns++;
      // The broker delivers what was not acknowledged; a node's resends may repeat what was.
      const redelivered = [...SEQUENCE.slice(Math.max(0, acknowledged - 2), acknowledged), ...SEQUENCE.slice(acknowledged)];
      for (const message of redelivered) expect(stored(restarted.handle(message.topic, message.payload)), `cut at write ${at}`).toBe(true);
      expect(restarted.stats.store.failures).toBe(0);
      await restarted.stop();
      expectExactlyOnce(dir, expected);
      if (at % 7 === 0) await expectNothingTwice(dir, expected);
    }
    expect(tornRuns).toBeGreaterThan(10); // cuts mid-line happened, and were cut off
  });

  it("stores every message exactly once when a write fails with ENOSPC at any index, and keeps running", async () => {
    const expected = reference();
    for (let at = 0; at <= expected.writes; at++) {
      const dir = freshDir();
      const ops = new FaultyFileOps({ kind: "fail", at, code: "ENOSPC" });
      const alerts: string[] = [];
      const running = collector(dir, { fileOps: ops });
      running.onAlert((alert) => alerts.push(alert.kind));
      for (const message of SEQUENCE) {
        // Not stored: not acknowledged, so the broker delivers it again (once the disk has room).
        let attempts = 0;
        while (!stored(running.handle(message.topic, message.payload))) expect(++attempts, `write ${at}`).toBeLessThan(3);
      }
      // Every failure so far has been followed by a write that succeeded.
      expect(running.stats.store.failing, `write ${at}: ${JSON.stringify(running.stats.store)}`).toBe(false);
      const failures = running.stats.store.failures;
      expect(failures).toBeLessThanOrEqual(1); // a failed fsync of the folder is not a failed write
      if (failures === 1) expect(running.stats.store.lastCause).toBe("ENOSPC");
      expect(alerts.filter((kind) => kind === "store-failed")).toHaveLength(failures);
      expect(alerts.filter((kind) => kind === "store-recovered")).toHaveLength(failures);
      expect(alerts.filter((kind) => kind === "window-conflict")).toEqual(["window-conflict"]);
      // At the last index it is the checkpoint of stop() that fails: the journal holds it all.
      await running.stop();
      expect(running.stats.store.failures).toBe(at === expected.writes ? 1 : failures);
      expectExactlyOnce(dir, expected);
      if (at % 7 === 0) await expectNothingTwice(dir, expected);
    }
  });
});
