/**
 * `npm run collector -- --broker mqtt://host:port [--state DIR] [--db URL] [--group NAME]`: the
 * reference collector as a service, against a real deployment's broker. It reads the keyring from
 * the state folder, stores what it verifies in its database (SQLite in the state folder by
 * default, PostgreSQL with --db postgres://...), acknowledges each message to the broker once it is
 * stored (a persistent session: what arrives while it is away waits at the broker), and serves the
 * HTTP API (docs/api.md). Several collectors split a fleet in a shared subscription group
 * (docs/collector-instances.md).
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { HttpAddressError, parseHttpAddress, type HttpAddress } from "./api/http-address.js";
import { publicBaseUrl, PublicBaseUrlError } from "./web/public-page.js";
import { databaseLocation, startCollectorService, usesPostgres } from "./collector-service.js";
import { CollectorDbError } from "./db/db-errors.js";
import { Keyring, KEYRING_FILE } from "./keyring.js";
import { PassphraseSource } from "./passphrase-source.js";
import { COLLECTOR_LOCK_FILE, ExclusiveLock, LockError } from "../node/exclusive-lock.js";
import { CommandLineError, parseCommandLine } from "../node/command-line.js";
import { readPinnedCa } from "../node/pinned-ca.js";
import { stateFolderProblem } from "../node/state-folder.js";

const USAGE = `civicnode collector

Usage: npm run collector -- --broker mqtt://host:port [options]

  --broker URL          the MQTT broker the nodes publish to (required); mqtts:// for TLS
  --ca FILE             with mqtts://: the CA certificate (PEM) to trust for the broker, and the
                        only one (pinned); required with mqtts://, refused with mqtt://
  --state DIR           folder holding keyring.sealed and api-token (default ./.civicnode)
  --db PATH|URL         the database: an SQLite file (default DIR/collector.db), or
                        postgres://user:password@host:port/database
  --group NAME          join the MQTT 5 shared subscription group NAME: the collectors of a group
                        split the messages (needs an MQTT 5 broker such as Mosquitto 2, and a
                        PostgreSQL database they share)
  --client-id ID        the MQTT client id, which names the broker's session (default: derived
                        from this host, the database and the group); each instance its own
  --session-expiry S    seconds the broker keeps a group member's session while it is away
                        (default 604800, a week)
  --http HOST:PORT|off  where the API listens (default 127.0.0.1 on a free port)
  --public-url URL      the address residents reach the collector's pages at, behind the city's
                        proxy (https://sensors.example.city): each node's public page and the QR
                        code on its sign point there (default: the address of each request)
  --jsonl FILE          also append every stored summary and health report to FILE (JSON Lines)
  --retention-days N    delete summaries N days after their window, for a node whose signed
                        policy does not say (default: keep); a node's policy (retention.
                        summariesDays, in <state>/policies or its verified disclosure) decides
                        for its own summaries
  --health-days N       delete health reports after N days (default: keep)
  --rejection-days N    delete rejection records after N days (default: keep)

One collector per SQLite database; on PostgreSQL, one per client id.

The keyring is sealed under a passphrase, read from the file CIVICNODE_PASSPHRASE_FILE names, or
from CIVICNODE_PASSPHRASE, or else from DIR/passphrase (docs/keys-at-rest.md).
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandLine(argv, {
      broker: { type: "string" },
      ca: { type: "string" },
      state: { type: "string" },
      db: { type: "string" },
      group: { type: "string" },
      "client-id": { type: "string" },
      "session-expiry": { type: "string" },
      http: { type: "string" },
      "public-url": { type: "string" },
      jsonl: { type: "string" },
      "retention-days": { type: "string" },
      "health-days": { type: "string" },
      "rejection-days": { type: "string" },
      help: { type: "boolean" },
    }));
  } catch (error) {
    if (!(error instanceof CommandLineError)) throw error;
    process.stderr.write(`collector: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (message: string): number => {
    process.stderr.write(`collector: ${message}\n${USAGE}`);
    return 2;
  };
  if (!values.broker || !/^mqtts?:\/\//.test(values.broker)) return usage("--broker mqtt://host:port is required");
  const secure = values.broker.startsWith("mqtts://");
  if (secure !== (values.ca !== undefined)) return usage(secure ? "--broker mqtts://... needs --ca FILE" : "--ca needs an mqtts:// broker");
  let http: HttpAddress | "off" | undefined;
  let numbers: { sessionExpiry?: number; retention?: number; health?: number; rejection?: number };
  try {
    http = values.http === undefined ? undefined : values.http === "off" ? "off" : parseHttpAddress(values.http);
    if (values["public-url"] !== undefined) publicBaseUrl(values["public-url"]);
    numbers = {
      sessionExpiry: wholeNumber(values["session-expiry"], "--session-expiry", 0xffff_ffff),
      retention: wholeNumber(values["retention-days"], "--retention-days", 100_000),
      health: wholeNumber(values["health-days"], "--health-days", 100_000),
      rejection: wholeNumber(values["rejection-days"], "--rejection-days", 100_000),
    };
  } catch (error) {
    if (error instanceof HttpAddressError || error instanceof RangeError) return usage(error.message);
    if (error instanceof PublicBaseUrlError) return usage(error.message.replace(/^publicBaseUrl/, "--public-url"));
    throw error;
  }
  if (values.group !== undefined && !usesPostgres(values.db)) {
    return usage("--group needs --db postgres://...: the members of a group share one database (an SQLite file serves one collector)");
  }
  let ca: string | undefined;
  try {
    ca = values.ca === undefined ? undefined : readPinnedCa(values.ca);
  } catch (error) {
    process.stderr.write(`collector: --ca: ${(error as Error).message}\n`);
    return 2;
  }
  const stateDir = resolve(values.state ?? ".civicnode");
  const stateProblem = stateFolderProblem(stateDir);
  if (stateProblem !== undefined) return usage(stateProblem);
  const clientId = values["client-id"];
  // SQLite: one collector per database file (npm start runs one too). PostgreSQL: one process per
  // client id, since two under one id would take the broker's session from each other. The kernel
  // lets go when this process ends.
  const lockFile = usesPostgres(values.db) ? `collector-${(clientId ?? "default").replace(/[^A-Za-z0-9._-]/g, "_")}.lock` : COLLECTOR_LOCK_FILE;
  let lock: ExclusiveLock;
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    lock = ExclusiveLock.acquire(join(stateDir, lockFile), { command: "npm run collector", subject: usesPostgres(values.db) ? `${stateDir} as ${clientId ?? "the default client id"}` : stateDir });
  } catch (error) {
    process.stderr.write(`collector: ${error instanceof LockError ? error.message : `cannot make the state folder ${stateDir}: ${(error as Error).message}`}\n`);
    return 1;
  }
  process.once("exit", () => lock.release());
  const keyring = Keyring.load(stateDir, new PassphraseSource(stateDir, { notify: (line) => process.stderr.write(`collector: ${line}\n`) }));
  if (keyring.devices.length === 0) {
    process.stderr.write(`collector: no devices in ${join(stateDir, KEYRING_FILE)}\n`);
    return 1;
  }
  const log = (level: string, event: string, detail?: object) => process.stderr.write(`${level} ${event} ${detail ? JSON.stringify(detail) : ""}\n`);
  let service;
  try {
    service = await startCollectorService({
      stateDir,
      brokerUrl: values.broker,
      ca,
      keyring,
      db: values.db,
      group: values.group,
      clientId,
      sessionExpirySeconds: numbers.sessionExpiry,
      http,
      ...(values["public-url"] === undefined ? {} : { publicBaseUrl: values["public-url"] }),
      jsonl: values.jsonl === undefined ? undefined : resolve(values.jsonl),
      retention: { summaryDays: numbers.retention ?? Infinity, healthDays: numbers.health ?? Infinity, rejectionDays: numbers.rejection ?? Infinity },
      log,
    });
  } catch (error) {
    const where = error instanceof CollectorDbError ? ` (database ${databaseLocation(stateDir, values.db).replace(/\/\/[^@/]*@/, "//")})` : "";
    process.stderr.write(`collector: ${(error as Error).message}${where}\n`);
    return 1;
  }
  const { collector, api, db } = service;
  process.stderr.write(`collector: storing into ${db.engine} ${db.location} as ${collector.clientId}${values.group ? ` in group ${values.group}` : ""}\n`);
  if (api) process.stderr.write(`collector: dashboard ${api.staffLoginUrl()} (one-time login link)\ncollector: API on ${api.url}/api/nodes (staff token in ${api.tokenFile})\n`);
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await service.stop();
  process.stderr.write(`collector: ${collector.stats.accepted} accepted, ${collector.rejectedTotal} rejected ${JSON.stringify(collector.stats.rejected)}\n`);
  return 0;
}

/** An optional whole number from 0 to `max`; RangeError naming the option otherwise. */
function wholeNumber(text: string | undefined, option: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value > max) throw new RangeError(`${option}: ${JSON.stringify(text)} is not a whole number from 0 to ${max}`);
  return value;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`collector: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
