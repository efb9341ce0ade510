/**
 * How a browser gets into the staff dashboard without the token ever being printed, logged or
 * kept by the page: a one-time login code, exchanged for a session cookie.
 *
 *   npm start prints <url>/login?code=<code>  -> the browser opens it -> the code is redeemed once
 *     (valid LOGIN_CODE_MS) -> Set-Cookie: civicnode-staff-<port>=<session>; HttpOnly;
 *     SameSite=Strict; Path=/ -> 303 to / -> every staff route admits the cookie as it admits the
 *     bearer token
 *
 * A browser that has no fresh code shows the token once instead (the dashboard's login form sends
 * it as a bearer credential to /login, which opens a session the same way); the page keeps
 * neither the token nor the session id, which is HttpOnly and out of reach of its scripts.
 *
 * Why a cookie rather than the token in sessionStorage: EventSource (the live stream) cannot send
 * an Authorization header, and a script-readable secret is one injection away from being read.
 * Cross-site request forgery has nothing to forge: every route is a GET that changes nothing but
 * /login and /logout, the cookie is SameSite=Strict (a request from another site carries none),
 * and a request a browser marks `Sec-Fetch-Site: cross-site` is not admitted by its cookie even so.
 * A login forced on a browser by another site (login CSRF) would need a code, which only the
 * collector's console shows.
 *
 * Codes and sessions are 128 and 256 bits from the OS CSPRNG, kept only as SHA-256 digests in
 * memory (a lookup by digest reveals nothing about the secret through timing), bounded in number
 * (the oldest go first), and forgotten at a restart: staff log in again then. The cookie's name
 * carries the port, since cookies are not kept apart by port (RFC 6265 section 8.5): two collectors
 * on one machine would otherwise replace each other's.
 *
 * Example:
 *   const sessions = new StaffSessions((authorization) => token.admits(authorization));
 *   sessions.listening(41234);
 *   console.log(`${url}/login?code=${sessions.issueCode()}`);
 *   const id = sessions.redeem(code);                  // once; undefined after
 *   reply.header("Set-Cookie", sessions.cookie(id));
 *   sessions.admits(request.headers.cookie, request.headers["sec-fetch-site"]); // true
 */
import { createHash, randomBytes } from "node:crypto";

/** How long a printed login code may be used (once). */
export const LOGIN_CODE_MS = 10 * 60_000;
/** How long a session lasts from its login, whatever is done with it. */
export const SESSION_MS = 12 * 3_600_000;
/** Codes not yet used, and sessions, kept at most: the oldest are forgotten first. */
const MAX_CODES = 16;
const MAX_SESSIONS = 64;
const CODE_BYTES = 16;
const SESSION_BYTES = 32;
const SECRET = /^[A-Za-z0-9_-]{16,64}$/;

export class StaffSessions {
  readonly #now: () => number;
  readonly #admitsBearer: (authorization: string | undefined) => boolean;
  /** digest -> expiry (Unix ms), in insertion order: the first is the oldest. */
  readonly #codes = new Map<string, number>();
  readonly #sessions = new Map<string, number>();
  #cookieName = "civicnode-staff";

  /** `admitsBearer`: whether an Authorization header carries the staff token (ApiToken.admits). */
  constructor(admitsBearer: (authorization: string | undefined) => boolean, now: () => number = Date.now) {
    this.#admitsBearer = admitsBearer;
    this.#now = now;
  }

  /** The server's port, which names the cookie: civicnode-staff-41234. */
  listening(port: number): void {
    this.#cookieName = `civicnode-staff-${port}`;
  }

  get cookieName(): string {
    return this.#cookieName;
  }

  /** A fresh one-time login code (22 base64url characters), valid LOGIN_CODE_MS. */
  issueCode(): string {
    const code = randomBytes(CODE_BYTES).toString("base64url");
    const now = this.#now();
    remember(this.#codes, digest(code), now + LOGIN_CODE_MS, MAX_CODES, now);
    return code;
  }

  /** A new session for a login code, which is used up; undefined for a code unknown, used or expired. */
  redeem(code: unknown): string | undefined {
    if (typeof code !== "string" || !SECRET.test(code)) return undefined;
    const key = digest(code);
    const expires = this.#codes.get(key);
    this.#codes.delete(key);
    if (expires === undefined || expires <= this.#now()) return undefined;
    return this.open();
  }

  /** A new session for a request that shows the staff token; undefined for any other credential. */
  openForBearer(authorization: string | undefined): string | undefined {
    return this.#admitsBearer(authorization) ? this.open() : undefined;
  }

  /** A new session. */
  open(): string {
    const id = randomBytes(SESSION_BYTES).toString("base64url");
    const now = this.#now();
    remember(this.#sessions, digest(id), now + SESSION_MS, MAX_SESSIONS, now);
    return id;
  }

  /**
   * Whether a request's Cookie header carries a live session of this server. A request the browser
   * says comes from another site (`Sec-Fetch-Site: cross-site`) is never admitted by its cookie.
   */
  admits(cookieHeader: string | undefined, fetchSite?: string | string[]): boolean {
    if (fetchSite === "cross-site") return false;
    const id = this.#sessionOf(cookieHeader);
    if (id === undefined) return false;
    const key = digest(id);
    const expires = this.#sessions.get(key);
    if (expires === undefined) return false;
    if (expires > this.#now()) return true;
    this.#sessions.delete(key);
    return false;
  }

  /** Ends the session a Cookie header carries, if any. */
  end(cookieHeader: string | undefined): void {
    const id = this.#sessionOf(cookieHeader);
    if (id !== undefined) this.#sessions.delete(digest(id));
  }

  /** The Set-Cookie value for a session: HttpOnly, SameSite=Strict, the whole site, as long as the session. */
  cookie(id: string): string {
    return `${this.#cookieName}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${SESSION_MS / 1000}`;
  }

  /** The Set-Cookie value that removes it. */
  clearingCookie(): string {
    return `${this.#cookieName}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  #sessionOf(cookieHeader: string | undefined): string | undefined {
    if (cookieHeader === undefined) return undefined;
    const prefix = `${this.#cookieName}=`;
    for (const part of cookieHeader.split(";")) {
      const pair = part.trim();
      if (!pair.startsWith(prefix)) continue;
      const value = pair.slice(prefix.length);
      return SECRET.test(value) ? value : undefined;
    }
    return undefined;
  }
}

function digest(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("base64url");
}

/** Keeps `key` until `expires`, dropping entries expired at `now` and then the oldest beyond `max`. */
function remember(entries: Map<string, number>, key: string, expires: number, max: number, now: number): void {
  for (const [k, until] of entries) if (until <= now) entries.delete(k);
  entries.set(key, expires);
  while (entries.size > max) entries.delete(entries.keys().next().value!);
}
