/**
 * A real Mosquitto broker (Debian package `mosquitto`) for the fault campaign, on a free loopback
 * port, with persistence in a folder of its own so that a graceful restart keeps the collector's
 * persistent session and the QoS 1 messages queued for it (mosquitto.conf(5): `persistence`,
 * `max_queued_messages`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, waitForPort } from "../tcp-ports.js";

export const MOSQUITTO_BINARY = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"].find((path) => spawnSync(path, ["-h"]).error === undefined);

export class MosquittoBroker {
  readonly port: number;
  readonly #dir: string;
  #child: ChildProcess | undefined;
  #log = "";

  private constructor(port: number, dir: string) {
    this.port = port;
    this.#dir = dir;
  }

  /** Starts Mosquitto with its configuration and persistence under `dir`. */
  static async start(dir: string): Promise<MosquittoBroker> {
    if (!MOSQUITTO_BINARY) throw new Error("mosquitto is not installed (Debian: apt-get install mosquitto)");
    mkdirSync(dir, { recursive: true });
    // Started as root, Mosquitto runs as the mosquitto user: it must be able to write its folder.
    chmodSync(dir, 0o777);
    const broker = new MosquittoBroker(await freePort(), dir);
    await broker.#spawn();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** The tail of what Mosquitto printed (errors and warnings). */
  get log(): string {
    return this.#log;
  }

  /** Stops it as an operator would (SIGTERM: it writes its persistence file) and starts it again. */
  async restart(): Promise<void> {
    await this.stop();
    await this.#spawn();
  }

  async stop(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  }

  async #spawn(): Promise<void> {
    const config = join(this.#dir, "mosquitto.conf");
    writeFileSync(
      config,
      [
        `listener ${this.port} 127.0.0.1`,
        "allow_anonymous true",
        "persistence true",
        `persistence_location ${this.#dir}/`,
        // The collector's session may have to hold a street's whole backlog while it restarts.
        "max_queued_messages 100000",
        "max_inflight_messages 20",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "",
      ].join("\n"),
    );
    const child = spawn(MOSQUITTO_BINARY!, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk) => (this.#log = (this.#log + chunk).slice(-4000)));
    this.#child = child;
    try {
      await waitForPort(this.port, 10_000);
    } catch (error) {
      child.kill("SIGKILL");
      throw new Error(`mosquitto did not start: ${(error as Error).message}\n${this.#log}`);
    }
  }
}
