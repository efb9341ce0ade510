/**
 * Rejection bursts in virtual time: a burst is raised once when it starts, per keyring device (its
 * summary and health topics together) or per other topic; QoS 1 copies are not refusals; a forger
 * who invents topics neither grows the memory nor hides a flood nor floods the alerts. Then a real
 * collector on a real broker (aedes over TCP) raises one burst for a flood on a node's topic,
 * records it, and none for a few stray refusals.
 */
import { connectAsync } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector } from "../../../hosts/collector/collector.js";
import type { CollectorDb } from "../../../hosts/collector/db/collector-db.js";
import { RejectionBursts } from "../../../hosts/collector/rejection-bursts.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../../hosts/node/embedded-broker.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { sleep, waitFor, waitForQuiet } from "../../support/wait-for.js";
import { keyringOf, T0, TestNode, ZONE } from "./sealed-messages.js";

const DEVICE = "lamp-7";
const MINUTE = 60_000;
const topic = (device: string, kind = "summary") => `civicnode/${ZONE}/${device}/${kind}`;
const isDevice = (device: string) => device === DEVICE || device === "lamp-8";

describe("rejection bursts, counted in virtual time", () => {
  it("raises a burst once, when the 20th refusal within 10 minutes comes, and counts the rest", () => {
    const bursts = new RejectionBursts(isDevice);
    let t = T0;
    const raised: Alert[] = [];
    const note = (cause: Parameters<RejectionBursts["note"]>[0], on = topic(DEVICE)) => {
      const alert = bursts.note(cause, on, t);
      if (alert) raised.push(alert);
    };
    // 19 refusals spread over 10 minutes, summary and health topics alike: not a burst.
    for (let i = 0; i < 19; i++, t += 30_000) note(i % 2 ? "authentication" : "replay", topic(DEVICE, i % 3 ? "summary" : "health"));
    expect(raised).toEqual([]);
    // QoS 1 copies are harmless: a thousand of them are no burst.
    for (let i = 0; i < 1000; i++) note("duplicate");
    expect(raised).toEqual([]);
    note("authentication"); // the 20th within 10 minutes (the first was 9.5 minutes ago)
    expect(raised).toHaveLength(1);
    expect(raised[0]).toMatchObject({ kind: "rejection-burst", device: DEVICE, time: new Date(t).toISOString() });
    expect(raised[0]!.detail).toBe(`20 messages on ${DEVICE}'s topics were refused within 10 min (authentication 10, replay 10); the rest of this burst is counted, not raised`);
    expect(raised[0]!.action).toMatch(/^someone other than the nodes publishes on these topics: check the broker's access rules/);
    // The flood goes on for an hour: still one alert.
    for (let i = 0; i < 3600; i++, t += 1000) note("authentication");
    expect(raised).toHaveLength(1);
    expect(bursts.stats).toEqual({ raised: 1, unraised: 0, untracked: 0 });
    // Quiet for a while, then a new flood: a new episode.
    t += 30 * MINUTE;
    note("replay");
    expect(raised).toHaveLength(1);
    for (let i = 0; i < 19; i++) note("replay");
    expect(raised).toHaveLength(2);
    expect(raised[1]!.detail).toContain("(replay 20)");
    expect(raised[1]!.action).toMatch(/^recorded messages are being published again/);
  });

  it("keeps a burst that dips below the threshold and comes back within the window as one episode", () => {
    const bursts = new RejectionBursts(isDevice, { threshold: 5, windowMs: MINUTE });
    let t = T0;
    let raised = 0;
    const note = () => {
      if (bursts.note("authentication", topic(DEVICE), t)) raised++;
    };
    for (let i = 0; i < 5; i++, t += 1000) note();
    expect(raised).toBe(1);
    t += 50_000; // the burst's rate dips: the next refusal is alone in its minute
    note();
    for (let i = 0; i < 5; i++, t += 1000) note(); // and it is back, 55 s after the alert
    expect(raised).toBe(1);
    t += 2 * MINUTE;
    for (let i = 0; i < 5; i++, t += 1000) note();
    expect(raised).toBe(2);
  });

  it("counts per keyring device, and per topic for anything else", () => {
    const bursts = new RejectionBursts(isDevice, { threshold: 3, windowMs: MINUTE });
    const raised: Alert[] = [];
    const note = (on: string, t: number) => {
      const alert = bursts.note("kid-mismatch", on, t);
      if (alert) raised.push(alert);
    };
    // Two refusals each on lamp-7 and lamp-8, two on each of two unknown devices' topics: no burst anywhere.
    for (const on of [topic(DEVICE), topic("lamp-8"), topic("ghost-1"), topic("ghost-2")]) for (const t of [T0, T0 + 1000]) note(on, t);
    expect(raised).toEqual([]);
    note(topic(DEVICE, "health"), T0 + 2000); // the third on lamp-7's topics, on its health topic
    note(topic("ghost-1", "health"), T0 + 2000); // another topic than ghost-1's two refusals
    expect(raised.map((a) => a.device)).toEqual([DEVICE]);
    note(topic("ghost-2"), T0 + 3000);
    expect(raised).toHaveLength(2);
    expect(raised[1]!.device).toBeUndefined();
    expect(raised[1]!.detail).toContain(`on topic "${topic("ghost-2")}"`);
  });

  it("tracks at most maxSources sources, gives stale places to new ones, and still sees a flood over invented topics", () => {
    const bursts = new RejectionBursts(isDevice, { threshold: 20, windowMs: 10 * MINUTE, maxSources: 64 });
    let t = T0;
    const raised: Alert[] = [];
    // A forger publishes once on each of 10,000 invented topics, 10 a second.
    for (let i = 0; i < 10_000; i++, t += 100) {
      const alert = bursts.note("unknown-device", topic(`ghost-${i}`), t);
      if (alert) raised.push(alert);
      expect(bursts.tracked).toBeLessThanOrEqual(65);
    }
    expect(raised).toHaveLength(1);
    expect(raised[0]!.detail).toMatch(/^20 messages on topics beyond those the collector tracks \(many topics at once\) were refused within 10 min \(unknown-device 20\)/);
    // The first 64 topics were tracked; 10 minutes on they were stale and gave their places to 64 more.
    expect(bursts.stats.untracked).toBe(10_000 - 2 * 64);
    // Later, once the forger's topics are stale, a real device's burst gets a place of its own.
    t += 11 * MINUTE;
    for (let i = 0; i < 20; i++, t += 1000) {
      const alert = bursts.note("authentication", topic(DEVICE), t);
      if (alert) raised.push(alert);
    }
    expect(raised.map((a) => a.device)).toEqual([undefined, DEVICE]);
  });

  it("raises at most maxAlerts bursts per window over all sources, and says how many it did not", () => {
    const bursts = new RejectionBursts(() => false, { threshold: 2, windowMs: MINUTE, maxAlerts: 3 });
    const raised: Alert[] = [];
    for (let i = 0; i < 10; i++) {
      for (const t of [T0 + i * 1000, T0 + i * 1000 + 10]) {
        const alert = bursts.note("authentication", topic(`ghost-${i}`), t);
        if (alert) raised.push(alert);
      }
    }
    expect(raised).toHaveLength(3);
    expect(bursts.stats).toMatchObject({ raised: 3, unraised: 7 });
    const later = T0 + 2 * MINUTE;
    bursts.note("authentication", topic("ghost-x"), later);
    const next = bursts.note("authentication", topic("ghost-x"), later + 10);
    expect(next!.detail).toMatch(/; 7 burst\(s\) elsewhere since the last such alert were not raised/);
  });

  it("refuses settings out of range, naming them", () => {
    expect(() => new RejectionBursts(isDevice, { threshold: 1 })).toThrow(/rejectionBurst\.threshold must be an integer from 2 to 1000/);
    expect(() => new RejectionBursts(isDevice, { windowMs: 10 })).toThrow(/rejectionBurst\.windowMs/);
    expect(() => new RejectionBursts(isDevice, { maxSources: 0 })).toThrow(/rejectionBurst\.maxSources/);
  });
});

/** The alerts the database holds, once it holds `count` (an alert raised outside a batch is recorded just after). */
async function recorded(db: CollectorDb, count: number): Promise<Alert[]> {
  for (let tries = 0; tries < 500; tries++) {
    const { items } = await db.alerts({ limit: 100 });
    if (items.length >= count) return [...items];
    await sleep(10);
  }
  throw new Error(`the database holds fewer than ${count} alerts`);
}

describe("a rejection burst at a real collector on a real broker", () => {
  let broker: EmbeddedBroker | undefined;
  let collector: Collector | undefined;
  afterEach(async () => {
    await collector?.stop();
    await broker?.close();
  });

  it("raises one burst for a flood of forgeries on a node's topic, records it, and none for a few stray refusals", async () => {
    broker = await startEmbeddedBroker();
    const db = await testCollectorDb();
    const alerts: Alert[] = [];
    collector = new Collector({ brokerUrl: broker.url, keyring: keyringOf(DEVICE), db, clientId: "burst-collector" });
    collector.onAlert((alert) => alerts.push(alert));
    await collector.start();
    const forger = await connectAsync(broker.url, { clientId: "forger" });
    try {
      // A node's genuine summary, and a few stray refusals: a copy of it, two garbage messages.
      const node = new TestNode(DEVICE);
      const genuine = node.summary(0);
      for (const payload of [genuine.payload, genuine.payload, Buffer.from("garbage"), Buffer.from("more garbage")]) await forger.publishAsync(genuine.topic, Buffer.from(payload), { qos: 1 });
      await waitFor(() => collector!.stats.accepted + collector!.rejectedTotal === 4, "the first four messages", 20_000);
      expect(collector.stats.rejected).toMatchObject({ duplicate: 1, malformed: 2 });
      expect(alerts).toEqual([]);

      // A flood: 60 altered copies of a genuine health report on the node's health topic.
      const health = node.health(0).payload;
      for (let i = 0; i < 60; i++) {
        const altered = health.slice();
        altered[altered.length - 1 - (i % 16)]! ^= 1 + (i >> 4);
        await forger.publishAsync(topic(DEVICE, "health"), Buffer.from(altered), { qos: 1 });
      }
      await waitFor(() => collector!.rejectedTotal === 63, "the flood's refusals", 20_000);
      await waitForQuiet(() => alerts.length, "the alerts");
      expect(alerts.map((a) => [a.kind, a.device])).toEqual([["rejection-burst", DEVICE]]);
      expect(alerts[0]!.detail).toMatch(/^20 messages on lamp-7's topics were refused within 10 min \((authentication|malformed) \d+/);
      expect(collector.stats.alerts["rejection-burst"]).toBe(1);
      expect(await recorded(db, 1)).toEqual(alerts);
    } finally {
      await forger.endAsync();
    }
  });
});
