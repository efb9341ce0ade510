/**
 * Silent nodes, in virtual time at a real collector and database: a node that misses more than two
 * of its windows is raised once as node-silent and once as node-back when it reports again, by
 * whichever instance of a group (or restarted collector) looks first, never again by the others; a
 * node that never reported is not raised; a failing database is logged, not thrown; the watch runs
 * on the collector's timer once started on a real broker, and the API serves what it raised.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { startApi } from "../../../hosts/collector/api/api-server.js";
import { Collector, type CollectorOptions } from "../../../hosts/collector/collector.js";
import type { CollectorDb } from "../../../hosts/collector/db/collector-db.js";
import { CollectorDbError } from "../../../hosts/collector/db/db-errors.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { waitFor } from "../../support/wait-for.js";
import { keyringOf, T0, TestNode, WINDOW_S, type SealedMessage } from "./sealed-messages.js";

const DEVICES = ["lamp-1", "lamp-2", "lamp-9"]; // lamp-9 is provisioned, never installed
const WINDOW_MS = WINDOW_S * 1000;
/** The end of window `n` (TestNode's windows start at T0). */
const endOf = (n: number) => T0 + (n + 1) * WINDOW_MS;

describe("silent nodes", () => {
  const clock = { nowMs: T0 };
  afterEach(() => {
    clock.nowMs = T0;
  });

  async function instance(db: CollectorDb, more: Partial<CollectorOptions> = {}) {
    const alerts: Alert[] = [];
    const logged: string[] = [];
    const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(...DEVICES), db, now: () => clock.nowMs, log: (_level, event) => logged.push(event), ...more });
    collector.onAlert((alert) => alerts.push(alert));
    await collector.prepare();
    const feed = async (messages: readonly SealedMessage[]) => {
      for (const m of messages) {
        const result = await collector.handle(m.topic, m.payload);
        if (!result.ok) throw new Error(`${m.label}: ${result.cause}`);
      }
    };
    return { collector, alerts, logged, feed };
  }

  it("raises node-silent once past two windows and node-back once it reports, whichever instance looks", async () => {
    const db = await testCollectorDb();
    const a = await instance(db);
    const lamp1 = new TestNode("lamp-1");
    const lamp2 = new TestNode("lamp-2");
    for (let n = 0; n < 4; n++) {
      clock.nowMs = endOf(n) + 5000;
      await a.feed([lamp1.summary(n), lamp2.summary(n), lamp1.health(n)]);
    }
    expect(await a.collector.watchNow()).toEqual([]);
    // lamp-2 falls silent after window 3; lamp-1 goes on.
    clock.nowMs = endOf(4) + 5000;
    await a.feed([lamp1.summary(4)]);
    expect(await a.collector.watchNow()).toEqual([]); // late by one window: not yet
    clock.nowMs = endOf(5) + 1000;
    await a.feed([lamp1.summary(5)]);
    const silent = await a.collector.watchNow();
    expect(silent.map((x) => [x.kind, x.device])).toEqual([["node-silent", "lamp-2"]]);
    expect(silent[0]!.detail).toBe(`lamp-2 has sent no summary since its window of ${new Date(endOf(2)).toISOString()} (300 s), which ended 10 min ago: more than two of its windows`);
    expect(silent[0]!.action).toContain("GET /api/nodes/lamp-2/health");
    expect(a.alerts).toEqual(silent);

    // Once per episode: not again here, nor by another instance (or a restarted collector).
    expect(await a.collector.watchNow()).toEqual([]);
    await recorded(db, 1);
    const b = await instance(db);
    expect(await b.collector.watchNow()).toEqual([]);
    // lamp-1 stops too: raised by whichever looks first.
    clock.nowMs = endOf(5) + 2 * WINDOW_MS + 1000;
    expect((await a.collector.watchNow()).map((x) => `${x.kind} ${x.device}`)).toEqual(["node-silent lamp-1"]);
    await recorded(db, 2);
    expect(await b.collector.watchNow()).toEqual([]);

    // lamp-2 is back, its outbox flushed: the other instance stores it and says so, once.
    clock.nowMs = endOf(16) + 5000;
    await b.feed([lamp2.summary(14), lamp2.summary(15), lamp2.summary(16)]);
    const back = await b.collector.watchNow();
    expect(back.map((x) => [x.kind, x.device])).toEqual([["node-back", "lamp-2"]]);
    expect(back[0]!.detail).toMatch(new RegExp(`^lamp-2 reports again: its newest window starts at ${new Date(endOf(15)).toISOString()} \\(raised silent at `));
    await recorded(db, 3);
    expect(await a.collector.watchNow()).toEqual([]);
    const kinds = (await db.alerts({ limit: 100 })).items.map((x) => `${x.kind} ${x.device}`);
    expect(kinds).toEqual(["node-silent lamp-2", "node-silent lamp-1", "node-back lamp-2"]); // lamp-9 never reported: not raised

    // Silent again, later: a new episode.
    clock.nowMs = endOf(16) + 2 * WINDOW_MS + 1000;
    expect((await b.collector.watchNow()).map((x) => `${x.kind} ${x.device}`)).toEqual(["node-silent lamp-2"]);

    // The API serves them (staff).
    const dir = mkdtempSync(join(tmpdir(), "civicnode-silent-api-"));
    const api = await startApi({ db, keyring: keyringOf(...DEVICES), disclosures: a.collector.disclosures, host: "127.0.0.1", port: 0, tokenFile: join(dir, "api-token"), log: () => {} });
    try {
      await recorded(db, 4);
      const token = readFileSync(join(dir, "api-token"), "utf8").trim();
      const response = await fetch(`${api.url}/api/alerts?limit=100`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { alerts: Alert[] };
      expect(body.alerts.map((x) => x.kind)).toEqual(["node-silent", "node-silent", "node-back", "node-silent"]);
      expect(body.alerts[2]).toEqual(back[0]);
    } finally {
      await api.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("records every node of a street-wide outage, more than the alerts kept while the database refuses", async () => {
    const db = await testCollectorDb();
    const devices = Array.from({ length: 150 }, (_, i) => `pole-${i}`);
    const collector = new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(...devices), db, now: () => clock.nowMs });
    clock.nowMs = endOf(0);
    await collector.handleBatch(devices.map((device) => new TestNode(device).summary(0)));
    clock.nowMs = endOf(0) + 3 * WINDOW_MS;
    expect(await collector.watchNow()).toHaveLength(150);
    expect((await db.alerts({ limit: 1000 })).items.map((a) => a.device).sort()).toEqual([...devices].sort());
  });

  it("logs a database that fails the watch once, and looks again at the next run", async () => {
    const db = await testCollectorDb();
    let failing = false;
    const flaky = new Proxy(db, {
      get(target, property) {
        if (property === "listDevices" && failing) return () => Promise.reject(new CollectorDbError("unavailable", "the server went away"));
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { collector, feed, logged } = await instance(flaky);
    const node = new TestNode("lamp-1");
    clock.nowMs = endOf(0);
    await feed([node.summary(0)]);
    clock.nowMs = endOf(0) + 3 * WINDOW_MS;
    failing = true;
    expect(await collector.watchNow()).toEqual([]);
    expect(await collector.watchNow()).toEqual([]);
    expect(logged.filter((e) => e.startsWith("collector-watch"))).toEqual(["collector-watch-failed"]);
    failing = false;
    expect((await collector.watchNow()).map((x) => x.kind)).toEqual(["node-silent"]);
    expect(logged.filter((e) => e.startsWith("collector-watch"))).toEqual(["collector-watch-failed", "collector-watch-recovered"]);
  });

  describe("on the collector's timer, on a real broker", () => {
    let broker: EmbeddedBroker | undefined;
    let collector: Collector | undefined;
    afterEach(async () => {
      await collector?.stop();
      await broker?.close();
    });

    it("runs the watch every watchEveryMs once started", async () => {
      const db = await testCollectorDb();
      const seeded = await instance(db);
      const node = new TestNode("lamp-1");
      clock.nowMs = endOf(0);
      await seeded.feed([node.summary(0)]);
      broker = await startEmbeddedBroker();
      collector = new Collector({ brokerUrl: broker.url, keyring: keyringOf(...DEVICES), db, now: () => clock.nowMs, clientId: "silent-timer", watchEveryMs: 20 });
      const alerts: Alert[] = [];
      collector.onAlert((alert) => alerts.push(alert));
      await collector.start();
      clock.nowMs = endOf(0) + 3 * WINDOW_MS;
      await waitFor(() => alerts.length > 0, "the timed watch's alert", 20_000);
      expect(alerts.map((x) => [x.kind, x.device])).toEqual([["node-silent", "lamp-1"]]);
    });
  });
});

/** The alerts the database holds, once it holds `count` (an alert raised outside a batch is recorded just after). */
async function recorded(db: CollectorDb, count: number): Promise<Alert[]> {
  for (let tries = 0; tries < 500; tries++) {
    const { items } = await db.alerts({ limit: 100 });
    if (items.length >= count) return [...items];
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the database holds fewer than ${count} alerts`);
}
