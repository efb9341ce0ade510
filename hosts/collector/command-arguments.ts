/**
 * The `name=value` arguments of `npm run cmd`, checked against what each command takes before
 * anything is sealed: a command the node could only refuse as malformed (`seconds=abc`, a
 * misspelt name, a missing value) costs no downlink counter and never reaches the broker.
 * Whether a well-formed value is allowed (a 600 s window under a policy of 300 s windows) is the
 * node's to decide, by its signed policy: that refusal is audited and reported (`--wait` shows it).
 */
import { CommandError } from "./commander.js";

/** The longest window or sampling interval a command can name: a day (nodes refuse commands a day old). */
const MAX_SECONDS = 86_400;

type ArgumentKind = "whole-seconds" | "seconds" | "sensor";

/** What each command a person sends takes (update-policy's chunks are made by the tool). */
export const COMMAND_ARGUMENTS: Readonly<Record<string, Readonly<Record<string, ArgumentKind>>>> = {
  "rotate-epoch": {},
  "set-window": { seconds: "whole-seconds" },
  "set-interval": { sensor: "sensor", seconds: "seconds" },
  "republish-disclosure": {},
};

const SHOWN: Record<ArgumentKind, string> = { "whole-seconds": "N", seconds: "N", sensor: "ID" };
const DECIMAL = /^\+?(\d+(\.\d*)?|\.\d+)$/;
const SENSOR_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;

/** The arguments of `command` from `pairs` ("seconds=300"), or a CommandError that names what is wrong. */
export function parseCommandArguments(command: string, pairs: readonly string[]): Record<string, number | string> {
  const takes = COMMAND_ARGUMENTS[command];
  if (takes === undefined) throw new CommandError(`unknown command "${command}"`);
  const wanted = Object.entries(takes).map(([name, kind]) => `${name}=${SHOWN[kind]}`).join(" ");
  const args: Record<string, number | string> = {};
  for (const pair of pairs) {
    const match = /^([a-z]+)=(.*)$/.exec(pair);
    if (!match) throw new CommandError(`"${pair}" is not name=value`);
    const [, name, text] = match as unknown as [string, string, string];
    const kind = takes[name];
    if (kind === undefined) throw new CommandError(wanted === "" ? `${command} takes no arguments, not ${pair}` : `${command} takes ${wanted}, not ${pair}`);
    if (name in args) throw new CommandError(`${command}: ${name}= is given twice`);
    args[name] = value(command, name, kind, text);
  }
  const missing = Object.keys(takes).filter((name) => !(name in args));
  if (missing.length > 0) throw new CommandError(`${command} needs ${wanted} (missing ${missing.map((name) => `${name}=`).join(", ")})`);
  return args;
}

function value(command: string, name: string, kind: ArgumentKind, text: string): number | string {
  if (kind === "sensor") {
    if (!SENSOR_ID.test(text)) throw new CommandError(`${command}: ${name}=${text} is not a sensor id (1-32 letters, digits, - and _, as the board names its sensors)`);
    return text;
  }
  const number = Number(text);
  const whole = kind === "whole-seconds";
  if (!DECIMAL.test(text) || number <= 0 || number > MAX_SECONDS || (whole && !Number.isInteger(number))) {
    const range = whole ? `a whole number of seconds from 1 to ${MAX_SECONDS}` : `a number of seconds above 0, at most ${MAX_SECONDS}`;
    throw new CommandError(`${command}: ${name}=${text} is not ${range}`);
  }
  return number;
}
