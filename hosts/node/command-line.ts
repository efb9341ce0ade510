/**
 * The command line of civicnode's tools, read with node:util's parseArgs, with two differences
 * that a user meets at once:
 *
 * - A value that starts with one dash is taken as the value: `--speed -1` reaches the option's
 *   own check ("must be a number from 1 to 36000"). parseArgs refuses it as "ambiguous" and asks
 *   for `--speed=-1`, which is what this does. A token that starts with two dashes is not a
 *   value (`--speed --nodes 3` lacks the speed).
 * - Its errors are CommandLineErrors in the tools' own words ("unknown option --frobnicate",
 *   "--speed needs a value"), without parseArgs' codes and hints.
 *
 * Example:
 *   const { values, positionals } = parseCommandLine(argv, { speed: { type: "string" } }, true);
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class CommandLineError extends Error {
  override name = "CommandLineError";
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** parseArgs, strict, with the values of string options attached and errors reworded (see above). */
export function parseCommandLine<O extends Options>(argv: readonly string[], options: O, allowPositionals = false) {
  const args = attachValues(argv, options);
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw new CommandLineError(reworded(error as Error & { code?: string }));
  }
}

/** `--name -5` becomes `--name=-5` for a string option; `--name` before another option or at the end needs a value. */
function attachValues(argv: readonly string[], options: Options): string[] {
  const byShort = new Map(Object.entries(options).flatMap(([name, option]) => (option.short ? [[option.short, name] as const] : [])));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const name = token.startsWith("--") ? token.slice(2) : /^-[^-]$/.test(token) ? byShort.get(token.slice(1)) : undefined;
    const option = name === undefined || name.includes("=") ? undefined : options[name];
    if (option?.type !== "string") {
      out.push(token);
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || next.startsWith("--")) throw new CommandLineError(`--${name} needs a value`);
    if (next.startsWith("-")) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

function reworded(error: Error & { code?: string }): string {
  // parseArgs quotes the option as "-h, --help" or "--speed <value>": the long name is the one to say.
  const quoted = /'([^']+)'/.exec(error.message)?.[1]?.replace(/^-[^-], /, "").replace(/ <value>$/, "");
  switch (error.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown option ${quoted ?? error.message}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument ${JSON.stringify(quoted ?? "")}: this command takes options only`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (quoted && /does not take an argument/.test(error.message)) return `${quoted} takes no value`;
      if (quoted) return `${quoted} needs a value`;
      return error.message;
    default:
      return error.message;
  }
}
