/**
 * The options of `npm start` (cli-options.ts) and the command-line reading the tools share
 * (command-line.ts): every numeric option says in its own words what is wrong with a negative
 * number, junk, a missing value or a number out of range; parseArgs' "ambiguous" never reaches a user.
 */
import { describe, expect, it } from "vitest";
import { parseSimulatorOptions, UsageError } from "../../../hosts/node/cli-options.js";
import { CommandLineError, parseCommandLine } from "../../../hosts/node/command-line.js";

const NUMERIC = [
  { option: "--nodes", min: 1, max: 256, whole: true },
  { option: "--speed", min: 1, max: 36000, whole: false },
  { option: "--windows", min: 1, max: 100000, whole: true },
  { option: "--faults", min: 0, max: 100000, whole: false },
] as const;

function refusal(argv: string[]): string {
  try {
    parseSimulatorOptions(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe("npm start's numeric options", () => {
  for (const { option, min, max, whole } of NUMERIC) {
    it(`${option}: negatives, junk and values out of range get the option's own message`, () => {
      for (const text of ["-1", "-0.5", "-abc", "abc", "", " 5", "0x10", "1e3", "Infinity", "NaN", "5 nodes", String(max + 1), String(min - 1)]) {
        const message = refusal([option, text]);
        expect(message).toBe(`${option}: ${JSON.stringify(text)} is not a number from ${min} to ${max}`);
        expect(message).not.toMatch(/ambiguous|ERR_/);
        expect(refusal([`${option}=${text}`])).toBe(message);
      }
      if (whole) expect(refusal([option, "1.5"])).toBe(`${option}: "1.5" is not a whole number from ${min} to ${max}`);
      expect(refusal([option])).toBe(`${option} needs a value`);
      expect(refusal([option, "--state", "x"])).toBe(`${option} needs a value`);
    });
  }

  it("takes --public-url as the public pages' address, without its trailing slash", () => {
    expect(parseSimulatorOptions(["--public-url", "https://sensors.example.city/street/"]).publicUrl).toBe("https://sensors.example.city/street");
    expect(parseSimulatorOptions([]).publicUrl).toBeUndefined();
  });

  it("takes the values in range, written as a person writes them", () => {
    const options = parseSimulatorOptions(["--nodes", "256", "--speed", "0600.5", "--windows", "+3", "--faults", "0", "--state", "-odd-folder"]);
    expect(options).toMatchObject({ nodes: 256, speed: 600.5, windows: 3, faultHours: 0, state: "-odd-folder" });
    expect(parseSimulatorOptions([])).toMatchObject({ nodes: 8, speed: 60, windows: undefined, faultHours: 36 });
  });

  it("words parseArgs' refusals as the tools do", () => {
    expect(refusal(["--frobnicate"])).toBe("unknown option --frobnicate");
    expect(refusal(["--help=yes"])).toBe("--help takes no value");
    expect(refusal(["street"])).toBe('unexpected argument "street": this command takes options only');
  });
});

describe("parseCommandLine", () => {
  const options = { count: { type: "string" }, name: { type: "string", short: "n" }, verbose: { type: "boolean" } } as const;

  it("gives a string option a value that starts with one dash, and leaves what follows -- alone", () => {
    expect(parseCommandLine(["--count", "-2", "-n", "-x", "--verbose"], options).values).toEqual({ count: "-2", name: "-x", verbose: true });
    const { values, positionals } = parseCommandLine(["a", "--count", "3", "--", "--count", "-4"], options, true);
    expect(values).toEqual({ count: "3" });
    expect(positionals).toEqual(["a", "--count", "-4"]);
  });

  it("refuses a string option without a value in the tools' words", () => {
    expect(() => parseCommandLine(["--count"], options)).toThrow(new CommandLineError("--count needs a value"));
    expect(() => parseCommandLine(["--count", "--verbose"], options)).toThrow(new CommandLineError("--count needs a value"));
    expect(() => parseCommandLine(["--verbose=1"], options)).toThrow(new CommandLineError("--verbose takes no value"));
  });
});
