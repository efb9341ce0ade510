/**
 * Nothing lost while the collector is away (issue 12): a street of simulated nodes on a real
 * Mosquitto (persistence on) and the built collector as a process, its connection to the broker
 * through a gate the test can shut.
 *
 * 1. The collector is stopped for several windows, then started again: the broker kept what the
 *    nodes published meanwhile in the collector's persistent session (QoS 1) and delivers it.
 * 2. The broker restarts while the collector's way back to it is shut: the nodes reconnect and
 *    flush their outboxes to the broker first, and the broker acknowledges them, before the
 *    collector has connected and subscribed again. The collector's session and subscription must
 *    have survived the restart for those messages to reach it.
 *
 * Both on the embedded default (SQLite, one collector, no group: MQTT 3.1.1) and on PostgreSQL with
 * a group (MQTT 5 shared subscription) of one member.
 */
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto } from "../../support/mosquitto.js";
import { cleanups, runCleanups } from "../../support/mqtt-test-brokers.js";
import { freshDatabase, POSTGRES_AVAILABLE, POSTGRES_REQUIRED, releasePostgres, sharedPostgres } from "../../support/postgres.js";
import { waitFor } from "../../support/wait-for.js";
import { collectorProcess, stateFolderWith } from "./collector-process.js";
import { startConnectionGate } from "./connection-gate.js";
import { RecordedStreet } from "./recorded-street.js";
import { compareSealedWithStored, openStoredRows, storedTwice, waitForEverySealed } from "./stored-rows.js";

const mosquittoAvailable = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
const postgresAvailable = POSTGRES_AVAILABLE || POSTGRES_REQUIRED;
if (!mosquittoAvailable) console.warn("mosquitto is not installed: skipping the collector outage tests (CI runs them)");
else if (!postgresAvailable) console.warn("PostgreSQL is not installed: skipping the collector outage test on PostgreSQL (CI runs it)");

const ZONE = "market";
const DEVICES = ["stall-1", "stall-2", "stall-3"];
const SPEED = 1800;
/** Simulated hours: when the collector stops, how long it stays away (nine 5-minute windows), how long the nodes have the restarted broker to themselves, how long the run goes on after. */
const PLAN = { stop: 0.3, away: 0.75, nodesAlone: 0.2, after: 0.4 };
const WINDOW_HOURS = 300 / 3600;
const DRAIN_MS = 60_000;

afterEach(runCleanups);
afterAll(releasePostgres);

const ENGINES = [
  { name: "SQLite, one collector without a group (MQTT 3.1.1)", available: mosquittoAvailable, database: async () => undefined, group: undefined },
  {
    name: "PostgreSQL, a group of one (MQTT 5 shared subscription)",
    available: mosquittoAvailable && postgresAvailable,
    database: async () => {
      const database = await freshDatabase((await sharedPostgres()).url);
      cleanups.push(() => database.drop());
      return database.url;
    },
    group: "city",
  },
];

for (const engine of ENGINES) {
  describe.runIf(engine.available)(`the collector away, then back: ${engine.name}`, () => {
    it("gets what was published while it was stopped for several windows, and after a broker restart the nodes were first to reconnect to", { timeout: 240_000 }, async () => {
      const db = await engine.database();
      const broker = await startMosquitto({ persistence: true, maxQueuedMessages: 10_000 });
      cleanups.push(() => broker.stop());
      const gate = await startConnectionGate(broker.port);
      cleanups.push(() => gate.close());
      const street = new RecordedStreet({ brokerUrl: broker.url, devices: DEVICES, zone: ZONE, speed: SPEED, seed: "collector-outage" });
      cleanups.push(() => street.close());
      const stateDir = stateFolderWith(street.keyring);
      const collector = collectorProcess({ brokerUrl: gate.url, stateDir, clientId: "outage-collector", db, group: engine.group });
      await collector.start();
      const rows = await openStoredRows(db ?? join(stateDir, "collector.db"));
      cleanups.push(() => rows.close());

      street.start();
      street.mark("street started");
      await street.reach(PLAN.stop);
      expect(await collector.stop()).toBe(0);
      street.mark("collector stopped");
      const sealedBeforeStop = street.sealed.size;
      await street.reach(street.hours + PLAN.away);
      // The nodes went on publishing, and the broker took it all (their outboxes hold nothing).
      await street.drained(DRAIN_MS);
      const sealedWhileAway = street.sealed.size - sealedBeforeStop;
      expect(sealedWhileAway).toBeGreaterThanOrEqual(DEVICES.length * Math.floor(PLAN.away / WINDOW_HOURS - 1));
      await collector.start();
      street.mark("collector subscribed again");

      await street.reach(street.hours + PLAN.after);
      const subscriptions = collector.subscriptions;
      const sealedAtRestart = street.sealed.size;
      gate.shut();
      street.mark("collector's way to the broker shut");
      await broker.restart();
      street.mark("broker back");
      // The nodes reconnect and flush what they sealed meanwhile; the broker acknowledges it.
      await street.reach(street.hours + PLAN.nodesAlone);
      await waitFor(() => street.allConnected, "every node to reconnect", DRAIN_MS, 20);
      await street.drained(DRAIN_MS);
      const sealedBeforeCollectorBack = street.sealed.size - sealedAtRestart;
      // Two windows at least per node (0.2 h is 2.4 of them): sealed, sent and acknowledged by the broker alone.
      expect(sealedBeforeCollectorBack).toBeGreaterThanOrEqual(DEVICES.length * 2);
      expect(collector.subscriptions, "the collector has not subscribed again yet").toBe(subscriptions);
      gate.open();
      street.mark("collector's way open");
      await waitFor(() => collector.subscriptions > subscriptions, "the collector to subscribe again", DRAIN_MS, 20);
      street.mark("collector subscribed after the restart");

      await street.reach(street.hours + PLAN.after);
      await street.pause();
      street.mark("clock stopped");
      await street.drained(DRAIN_MS);
      await waitForEverySealed(rows, () => street.sealed, { timeoutMs: DRAIN_MS, explain: (missing) => street.whenSealed(missing) });

      const ids = await rows.messageIds();
      expect(storedTwice(ids)).toEqual([]);
      expect(compareSealedWithStored(street.sealed, ids)).toEqual({ missing: [], unexpected: [] });
      expect(street.eventsNamed("outbox-dropped", "timer-callback-failed")).toEqual([]);
      expect(collector.logged("collector-session-lost")).toEqual([]);
      expect(collector.running).toBe(true);
      expect(await collector.stop()).toBe(0);
    });
  });
}
