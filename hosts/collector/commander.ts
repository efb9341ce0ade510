/**
 * The city's side of the downlink: seals commands for a node under its downlink key (derived from
 * the root key in the keyring) with a counter that never repeats, kept per device in the state
 * folder (`downlink.json`, written before the command is sent, so a crash can skip a number but
 * never reuse one). The counter is the command's nonce: reading, reserving and sealing happen
 * under `downlink.lock`, so two command tools on one state folder never take the same one.
 *
 * A policy update (policy-update-issuer.ts) goes as a run of `policy-chunk` commands
 * (src/uplink/policy-chunks.ts), their counters reserved together: consecutive, well within the
 * node's 64-wide replay window.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { downlinkKeysFromRoot } from "../../src/wire/key-schedule.js";
import { nodeTopic } from "../../src/uplink/topics.js";
import { COMMAND_NAMES, sealCommand, type CommandArg, type CommandName, type DownlinkCommand } from "../../src/uplink/downlink-command.js";
import { POLICY_CHUNK_COMMAND, policyChunkArgs, policyChunks } from "../../src/uplink/policy-chunks.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { DOWNLINK_LOCK_FILE, ExclusiveLock } from "../node/exclusive-lock.js";
import type { Keyring } from "./keyring.js";

export const DOWNLINK_STATE_FILE = "downlink.json";
/** Another command tool holds the counters for milliseconds; a loaded machine may stretch that to seconds. */
const DOWNLINK_LOCK_WAIT_MS = 5_000;

export class CommandError extends Error {
  override name = "CommandError";
}

export interface SealedCommand {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly counter: number;
}

export class Commander {
  readonly #keyring: Keyring;
  readonly #stateDir: string;

  constructor(keyring: Keyring, stateDir: string) {
    this.#keyring = keyring;
    this.#stateDir = stateDir;
  }

  /** Seals `name` with `args` for `device`, issued now; reserves its counter first. */
  seal(device: string, name: string, args: Record<string, CommandArg> = {}, issuedMs = Date.now()): SealedCommand {
    if (!(COMMAND_NAMES as readonly string[]).includes(name)) throw new CommandError(`unknown command "${name}" (one of ${COMMAND_NAMES.join(", ")})`);
    return this.#sealAll(device, [{ name: name as CommandName, issued: Math.floor(issuedMs / 1000), args }])[0]!;
  }

  /** The `policy-chunk` commands that carry `update` (a policy update's bytes) to `device`, in order. */
  sealPolicyUpdate(device: string, update: Uint8Array, issuedMs = Date.now()): SealedCommand[] {
    const issued = Math.floor(issuedMs / 1000);
    return this.#sealAll(device, policyChunks(update).map((chunk) => ({ name: POLICY_CHUNK_COMMAND, issued, args: policyChunkArgs(chunk) })));
  }

  /** Seals `commands` for `device` under consecutive counters, reserved first. */
  #sealAll(device: string, commands: readonly DownlinkCommand[]): SealedCommand[] {
    const entry = this.#keyring.get(device);
    if (!entry) throw new CommandError(`device ${device} is not in the keyring`);
    const lock = ExclusiveLock.acquire(join(this.#stateDir, DOWNLINK_LOCK_FILE), {
      command: "npm run cmd",
      subject: join(this.#stateDir, DOWNLINK_STATE_FILE),
      advice: "try again once it has finished",
      waitMs: DOWNLINK_LOCK_WAIT_MS,
    });
    try {
      const first = this.#reserveCounters(device, commands.length);
      const topic = nodeTopic(entry.zone, device, "cmd");
      const keys = downlinkKeysFromRoot(entry.rootKey, device);
      try {
        return commands.map((command, i) => ({ topic, payload: sealCommand(command, device, topic, keys, first + i), counter: first + i }));
      } finally {
        keys.wipe();
      }
    } finally {
      lock.release();
    }
  }

  /** The first of `count` counters, reserved (written) before any is used. */
  #reserveCounters(device: string, count: number): number {
    const path = join(this.#stateDir, DOWNLINK_STATE_FILE);
    let counters: Record<string, number> = {};
    if (existsSync(path)) {
      try {
        const document = JSON.parse(readFileSync(path, "utf8")) as { counters?: Record<string, number> };
        counters = document.counters ?? {};
      } catch {
        throw new CommandError(`${path} is unreadable: refusing to guess a counter (restore it, or provision the node again)`);
      }
    }
    const counter = counters[device] ?? 0;
    writeFileAtomic(path, JSON.stringify({ format: "civicnode-downlink", version: 1, counters: { ...counters, [device]: counter + count } }) + "\n", 0o600);
    return counter;
  }
}
