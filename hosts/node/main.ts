/**
 * `npm start`: a street of simulated civicnode nodes, an MQTT broker and the reference collector,
 * with a live console view. See `USAGE` in cli-options.ts.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Log, LogDetail, LogLevel } from "../../src/platform.js";
import { decodeWindowMark, WINDOW_MARK_KEY } from "../../src/aggregate/window-mark.js";
import { FileStore } from "./file-store.js";
import type { HealthLine, SummaryLine } from "../collector/collector.js";
import { startCollectorService, type CollectorService } from "../collector/collector-service.js";
import { Keyring, KeyringError, KEYRING_FILE } from "../collector/keyring.js";
import { PassphraseSource } from "../collector/passphrase-source.js";
import { DEFAULT_ZONE, streetBoard, streetDeviceId } from "../sim/street.js";
import { PolicyError } from "../../src/policy/deployment-policy.js";
import { ConfigError, parseNodeConfig } from "../../src/policy/node-config.js";
import { nodeConfigFromPolicy } from "../../src/policy/node-from-policy.js";
import { writeFileAtomic } from "./atomic-file.js";
import { storeFailureCause } from "../../src/store-contract.js";
import { parseSimulatorOptions, UsageError, USAGE, type SimulatorOptions } from "./cli-options.js";
import { ConsoleView } from "./console-view.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "./embedded-broker.js";
import { COLLECTOR_LOCK_FILE, ExclusiveLock, LockError, SIMULATOR_LOCK_FILE } from "./exclusive-lock.js";
import { FlashWriteError, flashPath, prepareStreetFlash, type StreetFlash } from "./flash-provisioning.js";
import { Fleet } from "./fleet.js";
import { stateFolderProblem } from "./state-folder.js";
import { OperatorKey, OperatorKeyError, OPERATOR_PUBLIC_KEY_FILE } from "../collector/operator-key.js";
import { OversightKey, OversightKeyError, OVERSIGHT_PUBLIC_KEY_FILE, readOversightPublicKey } from "../collector/oversight-key.js";
import { PolicyFileError, loadPolicyDocument } from "./policy-file.js";

/** The reference street's policy in the repository (this file runs as dist/hosts/node/main.js). */
const REFERENCE_POLICY_FILE = new URL("../../../src/policy/reference-street.policy.json", import.meta.url);

/** The built-in street's window, which the simulated clock starts aligned to. */
const WINDOW_MS = 300_000;
const SIMULATOR_STATE_FILE = "simulator.json";

async function main(argv: readonly string[]): Promise<number> {
  let options: SimulatorOptions;
  try {
    options = parseSimulatorOptions(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`civicnode: ${error.message}\nRun "npm start -- --help" for the options.\n`);
      return 2;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const stateProblem = stateFolderProblem(resolve(options.state));
  if (stateProblem !== undefined) {
    process.stderr.write(`civicnode: ${stateProblem}\nRun "npm start -- --help" for the options.\n`);
    return 2;
  }

  // What the nodes will collect, checked before anything starts: every error at once.
  const policyFile = options.policy === undefined ? REFERENCE_POLICY_FILE.pathname : resolve(options.policy);
  let policy: { document: unknown; name: string };
  try {
    const loaded = loadPolicyDocument(policyFile);
    // What depends on the board (its sensors, what their outputs count) is checked here too.
    parseNodeConfig(nodeConfigFromPolicy({ zone: DEFAULT_ZONE, device: streetDeviceId(1) }, streetBoard(), loaded.policy));
    policy = loaded;
  } catch (error) {
    const refusal = "The node refuses to start on an invalid policy; docs/policy.md explains each field.";
    if (error instanceof PolicyError || error instanceof ConfigError) {
      process.stderr.write(`civicnode: ${policyFile}: not a valid policy for the reference board:\n  ${error.message}\n${refusal}\n`);
      return 2;
    }
    if (!(error instanceof PolicyFileError)) throw error;
    process.stderr.write(`civicnode: ${error.message}\n${refusal}\n`);
    return 2;
  }

  const view = new ConsoleView();
  const stateDir = resolve(options.state);
  // One street per state folder, and no other collector on its files: two would seal under the
  // same keys and counters (repeated nonces) and interleave their writes. The kernel lets go of
  // the locks when this process ends, however it ends.
  const locks: ExclusiveLock[] = [];
  process.once("exit", () => locks.forEach((lock) => lock.release()));
  try {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    for (const file of [SIMULATOR_LOCK_FILE, COLLECTOR_LOCK_FILE]) locks.push(ExclusiveLock.acquire(join(stateDir, file), { command: "npm start", subject: stateDir }));
  } catch (error) {
    process.stderr.write(`civicnode: ${error instanceof LockError ? error.message : `cannot make the state folder ${stateDir}: ${(error as Error).message}`}\n`);
    return 1;
  }
  const logFile = join(stateDir, "simulator.log");
  const noisy = new Map<string, number>();
  // The log file may fail (a full or read-only disk): that is said once, counted, and the lines
  // still reach the console; it must never throw into whatever was logging (a node's error path).
  const logFailures = { count: 0, cause: undefined as string | undefined };
  const log = (level: LogLevel, event: string, detail?: LogDetail) => {
    try {
      appendFileSync(logFile, JSON.stringify({ time: new Date().toISOString(), level, event, ...detail }) + "\n");
      if (logFailures.cause !== undefined) {
        view.message(`the log file ${logFile} is writable again (${logFailures.count} line(s) could not be written)`);
        logFailures.cause = undefined;
      }
    } catch (error) {
      logFailures.count++;
      const cause = storeFailureCause(error);
      if (logFailures.cause === undefined) view.message(`error: cannot write the log file ${logFile} (${cause}): log lines go to the console only until it can`);
      logFailures.cause = cause;
      if (level === "info" || level === "debug") return;
    }
    if (level === "warn" || level === "error") {
      // Show problems on the console too, but a repeating one (a broker that is down) once per 10 s.
      const key = `${event}/${detail?.device ?? ""}`;
      const now = Date.now();
      if ((noisy.get(key) ?? 0) + 10_000 <= now) {
        noisy.set(key, now);
        view.message(`${level}: ${event}${detail ? " " + JSON.stringify(detail) : ""}`);
      }
    }
  };

  // Keys first: one per device, from the OS CSPRNG, kept in the state folder (never printed), and
  // each node's flash provisioned from it once per key: a lost or unreadable flash is refused.
  const devices = Array.from({ length: options.nodes }, (_, i) => streetDeviceId(i + 1));
  let prepared: StreetFlash;
  try {
    prepared = prepareStreetFlash(stateDir, devices, DEFAULT_ZONE, "npm start", new PassphraseSource(stateDir, { notify: (line) => view.message(line) }));
  } catch (error) {
    if (!(error instanceof LockError || error instanceof KeyringError || error instanceof FlashWriteError)) throw error;
    process.stderr.write(`civicnode: ${error.message}\n`);
    return 1;
  }
  if (prepared.refusals.length > 0) {
    process.stderr.write(`civicnode: not starting: ${prepared.refusals.length} node(s) would repeat nonces; nothing was sealed.\n${prepared.refusals.join("\n")}\n`);
    return 1;
  }
  const { keyring, added } = prepared;
  for (const { device, replaced } of prepared.provisioned) {
    if (replaced !== undefined) view.message(`${device}: its flash ${replaced}; replaced it with a flash for the keyring's key, which no node had used`);
  }
  if (Keyring.isExposed(stateDir)) view.message(`warning: ${join(stateDir, KEYRING_FILE)} is readable by other users; chmod 600 it`);
  view.message(
    added.length > 0
      ? `provisioned ${added.length} new device key(s) into ${join(stateDir, KEYRING_FILE)} (mode 0600)`
      : `using device keys from ${join(stateDir, KEYRING_FILE)}`,
  );

  // The operator's key signs each node's policy; the nodes verify it with the public half.
  let operator: OperatorKey;
  try {
    const opened = OperatorKey.loadOrCreate(stateDir, new PassphraseSource(stateDir, { notify: (line) => view.message(line) }));
    operator = opened.key;
    view.message(`${opened.created ? "created the operator's signing key" : "using the operator's signing key"} (public key in ${join(stateDir, OPERATOR_PUBLIC_KEY_FILE)})`);
    view.message(`every node runs the policy "${policy.name}" from ${policyFile}, signed with it`);
  } catch (error) {
    if (!(error instanceof OperatorKeyError || error instanceof LockError)) throw error;
    process.stderr.write(`civicnode: ${error.message}
`);
    return 1;
  }

  // The data-ethics board's key, whose countersignature a policy change that weakens privacy needs
  // (docs/governance.md): the nodes get its public half. Made here once for the quick start.
  let oversightKey: Uint8Array;
  try {
    const published = readOversightPublicKey(stateDir);
    if (published !== undefined) oversightKey = published;
    else {
      const opened = OversightKey.loadOrCreate(stateDir, new PassphraseSource(stateDir, { notify: (line) => view.message(line) }));
      oversightKey = opened.key.publicKey;
      opened.key.wipe();
      if (opened.created) {
        view.message(`created an oversight key for the two-key rule (public key in ${join(stateDir, OVERSIGHT_PUBLIC_KEY_FILE)})`);
        view.message("  a city keeps it with its data-ethics board, on another machine under another passphrase, not beside the operator's key");
      }
    }
  } catch (error) {
    if (!(error instanceof OversightKeyError || error instanceof LockError)) throw error;
    process.stderr.write(`civicnode: ${error.message}\n`);
    return 1;
  }

  let broker: EmbeddedBroker | undefined;
  let brokerUrl = options.broker;
  if (brokerUrl === undefined) {
    broker = await startEmbeddedBroker();
    brokerUrl = broker.url;
    view.message(`embedded MQTT broker (aedes) on ${brokerUrl}`);
  } else view.message(`using external MQTT broker ${brokerUrl}${options.ca ? ` over TLS, pinning the CA in ${options.caFile}` : ""}`);

  let service: CollectorService;
  try {
    service = await withTimeout(
      startCollectorService({ stateDir, brokerUrl, ca: options.ca, keyring, db: options.db, http: options.http, ...(options.publicUrl === undefined ? {} : { publicBaseUrl: options.publicUrl }), jsonl: options.jsonl === undefined ? undefined : resolve(options.jsonl), log }),
      15_000,
      `cannot start the collector on the MQTT broker at ${brokerUrl}`,
    );
  } catch (error) {
    view.message(`civicnode: ${(error as Error).message}`);
    await broker?.close();
    return 1;
  }
  const { collector, api } = service;
  const perDevice = new Map<string, number>(devices.map((d) => [d, 0]));
  const latestHealth = new Map<string, HealthLine>();
  collector.onSummary((line: SummaryLine) => {
    if (perDevice.has(line.device)) perDevice.set(line.device, perDevice.get(line.device)! + 1);
    view.summary(line);
  });
  // What an intrusion or a failing disk looks like upstream: on the console at once, never only in a file.
  collector.onAlert((alert) => view.message(`ALERT ${alert.kind}${alert.device ? ` ${alert.device}` : ""}: ${alert.detail}${alert.action ? `. ${alert.action}` : ""}`));
  collector.onHealth((line: HealthLine) => {
    view.health(line, latestHealth.get(line.device));
    latestHealth.set(line.device, line);
  });
  view.message(`collector subscribed; it stores into ${service.db.engine} ${service.db.location}${options.jsonl ? ` and exports to ${resolve(options.jsonl)}` : ""}`);
  if (api) view.message(`dashboard ${api.staffLoginUrl()} (one-time login link)\ncollector API on ${api.url}/api/nodes (staff token in ${api.tokenFile})`);

  const startWallMs = simulatedStartTime(stateDir, devices);
  const fleet = new Fleet({ engine: options.engine, faultHours: options.faultHours, brokerUrl, ca: options.ca, devices, zone: DEFAULT_ZONE, speed: options.speed, stateDir, keyring, operator, oversightKey, policy: policy.document, startWallMs, log });
  try {
    await fleet.start();
  } catch (error) {
    view.message(`civicnode: cannot start the street: ${(error as Error).message}`);
    await fleet.stop().catch(() => {});
    await service.stop();
    await broker?.close();
    return 1;
  }
  view.message(
    `street of ${devices.length} nodes (${options.engine === "xs" ? "cores in the XS engine" : "cores in Node.js"}) from ${new Date(startWallMs).toISOString().slice(0, 16)}Z at ${options.speed}x` +
      (options.windows ? `, until ${options.windows} window(s) per node` : ", Ctrl-C to stop"),
  );

  const windowsDone = () => Math.min(...perDevice.values());
  const members = () => fleet.members;
  const showStatus = (force = false) =>
    view.status(
      {
        simWallMs: fleet.wallMs,
        speed: options.speed,
        nodes: devices.length,
        windowsDone: windowsDone(),
        windowsGoal: options.windows,
        accepted: collector.stats.accepted,
        rejected: collector.rejectedTotal,
        rejectedByCause: collector.stats.rejected,
        queued: members().reduce((sum, member) => sum + member.outboxDepth, 0),
        brokerConnected: members().filter(({ transport }) => transport.connected).length,
        faultySensors: [...latestHealth.values()].reduce((sum, h) => sum + Object.values(h.sensors).filter((x) => x.status === "faulty").length, 0),
        dropped: members().reduce((sum, member) => sum + member.dropped, 0),
        storeFailures: members()
          .filter((member) => member.storeFailure !== undefined)
          .map((member) => `${member.device} ${member.storeFailure}`),
        storeErrors: members().reduce((sum, member) => sum + member.storeErrors, 0) + logFailures.count,
        sealFailures: members().reduce((sum, member) => sum + member.sealFailures, 0),
        collectorStoreFailure: collector.stats.store.failing ? (collector.stats.store.lastCause ?? "failing") : undefined,
      },
      force,
    );

  // `npm run cmd` finds the broker and the simulated time here while the street runs.
  const running = { brokerUrl, caFile: options.caFile === undefined ? undefined : resolve(options.caFile), speed: options.speed };
  saveSimulatedTime(stateDir, fleet.wallMs, log, running);
  let lastSaveMs = Date.now();
  let ticker: NodeJS.Timeout | undefined;
  const code = await new Promise<number>((finish) => {
    ticker = setInterval(() => {
      showStatus();
      if (Date.now() - lastSaveMs >= 5000) {
        saveSimulatedTime(stateDir, fleet.wallMs, log, running);
        lastSaveMs = Date.now();
      }
      if (options.windows !== undefined && windowsDone() >= options.windows) finish(0);
    }, 250);
    process.once("SIGINT", () => finish(0));
    process.once("SIGTERM", () => finish(0));
    if (options.windows !== undefined) {
      // Generous: three times the simulated time the windows need, plus connection time.
      const budgetMs = ((options.windows + 1) * WINDOW_MS * 3) / options.speed + 30_000;
      setTimeout(() => {
        view.message(`civicnode: gave up: only ${windowsDone()} of ${options.windows} windows per node arrived within ${Math.round(budgetMs / 1000)} s`);
        finish(1);
      }, budgetMs).unref();
    }
  });
  clearInterval(ticker);
  showStatus(true);
  view.finish();
  await fleet.stop();
  await service.stop();
  await broker?.close();
  saveSimulatedTime(stateDir, fleet.wallMs, log);
  view.message(`stopped: ${collector.stats.summaries} summaries and ${collector.stats.healthReports} health reports decrypted, ${collector.rejectedTotal} rejected`);
  return code;
}

/**
 * The simulated street resumes where its clock stopped last time, or starts at the current
 * window. Its nodes never seal a window again whatever the clock says (src/aggregate/window-mark.ts);
 * starting after the newest window any node has sealed spares them waiting for the clock to catch
 * up when `simulator.json` is older than their flash (a kill -9 between two saves).
 */
function simulatedStartTime(stateDir: string, devices: readonly string[]): number {
  const now = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
  let start = now;
  const path = join(stateDir, SIMULATOR_STATE_FILE);
  if (existsSync(path)) {
    try {
      const saved = JSON.parse(readFileSync(path, "utf8")) as { simulatedWallMs?: unknown };
      if (typeof saved.simulatedWallMs === "number" && Number.isFinite(saved.simulatedWallMs)) start = Math.max(start, Math.ceil(saved.simulatedWallMs / WINDOW_MS) * WINDOW_MS);
    } catch {
      // An unreadable file only costs the resume point: the nodes' window marks still hold.
    }
  }
  for (const device of devices) {
    try {
      const mark = new FileStore(flashPath(stateDir, device)).get(WINDOW_MARK_KEY);
      const endS = mark === undefined ? undefined : decodeWindowMark(mark);
      if (endS !== undefined) start = Math.max(start, endS * 1000);
    } catch {
      // A flash that cannot be read was refused before this point.
    }
  }
  return start;
}

/**
 * Records the simulated time (so that the next run resumes from it) and, while the street runs, its
 * broker and speed (so that `npm run cmd` can reach the nodes and date its commands in their time).
 */
function saveSimulatedTime(stateDir: string, wallMs: number, log: Log, running?: { brokerUrl: string; caFile: string | undefined; speed: number }): void {
  const record = running ? { simulatedWallMs: wallMs, savedAtMs: Date.now(), running: { ...running, pid: process.pid } } : { simulatedWallMs: wallMs };
  try {
    writeFileAtomic(join(stateDir, SIMULATOR_STATE_FILE), JSON.stringify(record) + "\n", 0o600);
  } catch (error) {
    // Only the resume point and the cmd tool's convenience are lost; said, not hidden.
    log("warn", "simulator-state-not-saved", { file: SIMULATOR_STATE_FILE, cause: storeFailureCause(error) });
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(message)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolvePromise(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(new Error(`${message}: ${(error as Error).message}`));
      },
    );
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`civicnode: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
