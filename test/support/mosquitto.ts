/**
 * Starts a real Mosquitto broker (Debian package `mosquitto`) on a free loopback port for a test.
 * `.ci/run` installs it and sets CIVICNODE_REQUIRE_MOSQUITTO=1, so CI never skips these tests;
 * on a developer machine without mosquitto they are skipped with a notice.
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
  stop(): Promise<void>;
}

export interface MosquittoTls {
  /** The CA that issued the certificate (PEM file). */
  readonly caFile: string;
  /** The broker's certificate and key (PEM files), issued for localhost. */
  readonly certFile: string;
  readonly keyFile: string;
}

/** Starts Mosquitto with one listener on 127.0.0.1: plain MQTT, or TLS (1.2 or newer) with `tls`. */
export async function startMosquitto(options: { readonly tls?: MosquittoTls } = {}): Promise<RunningMosquitto> {
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
  writeFileSync(config, `${listener}allow_anonymous true\npersistence false\nlog_dest stderr\n`);
  const child: ChildProcess = spawn(MOSQUITTO_BINARY, ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk) => (log += chunk));
  await waitForPort(port, 5000).catch((error) => {
    child.kill("SIGKILL");
    throw new Error(`mosquitto did not start: ${(error as Error).message}\n${log}`);
  });
  return {
    url: options.tls ? `mqtts://localhost:${port}` : `mqtt://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}
