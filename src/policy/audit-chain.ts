/**
 * The audit trail's hash chain: every entry commits to the one before it, so that once a health
 * report has carried an entry's hash to the city, the entry cannot be rewritten, dropped, or the
 * log started over without the next reports showing it (the collector recomputes the chain from
 * what the reports carry: hosts/collector/audit-continuity.ts).
 *
 *   hash(n)  = the first 16 bytes of SHA-256( CBOR [n, hash(n-1), time, event, detail] )
 *   hash(-1) = the chain's id (8 random bytes drawn when the chain starts) || 8 zero bytes
 *
 * The CBOR is preferred serialization (RFC 8949 section 4.2.1: the shortest head of every item):
 * an array of five items: n as an unsigned integer, hash(n-1) as a 16-byte byte string, time (Unix
 * seconds, 0 while the node's clock was not set) as an unsigned integer, event and detail as text.
 * Entry 0 of every chain is `audit-reset <reason>`; since hash(-1) holds the chain's id, every hash
 * of the chain commits to it, and two chains never share a hash.
 *
 * Why 16 bytes: what the chain must resist is a second preimage, another history that hashes to a
 * head the collector already holds, which costs 2^128 for SHA-256 truncated to 128 bits (NIST SP
 * 800-107 rev. 1 section 5.1). A collision (2^64) does not help: it needs two versions of an entry
 * chosen by whoever searches, and entries hold no free text an outsider chooses (event and command
 * names, counts and times), under a predecessor hash that exists only on the node and in sealed
 * reports. 16 bytes keep two hashes and the chain's id within about 90 bytes of a health report.
 *
 * Example:
 *   const hasher = new AuditHasher();
 *   const genesis = genesisHash(chainId);                        // 16 bytes
 *   const h0 = hasher.hash(0, genesis, 1_760_000_000, "audit-reset", "no record");
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { CborWriter } from "../wire/cbor-writer.js";

export const AUDIT_HASH_BYTES = 16;
export const AUDIT_CHAIN_ID_BYTES = 8;
/** The first entry of every chain. */
export const AUDIT_RESET_EVENT = "audit-reset";
/** Event names: lowercase words joined by hyphens, at most 24 characters. */
export const AUDIT_EVENT_PATTERN = /^[a-z][a-z0-9-]{0,23}$/;
/** Details are printable ASCII, at most this long: what the record and the health report budget for. */
export const AUDIT_DETAIL_MAX_CHARS = 48;

/** Widest hash input: array head, seq and time (9 bytes each), hash, event and detail with their heads. */
const HASH_INPUT_BYTES = 1 + 9 + 1 + AUDIT_HASH_BYTES + 9 + 2 + 24 + 2 + AUDIT_DETAIL_MAX_CHARS;

/** Hashes entries into a buffer allocated once. */
export class AuditHasher {
  readonly #writer = new CborWriter(HASH_INPUT_BYTES);

  /** hash(seq) from hash(seq - 1) and the entry; `into` (16 bytes) receives it when given. */
  hash(seq: number, previous: Uint8Array, time: number, event: string, detail: string, into: Uint8Array = new Uint8Array(AUDIT_HASH_BYTES)): Uint8Array {
    if (previous.length !== AUDIT_HASH_BYTES) throw new RangeError(`the previous hash must be ${AUDIT_HASH_BYTES} bytes`);
    this.#writer.reset();
    this.#writer.array(5).int(seq).bytes(previous).int(time).text(event).text(detail);
    into.set(sha256(this.#writer.written()).subarray(0, AUDIT_HASH_BYTES));
    return into;
  }
}

/** hash(-1) of the chain with this id: the id, then zeros. */
export function genesisHash(chainId: Uint8Array, into: Uint8Array = new Uint8Array(AUDIT_HASH_BYTES)): Uint8Array {
  if (chainId.length !== AUDIT_CHAIN_ID_BYTES) throw new RangeError(`a chain id is ${AUDIT_CHAIN_ID_BYTES} bytes`);
  into.fill(0);
  into.set(chainId);
  return into;
}

/** A detail as the chain keeps it: printable ASCII (anything else becomes "?"), at most 48 characters. */
export function auditDetail(detail: string): string {
  let clean = "";
  const end = Math.min(detail.length, AUDIT_DETAIL_MAX_CHARS);
  for (let i = 0; i < end; i++) {
    const code = detail.charCodeAt(i);
    clean += code >= 0x20 && code <= 0x7e ? detail[i] : "?";
  }
  return clean;
}

/** An entry as a health report's text value: "<event> <detail>", or "<event>" when the detail is empty. */
export function auditText(event: string, detail: string): string {
  return detail.length > 0 ? `${event} ${detail}` : event;
}

/** The event and detail of a health report's text value: split at the first space (events have none). */
export function parseAuditText(text: string): { event: string; detail: string } | undefined {
  const space = text.indexOf(" ");
  const event = space < 0 ? text : text.slice(0, space);
  const detail = space < 0 ? "" : text.slice(space + 1);
  if (!AUDIT_EVENT_PATTERN.test(event) || detail.length > AUDIT_DETAIL_MAX_CHARS) return undefined;
  return { event, detail };
}
