/**
 * `npm run provision -- <device> [--zone Z] [--state DIR] [--out DIR] [--target esp32|lin|both] [--new-key]`:
 * writes the files that put a device's root key and identity into its store (ESP32 NVS, or the
 * Moddable Linux simulator's preference file), so the key never lives in the firmware image or in
 * git. The key comes from the keyring, which gains the device (fresh key from the OS CSPRNG) the
 * first time. Only the key's public fingerprint is ever printed.
 */
import { randomFillSync } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { bytesToHex } from "@noble/hashes/utils.js";
import { isValidId } from "../../src/uplink/topics.js";
import { KEY_ID_STORE_KEY } from "../../src/wire/key-ratchet.js";
import { ROOT_KEY_BYTES } from "../../src/wire/key-schedule.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { Keyring, KEYRING_FILE } from "./keyring.js";
import {
  LIN_PREFERENCES_FILE,
  linPreferencesJson,
  NVS_CSV_FILE,
  NVS_PARTITION_OFFSET,
  NVS_PARTITION_SIZE,
  nvsCsv,
  provisioningRecords,
} from "./provisioning-bundle.js";

const TARGETS = ["esp32", "lin", "both"] as const;
type Target = (typeof TARGETS)[number];

const USAGE = `civicnode provisioning tool

Usage: npm run provision -- <device> [options]

Writes the files that give a device its root key and identity (see docs/provisioning.md). The key
comes from the keyring; a device not in it yet is added with a new key (then --zone is required).

Options:
  --zone Z       the device's zone; must equal the keyring's zone for a known device
  --state DIR    folder with keyring.json (default ./.civicnode)
  --out DIR      where to write the files (default <state>/provision/<device>/)
  --target T     esp32 (nvs.csv for ESP-IDF's NVS partition generator, the default),
                 lin (modpreferences.json for the Moddable Linux simulator), or both
  --new-key      replace a known device's root key with a new one: required to provision again
                 a node that has already booted (the old key would restart at epoch 0 and
                 reuse nonces); messages still sealed under the old key become unreadable
  --help         show this text
`;

class UsageError extends Error {}

function main(argv: string[]): number {
  try {
    return provision(argv);
  } catch (error) {
    process.stderr.write(`provision: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

function provision(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        zone: { type: "string" },
        state: { type: "string" },
        out: { type: "string" },
        target: { type: "string" },
        "new-key": { type: "boolean" },
        help: { type: "boolean" },
      },
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give exactly one device id\n${USAGE}`);
  const device = positionals[0]!;
  if (!isValidId(device)) throw new UsageError(`invalid device id ${JSON.stringify(device)}: 1-32 of a-z, 0-9 and -, starting with a letter or digit`);
  if (values.zone !== undefined && !isValidId(values.zone)) throw new UsageError(`invalid zone id ${JSON.stringify(values.zone)}: 1-32 of a-z, 0-9 and -, starting with a letter or digit`);
  const target = (values.target ?? "esp32") as Target;
  if (!TARGETS.includes(target)) throw new UsageError(`--target must be one of ${TARGETS.join(", ")}`);

  const stateDir = resolve(values.state ?? ".civicnode");
  const keyringPath = join(stateDir, KEYRING_FILE);
  const keyring = Keyring.load(stateDir);
  // Checked before the keyring changes: a refused folder must not leave a key no file carries.
  const outDir = resolve(values.out ?? join(stateDir, "provision", device));
  const outExists = checkPrivateFolder(outDir);
  let entry = keyring.get(device);
  let origin: string;
  if (entry === undefined) {
    // A new device gets its zone from the operator, never a default: the collector accepts its
    // messages only on that zone's topics, so a wrong guess would silently lose its data.
    if (values.zone === undefined) throw new UsageError(`${device} is not in ${keyringPath} yet: give --zone to add it`);
    keyring.provision(device, values.zone);
    keyring.save(stateDir);
    entry = keyring.get(device)!;
    origin = `added ${device} (zone ${entry.zone}) with a new root key to ${keyringPath} (mode 0600)`;
  } else {
    if (values.zone !== undefined && values.zone !== entry.zone) {
      throw new UsageError(`${device} belongs to zone ${entry.zone} in ${keyringPath}, not ${values.zone}`);
    }
    if (values["new-key"]) {
      // The old key is dropped, not kept alongside: the keyring holds one key per device.
      const rootKey = new Uint8Array(ROOT_KEY_BYTES);
      randomFillSync(rootKey);
      keyring.add(device, entry.zone, rootKey, new Date().toISOString());
      rootKey.fill(0);
      keyring.save(stateDir);
      entry = keyring.get(device)!;
      origin = `replaced the root key of ${device} (zone ${entry.zone}) in ${keyringPath} with a new one (mode 0600)`;
    } else {
      origin = `using the root key of ${device} (zone ${entry.zone}) from ${keyringPath} (only for a node that has not booted with it; else --new-key)`;
    }
  }
  if (Keyring.isExposed(stateDir)) process.stderr.write(`provision: warning: ${keyringPath} is readable by other users; chmod 600 it\n`);

  if (!outExists) mkdirSync(outDir, { recursive: true, mode: 0o700 });
  const records = provisioningRecords(device, entry.zone, entry.rootKey);
  const keyId = bytesToHex(records.find((record) => record.key === KEY_ID_STORE_KEY)!.value);

  const written: string[] = [];
  if (target !== "lin") {
    writeFileAtomic(join(outDir, NVS_CSV_FILE), nvsCsv(records), 0o600);
    written.push(join(outDir, NVS_CSV_FILE));
  }
  if (target !== "esp32") {
    writeFileAtomic(join(outDir, LIN_PREFERENCES_FILE), linPreferencesJson(records), 0o600);
    written.push(join(outDir, LIN_PREFERENCES_FILE));
  }

  const lines = [origin, `key fingerprint (key.id): ${keyId}`, ...written.map((path) => `wrote ${path} (mode 0600)`)];
  if (target !== "lin") lines.push("", ...esp32Steps(outDir));
  if (target !== "esp32") lines.push("", ...linSteps(outDir));
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

/**
 * The files hold the root key in clear: the folder must be the operator's alone. An existing
 * folder that others can enter is refused rather than re-permissioned (it may be a shared one).
 * Returns whether the folder exists; a missing one is created later with mode 0700.
 */
function checkPrivateFolder(path: string): boolean {
  if (!existsSync(path)) return false;
  const stat = statSync(path);
  if (!stat.isDirectory()) throw new UsageError(`--out ${path} is not a folder`);
  if ((stat.mode & 0o077) !== 0) throw new UsageError(`${path} is accessible to other users: chmod 700 it, or choose another --out`);
  return true;
}

function esp32Steps(outDir: string): string[] {
  const csv = shellQuote(join(outDir, NVS_CSV_FILE));
  const bin = shellQuote(join(outDir, "nvs.bin"));
  const offset = `0x${NVS_PARTITION_OFFSET.toString(16)}`;
  const size = `0x${NVS_PARTITION_SIZE.toString(16)}`;
  return [
    `Next, for an ESP32 (in an ESP-IDF shell; Moddable's default partition table puts nvs at ${offset}, size ${size}):`,
    `  umask 077                        # the generator writes nvs.bin with your umask, and it holds the key`,
    `  python $IDF_PATH/components/nvs_flash/nvs_partition_generator/nvs_partition_gen.py generate ${csv} ${bin} ${size}`,
    `  esptool.py --port <PORT> write_flash ${offset} ${bin}`,
    `warning: writing the nvs partition replaces its whole content (the node's key chain, counters, anything`,
    `  else stored there): do it once, before the node's first boot. Check the offset and size if your board`,
    `  or app has its own partitions.csv.`,
    `Then delete the provisioning files (the keyring keeps the key): rm ${csv} ${bin}`,
  ];
}

function linSteps(outDir: string): string[] {
  const folder = outDir.endsWith("/") ? outDir : `${outDir}/`;
  return [
    `Next, for the Moddable Linux simulator: in the app manifest's config, set`,
    `  "file": { "root": ${JSON.stringify(folder)} }`,
    `  (its Preference then reads ${join(outDir, LIN_PREFERENCES_FILE)}, which becomes that node's flash;`,
    `  the first boot replaces key.root with the key chain). Start the simulator with umask 077: it rewrites`,
    `  the file with default permissions.`,
    `When that node is retired, delete ${join(outDir, LIN_PREFERENCES_FILE)}.`,
  ];
}

/** Quotes a path for the printed commands only when it needs it. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

process.exitCode = main(process.argv.slice(2));
