/**
 * Options of `npm start`. Bad options produce a message that says what is wrong and exit code 2.
 */
import { HttpAddressError, parseHttpAddress, type HttpAddress } from "../collector/api/http-address.js";
import { publicBaseUrl, PublicBaseUrlError } from "../collector/web/public-page.js";
import { CommandLineError, parseCommandLine } from "./command-line.js";
import { readPinnedCa } from "./pinned-ca.js";

export interface SimulatorOptions {
  /** Where the nodes' firmware cores run: Node.js, or the XS engine (one xsnap-worker per node). */
  readonly engine: "node" | "xs";
  /** Mean simulated hours between fault episodes per part; 0 disables fault injection. */
  readonly faultHours: number;
  /** External broker URL (mqtt:// or mqtts://), or undefined for the embedded one. */
  readonly broker: string | undefined;
  /** With an mqtts:// broker: the CA certificate (PEM) that every node and the collector pin. */
  readonly ca: string | undefined;
  /** The file `ca` was read from. */
  readonly caFile: string | undefined;
  readonly nodes: number;
  readonly speed: number;
  /** Exit after this many summaries per node reached the collector; undefined runs until Ctrl-C. */
  readonly windows: number | undefined;
  readonly state: string;
  /** The collector's database: a postgres:// URL or an SQLite file; undefined: collector.db in the state folder. */
  readonly db: string | undefined;
  /** Where the collector's API listens; "off" for none; undefined: 127.0.0.1 on a free port. */
  readonly http: HttpAddress | "off" | undefined;
  /** The address residents reach the collector's public pages at (`--public-url`); undefined: each request's. */
  readonly publicUrl: string | undefined;
  /** A JSON Lines export of what the collector stores, if asked for. */
  readonly jsonl: string | undefined;
  /** The deployment policy file (policy.json); undefined: the reference street's. */
  readonly policy: string | undefined;
  readonly help: boolean;
}

export const USAGE = `civicnode street simulator

Usage: npm start -- [options]

Runs a street of simulated civicnode nodes (simulated sensors at the bus level, the real firmware
core) against an MQTT broker, with the reference collector decrypting what they send.

Options:
  --broker URL    external broker, mqtt://host:port, or mqtts://host:port for TLS (then --ca
                  is required; default: an embedded broker on a free localhost port)
  --ca FILE       with an mqtts:// broker: the CA certificate (PEM) that every node and the
                  collector trust, and the only one (pinned); see docs/tls.md
  --nodes N       number of nodes in the street, 1-256 (default 8)
  --speed X       simulated seconds per real second, 1-36000 (default 60)
  --windows N     exit 0 once every node's N-th summary has been decrypted (default: run until
                  Ctrl-C)
  --state DIR     state folder: keyring, node flash, the collector's database, log (default
                  ./.civicnode); one street per folder: a second npm start on it is refused
  --db PATH|URL   the collector's database: an SQLite file (default DIR/collector.db) or
                  postgres://user:password@host:port/database
  --http H:P|off  where the collector's API listens (default 127.0.0.1 on a free port; printed)
  --public-url URL
                  the address residents reach the collector's pages at, behind a proxy: each
                  node's public page and QR code point there (default: each request's address)
  --jsonl FILE    also append every stored summary and health report to FILE (JSON Lines)
  --policy FILE   the deployment policy every node runs on (policy.json, docs/policy.md;
                  default: the reference street's, src/policy/reference-street.policy.json);
                  signed for each node with the operator's key, which is created in DIR on first
                  run; an invalid policy is refused with every error listed
  --engine E      where the nodes' firmware cores run: node (default) or xs, the XS engine of
                  the Moddable SDK (one xsnap-worker process per node)
  --faults H      simulated parts misbehave now and then, about once per H simulated hours
                  each (a loose connector, a wet sensor); the health view shows it (default 36,
                  0 turns faults off)
  --help          show this text
`;

export class UsageError extends Error {
  override name = "UsageError";
}

export function parseSimulatorOptions(argv: readonly string[]): SimulatorOptions {
  let parsed;
  try {
    parsed = parseCommandLine(argv, {
      broker: { type: "string" },
      ca: { type: "string" },
      nodes: { type: "string" },
      speed: { type: "string" },
      windows: { type: "string" },
      state: { type: "string" },
      engine: { type: "string" },
      faults: { type: "string" },
      db: { type: "string" },
      http: { type: "string" },
      "public-url": { type: "string" },
      jsonl: { type: "string" },
      policy: { type: "string" },
      help: { type: "boolean", short: "h" },
    });
  } catch (error) {
    if (error instanceof CommandLineError) throw new UsageError(error.message);
    throw error;
  }
  const values = parsed.values;
  const engine = values.engine ?? "node";
  if (engine !== "node" && engine !== "xs") throw new UsageError(`--engine: "${engine}" is not an engine; expected node or xs`);
  const broker = values.broker === undefined ? undefined : brokerUrl(values.broker);
  const ca = pinnedCa(broker, values.ca);
  return {
    engine,
    faultHours: number(values.faults, "--faults", 36, 0, 100000),
    broker,
    ca,
    caFile: values.ca,
    nodes: integer(values.nodes, "--nodes", 8, 1, 256),
    speed: number(values.speed, "--speed", 60, 1, 36000),
    windows: values.windows === undefined ? undefined : integer(values.windows, "--windows", 0, 1, 100000),
    state: values.state ?? ".civicnode",
    db: values.db,
    http: httpAddress(values.http),
    publicUrl: publicUrl(values["public-url"]),
    jsonl: values.jsonl,
    policy: values.policy,
    help: values.help ?? false,
  };
}

function publicUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  try {
    return publicBaseUrl(text);
  } catch (error) {
    if (error instanceof PublicBaseUrlError) throw new UsageError(error.message.replace(/^publicBaseUrl/, "--public-url"));
    throw error;
  }
}

function httpAddress(text: string | undefined): HttpAddress | "off" | undefined {
  if (text === undefined || text === "off") return text;
  try {
    return parseHttpAddress(text);
  } catch (error) {
    if (error instanceof HttpAddressError) throw new UsageError(error.message);
    throw error;
  }
}

function brokerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--broker: "${text}" is not a URL; expected mqtt://host:port or mqtts://host:port`);
  }
  if (url.protocol !== "mqtt:" && url.protocol !== "mqtts:") {
    throw new UsageError(`--broker: unsupported scheme "${url.protocol}"; expected mqtt://host:port or mqtts://host:port`);
  }
  if (!url.hostname) throw new UsageError("--broker: missing host");
  const defaultPort = url.protocol === "mqtts:" ? "8883" : "1883";
  return `${url.protocol}//${url.hostname}:${url.port || defaultPort}`;
}

/** TLS always pins a CA, and a CA is only for TLS: `--ca` goes with an mqtts:// broker and nothing else. */
function pinnedCa(broker: string | undefined, file: string | undefined): string | undefined {
  const secure = broker?.startsWith("mqtts:") ?? false;
  if (secure && file === undefined) {
    throw new UsageError("--broker mqtts://... needs --ca FILE, the CA certificate (PEM) to trust for the broker");
  }
  if (file === undefined) return undefined;
  if (!secure) {
    throw new UsageError(
      broker === undefined
        ? "--ca needs --broker mqtts://host:port (the embedded broker speaks plain MQTT on localhost)"
        : `--ca needs an mqtts:// broker, not ${broker} (plain MQTT does not use a CA)`,
    );
  }
  try {
    return readPinnedCa(file);
  } catch (error) {
    throw new UsageError(`--ca: ${(error as Error).message}`);
  }
}

/** Decimal notation only: "0x10", "1e3", "Infinity" and " 5" are not what a person means by a number here. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function number(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!DECIMAL.test(text) || value < min || value > max) throw new UsageError(`${name}: "${text}" is not a number from ${min} to ${max}`);
  return value;
}

function integer(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  const value = number(text, name, fallback, min, max);
  if (!Number.isInteger(value)) throw new UsageError(`${name}: "${text}" is not a whole number from ${min} to ${max}`);
  return value;
}
