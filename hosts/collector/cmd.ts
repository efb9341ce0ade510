/**
 * `npm run cmd -- <device> <command> [name=value ...] [--broker URL] [--state DIR] [--ca FILE]`:
 * seals a downlink command for a node and publishes it. Without --broker it uses the broker of the
 * simulator running on the same state folder.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { connectAsync } from "mqtt";
import { COMMAND_NAMES } from "../../src/uplink/downlink-command.js";
import { Commander, CommandError } from "./commander.js";
import { databaseLocation } from "./collector-service.js";
import type { CommandRow } from "./db/collector-db.js";
import { openCollectorDb } from "./db/open-collector-db.js";
import { Keyring } from "./keyring.js";
import { PassphraseSource } from "./passphrase-source.js";
import { readPinnedCa } from "../node/pinned-ca.js";

const USAGE = `civicnode command tool

Usage: npm run cmd -- <device> <command> [name=value ...] [options]

Commands:
  rotate-epoch                      move the node's uplink key to a new epoch now
  set-window seconds=N              set the window length (within the node's policy)
  set-interval sensor=ID seconds=N  sample a sensor less often (within the node's policy)
  republish-disclosure              publish the node's disclosure again

Options:
  --broker URL   the broker (default: that of the simulator running on --state, whose
                 simulated clock then dates the command)
  --state DIR    folder with keyring.sealed and downlink.json (default ./.civicnode)
  --ca FILE      with mqtts://: the CA certificate (PEM) to trust, and the only one
  --db PATH|URL  the collector's database, where the command and whether the broker took it are
                 recorded (default DIR/collector.db)

The keyring is sealed under a passphrase, read from the file CIVICNODE_PASSPHRASE_FILE names, or
from CIVICNODE_PASSPHRASE, or else from DIR/passphrase (docs/keys-at-rest.md).
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { broker: { type: "string" }, state: { type: "string" }, ca: { type: "string" }, db: { type: "string" }, help: { type: "boolean" } } });
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
  if (!device || !name || !(COMMAND_NAMES as readonly string[]).includes(name)) {
    process.stderr.write(`cmd: give a device and one of ${COMMAND_NAMES.join(", ")}\n${USAGE}`);
    return 2;
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
  let sealed;
  try {
    const passphrases = new PassphraseSource(stateDir, { notify: (line) => process.stderr.write(`cmd: ${line}\n`) });
    sealed = new Commander(Keyring.load(stateDir, passphrases), stateDir).seal(device, name, args, target.issuedMs);
  } catch (error) {
    process.stderr.write(`cmd: ${(error as Error).message}\n`);
    return error instanceof CommandError ? 2 : 1;
  }
  let outcome = "published";
  try {
    const tls = ca ? { ca, rejectUnauthorized: true, minVersion: "TLSv1.2" as const } : {};
    const client = await connectAsync(target.brokerUrl, { clientId: `civicnode-cmd-${process.pid}`, connectTimeout: 10_000, reconnectPeriod: 0, ...tls });
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
