/**
 * A throwaway Mosquitto (Debian package `mosquitto`) for the collector's benchmark: one loopback
 * listener on a free port, its configuration in a temporary folder, nothing persisted.
 *
 * Two settings differ from Mosquitto's defaults (mosquitto.conf(5)), both for the benchmark's way
 * of measuring a backlog: `max_queued_messages` lets a subscriber's session hold the whole run
 * (default 1,000), and `max_inflight_messages` sets how many QoS 1 messages the broker sends an
 * MQTT 3.1.1 subscriber before its PUBACKs (MQTT 3.1.1 has no Receive Maximum; default 20; an
 * MQTT 5 subscriber's own Receive Maximum applies to it instead).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MOSQUITTO_BINARY } from "../../node/faults/mosquitto-broker.js";
import { freePort, waitForPort } from "../../node/tcp-ports.js";

export interface BenchMosquittoOptions {
  /** QoS 1 messages in flight to an MQTT 3.1.1 subscriber (Mosquitto's default: 20). */
  readonly maxInflightMessages: number;
  /** Messages a session may hold queued (the run's whole backlog). */
  readonly maxQueuedMessages: number;
}

export class BenchMosquitto {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #dir: string;
  #log = "";

  private constructor(url: string, child: ChildProcess, dir: string) {
    this.url = url;
    this.#child = child;
    this.#dir = dir;
    child.stderr!.on("data", (chunk) => (this.#log = (this.#log + chunk).slice(-4000)));
  }

  static async start(options: BenchMosquittoOptions): Promise<BenchMosquitto> {
    if (!MOSQUITTO_BINARY) throw new Error("mosquitto is not installed (Debian: apt-get install mosquitto)");
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "civicnode-bench-mosquitto-"));
    const config = join(dir, "mosquitto.conf");
    writeFileSync(
      config,
      [
        `listener ${port} 127.0.0.1`,
        "allow_anonymous true",
        "persistence false",
        `max_queued_messages ${options.maxQueuedMessages}`,
        `max_inflight_messages ${options.maxInflightMessages}`,
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "",
      ].join("\n"),
    );
    const child = spawn(MOSQUITTO_BINARY, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    const broker = new BenchMosquitto(`mqtt://127.0.0.1:${port}`, child, dir);
    try {
      await waitForPort(port, 10_000);
    } catch (error) {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`mosquitto did not start: ${(error as Error).message}\n${broker.#log}`);
    }
    return broker;
  }

  /** The broker's process id, for its CPU time (process-cpu.ts). */
  get pid(): number {
    return this.#child.pid!;
  }

  get log(): string {
    return this.#log;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      });
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
