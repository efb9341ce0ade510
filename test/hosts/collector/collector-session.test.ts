/**
 * The collector's persistent session against real brokers (aedes, and Mosquitto as installed): what
 * is published while it is away is delivered when it is back, and a collector killed with SIGKILL in
 * the middle of a stream (the real `npm run collector`, built) restarts without losing or storing
 * twice: what it stored but had not acknowledged arrives again and is recognised.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { connectAsync, type MqttClient } from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { Collector } from "../../../hosts/collector/collector.js";
import { openCollectorDb } from "../../../hosts/collector/db/open-collector-db.js";
import { localPassphrase } from "../../support/local-passphrase.js";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto } from "../../support/mosquitto.js";
import { cleanups, runCleanups, startBroker } from "../../support/mqtt-test-brokers.js";
import { waitFor, waitForQuiet } from "../../support/wait-for.js";
import { keyringOf, street, TestNode, type SealedMessage } from "./sealed-messages.js";

const DEVICES = ["lamp-7", "lamp-8"];
const mosquittoAvailable = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
if (!mosquittoAvailable) console.warn("mosquitto is not installed: skipping its persistent-session tests (CI runs them)");

interface Broker {
  readonly url: string;
}

const BROKERS: Array<{ name: string; available: boolean; start: () => Promise<Broker> }> = [
  {
    name: "aedes",
    available: true,
    start: async () => {
      const broker = await startBroker(); // stopped by runCleanups
      return { url: `mqtt://127.0.0.1:${broker.port}` };
    },
  },
  {
    name: "mosquitto",
    available: mosquittoAvailable,
    start: async () => {
      const broker = await startMosquitto();
      cleanups.push(() => broker.stop());
      return { url: broker.url };
    },
  },
];

let publishers = 0;

async function publisher(url: string): Promise<MqttClient> {
  const client = await connectAsync(url, { clientId: `session-test-publisher-${++publishers}`, reconnectPeriod: 0 });
  cleanups.push(() => client.endAsync(true));
  return client;
}

async function publish(client: MqttClient, messages: readonly SealedMessage[]): Promise<void> {
  for (const m of messages) await client.publishAsync(m.topic, Buffer.from(m.payload), { qos: 1 });
}

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-session-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The (device, epoch, counter) of every message the collector's database holds, read as another process would. */
function storedMessages(dir: string): string[] {
  const path = join(dir, "collector.db");
  if (!existsSync(path)) return [];
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    db.pragma("busy_timeout = 5000");
    const hasTable = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'messages'").get() as { n: number };
    if (hasTable.n === 0) return [];
    return (db.prepare("SELECT device, epoch, counter FROM messages").all() as Array<{ device: string; epoch: number; counter: number }>).map((m) => `${m.device}/${m.epoch}/${m.counter}`);
  } finally {
    db.close();
  }
}

function linesSoFar(dir: string): number {
  return storedMessages(dir).length;
}

function expectStoredOnce(dir: string, messages: number): void {
  const stored = storedMessages(dir);
  expect(stored).toHaveLength(messages);
  expect(new Set(stored).size).toBe(messages);
}

describe("the collector's persistent session", () => {
  afterEach(runCleanups);

  for (const kind of BROKERS) {
    describe.runIf(kind.available)(`with ${kind.name}`, () => {
      it("gets what was published while it was away, once, when it is back", async () => {
        const broker = await kind.start();
        const dir = stateDir();
        const db = await openCollectorDb({ location: join(dir, "collector.db") });
        cleanups.push(() => db.close());
        const make = () => new Collector({ brokerUrl: broker.url, keyring: keyringOf(...DEVICES), db });
        const messages = street(DEVICES.map((d) => new TestNode(d)), 0, 6);
        const first = make();
        cleanups.push(() => first.stop());
        await first.start();
        const client = await publisher(broker.url);
        await publish(client, messages.slice(0, 8));
        await waitFor(() => first.stats.accepted === 8, "the first messages", 10_000);
        await first.stop();

        await publish(client, messages.slice(8)); // nobody subscribed is connected: the broker keeps them
        const second = make();
        cleanups.push(() => second.stop());
        expect(second.clientId).toBe(first.clientId); // the same session
        await second.start();
        await waitFor(() => second.stats.accepted === messages.length - 8, "what was published while it was away", 10_000);
        await waitForQuiet(() => second.stats.accepted + second.rejectedTotal, "late copies");
        expect(second.stats.accepted).toBe(messages.length - 8);
        await second.stop();
        expectStoredOnce(dir, messages.length);
      });

      it("restarts after kill -9 in the middle of a stream without losing or storing twice (npm run collector)", async () => {
        const broker = await kind.start();
        const dir = stateDir();
        keyringOf(...DEVICES).save(dir, localPassphrase(dir));
        const messages = street(DEVICES.map((d) => new TestNode(d)), 0, 24);
        const client = await publisher(broker.url);

        const first = await runCollector(broker.url, dir);
        const publishing = publish(client, messages);
        await waitFor(() => linesSoFar(dir) >= 8, "a few stored messages", 20_000, 1);
        first.kill("SIGKILL"); // a crash: no stop(), no acknowledgement of what was in flight
        await new Promise((resolve) => first.once("exit", resolve));
        await publishing;
        expect(linesSoFar(dir)).toBeLessThan(messages.length);

        const second = await runCollector(broker.url, dir);
        await waitFor(() => linesSoFar(dir) >= messages.length, "every message after the restart", 20_000);
        await waitForQuiet(() => linesSoFar(dir), "late copies");
        second.kill("SIGTERM");
        const code = await new Promise((resolve) => second.once("exit", resolve));
        expect(code).toBe(0);
        expectStoredOnce(dir, messages.length);
      });
    });
  }
});

/** Starts the built `npm run collector` on `dir`; resolves once it has subscribed. */
async function runCollector(url: string, dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--enable-source-maps", "dist/hosts/collector/main.js", "--broker", url, "--state", dir, "--http", "off"], { stdio: ["ignore", "ignore", "pipe"] });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  await waitFor(() => stderr.includes("collector-subscribed") || child.exitCode !== null, "the collector to subscribe", 20_000).catch(() => {});
  if (!stderr.includes("collector-subscribed")) throw new Error(`the collector did not subscribe:\n${stderr}`);
  return child;
}
