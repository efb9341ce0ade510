/**
 * The bearer token (RFC 6750) that admits city staff to the API's staff endpoints: summaries,
 * health, rejections, alerts, commands. It lives in the state folder as `api-token`: 256 bits from
 * the OS CSPRNG in base64url (43 characters) and a newline, mode 0600.
 *
 * Made on first run through a temporary file and a hard link: link() refuses to replace a file, so
 * two processes starting together on one folder agree on one token, and nobody ever reads half of
 * one. Its path may be printed; its value never is (not in logs, errors or responses). In memory
 * only its SHA-256 digest is kept, and a presented token is compared digest to digest in constant
 * time, so neither its bytes nor its length leak through timing.
 *
 * Example:
 *   const token = ApiToken.loadOrCreate(join(stateDir, API_TOKEN_FILE));
 *   token.admits(request.headers.authorization); // true for "Bearer <the file's token>"
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { temporaryOf } from "../../node/atomic-file.js";

export const API_TOKEN_FILE = "api-token";
const TOKEN_BYTES = 32;
/** base64url of 32 bytes, without padding (RFC 4648 section 5). */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** "Bearer" is case-insensitive (RFC 7235 section 2.1); the token is b64token (RFC 6750 section 2.1). */
const BEARER = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i;

export class ApiTokenError extends Error {
  override name = "ApiTokenError";
}

export class ApiToken {
  /** Where the token is kept: printable, unlike the token. */
  readonly path: string;
  /** True when the file is readable by group or others (the caller warns). */
  readonly exposed: boolean;
  readonly #digest: Buffer;

  private constructor(path: string, token: string, exposed: boolean) {
    this.path = path;
    this.exposed = exposed;
    this.#digest = sha256(token);
  }

  /**
   * Reads the token at `path`, or makes one there when there is none. Throws ApiTokenError naming
   * the path and the cause (a file that holds no token, a folder that cannot be written).
   */
  static loadOrCreate(path: string): { token: ApiToken; created: boolean } {
    const existing = readToken(path);
    if (existing !== undefined) return { token: new ApiToken(path, existing, isExposed(path)), created: false };
    const created = createToken(path);
    // Another process may have linked its token first: whatever is in the file now is the token.
    const token = readToken(path);
    if (token === undefined) throw new ApiTokenError(`${path} vanished while it was being made`);
    return { token: new ApiToken(path, token, isExposed(path)), created };
  }

  /** Whether a presented token is this one, in constant time. */
  matches(presented: string): boolean {
    return timingSafeEqual(sha256(presented), this.#digest);
  }

  /** Whether an Authorization header carries this token as a bearer credential. */
  admits(authorization: string | undefined): boolean {
    const match = authorization === undefined ? null : BEARER.exec(authorization);
    return match !== null && this.matches(match[1]!);
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** The token in the file, undefined if there is no file; throws for a file that holds something else. */
function readToken(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ApiTokenError(`cannot read the API token ${path}: ${describe(error)}`);
  }
  const token = text.trim();
  if (!TOKEN_PATTERN.test(token)) {
    throw new ApiTokenError(`${path} does not hold an API token (43 base64url characters): delete it, and a new one is made at the next start`);
  }
  return token;
}

/** Writes a fresh token beside `path`, then links it into place; false if another process was first. */
function createToken(path: string): boolean {
  const temporary = temporaryOf(path);
  try {
    makeFolder(dirname(path));
    const fd = openSync(temporary, "w", 0o600);
    try {
      writeSync(fd, `${randomBytes(TOKEN_BYTES).toString("base64url")}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  } catch (error) {
    throw new ApiTokenError(`cannot make the API token ${path}: ${describe(error)}`);
  } finally {
    try {
      rmSync(temporary, { force: true });
    } catch {
      // A temporary left behind holds a token nobody uses; the next start writes over it.
    }
  }
}

/**
 * Makes `dir` (mode 0700) and its missing parents. Not mkdirSync's `recursive`: on Node 20 it
 * loops for ever where mkdir answers ENOENT under a parent that exists (a folder in /proc).
 */
function makeFolder(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir, { mode: 0o700 });
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return;
      if (code !== "ENOENT" || attempt > 0 || dirname(dir) === dir) throw error;
      makeFolder(dirname(dir));
    }
  }
}

function isExposed(path: string): boolean {
  return (statSync(path).mode & 0o077) !== 0;
}

function describe(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === "string" ? message : String(error);
  return typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text;
}
