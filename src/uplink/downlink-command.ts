/**
 * Downlink commands (`civicnode/<zone>/<device>/cmd`): what the city may ask a node to do, and
 * their sealed form.
 *
 * A command is sealed exactly like an uplink message (COSE_Encrypt0, ChaCha20/Poly1305, the topic
 * as external AAD), but under the device's downlink key, which does not ratchet. Its kid is the
 * device id followed by the epoch field 0xFFFFFFFF, and its partial IV is the commander's counter
 * for the device. The plaintext is a CBOR map:
 *   { 1: command name (text), 2: issued at (Unix seconds), 3: arguments { text: number | text | bytes } }
 * Byte strings carry a policy update's chunks (policy-chunks.ts).
 */
import { CborWriter } from "../wire/cbor-writer.js";
import { CborDecodeError, decodeCbor } from "../wire/cbor-reader.js";
import { sealEncrypt0 } from "../wire/cose-encrypt0.js";
import type { EpochKeys } from "../wire/key-schedule.js";
import { encodeKid } from "../wire/kid.js";
import { utf8Encode } from "../wire/utf8.js";

/** The epoch field of a downlink kid: names the downlink key, not an uplink epoch. */
export const DOWNLINK_KID_EPOCH = 0xffffffff;
/** Largest sealed command a node accepts. */
export const MAX_COMMAND_BYTES = 512;

export type CommandName = "rotate-epoch" | "set-window" | "set-interval" | "republish-disclosure" | "policy-chunk";
export const COMMAND_NAMES: readonly CommandName[] = ["rotate-epoch", "set-window", "set-interval", "republish-disclosure", "policy-chunk"];
export type CommandArg = number | string | Uint8Array;

export interface DownlinkCommand {
  readonly name: CommandName;
  /** When the commander issued it (Unix seconds). */
  readonly issued: number;
  readonly args: Readonly<Record<string, CommandArg>>;
}

export class CommandFormatError extends Error {
  override name = "CommandFormatError";
}

export function encodeCommand(command: DownlinkCommand): Uint8Array {
  const writer = new CborWriter(MAX_COMMAND_BYTES);
  const args = Object.entries(command.args);
  writer.map(3).int(1).text(command.name).int(2).int(command.issued).int(3).map(args.length);
  for (const [key, value] of args) {
    writer.text(key);
    if (typeof value === "number") writer.number(value);
    else if (typeof value === "string") writer.text(value);
    else writer.bytes(value);
  }
  return writer.written().slice();
}

/** Reads a command plaintext; throws CommandFormatError for anything else. */
export function decodeCommand(plaintext: Uint8Array): DownlinkCommand {
  let value;
  try {
    value = decodeCbor(plaintext, { maxDepth: 3 });
  } catch (error) {
    if (error instanceof CborDecodeError) throw new CommandFormatError(error.message);
    throw error;
  }
  if (!(value instanceof Map) || value.size !== 3) throw new CommandFormatError("a command is a map of name, issued time and arguments");
  const name = value.get(1);
  const issued = value.get(2);
  const rawArgs = value.get(3);
  if (typeof name !== "string" || !(COMMAND_NAMES as readonly string[]).includes(name)) throw new CommandFormatError(`unknown command ${JSON.stringify(name)}`);
  if (typeof issued !== "number" || !Number.isSafeInteger(issued) || issued < 0) throw new CommandFormatError("issued time must be Unix seconds");
  if (!(rawArgs instanceof Map) || rawArgs.size > 8) throw new CommandFormatError("arguments must be a map of at most 8 entries");
  const args: Record<string, CommandArg> = {};
  for (const [key, arg] of rawArgs) {
    if (typeof key !== "string" || (typeof arg !== "number" && typeof arg !== "string" && !(arg instanceof Uint8Array))) throw new CommandFormatError("arguments are text keys with number, text or byte string values");
    args[key] = arg;
  }
  return { name: name as CommandName, issued, args };
}

/** The sealed command for `device` (commander side). */
export function sealCommand(command: DownlinkCommand, device: string, topic: string, keys: EpochKeys, counter: number): Uint8Array {
  return sealEncrypt0(new CborWriter(MAX_COMMAND_BYTES), encodeCommand(command), keys, encodeKid(device, DOWNLINK_KID_EPOCH), counter, utf8Encode(topic)).slice();
}
