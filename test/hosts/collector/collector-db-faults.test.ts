/**
 * Storage trouble under a running collector is not a crash (issue 12): a street of simulated nodes
 * on a real Mosquitto and the built collector as a process, whose database fails under it twice:
 *   - SQLite on a small tmpfs of its own, filled to the last byte (a real ENOSPC, SQLITE_FULL);
 *   - PostgreSQL, a private server stopped (fast shutdown) and started again.
 *
 * The first time, the fault clears under the same process: it must have logged the failure with
 * its cause, kept running, and store what the broker kept once the database takes writes again.
 * The second time, the collector is killed (SIGKILL) while the database refuses, and started again
 * once it is back: whatever it had acknowledged to the broker without storing would now be gone
 * for good, so a database holding every message the nodes sealed shows that nothing unstored was
 * acknowledged.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto } from "../../support/mosquitto.js";
import { cleanups, runCleanups } from "../../support/mqtt-test-brokers.js";
import { freshDatabase, postgresBinaries, POSTGRES_REQUIRED, startPostgresServer } from "../../support/postgres.js";
import { canMountTmpfs, mountSmallTmpfs, TMPFS_REQUIRED } from "../../support/small-tmpfs.js";
import { waitFor } from "../../support/wait-for.js";
import { collectorProcess, stateFolderWith, type CollectorProcess } from "./collector-process.js";
import { HOUR_MS, RecordedStreet } from "./recorded-street.js";
import { compareSealedWithStored, openStoredRows, readUntil, storedTwice, waitForEverySealed } from "./stored-rows.js";

const mosquittoAvailable = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
const tmpfsAvailable = TMPFS_REQUIRED || canMountTmpfs();
// This test stops its server, so it always starts a private one: it needs the binaries, not a URL.
const postgresAvailable = postgresBinaries() !== undefined || POSTGRES_REQUIRED;
if (!mosquittoAvailable) console.warn("mosquitto is not installed: skipping the collector's database fault tests (CI runs them)");
if (!tmpfsAvailable) console.warn("cannot mount a tmpfs (needs root): skipping the collector's full-disk test (CI runs it)");
if (!postgresAvailable) console.warn("PostgreSQL is not installed: skipping the collector's stopped-server test (CI runs it)");

const ZONE = "station";
const DEVICES = ["platform-1", "platform-2", "platform-3"];
const SPEED = 1800;
/** Simulated hours after the step before: the healthy start, each fault's length, the healthy end. */
const PLAN = { healthy: 0.3, fault: 0.3, afterKill: 0.2, end: 0.3 };
/** Ceiling for waits: the collector retries a refused store after 1 s, doubling to 30 s. */
const WAIT_MS = 60_000;
/**
 * What a run takes on an idle machine: the plan's simulated hours at SPEED (both faults), and about
 * 8 s of process starts, a server's stop and start, and the collector's first retry after each fault.
 */
const IDLE_RUN_MS = ((PLAN.healthy + 2 * PLAN.fault + PLAN.afterKill + PLAN.end) * HOUR_MS) / SPEED + 8_000;
/** A test's ceiling: its idle run ten times over, the slack `street.reach` allows a loaded machine. */
const TEST_MS = 10 * IDLE_RUN_MS;

afterEach(runCleanups);

interface DatabaseFault {
  /** --db for the collector; undefined: the default in the state folder. */
  readonly db: string | undefined;
  /** Where the test reads the rows. */
  readonly location: (stateDir: string) => string;
  readonly group: string | undefined;
  readonly strike: () => Promise<void> | void;
  readonly clear: () => Promise<void> | void;
  /** What the collector's failure line must name. */
  readonly cause: RegExp;
}

/**
 * The street on Mosquitto and one collector storing into the faulty database: healthy, a fault
 * cleared under the running process, a fault it is killed in, healthy again; then every message
 * the nodes sealed must be stored, once.
 */
async function runThroughFaults(fault: DatabaseFault): Promise<CollectorProcess> {
  const broker = await startMosquitto({ maxQueuedMessages: 10_000 });
  cleanups.push(() => broker.stop());
  const street = new RecordedStreet({ brokerUrl: broker.url, devices: DEVICES, zone: ZONE, speed: SPEED, seed: "collector-db-faults" });
  cleanups.push(() => street.close());
  const stateDir = stateFolderWith(street.keyring);
  const collector = collectorProcess({ brokerUrl: broker.url, stateDir, clientId: "db-faults-collector", db: fault.db, group: fault.group });
  await collector.start();
  const failures = () => collector.logged("collector-store-failed").length;
  const recoveries = () => collector.logged("collector-store-recovered").length;

  street.start();
  street.mark("street started");
  await street.reach(PLAN.healthy);
  // Storing works before the fault (the rows are read anew after it: a stopped server ends the reader).
  const before = await openStoredRows(fault.location(stateDir));
  expect((await readUntil(() => before.messageIds(), (ids) => ids.length > 0, WAIT_MS)).length).toBeGreaterThan(0);
  await before.close();

  // 1. The fault strikes and clears under the running collector.
  let sealedBefore = street.sealed.size;
  await fault.strike();
  street.mark("fault 1");
  await waitFor(() => failures() === 1, "the collector to report the store failure", WAIT_MS, 20);
  await street.reach(street.hours + PLAN.fault);
  expect(collector.running, "the collector survives the fault").toBe(true);
  expect(failures(), "one failure line per episode").toBe(1);
  expect(recoveries()).toBe(0);
  expect(collector.logged("collector-store-failed")[0]).toMatch(fault.cause);
  // Messages came in meanwhile, for the collector to hold: 0.3 h is over three windows per node.
  expect(street.sealed.size - sealedBefore).toBeGreaterThanOrEqual(DEVICES.length * 3);
  await fault.clear();
  street.mark("fault 1 cleared");
  await waitFor(() => recoveries() === 1, "the collector to store again", WAIT_MS, 20);
  street.mark("stored again");

  // 2. The fault strikes again; the collector is killed while it holds what it could not store.
  sealedBefore = street.sealed.size;
  await fault.strike();
  street.mark("fault 2");
  await waitFor(() => failures() === 2, "the collector to report the second store failure", WAIT_MS, 20);
  await street.reach(street.hours + PLAN.fault);
  expect(collector.running).toBe(true);
  expect(street.sealed.size - sealedBefore).toBeGreaterThanOrEqual(DEVICES.length * 3);
  await collector.kill();
  street.mark("collector killed");
  await fault.clear();
  await street.reach(street.hours + PLAN.afterKill);
  await collector.start();
  street.mark("collector started again");

  await street.reach(street.hours + PLAN.end);
  await street.pause();
  street.mark("clock stopped");
  await street.drained(WAIT_MS);
  const rows = await openStoredRows(fault.location(stateDir));
  cleanups.push(() => rows.close());
  await waitForEverySealed(rows, () => street.sealed, { timeoutMs: WAIT_MS, explain: (missing) => street.whenSealed(missing) });
  const ids = await rows.messageIds();
  expect(storedTwice(ids)).toEqual([]);
  expect(compareSealedWithStored(street.sealed, ids)).toEqual({ missing: [], unexpected: [] });
  expect(await rows.windowsStoredTwice()).toBe(0);
  expect(street.eventsNamed("outbox-dropped", "timer-callback-failed")).toEqual([]);
  expect(collector.running).toBe(true);
  expect(await collector.stop()).toBe(0);
  return collector;
}

describe.runIf(mosquittoAvailable && tmpfsAvailable)("the collector on SQLite when its disk fills up (tmpfs)", () => {
  it("logs the full disk, keeps running, acknowledges nothing it did not store, and stores again once there is room", { timeout: TEST_MS }, async () => {
    // Room for the database and its write-ahead log to grow through the run, and no more.
    const disk = mountSmallTmpfs(16 * 1024 * 1024);
    cleanups.push(() => disk.unmount());
    const path = join(disk.dir, "collector.db");
    await runThroughFaults({
      db: path,
      location: () => path,
      group: undefined,
      strike: () => disk.fill(),
      clear: () => disk.free(),
      cause: /disk-full/,
    });
  });
});

describe.runIf(mosquittoAvailable && postgresAvailable)("the collector on PostgreSQL when the server stops", () => {
  it("logs the server's absence, keeps running, acknowledges nothing it did not store, and stores again once it is back", { timeout: TEST_MS }, async () => {
    const server = await startPostgresServer();
    cleanups.push(() => server.dispose());
    const database = await freshDatabase(server.url);
    await runThroughFaults({
      db: database.url,
      location: () => database.url,
      group: "city",
      strike: () => server.stop(),
      clear: () => server.start(),
      cause: /unavailable/,
    });
  });
});
