/**
 * `npm run collector -- --broker mqtt://host:port [--state DIR]`: the reference collector on its
 * own, against a real deployment's broker. It reads the keyring from the state folder and appends
 * decoded summaries to <state>/summaries.jsonl, health reports to health.jsonl and alerts to
 * alerts.jsonl until stopped, acknowledging each message to the broker once it is stored (a
 * persistent session: what arrives while it is away waits at the broker). With `--broker
 * mqtts://host:port --ca FILE` it speaks TLS and trusts only that CA (docs/tls.md).
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Collector } from "./collector.js";
import { Keyring, KEYRING_FILE } from "./keyring.js";
import { COLLECTOR_LOCK_FILE, ExclusiveLock, LockError } from "../node/exclusive-lock.js";
import { readPinnedCa } from "../node/pinned-ca.js";

const USAGE = `civicnode collector

Usage: npm run collector -- --broker mqtt://host:port [--state DIR]
       npm run collector -- --broker mqtts://host:port --ca FILE [--state DIR]

  --broker URL   the MQTT broker the nodes publish to (required); mqtts:// for TLS
  --ca FILE      with mqtts://: the CA certificate (PEM) to trust for the broker, and the only
                 one (pinned); required with mqtts://, refused with mqtt://
  --state DIR    folder holding keyring.json; summaries.jsonl, health.jsonl, alerts.jsonl and the
                 checkpoint collector.json are written there (default ./.civicnode). One
                 collector per folder: a second one is refused, naming the first one's PID.
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, strict: true, options: { broker: { type: "string" }, ca: { type: "string" }, state: { type: "string" }, help: { type: "boolean" } } }));
  } catch (error) {
    process.stderr.write(`collector: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!values.broker || !/^mqtts?:\/\//.test(values.broker)) {
    process.stderr.write(`collector: --broker mqtt://host:port is required\n${USAGE}`);
    return 2;
  }
  const secure = values.broker.startsWith("mqtts://");
  if (secure !== (values.ca !== undefined)) {
    process.stderr.write(`collector: ${secure ? "--broker mqtts://... needs --ca FILE" : "--ca needs an mqtts:// broker"}\n${USAGE}`);
    return 2;
  }
  let ca: string | undefined;
  try {
    ca = values.ca === undefined ? undefined : readPinnedCa(values.ca);
  } catch (error) {
    process.stderr.write(`collector: --ca: ${(error as Error).message}\n`);
    return 2;
  }
  const stateDir = resolve(values.state ?? ".civicnode");
  // One collector per state folder (npm start runs one too): two would fight over collector.json's
  // replay windows and interleave their output. The kernel lets go when this process ends.
  let lock: ExclusiveLock;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    lock = ExclusiveLock.acquire(join(stateDir, COLLECTOR_LOCK_FILE), { command: "npm run collector", subject: stateDir });
  } catch (error) {
    process.stderr.write(`collector: ${error instanceof LockError ? error.message : `cannot make the state folder ${stateDir}: ${(error as Error).message}`}\n`);
    return 1;
  }
  process.once("exit", () => lock.release());
  const keyring = Keyring.load(stateDir);
  if (keyring.devices.length === 0) {
    process.stderr.write(`collector: no devices in ${join(stateDir, KEYRING_FILE)}\n`);
    return 1;
  }
  const collector = new Collector({
    brokerUrl: values.broker,
    ca,
    keyring,
    outputFile: join(stateDir, "summaries.jsonl"),
    healthFile: join(stateDir, "health.jsonl"),
    stateFile: join(stateDir, "collector.json"),
    alertsFile: join(stateDir, "alerts.jsonl"),
    log: (level, event, detail) => process.stderr.write(`${level} ${event} ${detail ? JSON.stringify(detail) : ""}\n`),
  });
  collector.onSummary((line) => process.stdout.write(`${JSON.stringify(line)}\n`));
  await collector.start();
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await collector.stop();
  process.stderr.write(`collector: ${collector.stats.accepted} accepted, ${collector.rejectedTotal} rejected ${JSON.stringify(collector.stats.rejected)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`collector: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
