/**
 * `npm run cmd -- <device> <command> [name=value ...] [--wait] [--broker URL] [--state DIR] [--ca FILE]`:
 * seals a downlink command for a node and publishes it. Without --broker it uses the broker of the
 * simulator running on the same state folder. `update-policy --policy FILE [--countersign]` sends
 * a new signed policy in chunks (update-policy.ts). With --wait it then prints what the node made
 * of it, from its next health report in the collector's database (command-outcome.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { COMMAND_NAMES } from "../../src/uplink/downlink-command.js";
import { POLICY_CHUNK_COMMAND } from "../../src/uplink/policy-chunks.js";
import { parseCommandArguments } from "./command-arguments.js";
import { CommandOutcomeWatch, isoMinute, type AwaitedCommand } from "./command-outcome.js";
import { Commander, CommandError } from "./commander.js";
import { databaseLocation } from "./collector-service.js";
import type { CollectorDb, CommandRow } from "./db/collector-db.js";
import { openCollectorDb } from "./db/open-collector-db.js";
import { Keyring } from "./keyring.js";
import { PassphraseSource } from "./passphrase-source.js";
import { CommandLineError, parseCommandLine } from "../node/command-line.js";
import { readPinnedCa } from "../node/pinned-ca.js";
import { loadPolicyDocument, PolicyFileError } from "../node/policy-file.js";
import { stateFolderProblem } from "../node/state-folder.js";
import { streetBoard } from "../sim/street-board.js";
import { PolicyError } from "../../src/policy/deployment-policy.js";
import { ConfigError } from "../../src/policy/node-config.js";
import { NodePolicyRecordError } from "./node-policy-record.js";
import { OperatorKey, OPERATOR_KEY_FILE } from "./operator-key.js";
import { OversightKey } from "./oversight-key.js";
import { PolicyUpdateRefusedError } from "./policy-update-issuer.js";
import { sendPolicyUpdate } from "./update-policy.js";

const UPDATE_POLICY = "update-policy";
/** What a person may send: the chunks of a policy update are sent by update-policy only. */
const CLI_COMMANDS = [...COMMAND_NAMES.filter((name) => name !== POLICY_CHUNK_COMMAND), UPDATE_POLICY];
/** The reference board's health interval, for --wait on a node with fewer than two reports stored. */
const REFERENCE_HEALTH_SECONDS = Number(streetBoard().uplink?.healthSeconds);
/**
 * --wait gives up after three health intervals: the report that may have been on its way when the
 * command was sent, the one that carries the outcome, and one more for a node reconnecting.
 */
const WAIT_INTERVALS = 3;
/** How often --wait reads the database: often enough for a street at 600x (a report every 1.5 s). */
const WAIT_POLL_MS = 200;

const USAGE = `civicnode command tool

Usage: npm run cmd -- <device> <command> [name=value ...] [options]

Commands:
  rotate-epoch                      move the node's uplink key to a new epoch now
  set-window seconds=N              set the window length (within the node's policy)
  set-interval sensor=ID seconds=N  sample a sensor less often (within the node's policy)
  republish-disclosure              publish the node's disclosure again
  update-policy --policy FILE       give the node a new signed policy (serial + 1), in chunks;
                [--countersign]     with the oversight key's countersignature, which a change
                                    that weakens privacy needs (docs/governance.md)

Options:
  --wait         then wait for the node's next health report and print what it made of the
                 command (accepted, or refused and why); exit 0 only if it was accepted. Reads
                 the collector's database, so a collector must be storing (npm start runs one).
                 Gives up after three of the node's health intervals (900 s of its clock each;
                 15 s at npm start's 60x)
  --broker URL   the broker (default: that of the simulator running on --state, whose
                 simulated clock then dates the command)
  --state DIR    folder with keyring.sealed and downlink.json (default ./.civicnode)
  --ca FILE      with mqtts://: the CA certificate (PEM) to trust, and the only one
  --db PATH|URL  the collector's database, where the command and whether the broker took it are
                 recorded (default DIR/collector.db)
  update-policy only:
  --policy FILE      the new policy.json (validated first: every error listed)
  --countersign      countersign with the oversight key (DIR/oversight-key.sealed, or --oversight)
  --oversight DIR    the folder of the data-ethics board's oversight-key.sealed (its passphrase as
                     for DIR, from that folder or the environment)
  --board FILE       the node's board as JSON (default: the simulator's reference board)
  The node's running policy is the one its retained disclosure names, from the operator's record
  DIR/policies/<device>/<serial>.cose.

Arguments are checked before anything is sealed: a malformed one costs no counter. Exit codes:
0 sent (with --wait: accepted), 1 not sent or (with --wait) refused or no answer, 2 bad usage.

The keyring is sealed under a passphrase, read from the file CIVICNODE_PASSPHRASE_FILE names, or
from CIVICNODE_PASSPHRASE, or else from DIR/passphrase (docs/keys-at-rest.md).
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(
      argv,
      {
        broker: { type: "string" },
        state: { type: "string" },
        ca: { type: "string" },
        db: { type: "string" },
        policy: { type: "string" },
        countersign: { type: "boolean" },
        oversight: { type: "string" },
        board: { type: "string" },
        wait: { type: "boolean" },
        help: { type: "boolean" },
      },
      true,
    );
  } catch (error) {
    if (!(error instanceof CommandLineError)) throw error;
    process.stderr.write(`cmd: ${error.message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [device, name, ...pairs] = positionals;
  if (!device || !name || !CLI_COMMANDS.includes(name)) {
    process.stderr.write(`cmd: give a device and one of ${CLI_COMMANDS.join(", ")}\n${USAGE}`);
    return 2;
  }
  const updating = name === UPDATE_POLICY;
  const policyOptions = [values.policy, values.countersign, values.oversight, values.board].some((value) => value !== undefined);
  if (updating ? values.policy === undefined || pairs.length > 0 : policyOptions) {
    process.stderr.write(`cmd: ${updating ? "update-policy takes --policy FILE and no name=value" : "--policy, --countersign, --oversight and --board go with update-policy"}\n`);
    return 2;
  }
  let policyDocument: unknown;
  if (values.policy !== undefined) {
    try {
      policyDocument = loadPolicyDocument(resolve(values.policy)).document;
    } catch (error) {
      if (!(error instanceof PolicyFileError)) throw error;
      process.stderr.write(`cmd: ${error.message}\n`);
      return 2;
    }
  }
  let args: Record<string, number | string> = {};
  try {
    if (!updating) args = parseCommandArguments(name, pairs);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    process.stderr.write(`cmd: ${error.message}\n`);
    return 2;
  }
  const stateDir = resolve(values.state ?? ".civicnode");
  const stateProblem = stateFolderProblem(stateDir);
  if (stateProblem !== undefined) {
    process.stderr.write(`cmd: ${stateProblem}\n`);
    return 2;
  }
  let target: Target;
  try {
    target = values.broker ? { brokerUrl: values.broker, caFile: values.ca, issuedMs: Date.now(), speed: 1 } : runningSimulator(stateDir, values.ca);
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n`);
    return 2;
  }
  const secure = target.brokerUrl.startsWith("mqtts://");
  if (secure !== (target.caFile !== undefined)) {
    process.stderr.write(`cmd: ${secure ? "an mqtts:// broker needs --ca FILE" : "--ca needs an mqtts:// broker"}\n`);
    return 2;
  }
  let ca: string | undefined;
  try {
    ca = target.caFile === undefined ? undefined : readPinnedCa(target.caFile);
  } catch (error) {
    process.stderr.write(`cmd: --ca: ${(error as Error).message}\n`);
    return 2;
  }
  const location = databaseLocation(stateDir, values.db);
  // --wait notes the reports stored so far before anything is sent: the verdict is in a later one.
  let waiting: Waiting | undefined;
  if (values.wait) {
    try {
      const db = await openCollectorDb({ location });
      waiting = { db, watch: await CommandOutcomeWatch.begin(db, device, target.issuedMs / 1000), location, speed: target.speed };
    } catch (error) {
      process.stderr.write(`cmd: --wait reads the node's health reports from the collector's database, and ${shown(location)} cannot be read: ${(error as Error).message}\n`);
      return 1;
    }
  }
  try {
    const notify = (line: string) => process.stderr.write(`cmd: ${line}\n`);
    const connect = () => {
      const tls = ca ? { ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {};
      return connectAsync(target.brokerUrl, { clientId: `civicnode-cmd-${process.pid}`, connectTimeout: 10_000, reconnectPeriod: 0, ...tls });
    };
    if (updating) return await updatePolicy({ stateDir, device, policy: policyDocument, values, connect, issuedMs: target.issuedMs, notify, location, waiting });
    let sealed;
    try {
      const passphrases = new PassphraseSource(stateDir, { notify });
      sealed = new Commander(Keyring.load(stateDir, passphrases), stateDir).seal(device, name, args, target.issuedMs);
    } catch (error) {
      process.stderr.write(`cmd: ${(error as Error).message}\n`);
      return error instanceof CommandError ? 2 : 1;
    }
    let outcome = "published";
    try {
      const client = await connect();
      await client.publishAsync(sealed.topic, Buffer.from(sealed.payload), { qos: 1 });
      await client.endAsync();
      process.stdout.write(`sent ${name} to ${device} (counter ${sealed.counter}, ${sealed.payload.length} bytes sealed) on ${sealed.topic}\n`);
    } catch (error) {
      outcome = `not published: ${(error as Error).message.slice(0, 200)}`;
      process.stderr.write(`cmd: ${(error as Error).message}\n`);
    }
    const command = { device, name, args, counter: sealed.counter, sentAtMs: Date.now() };
    await recordCommand(location, command, outcome, waiting?.db);
    if (outcome !== "published") return 1;
    return waiting ? await awaitVerdict(waiting, command, { name }) : 0;
  } finally {
    await waiting?.db.close().catch(() => undefined);
  }
}

/** What --wait holds while the command goes out: the database it reads, and the reports stored before. */
interface Waiting {
  readonly db: CollectorDb;
  readonly watch: CommandOutcomeWatch;
  readonly location: string;
  /** Simulated seconds per real second of the node's clock: the simulator's speed, 1 for a real node. */
  readonly speed: number;
}

/**
 * --wait: reads the node's health reports until one says what became of the command, two say
 * nothing of it, or WAIT_INTERVALS of its health intervals have gone by; prints the verdict and
 * records it as the command's outcome. Exit code 0 only when the node accepted it.
 */
async function awaitVerdict(waiting: Waiting, command: CommandRow, awaited: AwaitedCommand): Promise<number> {
  const { db, watch, speed } = waiting;
  const healthSeconds = watch.healthSeconds ?? REFERENCE_HEALTH_SECONDS;
  const intervalMs = (healthSeconds * 1000) / speed;
  const budgetMs = WAIT_INTERVALS * intervalMs;
  const pace = speed === 1 ? "" : ` (${seconds(intervalMs)} at ${speed}x)`;
  process.stdout.write(`waiting for ${command.device}'s next health report: one every ${healthSeconds} s of its clock${pace}\n`);
  const deadline = Date.now() + budgetMs;
  for (;;) {
    let verdict;
    try {
      verdict = await watch.poll(awaited);
    } catch (error) {
      process.stderr.write(`cmd: cannot read ${command.device}'s health reports from ${shown(waiting.location)}: ${(error as Error).message}\n`);
      return 1;
    }
    if (verdict !== undefined) {
      const report = `its health report of ${isoMinute(verdict.report.time)}`;
      if (verdict.kind === "not-received") {
        process.stderr.write(`cmd: ${command.name} to ${command.device} (counter ${command.counter}): ${verdict.reason} (offline, or not subscribed); it may still arrive and be acted on\n`);
        return 1;
      }
      const said = verdict.kind === "accepted" ? `${command.device} accepted ${command.name}` : `${command.device} refused ${command.name}: ${verdict.reason}`;
      process.stdout.write(`${said} (${report})\n${verdict.entries.map((entry) => `  audit: ${entry}\n`).join("")}`);
      try {
        await db.recordCommandOutcome(command.device, command.counter, verdict.probable ? `${verdict.outcome} (probably)` : verdict.outcome, Date.now());
      } catch (error) {
        process.stderr.write(`cmd: warning: the node's verdict is not recorded in ${shown(waiting.location)}: ${(error as Error).message}\n`);
      }
      return verdict.kind === "accepted" ? 0 : 1;
    }
    if (Date.now() >= deadline) {
      process.stderr.write(
        `cmd: no health report of ${command.device} reached ${shown(waiting.location)} within ${seconds(budgetMs)} (${WAIT_INTERVALS} of its health intervals of ${healthSeconds} s${pace}): ` +
          `is the node online, and a collector storing into that database? The command was sent (counter ${command.counter}); the node's next health reports will say what became of it\n`,
      );
      return 1;
    }
    await new Promise((resolveSleep) => setTimeout(resolveSleep, WAIT_POLL_MS));
  }
}

function seconds(ms: number): string {
  return ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** A database location as it may be printed: a PostgreSQL URL without its password. */
function shown(location: string): string {
  return location.replace(/\/\/[^@/]*@/, "//");
}

/**
 * update-policy: the keys (the operator's must exist: a new one would sign what no node trusts),
 * then sendPolicyUpdate on a connection to the node's broker. A refusal of the tool's own (a
 * change that weakens privacy without --countersign, a policy the node's board cannot run, no
 * record of the node's policy) exits 2 before anything is sent. With --wait, the verdict is the
 * node's audit entry for the update's serial.
 */
async function updatePolicy(request: {
  stateDir: string;
  device: string;
  policy: unknown;
  values: { countersign?: boolean; oversight?: string; board?: string; db?: string };
  connect: () => Promise<MqttClient>;
  issuedMs: number;
  notify: (line: string) => void;
  location: string;
  waiting: Waiting | undefined;
}): Promise<number> {
  const { stateDir, device, values, notify } = request;
  let keyring: Keyring;
  let operator: OperatorKey;
  let oversight: OversightKey | undefined;
  try {
    const passphrases = new PassphraseSource(stateDir, { notify });
    keyring = Keyring.load(stateDir, passphrases);
    if (!existsSync(join(stateDir, OPERATOR_KEY_FILE))) throw new CommandError(`no operator key in ${stateDir} (${OPERATOR_KEY_FILE}): the nodes trust the key that signed their policy`);
    operator = OperatorKey.loadOrCreate(stateDir, passphrases).key;
    if (values.countersign) {
      const dir = resolve(values.oversight ?? stateDir);
      oversight = OversightKey.open(dir, dir === stateDir ? passphrases : new PassphraseSource(dir, { notify }));
    }
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n`);
    return error instanceof CommandError ? 2 : 1;
  }
  let client: MqttClient;
  try {
    client = await request.connect();
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n`);
    return 1;
  }
  let sent;
  try {
    sent = await sendPolicyUpdate({ stateDir, device, policy: request.policy, boardFile: values.board, keyring, operator, oversight, client, issuedMs: request.issuedMs, notify });
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n`);
    const ours = error instanceof PolicyUpdateRefusedError || error instanceof NodePolicyRecordError || error instanceof CommandError || error instanceof PolicyError || error instanceof ConfigError;
    return ours ? 2 : 1;
  } finally {
    await client.endAsync().catch(() => undefined);
    operator.wipe();
    oversight?.wipe();
  }
  const first = sent.commands[0]!.counter;
  const last = sent.commands.at(-1)!.counter;
  process.stdout.write(
    `sent update-policy to ${device}: serial ${sent.serial} (from ${sent.base}), ${sent.commands.length} chunks (counters ${first}-${last}, ${sent.update.length} bytes), ` +
      `${sent.countersigned ? "signed and countersigned (two keys)" : "signed by the operator (one key)"}\n` +
      sent.weakenings.map((w) => `  weakens ${w.pointer}: ${w.reason}\n`).join(""),
  );
  const args = { serial: sent.serial, chunks: sent.commands.length, keys: sent.countersigned ? 2 : 1 };
  const command = { device, name: UPDATE_POLICY, args, counter: first, sentAtMs: Date.now() };
  await recordCommand(request.location, command, "published", request.waiting?.db);
  return request.waiting ? awaitVerdict(request.waiting, command, { update: sent.serial }) : 0;
}

/**
 * Records the command and what became of it in the collector's database (the staff API lists
 * them). The broker's acknowledgement is what this tool can vouch for; the node's verdict arrives
 * in its health reports (commands by outcome). A database that cannot be written is said, not fatal:
 * the command was sent, and its counter is spent either way.
 */
async function recordCommand(location: string, command: CommandRow, outcome: string, open?: CollectorDb): Promise<void> {
  let db = open;
  try {
    db ??= await openCollectorDb({ location });
    await db.recordCommand(command);
    await db.recordCommandOutcome(command.device, command.counter, outcome, Date.now());
  } catch (error) {
    process.stderr.write(`cmd: warning: the command is not recorded in ${shown(location)}: ${(error as Error).message}\n`);
  } finally {
    if (open === undefined) await db?.close().catch(() => undefined);
  }
}

interface Target {
  readonly brokerUrl: string;
  readonly caFile: string | undefined;
  /** When the command counts as issued: now, or for the simulator, now in its accelerated time. */
  readonly issuedMs: number;
  /** Simulated seconds per real second: the simulator's speed, 1 for a real node. */
  readonly speed: number;
}

/**
 * The broker of the simulator running on `stateDir` (`npm start` records it in simulator.json),
 * and the simulated time now: nodes refuse commands issued more than a day from their own clock,
 * and the simulated street's clock runs ahead of the real one.
 */
function runningSimulator(stateDir: string, caFile: string | undefined): Target {
  const path = join(stateDir, "simulator.json");
  let saved: { simulatedWallMs?: number; savedAtMs?: number; running?: { brokerUrl?: string; caFile?: string; speed?: number; pid?: number } } = {};
  try {
    saved = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new Error(`no --broker given, and no simulator recorded in ${path}`);
  }
  const running = saved.running;
  if (!running?.brokerUrl || typeof saved.simulatedWallMs !== "number" || typeof saved.savedAtMs !== "number" || !isAlive(running.pid)) {
    throw new Error(`no --broker given, and the simulator recorded in ${path} is not running`);
  }
  return {
    brokerUrl: running.brokerUrl,
    caFile: caFile ?? running.caFile,
    issuedMs: Math.round(saved.simulatedWallMs + (Date.now() - saved.savedAtMs) * (running.speed ?? 1)),
    speed: running.speed ?? 1,
  };
}

function isAlive(pid: number | undefined): boolean {
  if (typeof pid !== "number") return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
