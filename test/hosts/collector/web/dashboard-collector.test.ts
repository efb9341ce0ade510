/**
 * `npm run collector` (the built collector, on a real Mosquitto) prints the dashboard's one-time
 * link on its console, never the token; the link logs a client in (a session cookie the live
 * stream admits); and SIGTERM stops the collector while that stream is still open.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Keyring } from "../../../../hosts/collector/keyring.js";
import { MOSQUITTO_BINARY, MOSQUITTO_REQUIRED, startMosquitto } from "../../../support/mosquitto.js";
import { cleanups, runCleanups } from "../../../support/mqtt-test-brokers.js";
import { waitFor } from "../../../support/wait-for.js";
import { CollectorProcess, stateFolderWith } from "../collector-process.js";

const mosquittoAvailable = MOSQUITTO_BINARY !== undefined || MOSQUITTO_REQUIRED;
if (!mosquittoAvailable) console.warn("mosquitto is not installed: skipping the collector dashboard link test (CI runs it)");

afterEach(runCleanups);

describe.skipIf(!mosquittoAvailable)("npm run collector's dashboard link", () => {
  it("is printed instead of the token, logs in once, and a stream open at SIGTERM does not hold the collector", async () => {
    const broker = await startMosquitto();
    cleanups.push(() => broker.stop());
    const keyring = new Keyring();
    keyring.add("lamp-1", "old-town", new Uint8Array(32).fill(7));
    const state = stateFolderWith(keyring);
    const collector = new CollectorProcess("dashboard-collector", ["--broker", broker.url, "--state", state, "--client-id", "dashboard-collector", "--http", "127.0.0.1:0"]);
    cleanups.push(() => collector.kill());
    await collector.start();
    await waitFor(() => /collector: dashboard /.test(collector.stderr), "the dashboard's link", 10_000, 20);
    const line = collector.stderr.split("\n").find((l) => l.startsWith("collector: dashboard "))!;
    const link = /^collector: dashboard (http:\/\/127\.0\.0\.1:\d+\/login\?code=[A-Za-z0-9_-]{22}) \(one-time login link\)$/.exec(line)![1]!;
    expect(collector.stderr).not.toContain(readFileSync(join(state, "api-token"), "utf8").trim());
    expect(collector.stderr).toMatch(/collector: API on http:\/\/127\.0\.0\.1:\d+\/api\/nodes \(staff token in .*api-token\)/);

    const login = await fetch(link, { redirect: "manual" });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0]!;
    const origin = new URL(link).origin;
    expect((await fetch(link, { redirect: "manual" })).headers.get("location")).toBe("/?login=expired");
    const stream = await fetch(`${origin}/api/events`, { headers: { cookie } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    let text = "";
    while (!text.includes("event: ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended before it was ready:\n${text}`);
      text += new TextDecoder().decode(value);
    }

    expect(await collector.stop()).toBe(0);
    const rest = await reader.read().catch(() => ({ done: true }));
    expect(rest.done).toBe(true);
  });
});
