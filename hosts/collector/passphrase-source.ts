/**
 * Where a tool finds the passphrase that seals a state folder's secret files (the keyring;
 * secret-file.ts, docs/keys-at-rest.md). In order:
 *   1. CIVICNODE_PASSPHRASE_FILE: a file that holds it (its bytes, less one final newline): what a
 *      city uses, a file on a secrets mount, a systemd credential, a container secret;
 *   2. CIVICNODE_PASSPHRASE: the passphrase itself (handy, but readable by the process's user in
 *      /proc/<pid>/environ, and by whatever the environment is passed on to);
 *   3. `<state>/passphrase`: the quick start's local passphrase file.
 * Both variables set at once is refused: one of them is a mistake.
 *
 * With none of them, the first secret sealed in a folder (no `*.sealed` file there yet) gets a
 * local passphrase: 32 random bytes from the OS CSPRNG, base64url, in `<state>/passphrase`
 * (mode 0600), and one line says that a city keeps its passphrase elsewhere. A folder that holds a
 * sealed file never gets a new one (its files would be sealed under two passphrases): opening it
 * without a passphrase is an error that names both variables and the local file.
 *
 * The passphrase is never printed: messages name where it came from, never what it is.
 */
import { randomFillSync } from "node:crypto";
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { NODE_FILE_OPS, syncDirectory, temporaryOf } from "../node/atomic-file.js";
import { SECRET_FILE_SUFFIX } from "./secret-file.js";

export const PASSPHRASE_ENV = "CIVICNODE_PASSPHRASE";
export const PASSPHRASE_FILE_ENV = "CIVICNODE_PASSPHRASE_FILE";
/** The quick start's passphrase, in the state folder: for a simulator, not for a city. */
export const LOCAL_PASSPHRASE_FILE = "passphrase";
const LOCAL_PASSPHRASE_BYTES = 32;
/** A passphrase file holds a line, not a document. */
const MAX_PASSPHRASE_FILE_BYTES = 4096;

export class PassphraseError extends Error {
  override name = "PassphraseError";
}

/** A passphrase and where it came from; it prints as its origin only. */
export class Passphrase {
  readonly #bytes: Uint8Array;
  /** Where it came from, for messages: `CIVICNODE_PASSPHRASE`, or a variable and its file. */
  readonly origin: string;

  constructor(bytes: Uint8Array, origin: string) {
    if (bytes.length === 0) throw new PassphraseError(`the passphrase from ${origin} is empty`);
    this.#bytes = new Uint8Array(bytes); // a copy (a Buffer's slice() would share the caller's memory, which it wipes)
    this.origin = origin;
  }

  /** The passphrase's bytes (UTF-8 for one given as text), as scrypt takes them. */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  toString(): string {
    return `passphrase from ${this.origin}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

export interface PassphraseSourceOptions {
  /** Where the variables are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the tool tells its operator about the folder's secrets (a passphrase created, a keyring migrated). */
  readonly notify?: (line: string) => void;
}

export class PassphraseSource {
  readonly #stateDir: string;
  readonly #env: Readonly<Record<string, string | undefined>>;
  readonly #notify: (line: string) => void;
  #resolved: Passphrase | undefined;

  constructor(stateDir: string, options: PassphraseSourceOptions = {}) {
    this.#stateDir = stateDir;
    this.#env = options.env ?? process.env;
    this.#notify = options.notify ?? ((line) => process.stderr.write(`${line}\n`));
  }

  get localFile(): string {
    return join(this.#stateDir, LOCAL_PASSPHRASE_FILE);
  }

  /** Tells the operator something about the folder's secrets, where this tool says such things. */
  notify(line: string): void {
    this.#notify(line);
  }

  /** The passphrase that opens `sealed`. Throws PassphraseError, naming both variables and the local file, when none is given. */
  forOpening(sealed: string): Passphrase {
    const found = this.#given();
    if (found) return found;
    throw new PassphraseError(
      `${sealed} is sealed, and no passphrase is given: set ${PASSPHRASE_FILE_ENV} to the file that holds it (or ${PASSPHRASE_ENV} to the passphrase), ` +
        `or put its file back at ${this.localFile}`,
    );
  }

  /**
   * The passphrase that seals `sealed`, the folder's first secret file: as forOpening(), but when
   * none is given and the folder holds no sealed file, a new local passphrase (said once).
   */
  forFirstSeal(sealed: string): Passphrase {
    const found = this.#given();
    if (found) return found;
    const others = existsSync(this.#stateDir) ? readdirSync(this.#stateDir).filter((name) => name.endsWith(SECRET_FILE_SUFFIX)) : [];
    if (others.length > 0) {
      throw new PassphraseError(
        `cannot seal ${sealed}: no passphrase is given, and ${this.#stateDir} holds ${others.join(", ")}, sealed under one already: ` +
          `set ${PASSPHRASE_FILE_ENV} to the file that holds it (or ${PASSPHRASE_ENV} to the passphrase), or put its file back at ${this.localFile}`,
      );
    }
    if (createLocalPassphrase(this.#stateDir, this.localFile)) {
      this.#notify(
        `created the passphrase that seals the keys in ${this.#stateDir}: ${this.localFile} (mode 0600); a city keeps its passphrase elsewhere, not beside the keyring: ` +
          `move it and set ${PASSPHRASE_FILE_ENV} (docs/keys-at-rest.md)`,
      );
    }
    // Read back from the file, created by this call or by another tool a moment before.
    return (this.#resolved = readPassphraseFile(this.localFile, `the local passphrase file ${this.localFile}`));
  }

  /** The passphrase from the variables or the local file, or undefined when there is none. */
  #given(): Passphrase | undefined {
    if (this.#resolved) return this.#resolved;
    const file = this.#env[PASSPHRASE_FILE_ENV];
    const text = this.#env[PASSPHRASE_ENV];
    if (file !== undefined && text !== undefined) throw new PassphraseError(`both ${PASSPHRASE_FILE_ENV} and ${PASSPHRASE_ENV} are set: set one`);
    if (file !== undefined) {
      if (file === "") throw new PassphraseError(`${PASSPHRASE_FILE_ENV} is set but empty: set it to the file that holds the passphrase`);
      this.#resolved = readPassphraseFile(resolve(file), `${PASSPHRASE_FILE_ENV} (${resolve(file)})`);
    } else if (text !== undefined) {
      this.#resolved = new Passphrase(new TextEncoder().encode(text), PASSPHRASE_ENV);
    } else if (existsSync(this.localFile)) {
      this.#resolved = readPassphraseFile(this.localFile, `the local passphrase file ${this.localFile}`);
    }
    return this.#resolved;
  }
}

/** A passphrase file's bytes less one final "\n" or "\r\n" (an editor's), as a Passphrase from `origin`. */
function readPassphraseFile(path: string, origin: string): Passphrase {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new PassphraseError(`cannot read the passphrase from ${origin}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    if (bytes.length > MAX_PASSPHRASE_FILE_BYTES) throw new PassphraseError(`the passphrase file of ${origin} is ${bytes.length} bytes: a passphrase is one line, at most ${MAX_PASSPHRASE_FILE_BYTES} bytes`);
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0a) end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    return new Passphrase(bytes.subarray(0, end), origin);
  } finally {
    bytes.fill(0);
  }
}

/**
 * Writes a random passphrase to `path` unless a file is there already (another tool's, created a
 * moment before): written whole to a temporary, then linked into place, which fails if the name
 * exists. Returns whether this call created it.
 */
function createLocalPassphrase(stateDir: string, path: string): boolean {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const secret = new Uint8Array(LOCAL_PASSPHRASE_BYTES);
  randomFillSync(secret);
  const line = new Uint8Array(Buffer.from(`${Buffer.from(secret).toString("base64url")}\n`, "latin1"));
  secret.fill(0);
  const temporary = temporaryOf(path);
  try {
    const fd = openSync(temporary, "w", 0o600);
    try {
      writeSync(fd, line);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
    syncDirectory(NODE_FILE_OPS, stateDir);
    return true;
  } catch (error) {
    throw new PassphraseError(`cannot create the local passphrase file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  } finally {
    line.fill(0);
    rmSync(temporary, { force: true });
  }
}
