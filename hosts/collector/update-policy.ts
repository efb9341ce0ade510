/**
 * `npm run cmd -- <device> update-policy --policy FILE [--countersign]`: what the command tool does
 * to give a node a new policy (docs/governance.md).
 *   1. the policy file is validated (schema, then the node's own parser: policy-file.ts; cmd.ts);
 *   2. the node's running policy: the node's retained disclosure on the broker, verified under the
 *      operator's public key, names its serial and hash; the operator's record of the policies it
 *      signed (policy-registry.ts, read whole by node-policy-record.ts) holds it;
 *   3. the update is issued for serial + 1 (policy-update-issuer.ts): signed by the operator's
 *      key, countersigned by the oversight key with --countersign, refused before anything is
 *      signed when the change weakens privacy and there is no countersignature;
 *   4. the new signed policy is recorded, and the chunks are sealed (commander.ts) and published
 *      with QoS 1.
 * The node's verdict arrives in its audit entries (health reports); a taken update restarts the
 * node, whose disclosure then names the new serial.
 */
import { readFileSync } from "node:fs";
import type { MqttClient } from "mqtt";
import type { BoardConfig } from "../../src/policy/node-from-policy.js";
import { nodeTopic } from "../../src/uplink/topics.js";
import { verifySign1 } from "../../src/wire/cose-sign1.js";
import { utf8Decode } from "../../src/wire/utf8.js";
import { streetBoard } from "../sim/street.js";
import { Commander, CommandError, type SealedCommand } from "./commander.js";
import type { Keyring } from "./keyring.js";
import { runningNodePolicy } from "./node-policy-record.js";
import { recordSignedPolicy } from "./policy-registry.js";
import type { OperatorKey } from "./operator-key.js";
import type { OversightKey } from "./oversight-key.js";
import { issuePolicyUpdate, type IssuedPolicyUpdate } from "./policy-update-issuer.js";

/** How long to wait for a node's retained disclosure: a broker sends it right after the subscription. */
const DISCLOSURE_WAIT_MS = 5_000;

export interface PolicyUpdateSend {
  readonly stateDir: string;
  readonly device: string;
  /** The new policy.json, validated (loadPolicyDocument). */
  readonly policy: unknown;
  /** The node's board as JSON (BoardConfig); default: the simulator's reference board. */
  readonly boardFile?: string;
  readonly keyring: Keyring;
  readonly operator: OperatorKey;
  readonly oversight?: OversightKey;
  /** Connected to the node's broker. */
  readonly client: MqttClient;
  readonly issuedMs: number;
  readonly notify: (line: string) => void;
}

export interface SentPolicyUpdate extends IssuedPolicyUpdate {
  readonly base: number;
  readonly commands: readonly SealedCommand[];
}

/** Issues, seals and publishes; throws NodePolicyRecordError, PolicyUpdateRefusedError, CommandError as it goes. */
export async function sendPolicyUpdate(request: PolicyUpdateSend): Promise<SentPolicyUpdate> {
  const { stateDir, device, keyring, operator, client } = request;
  const entry = keyring.get(device);
  if (!entry) throw new CommandError(`device ${device} is not in the keyring`);
  const identity = { device, zone: entry.zone };
  const runs = await disclosedPolicy(client, identity, operator.publicKey);
  if (runs === undefined) request.notify(`no verified disclosure of ${device} on the broker: the update builds on the newest signed policy recorded for it`);
  const running = runningNodePolicy(stateDir, identity, operator.publicKey, runs);
  const issued = issuePolicyUpdate({ running, policy: request.policy, board: readBoard(request.boardFile), operator, oversight: request.oversight, nowSeconds: request.issuedMs / 1000 });
  const commands = new Commander(keyring, stateDir).sealPolicyUpdate(device, issued.update, request.issuedMs);
  // Recorded before it is sent: the node seals under the new policy's hash as soon as it boots on
  // it, and the collector opens those messages with the record.
  recordSignedPolicy(stateDir, device, issued.serial, issued.signedPolicy);
  for (const command of commands) await client.publishAsync(command.topic, Buffer.from(command.payload), { qos: 1 });
  return { ...issued, base: running.serial, commands };
}

/** The serial and policy hash the node's retained disclosure names, when one verifies under `operatorKey`. */
export async function disclosedPolicy(client: MqttClient, identity: { device: string; zone: string }, operatorKey: Uint8Array): Promise<{ serial: number; sha256: string } | undefined> {
  const topic = nodeTopic(identity.zone, identity.device, "disclosure");
  let done: (value: { serial: number; sha256: string } | undefined) => void = () => {};
  const found = new Promise<{ serial: number; sha256: string } | undefined>((resolve) => (done = resolve));
  const onMessage = (at: string, payload: Buffer) => {
    if (at !== topic) return;
    try {
      const document = JSON.parse(utf8Decode(verifySign1(new Uint8Array(payload), operatorKey).payload)) as { device?: unknown; policy?: { serial?: unknown; sha256?: unknown } };
      const { serial, sha256 } = document.policy ?? {};
      if (document.device === identity.device && typeof serial === "number" && typeof sha256 === "string") done({ serial, sha256 });
    } catch {
      // Not the operator's: what anyone may publish on the topic, not what the node runs.
    }
  };
  client.on("message", onMessage);
  const timer = setTimeout(() => done(undefined), DISCLOSURE_WAIT_MS);
  try {
    await client.subscribeAsync(topic, { qos: 1 });
    return await found;
  } finally {
    clearTimeout(timer);
    client.off("message", onMessage);
    await client.unsubscribeAsync(topic).catch(() => undefined);
  }
}

function readBoard(file: string | undefined): BoardConfig {
  if (file === undefined) return streetBoard();
  let board: unknown;
  try {
    board = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandError(`--board ${file}: ${(error as Error).message}`);
  }
  if (typeof board !== "object" || board === null || !Array.isArray((board as BoardConfig).sensors)) throw new CommandError(`--board ${file}: a board is {"sensors": [...], "uplink": {...}}`);
  return board as BoardConfig;
}
