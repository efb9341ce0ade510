/**
 * Starts a real Mosquitto broker (Debian package `mosquitto`) on a free loopback port for a test.
 * `.ci/run` installs it and sets CIVICNODE_REQUIRE_MOSQUITTO=1, so CI never skips these tests;
 * on a developer machine without mosquitto they are skipped with a notice.
 *
 * With `persistence`, sessions, their subscriptions and queued messages are saved in the broker's
 * folder when it stops (SIGTERM), and `restart()` brings it back on the same port with them, as an
 * operator's restart would (mosquitto.conf(5): `persistence`, `persistence_location`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "../../hosts/node/tcp-ports.js";

export { MOSQUITTO_BINARY } from "../../hosts/node/faults/mosquitto-broker.js";
import { MOSQUITTO_BINARY } from "../../hosts/node/faults/mosquitto-broker.js";

/** True when the real-broker tests must run (CI), so a missing mosquitto is a failure, not a skip. */
export const MOSQUITTO_REQUIRED = process.env.CIVICNODE_REQUIRE_MOSQUITTO === "1";

export interface RunningMosquitto {
  /** mqtt://127.0.0.1:port, or mqtts://localhost:port with a TLS listener (the name its certificate carries). */
  readonly url: string;
  readonly port: number;
  /** What it printed (the last 16 KB). */
  readonly log: string;
  /** Stops it with SIGTERM (with persistence, it saves its state) and starts it again on the same port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface MosquittoOptions {
  readonly tls?: MosquittoTls;
  /** Keeps sessions, subscriptions and queued messages across `restart()`. */
  readonly persistence?: boolean;
  /** QoS 1 messages queued per session beyond those in flight (Mosquitto's default: 1000). */
  readonly maxQueuedMessages?: number;
  /** QoS 1 messages in flight per client that sends no Receive Maximum (Mosquitto's default: 20). */
  readonly maxInflightMessages?: number;
}

export interface MosquittoTls {
  /** The CA that issued the certificate (PEM file). */
  readonly caFile: string;
  /** The broker's certificate and key (PEM files), issued for localhost. */
  readonly certFile: string;
  readonly keyFile: string;
}

/** Starts Mosquitto with one listener on 127.0.0.1: plain MQTT, or TLS (1.2 or newer) with `tls`. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<RunningMosquitto> {
  if (!MOSQUITTO_BINARY) throw new Error("mosquitto is not installed (apt-get install mosquitto)");
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "civicnode-mosquitto-"));
  const config = join(dir, "mosquitto.conf");
  let listener = `listener ${port} 127.0.0.1\n`;
  if (options.tls) {
    // Copies the broker may read: started as root, Mosquitto drops to the mosquitto user before it
    // loads them, and the test's own folder is private. Throwaway test keys only.
    chmodSync(dir, 0o755);
    const copy = (from: string, name: string): string => {
      const to = join(dir, name);
      copyFileSync(from, to);
      chmodSync(to, 0o644);
      return to;
    };
    listener +=
      `cafile ${copy(options.tls.caFile, "ca.crt")}\n` +
      `certfile ${copy(options.tls.certFile, "server.crt")}\n` +
      `keyfile ${copy(options.tls.keyFile, "server.key")}\n` +
      "tls_version tlsv1.2\n";
  }
  let settings = "allow_anonymous true\nlog_dest stderr\n";
  if (options.persistence) {
    // Mosquitto writes its database as the mosquitto user: the folder must let it.
    chmodSync(dir, 0o777);
    settings += `persistence true\npersistence_location ${dir}/\n`;
  } else {
    settings += "persistence false\n";
  }
  if (options.maxQueuedMessages !== undefined) settings += `max_queued_messages ${options.maxQueuedMessages}\n`;
  if (options.maxInflightMessages !== undefined) settings += `max_inflight_messages ${options.maxInflightMessages}\n`;
  writeFileSync(config, listener + settings);

  let log = "";
  let child: ChildProcess | undefined;
  const spawnBroker = async (): Promise<void> => {
    const started: ChildProcess = spawn(MOSQUITTO_BINARY!, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    started.stderr!.on("data", (chunk) => (log = (log + chunk).slice(-16_384)));
    child = started;
    await waitForPort(port, 5000).catch((error) => {
      started.kill("SIGKILL");
      throw new Error(`mosquitto did not start: ${(error as Error).message}\n${log}`);
    });
  };
  const terminate = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return resolve();
      running.once("exit", () => resolve());
      running.kill("SIGTERM");
    });
  await spawnBroker();
  return {
    url: options.tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`,
    port,
    get log() {
      return log;
    },
    restart: async () => {
      await terminate();
      await spawnBroker();
    },
    stop: async () => {
      await terminate();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
