/**
 * `npm run provision -- <device> [--zone Z] [--state DIR] [--out DIR] [--target esp32|lin|both|sim] [--new-key | --same-key] [--policy FILE --position LAT,LON]`:
 * writes the files that put a device's root key, identity and signed policy into its store (ESP32
 * NVS, the Moddable Linux simulator's preference file), or its root key into the flash of a node of
 * `npm start` (which signs its nodes' policies itself), so the key never lives in the firmware image
 * or in git and the image carries no policy. The key comes from the keyring, which gains the device
 * (fresh key from the OS CSPRNG) the first time; the policy is signed with the operator's key (made
 * the first time too) for the node's exact position (provisioned-policy.ts). Only the key's public
 * fingerprint is ever printed.
 *
 * A key goes to one node, once: the keyring marks it issued (saved before any file is written),
 * and an issued key is given out again only with --same-key, the operator's word that no node
 * ever booted with it. Otherwise --new-key: a node that booted with a key and gets it again
 * restarts its counters and repeats nonces.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { ConfigError } from "../../src/policy/node-config.js";
import { PolicyError, type DeploymentPolicy } from "../../src/policy/deployment-policy.js";
import type { NodePosition } from "../../src/policy/signed-policy.js";
import { isValidId } from "../../src/uplink/topics.js";
import { KEY_ID_STORE_KEY } from "../../src/wire/key-ratchet.js";
import { writeFileAtomic } from "../node/atomic-file.js";
import { ExclusiveLock, SIMULATOR_LOCK_FILE } from "../node/exclusive-lock.js";
import { flashPath, provisionFlash } from "../node/flash-provisioning.js";
import { parseCommandLine } from "../node/command-line.js";
import { loadPolicyDocument, PolicyFileError } from "../node/policy-file.js";
import { stateFolderProblem } from "../node/state-folder.js";
import { streetBoard } from "../sim/street-board.js";
import { ISSUED_UNKNOWN, Keyring, KEYRING_FILE, type KeyringEntry } from "./keyring.js";
import { OperatorKey, OPERATOR_PUBLIC_KEY_FILE } from "./operator-key.js";
import { OVERSIGHT_PUBLIC_KEY_FILE, readOversightPublicKey } from "./oversight-key.js";
import { PassphraseSource } from "./passphrase-source.js";
import { checkPolicyOnBoard, provisionedPolicyRecords, type ProvisionedPolicy } from "./provisioned-policy.js";
import {
  LIN_PREFERENCES_FILE,
  linPreferencesJson,
  NVS_CSV_FILE,
  NVS_PARTITION_OFFSET,
  NVS_PARTITION_SIZE,
  nvsCsv,
  provisioningRecords,
} from "./provisioning-bundle.js";

const TARGETS = ["esp32", "lin", "both", "sim"] as const;
type Target = (typeof TARGETS)[number];

const USAGE = `civicnode provisioning tool

Usage: npm run provision -- <device> [options]

Writes the files that give a device its root key, identity and signed policy (see
docs/provisioning.md). The key comes from the keyring; a device not in it yet is added with a new
key (then --zone is required). A key is given out once: the keyring marks it issued, and a key
already issued is refused unless --new-key or --same-key says what to do.

Options:
  --zone Z       the device's zone; must equal the keyring's zone for a known device
  --state DIR    folder with keyring.sealed (default ./.civicnode)
  --out DIR      where to write the files (default <state>/provision/<device>/)
  --target T     esp32 (nvs.csv for ESP-IDF's NVS partition generator, the default),
                 lin (modpreferences.json for the Moddable Linux simulator), both, or
                 sim (the flash of a node of npm start, <state>/nodes/<device>/store.json;
                 refused while a simulator runs on --state)
  --new-key      replace a known device's root key with a new one: required to provision again
                 a node that has already booted (the old key would restart at epoch 0 and
                 reuse nonces); messages still sealed under the old key become unreadable
  --same-key     write the already issued key again: only for a node that has never booted
                 with it (the flashing failed, the files were lost); not with --target sim
  --policy FILE  the deployment policy the node runs (policy.json, docs/policy.md); required for
                 esp32, lin and both. It is validated, signed with the operator's key
                 (<state>/operator-key.sealed, created the first time) for this node, and recorded
                 in <state>/policies/<device>/ for the collector. Not with --target sim: npm start
                 signs its nodes' policies itself (its own --policy)
  --position LAT,LON
                 the node's exact position in decimal degrees (WGS 84), e.g. 52.37311,4.89224;
                 required with --policy. Signed into the policy, never published: the disclosure
                 gives it coarsened to the policy's location precision
  --help         show this text

The keyring is sealed under a passphrase, read from the file CIVICNODE_PASSPHRASE_FILE names, or
from CIVICNODE_PASSPHRASE, or else from <state>/passphrase, which a new keyring gets when neither
is set (docs/keys-at-rest.md).
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
    // A value may start with a dash: --position -33.92,18.42 (south and west are negative).
    parsed = parseCommandLine(
      argv,
      {
        zone: { type: "string" },
        state: { type: "string" },
        out: { type: "string" },
        target: { type: "string" },
        "new-key": { type: "boolean" },
        "same-key": { type: "boolean" },
        policy: { type: "string" },
        position: { type: "string" },
        help: { type: "boolean" },
      },
      true,
    );
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
  if (values["new-key"] && values["same-key"]) throw new UsageError("give --new-key or --same-key, not both");
  const stateDir = resolve(values.state ?? ".civicnode");
  const stateProblem = stateFolderProblem(stateDir);
  if (stateProblem !== undefined) throw new UsageError(stateProblem);
  if (target === "sim") {
    if (values.out !== undefined) throw new UsageError(`--out does not apply to --target sim: a simulated node's flash is ${flashPath(stateDir, device)}`);
    // npm start gives a flash a key it never issued by itself; an issued key and a lost flash
    // mean a node that has run, so the only way on is a new key.
    if (values["same-key"]) throw new UsageError("--same-key does not apply to --target sim: npm start provisions a key it never issued by itself; a simulated node that lost its flash needs --new-key");
    if (values.policy !== undefined || values.position !== undefined) throw new UsageError("--policy and --position do not apply to --target sim: npm start signs its nodes' policies itself (npm start -- --policy FILE)");
  } else {
    // The image carries no policy: a node without one in its store refuses to start.
    if (values.policy === undefined) throw new UsageError(`--target ${target} needs --policy FILE: the policy the node runs, signed for it (docs/policy.md)\n${USAGE}`);
    if (values.position === undefined) throw new UsageError(`--target ${target} needs --position LAT,LON: the node's exact position, signed into its policy\n${USAGE}`);
  }
  const position = values.position === undefined ? undefined : parsePosition(values.position);
  let policy: { document: unknown; policy: DeploymentPolicy; name: string } | undefined;
  if (values.policy !== undefined) {
    try {
      policy = loadPolicyDocument(resolve(values.policy));
    } catch (error) {
      if (error instanceof PolicyFileError) throw new UsageError(error.message);
      throw error;
    }
    try {
      // Before any key is issued: a policy the reference board cannot run would leave one no file carries.
      checkPolicyOnBoard(policy.policy, streetBoard(), { device, zone: values.zone ?? "zone" });
    } catch (error) {
      if (error instanceof PolicyError || error instanceof ConfigError) throw new UsageError(`${values.policy}: not a policy this firmware's board can run: ${error.message}`);
      throw error;
    }
  }

  const keyringPath = join(stateDir, KEYRING_FILE);
  // Checked before the keyring changes: a refused folder must not leave a key no file carries.
  const outDir = resolve(values.out ?? join(stateDir, "provision", device));
  const outExists = target !== "sim" && checkPrivateFolder(outDir);
  // The simulated flash must not change under a running street (it would go on with the old key
  // state in memory, and write it back).
  let simulator: ExclusiveLock | undefined;
  if (target === "sim") {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    simulator = ExclusiveLock.acquire(join(stateDir, SIMULATOR_LOCK_FILE), {
      command: "npm run provision",
      subject: stateDir,
      advice: "stop the simulator first, then provision again",
    });
  }
  try {
    const passphrases = new PassphraseSource(stateDir, { notify: (line) => process.stderr.write(`provision: ${line}\n`) });
    let operator: { key: OperatorKey; created: boolean } | undefined;
    let signed: ProvisionedPolicy | undefined;
    const oversightKey = policy === undefined ? undefined : readOversightPublicKey(stateDir);
    const { entry, origin } = Keyring.update(stateDir, "npm run provision", passphrases, (keyring) => {
      const issued = issueKey(keyring, device, { zone: values.zone, newKey: values["new-key"] ?? false, sameKey: values["same-key"] ?? false, keyringPath, target });
      // Signed (and recorded) before the keyring is saved: a policy that cannot be signed, or an
      // operator key that cannot be opened, issues no key.
      if (policy !== undefined && position !== undefined) {
        operator = OperatorKey.loadOrCreate(stateDir, passphrases);
        try {
          signed = provisionedPolicyRecords({
            stateDir,
            identity: { device, zone: issued.entry.zone },
            position,
            document: policy.document,
            board: streetBoard(),
            operator: operator.key,
            oversightKey,
            nowSeconds: Date.now() / 1000,
          });
        } finally {
          operator.key.wipe();
        }
      }
      return issued;
    });
    // The keyring that marks the key issued is saved: only now may it reach a file.
    if (Keyring.isExposed(stateDir)) process.stderr.write(`provision: warning: ${keyringPath} is readable by other users; chmod 600 it\n`);
    const records = provisioningRecords(device, entry.zone, entry.rootKey);
    const keyId = bytesToHex(records.find((record) => record.key === KEY_ID_STORE_KEY)!.value);
    const policyLines: string[] = [];
    if (signed !== undefined && operator !== undefined && policy !== undefined && position !== undefined) {
      records.push(...signed.records);
      policyLines.push(
        `${operator.created ? "created the operator's signing key and signed" : "signed with the operator's key"} (public key in ${join(stateDir, OPERATOR_PUBLIC_KEY_FILE)}) the policy "${policy.name}", serial ${signed.serial}, for ${device} at ${position.latitude},${position.longitude}; recorded in ${join(stateDir, "policies", device)}/`,
      );
      if (oversightKey === undefined) {
        policyLines.push(
          `warning: no ${join(stateDir, OVERSIGHT_PUBLIC_KEY_FILE)}: the node will refuse every later change that weakens privacy (docs/governance.md); put the oversight key's public half there and provision again to allow them`,
        );
      }
    }

    const written: string[] = [];
    if (target === "sim") {
      provisionFlash(flashPath(stateDir, device), entry.rootKey, device);
      written.push(flashPath(stateDir, device));
    } else if (!outExists) mkdirSync(outDir, { recursive: true, mode: 0o700 });
    if (target === "esp32" || target === "both") {
      writeFileAtomic(join(outDir, NVS_CSV_FILE), nvsCsv(records), 0o600);
      written.push(join(outDir, NVS_CSV_FILE));
    }
    if (target === "lin" || target === "both") {
      writeFileAtomic(join(outDir, LIN_PREFERENCES_FILE), linPreferencesJson(records), 0o600);
      written.push(join(outDir, LIN_PREFERENCES_FILE));
    }

    const lines = [origin, `key fingerprint (key.id): ${keyId}`, ...policyLines, ...written.map((path) => `wrote ${path} (mode 0600)`)];
    if (target === "esp32" || target === "both") lines.push("", ...esp32Steps(outDir));
    if (target === "lin" || target === "both") lines.push("", ...linSteps(outDir));
    if (target === "sim") lines.push("", ...simSteps(stateDir, device));
    process.stdout.write(lines.join("\n") + "\n");
    return 0;
  } finally {
    simulator?.release();
  }
}

/** `LAT,LON` in decimal degrees. */
function parsePosition(text: string): NodePosition {
  const match = /^(-?\d{1,2}(?:\.\d+)?),(-?\d{1,3}(?:\.\d+)?)$/.exec(text.replace(/\s+/g, ""));
  const latitude = Number(match?.[1]);
  const longitude = Number(match?.[2]);
  if (!match || !(latitude >= -90 && latitude <= 90) || !(longitude >= -180 && longitude <= 180)) {
    throw new UsageError(`--position ${JSON.stringify(text)}: give LAT,LON in decimal degrees, latitude from -90 to 90 and longitude from -180 to 180 (e.g. 52.37311,4.89224)`);
  }
  return { latitude, longitude };
}

interface IssueRequest {
  readonly zone: string | undefined;
  readonly newKey: boolean;
  readonly sameKey: boolean;
  readonly keyringPath: string;
  readonly target: Target;
}

/**
 * The key to write for `device`, marked issued in `keyring` (which Keyring.update then saves),
 * and a line saying where it came from. Throws UsageError, changing nothing, for a request that
 * would give out an issued key without --same-key.
 */
function issueKey(keyring: Keyring, device: string, request: IssueRequest): { entry: KeyringEntry; origin: string } {
  const { zone, keyringPath } = request;
  const known = keyring.get(device);
  let origin: string;
  if (known === undefined) {
    // A new device gets its zone from the operator, never a default: the collector accepts its
    // messages only on that zone's topics, so a wrong guess would silently lose its data.
    if (zone === undefined) throw new UsageError(`${device} is not in ${keyringPath} yet: give --zone to add it`);
    if (request.sameKey) throw new UsageError(`--same-key: ${device} is not in ${keyringPath}, so it has no key to write again`);
    keyring.provision(device, zone);
    origin = `added ${device} (zone ${zone}) with a new root key to ${keyringPath} (mode 0600)`;
  } else {
    if (zone !== undefined && zone !== known.zone) throw new UsageError(`${device} belongs to zone ${known.zone} in ${keyringPath}, not ${zone}`);
    if (request.newKey) {
      keyring.replaceKey(device);
      origin = `replaced the root key of ${device} (zone ${known.zone}) in ${keyringPath} with a new one (mode 0600)`;
    } else if (known.issued === undefined) {
      origin = `using the root key of ${device} (zone ${known.zone}) from ${keyringPath}, issued now for the first time`;
    } else if (request.sameKey) {
      origin = `writing again the root key of ${device} (zone ${known.zone}), ${issuedWhen(known)}: --same-key says no node ever booted with it`;
    } else {
      const choices =
        request.target === "sim"
          ? `Pass --new-key to give ${device} a new root key`
          : `Pass --new-key to give ${device} a new root key, or --same-key if no node ever booted with this one (the flashing failed, the files were lost)`;
      throw new UsageError(
        `the root key of ${device} in ${keyringPath} was ${issuedWhen(known)}: a node that booted with it and got it again would restart its counters and repeat nonces. ${choices}.`,
      );
    }
  }
  return { entry: keyring.markIssued(device), origin };
}

function issuedWhen(entry: KeyringEntry): string {
  return entry.issued === ISSUED_UNKNOWN ? "issued before this keyring recorded issues" : `issued on ${entry.issued}`;
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
    `Next, for an ESP32 (in an ESP-IDF shell; civicnode's partition table puts nvs at ${offset}, size ${size}):`,
    `  umask 077                        # the generator writes nvs.bin with your umask, and it holds the key`,
    `  python $IDF_PATH/components/nvs_flash/nvs_partition_generator/nvs_partition_gen.py generate ${csv} ${bin} ${size}`,
    `  esptool.py --port <PORT> write_flash ${offset} ${bin}`,
    `warning: writing the nvs partition replaces its whole content (the node's key chain, counters, anything`,
    `  else stored there): do it once, before the node's first boot. Check the offset and size if your board`,
    `  or app has a partitions.csv other than hosts/moddable/esp32/partitions.csv.`,
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

function simSteps(stateDir: string, device: string): string[] {
  return [
    `Next: npm start -- --state ${shellQuote(stateDir)} (with --nodes covering ${device}). Its collector reads the keyring`,
    `  at start and learns ${device}'s new key id, so the node's counters start over without being taken for replays.`,
  ];
}

/** Quotes a path for the printed commands only when it needs it. */
function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

process.exitCode = main(process.argv.slice(2));
