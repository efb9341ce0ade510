/**
 * Nothing lost while the collector is away (issue 12): a street of simulated nodes on a real
 * Mosquitto (persistence on) and the built collector as a process. The collector and the nodes
 * each reach the broker through a gate the test can shut, to decide who reconnects first after a
 * broker restart.
 *
 * 1. The collector is stopped for several windows, then started again: the broker kept what the
 *    nodes published meanwhile in the collector's persistent session (QoS 1) and delivers it.
 * 2. The broker restarts:
 *    - on the embedded default (SQLite, one collector, no group: MQTT 3.1.1), with the collector's
 *      way back shut: the nodes reconnect and flush their outboxes to the broker, and the broker
 *      acknowledges them, before the collector has connected and subscribed again. Its session
 *      and plain subscription survived the restart, so those messages reach it;
 *    - on PostgreSQL with a group of one (MQTT 5 shared subscription), with the nodes' way back
 *      shut until the collector has subscribed again, as docs/collector-instances.md tells an
 *      operator to restart the broker: the nodes' outboxes hold what they sealed meanwhile.
 * 3. Why a group needs that order: Mosquitto 2.0 drops a session's shared subscriptions when it
 *    restarts, and the last test pins down exactly what that loses when the nodes come first.
 */
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto, type RunningMosquitto } from "../../support/mosquitto.js";
import { cleanups, runCleanups } from "../../support/mqtt-test-brokers.js";
import { freshDatabase, POSTGRES_AVAILABLE, POSTGRES_REQUIRED, releasePostgres, sharedPostgres } from "../../support/postgres.js";
import { waitFor } from "../../support/wait-for.js";
import { collectorProcess, stateFolderWith, type CollectorProcess } from "./collector-process.js";
import { startConnectionGate, type ConnectionGate } from "./connection-gate.js";
import { HOUR_MS, RecordedStreet } from "./recorded-street.js";
import { compareSealedWithStored, openStoredRows, storedTwice, waitForEverySealed, type StoredRows } from "./stored-rows.js";

const mosquittoAvailable = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
const postgresAvailable = POSTGRES_AVAILABLE || POSTGRES_REQUIRED;
if (!mosquittoAvailable) console.warn("mosquitto is not installed: skipping the collector outage tests (CI runs them)");
else if (!postgresAvailable) console.warn("PostgreSQL is not installed: skipping the collector outage tests with a group (CI runs them)");

const ZONE = "market";
const DEVICES = ["stall-1", "stall-2", "stall-3"];
const SPEED = 1800;
/**
 * Simulated hours: when the collector stops, how long it stays away (nine 5-minute windows), how
 * long one side has the restarted broker to itself (2.4 windows), how long the run goes on after.
 */
const PLAN = { stop: 0.3, away: 0.75, alone: 0.2, after: 0.4 };
const WINDOW_HOURS = 300 / 3600;
const DRAIN_MS = 60_000;
/** What a run takes on an idle machine: its simulated hours at SPEED, and about 6 s of process starts, reconnections and draining. */
const IDLE_RUN_MS = ((PLAN.stop + PLAN.away + PLAN.alone + 2 * PLAN.after) * HOUR_MS) / SPEED + 6_000;
/** A test's ceiling: its idle run ten times over, the slack `street.reach` allows a loaded machine. */
const TEST_MS = 10 * IDLE_RUN_MS;

afterEach(runCleanups);
afterAll(releasePostgres);

/** A database of its own on the shared PostgreSQL server, dropped after the test (last: after the collector and the reader). */
async function postgresDatabase(): Promise<string> {
  const database = await freshDatabase((await sharedPostgres()).url);
  cleanups.push(() => database.drop());
  return database.url;
}

interface Outage {
  readonly broker: RunningMosquitto;
  /** The collector's way to the broker. */
  readonly collectorGate: ConnectionGate;
  /** The nodes' way to the broker. */
  readonly nodesGate: ConnectionGate;
  readonly street: RecordedStreet;
  readonly collector: CollectorProcess;
  readonly rows: StoredRows;
}

/** Mosquitto with persistence, the street and one collector (subscribed), each behind its own open gate. */
async function startOutage(db: string | undefined, group: string | undefined, seed: string): Promise<Outage> {
  const broker = await startMosquitto({ persistence: true, maxQueuedMessages: 10_000 });
  cleanups.push(() => broker.stop());
  const collectorGate = await startConnectionGate(broker.port);
  cleanups.push(() => collectorGate.close());
  const nodesGate = await startConnectionGate(broker.port);
  cleanups.push(() => nodesGate.close());
  const street = new RecordedStreet({ brokerUrl: nodesGate.url, devices: DEVICES, zone: ZONE, speed: SPEED, seed });
  cleanups.push(() => street.close());
  const stateDir = stateFolderWith(street.keyring);
  const collector = collectorProcess({ brokerUrl: collectorGate.url, stateDir, clientId: "outage-collector", db, group });
  await collector.start();
  const rows = await openStoredRows(db ?? join(stateDir, "collector.db"));
  cleanups.push(() => rows.close());
  return { broker, collectorGate, nodesGate, street, collector, rows };
}

/** The collector's `collector-subscribed` lines, parsed: one per connection. */
function subscribedDetails(collector: CollectorProcess): Array<Record<string, string>> {
  return collector.logged("collector-subscribed").map((line) => JSON.parse(line.slice(line.indexOf("{"))) as Record<string, string>);
}

/** Who reconnects to the restarted broker first, while the other's gate is shut. */
type RestartOrder = "nodes-first" | "collector-first";

const ENGINES: ReadonlyArray<{ name: string; available: boolean; database: () => Promise<string | undefined>; group: string | undefined; order: RestartOrder }> = [
  { name: "SQLite, one collector without a group (MQTT 3.1.1)", available: mosquittoAvailable, database: async () => undefined, group: undefined, order: "nodes-first" },
  { name: "PostgreSQL, a group of one (MQTT 5 shared subscription)", available: mosquittoAvailable && postgresAvailable, database: postgresDatabase, group: "city", order: "collector-first" },
];

for (const engine of ENGINES) {
  describe.runIf(engine.available)(`the collector away, then back: ${engine.name}`, () => {
    const title =
      engine.order === "nodes-first"
        ? "gets what was published while it was stopped for several windows, and after a broker restart the nodes were first to reconnect to"
        : "gets what was published while it was stopped for several windows, and after a broker restart it was first to reconnect to";
    it(title, { timeout: TEST_MS }, async () => {
      const { broker, collectorGate, nodesGate, street, collector, rows } = await startOutage(await engine.database(), engine.group, "collector-outage");

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
      if (engine.order === "nodes-first") {
        collectorGate.shut();
        street.mark("collector's way to the broker shut");
        await broker.restart();
        street.mark("broker back");
        // The nodes reconnect and flush what they sealed meanwhile; the broker acknowledges it.
        await street.reach(street.hours + PLAN.alone);
        await waitFor(() => street.allConnected, "every node to reconnect", DRAIN_MS, 20);
        await street.drained(DRAIN_MS);
        // Two windows at least per node (0.2 h is 2.4 of them): sealed, sent and acknowledged by the broker alone.
        expect(street.sealed.size - sealedAtRestart).toBeGreaterThanOrEqual(DEVICES.length * 2);
        expect(collector.subscriptions, "the collector has not subscribed again yet").toBe(subscriptions);
        collectorGate.open();
        street.mark("collector's way open");
        await waitFor(() => collector.subscriptions > subscriptions, "the collector to subscribe again", DRAIN_MS, 20);
        street.mark("collector subscribed after the restart");
      } else {
        nodesGate.shut();
        street.mark("nodes' way to the broker shut");
        await broker.restart();
        street.mark("broker back");
        await waitFor(() => collector.subscriptions > subscriptions, "the collector to subscribe again", DRAIN_MS, 20);
        street.mark("collector subscribed after the restart");
        // The nodes, held back, keep in their outboxes what they seal meanwhile: two windows at least per node.
        await street.reach(street.hours + PLAN.alone);
        expect(street.allConnected, "no node is connected while its way is shut").toBe(false);
        expect(street.queued).toBeGreaterThanOrEqual(DEVICES.length * 2);
        nodesGate.open();
        street.mark("nodes' way open");
        await waitFor(() => street.allConnected, "every node to reconnect", DRAIN_MS, 20);
      }

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
      expect(subscribedDetails(collector).at(-1)?.resumed, "the session survived the restart").toBe("yes");
      expect(collector.running).toBe(true);
      expect(await collector.stop()).toBe(0);
    });
  });
}

/**
 * A LIMIT OF MOSQUITTO 2.0, pinned down (docs/collector-instances.md, "A broker restart and shared
 * subscriptions"): this test documents what the broker does not do, not what the collector should.
 * Mosquitto 2.0.11 restores a persistent session after a restart, with its plain subscriptions and
 * its queued messages, but not its shared (`$share/...`) subscriptions. Until the group's members
 * connect and subscribe again, what the nodes publish matches no subscription: the broker
 * acknowledges it, so the nodes forget it, and gives it to nobody.
 *
 * The test restarts the broker with the collector (a group of one) held back and the nodes first.
 * The street's clock stands still while the broker restarts and while the collector reconnects, so
 * each message was first sent either before the restart (among them, what the broker queued for
 * the collector while it was away), or between the restart and the resubscription, or after it.
 * The messages missing must be exactly the second kind, all of them; the collector's session came
 * back (`resumed: "yes"`) although its shared subscription had to be made again.
 *
 * If a later Mosquitto keeps shared subscriptions across a restart, nothing is lost, this test
 * fails, and that is intended: docs/collector-instances.md must then be updated (the nodes need no
 * longer be held back), and this test replaced by one that nothing is lost.
 */
describe.runIf(mosquittoAvailable && postgresAvailable)("a limit of Mosquitto 2.0: a group's shared subscription does not survive a broker restart", () => {
  it("loses exactly what the nodes publish between the broker's restart and the group's resubscription, and nothing else", { timeout: TEST_MS }, async () => {
    const { broker, collectorGate, street, collector, rows } = await startOutage(await postgresDatabase(), "city", "shared-subscription-restart");

    street.start();
    street.mark("street started");
    await street.reach(PLAN.stop);
    // Away for a while before the restart: the broker queues the collector's share in its session.
    collectorGate.shut();
    street.mark("collector's way to the broker shut");
    const sealedBeforeAway = street.sealed.size;
    await street.reach(street.hours + PLAN.alone);
    // Everything sealed so far has been acknowledged by the broker (delivered or queued) before it stops.
    await street.pause();
    await street.drained(DRAIN_MS);
    const sealedBeforeRestart = new Set(street.sealed);
    expect(sealedBeforeRestart.size - sealedBeforeAway, "queued for the collector when the broker stops").toBeGreaterThanOrEqual(DEVICES.length * 2);
    const subscriptions = collector.subscriptions;

    street.mark("broker stopping");
    await broker.restart();
    street.mark("broker back");
    street.resume();
    // The nodes reconnect and send what they seal; the broker acknowledges it, with no subscriber for it.
    await street.reach(street.hours + PLAN.alone);
    await waitFor(() => street.allConnected, "every node to reconnect", DRAIN_MS, 20);
    await street.pause();
    await street.drained(DRAIN_MS);
    expect(collector.subscriptions, "the collector has not subscribed again yet").toBe(subscriptions);
    const sentBeforeResubscription = [...street.sealed].filter((id) => !sealedBeforeRestart.has(id)).sort();
    // Two windows at least per node (0.2 h is 2.4 of them), acknowledged by the broker alone.
    expect(sentBeforeResubscription.length).toBeGreaterThanOrEqual(DEVICES.length * 2);
    collectorGate.open();
    street.mark("collector's way open");
    await waitFor(() => collector.subscriptions > subscriptions, "the collector to subscribe again", DRAIN_MS, 20);
    street.mark("collector subscribed after the restart");
    street.resume();

    await street.reach(street.hours + PLAN.after);
    await street.pause();
    street.mark("clock stopped");
    await street.drained(DRAIN_MS);
    const sealedAfterResubscription = street.sealed.size - sealedBeforeRestart.size - sentBeforeResubscription.length;
    expect(sealedAfterResubscription).toBeGreaterThanOrEqual(DEVICES.length * 4);

    // The database holds everything else (what the broker had queued for the collector, too), then stops changing.
    const elsewhere = new Set([...street.sealed].filter((id) => !sentBeforeResubscription.includes(id)));
    const ids = await waitForEverySealed(rows, () => elsewhere, { timeoutMs: DRAIN_MS, explain: (missing) => street.whenSealed(missing) });
    expect(storedTwice(ids)).toEqual([]);
    const { missing, unexpected } = compareSealedWithStored(street.sealed, ids);
    expect(unexpected).toEqual([]);
    // The broker's limit: all of what it acknowledged while the group had no subscription is lost, and only that.
    expect(missing, "missing: what the nodes sent between the broker's restart and the group's resubscription").toEqual(sentBeforeResubscription);

    // The session itself came back: the collector resumed it, and only its subscription was made anew.
    expect(collector.logged("collector-session-lost")).toEqual([]);
    const afterRestart = subscribedDetails(collector).at(-1);
    expect(afterRestart).toMatchObject({ resumed: "yes", session: "persistent", protocol: "mqtt5" });
    expect(afterRestart?.filters).toContain("$share/city/");
    expect(street.eventsNamed("outbox-dropped", "timer-callback-failed")).toEqual([]);
    expect(collector.running).toBe(true);
    expect(await collector.stop()).toBe(0);
  });
});
