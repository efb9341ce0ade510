/**
 * `npm run cmd -- <device> <command> [name=value ...] [--broker URL] [--state DIR] [--ca FILE]`:
 * seals a downlink command for a node and publishes it. Without --broker it uses the broker of the
 * simulator running on the same state folder. `update-policy --policy FILE [--countersign]` sends
 * a new signed policy in chunks (update-policy.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connectAsync, type MqttClient } from "mqtt";
import { COMMAND_NAMES } from "../../src/uplink/downlink-command.js";
import { POLICY_CHUNK_COMMAND } from "../../src/uplink/policy-chunks.js";
import { Commander, CommandError } from "./commander.js";
import { databaseLocation } from "./collector-service.js";
import type { CommandRow } from "./db/collector-db.js";
import { openCollectorDb } from "./db/open-collector-db.js";
import { Keyring } from "./keyring.js";
import { PassphraseSource } from "./passphrase-source.js";
import { readPinnedCa } from "../node/pinned-ca.js";
import { loadPolicyDocument, PolicyFileError } from "../node/policy-file.js";
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

The keyring is sealed under a passphrase, read from the file CIVICNODE_PASSPHRASE_FILE names, or
from CIVICNODE_PASSPHRASE, or else from DIR/passphrase (docs/keys-at-rest.md).
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: {
        broker: { type: "string" },
        state: { type: "string" },
        ca: { type: "string" },
        db: { type: "string" },
        policy: { type: "string" },
        countersign: { type: "boolean" },
        oversight: { type: "string" },
        board: { type: "string" },
        help: { type: "boolean" },
      },
    });
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n${USAGE}`);
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
  const args: Record<string, number | string> = {};
  for (const pair of pairs) {
    const match = /^([a-z]+)=(.+)$/.exec(pair);
    if (!match) {
      process.stderr.write(`cmd: "${pair}" is not name=value\n`);
      return 2;
    }
    const number = Number(match[2]);
    args[match[1]!] = Number.isFinite(number) && match[2]!.trim() !== "" ? number : match[2]!;
  }
  const stateDir = resolve(values.state ?? ".civicnode");
  let target: Target;
  try {
    target = values.broker ? { brokerUrl: values.broker, caFile: values.ca, issuedMs: Date.now() } : runningSimulator(stateDir, values.ca);
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
  const notify = (line: string) => process.stderr.write(`cmd: ${line}\n`);
  const connect = () => {
    const tls = ca ? { ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {};
    return connectAsync(target.brokerUrl, { clientId: `civicnode-cmd-${process.pid}`, connectTimeout: 10_000, reconnectPeriod: 0, ...tls });
  };
  if (updating) return updatePolicy({ stateDir, device, policy: policyDocument, values, connect, issuedMs: target.issuedMs, notify });
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
  await recordCommand(databaseLocation(stateDir, values.db), { device, name, args, counter: sealed.counter, sentAtMs: Date.now() }, outcome);
  return outcome === "published" ? 0 : 1;
}

/**
 * update-policy: the keys (the operator's must exist: a new one would sign what no node trusts),
 * then sendPolicyUpdate on a connection to the node's broker. A refusal of the tool's own (a
 * change that weakens privacy without --countersign, a policy the node's board cannot run, no
 * record of the node's policy) exits 2 before anything is sent.
 */
async function updatePolicy(request: {
  stateDir: string;
  device: string;
  policy: unknown;
  values: { countersign?: boolean; oversight?: string; board?: string; db?: string };
  connect: () => Promise<MqttClient>;
  issuedMs: number;
  notify: (line: string) => void;
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
  await recordCommand(databaseLocation(stateDir, values.db), { device, name: UPDATE_POLICY, args, counter: first, sentAtMs: Date.now() }, "published");
  return 0;
}

/**
 * Records the command and what became of it in the collector's database (the staff API lists
 * them). The broker's acknowledgement is what this tool can vouch for; the node's verdict arrives
 * in its health reports (commands by outcome). A database that cannot be written is said, not fatal:
 * the command was sent, and its counter is spent either way.
 */
async function recordCommand(location: string, command: CommandRow, outcome: string): Promise<void> {
  let db;
  try {
    db = await openCollectorDb({ location });
    await db.recordCommand(command);
    await db.recordCommandOutcome(command.device, command.counter, outcome, Date.now());
  } catch (error) {
    process.stderr.write(`cmd: warning: the command is not recorded in ${location.replace(/\/\/[^@/]*@/, "//")}: ${(error as Error).message}\n`);
  } finally {
    await db?.close().catch(() => undefined);
  }
}

interface Target {
  readonly brokerUrl: string;
  readonly caFile: string | undefined;
  /** When the command counts as issued: now, or for the simulator, now in its accelerated time. */
  readonly issuedMs: number;
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
