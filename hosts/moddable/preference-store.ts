/**
 * The node's store on Moddable: ESP32 NVS through the SDK's `Preference` module (in the Linux
 * simulator, a JSON file), made atomic across several keys by a journal.
 *
 * What this relies on (Moddable SDK 8.2.3, modules/files/preference/, and ESP-IDF's nvs_flash):
 * - esp32/modPreference.c stores an ArrayBuffer as an NVS blob (nvs_set_blob, then nvs_commit) in the
 *   namespace named by `domain`, and get() gives it back as a new ArrayBuffer. Values are therefore
 *   kept raw, and a provisioning tool can write e.g. "key.root" with nvs_partition_gen.py
 *   (encoding hex2bin, base64 or binary: a blob; encoding string would make get() return a string).
 * - Preference.set() first ERASES the key (nvs_erase_key, a workaround for an ESP-IDF type-change
 *   bug) and only then writes it, and ESP-IDF writes every operation to flash at once (its
 *   nvs_commit does nothing). So one Preference.set() is not atomic: a power cut between the erase
 *   and the write leaves the key absent. What is atomic is one nvs_set_blob (data chunks first, the
 *   blob index last; chunks without an index are dropped at the next nvs_flash_init) and one
 *   nvs_erase_key.
 * - set() throws ("nvs set fail", "nvs_open fail") when NVS fails, e.g. when full: after the erase,
 *   so a failed set() may have removed the old value. delete() throws "nvs erase fail" and ignores an
 *   absent key. get() returns undefined for an absent key or namespace (also for a namespace name
 *   NVS rejects: hence the check below), throws "nvs get fail" on other errors.
 * - NVS namespace and key names have at most 15 characters; Preference values at most 4,000 bytes
 *   (documentation/files/files.md).
 * - lin/preference.js (simulator) keeps all domains in one JSON file, rewritten whole and
 *   synchronously on every set() and delete() (the old file deleted first), with I/O errors
 *   swallowed; an ArrayBuffer is kept as "1,2,3" text, so an empty one would come back as one zero
 *   byte. Empty values are refused here for that reason.
 *
 * A commit:
 * 1. Validates every write and, when it needs the journal, encodes the journal: a commit that is
 *    invalid or whose journal would exceed JOURNAL_MAX_BYTES is refused before anything is written.
 * 2. Finishes an earlier commit whose journal is complete but not yet applied (see `#pending`), and
 *    removes a journal head an earlier failure may have left (see `#headMayRemain`).
 * 3. A deletion, or a set of a key that does not exist, is one atomic NVS operation and goes
 *    straight to Preference. Anything else (several writes, or overwriting an existing key, which
 *    Preference.set() would erase first) goes through the journal:
 *    a. a journal of at most one value (4,000 bytes: nearly every commit, e.g. a key rotation's
 *       101 bytes) is written with ONE set() into JOURNAL_KEY, which is absent. A larger one (a
 *       policy update's, about 7 KB) is cut into segments of one value each, each written with
 *       set() into its own key `~journal.1`, `~journal.2`, ... (erasing only garbage: no head names
 *       them) and read back and compared; then its head, naming the segments' lengths and CRC-32s,
 *       is written with ONE set() into JOURNAL_KEY, which is absent. That blob write (the
 *       journal's, or its head's) is the commit point: once it is in NVS, a reboot replays the
 *       commit; before it, no head names the segments. It is read back and compared byte for byte
 *       before any key is touched;
 *    b. every write is applied, in order;
 *    c. JOURNAL_KEY is deleted (one nvs_erase_key: the commit is done), then the segments.
 *    At boot an intact journal is replayed (b and c again: each write sets a whole value or
 *    deletes, so applying them all again after a cut gives the same state), a corrupt one (a head
 *    whose segments are missing or fail their CRC included) is discarded, and segments that no
 *    intact head names are deleted.
 *
 * Why segments under one head rather than two slots switched by one small write: the commit point
 * stays one blob write of a key that was absent, with the recovery every commit already had; small
 * commits keep writing the version-1 journal as before (one blob, no extra erase for the counter's
 * frequent commits); and a commit of any keys can grow past one value, where slots would cover
 * chosen records only, each kept twice. The head holds each segment's CRC-32 besides the journal's
 * own CRC over the whole, so that it names exactly these segments: one left by another commit is
 * refused before the journal is even assembled.
 *
 * Journal (big-endian), in JOURNAL_KEY when it fits one value, else in segments:
 *   [0..1] "CJ"  [2] version 1  [3] 0  [4..5] number of writes n (1..65535)
 *   n times: [key length k (1..15)] [k bytes of key, ASCII] [u16 value length, 0xFFFF: deletion] [value]
 *   then the CRC-32 of everything before it (src/wire/crc32.ts).
 * Segments: JOURNAL_SEGMENT_PREFIX + 1..s, each at most 4,000 bytes; concatenated, a journal.
 * Head (JOURNAL_KEY, when the journal is in segments):
 *   [0..1] "CJ"  [2] version 2  [3] number of segments s (1..JOURNAL_SEGMENTS_MAX)
 *   s times: [u16 segment length (1..4000)] [u32 CRC-32 of the segment]
 *   then the CRC-32 of everything before it.
 * A later firmware must keep reading versions 1 and 2: a node may be updated with a journal pending.
 *
 * Bounds. A journal holds at most JOURNAL_MAX_BYTES (16,000: four segments). The largest commit the
 * core makes is a policy update's (src/policy/policy-update.ts): "policy.signed" and the disclosure's
 * chunks "disclosure.0"-"disclosure.3" (src/store-chunks.ts, CHUNKS_MAX), whose values together
 * hold at most the update (POLICY_UPDATE_MAX_BYTES, 12,288) and the chunks' 4-byte length, so its
 * journal is at most 10 + 5 x 3 + 13 + 4 x 12 + 12,292 = 12,378 bytes. RAM: the journal, the pending
 * writes as views into it, and one segment's copy and read-back at a time: under 24 KB.
 * NVS: a journal's segments take room beside the values it replaces until NVS reclaims the erased
 * entries. A 4,000-byte segment fills about one NVS page (125 entries of 32 bytes and a chunk header,
 * of the 126 a page holds), so a policy update's journal takes about two of the 69 usable pages of
 * the 0x46000-byte partition (hosts/collector/provisioning-bundle.ts) for the commit's duration, and
 * the largest journal four, out of the about 20 pages that the outbox's 160 KB leaves
 * (docs/reliability.md). When NVS is full a segment's set() throws, and the commit is refused with
 * the old state standing.
 */
import { STORE_KEY_MAX_LENGTH, STORE_VALUE_MAX_BYTES, type KeyValueStore, type StoreWrite } from "../../src/platform.js";
import { crc32 } from "../../src/wire/crc32.js";
import { assertStoreWrite, StoreLimitError } from "../../src/store-contract.js";

/** What Preference stores and returns. */
export type PreferenceValue = string | boolean | number | ArrayBuffer;

/**
 * The part of Moddable's `Preference` module (its default export, a class with static methods) that
 * the store uses: pass the module itself.
 */
export interface PreferenceBackend {
  get(domain: string, key: string): PreferenceValue | undefined;
  set(domain: string, key: string, value: ArrayBuffer): void;
  delete(domain: string, key: string): void;
  /** Every key of `domain` (esp32: nvs_entry_find over the namespace; lin: the file's keys). */
  keys(domain: string): string[];
}

/**
 * The journal's store key: "~" is outside the store's key alphabet [a-z0-9._-], so no core key can
 * collide with it, and get() refuses it.
 */
export const JOURNAL_KEY = "~journal";
/** The segments of a journal larger than one value are JOURNAL_SEGMENT_PREFIX + 1, 2, ... ("~": as above). */
export const JOURNAL_SEGMENT_PREFIX = "~journal.";
/** A segment is one Preference value. */
export const JOURNAL_SEGMENT_BYTES = STORE_VALUE_MAX_BYTES;
export const JOURNAL_SEGMENTS_MAX = 4;
/** The largest journal, in all its segments: it fits the core's largest commit (see the header). */
export const JOURNAL_MAX_BYTES = JOURNAL_SEGMENTS_MAX * JOURNAL_SEGMENT_BYTES;
/** Longest NVS namespace name (the `domain`). */
export const NAMESPACE_MAX_LENGTH = 15;
/** Header (6 bytes) and CRC (4 bytes) of a journal. */
const JOURNAL_FIXED_BYTES = 10;
/** Key length (1 byte) and value length (2 bytes) of one write. */
const ENTRY_FIXED_BYTES = 3;
const DELETION = 0xffff;
const MAX_WRITES = 0xffff;
const JOURNAL_VERSION = 1;
const HEAD_VERSION = 2;
/** Header (4 bytes) and CRC (4 bytes) of a head. */
const HEAD_FIXED_BYTES = 8;
/** Length (2 bytes) and CRC-32 (4 bytes) of one segment in the head. */
const HEAD_SEGMENT_BYTES = 6;

/** The key of segment `index` (1..JOURNAL_SEGMENTS_MAX). */
export function journalSegmentKey(index: number): string {
  return `${JOURNAL_SEGMENT_PREFIX}${index}`;
}

/**
 * The largest value that can replace an existing key `key` in a single-key commit: an overwrite goes
 * through the journal, which must also hold the key and the journal's own 13 bytes. Since the
 * journal spans segments, that is every value the store takes.
 */
export function maxOverwriteBytes(key: string): number {
  return Math.min(STORE_VALUE_MAX_BYTES, JOURNAL_MAX_BYTES - JOURNAL_FIXED_BYTES - ENTRY_FIXED_BYTES - key.length);
}

/** The size of the journal a commit of `writes` needs (over all its segments). */
export function journalBytes(writes: readonly StoreWrite[]): number {
  let total = JOURNAL_FIXED_BYTES;
  for (const { key, value } of writes) total += ENTRY_FIXED_BYTES + key.length + (value === undefined ? 0 : value.length);
  return total;
}

/** A key holds something the store did not write as bytes (e.g. a string from a provisioning tool). */
export class StoreFormatError extends Error {
  override name = "StoreFormatError";
}

/**
 * The backend failed during a commit. `committed` says what the commit did:
 * - false: nothing of it was written; the previous state stands.
 * - true: its journal was complete before the failure, so the commit has taken effect: get() shows
 *   it already, and the rest of it is written at the next commit or at boot.
 * - undefined: a single NVS operation failed and may or may not have happened (get() tells which);
 *   in either case the store holds all of the old or all of the new state.
 */
export class PreferenceCommitError extends Error {
  override name = "PreferenceCommitError";
  readonly committed: boolean | undefined;

  constructor(message: string, committed: boolean | undefined, cause: unknown) {
    super(message, { cause });
    this.committed = committed;
  }
}

/**
 * What construction found: no journal; a journal replayed; a corrupt journal discarded; or an intact
 * journal that could not be applied yet because the backend failed (get() shows its writes, and the
 * next commit finishes it). Segments that no head names (a commit cut before its commit point) are
 * deleted and reported as "none": nothing of that commit had happened.
 */
export type PreferenceRecovery = "none" | "replayed" | "discarded" | "deferred";

export interface PreferenceStoreOptions {
  /** Told at construction when a journal was found (for the audit log). */
  readonly onRecovery?: (recovery: Exclude<PreferenceRecovery, "none">) => void;
}

/** A journal complete in NVS: its writes, and the segment keys to delete once JOURNAL_KEY is gone. */
interface PendingJournal {
  readonly writes: readonly StoreWrite[];
  readonly segmentKeys: readonly string[];
}

export class PreferenceStore implements KeyValueStore {
  readonly #backend: PreferenceBackend;
  readonly #domain: string;
  /**
   * The commit whose journal is complete in NVS but which could not be applied because the backend
   * threw (not a power cut: that ends the program). Its writes are the store's state now, so get()
   * reads them before NVS, and they are applied before the next commit writes a journal of its own:
   * Preference.set() erases the key first, so writing a new journal over this one before it is
   * applied could lose it half-applied. Bounded by JOURNAL_MAX_BYTES (views into the journal).
   */
  #pending: PendingJournal | undefined;
  /**
   * JOURNAL_KEY could not be deleted after a journal was found corrupt or was not verified, so it
   * may still be in NVS. The next commit deletes it first: else a journal that get() does not show
   * could replay at the next boot over later commits, or an old head meet new segments.
   */
  #headMayRemain = false;
  readonly recovery: PreferenceRecovery;

  /**
   * Opens the store in NVS namespace `domain` and finishes or discards a journal left by a power
   * cut. Throws when `domain` is not a valid namespace name, and when the backend fails reading the
   * journal (the journal then stays for the next attempt).
   */
  constructor(backend: PreferenceBackend, domain: string, options: PreferenceStoreOptions = {}) {
    // Checked here because ESP32 Preference.get() answers undefined, not an error, for a namespace
    // NVS cannot open: a long name would make every key look absent.
    if (domain.length === 0 || domain.length > NAMESPACE_MAX_LENGTH) {
      throw new StoreLimitError(`store domain ${JSON.stringify(domain)} must be 1-${NAMESPACE_MAX_LENGTH} characters (an NVS namespace)`);
    }
    this.#backend = backend;
    this.#domain = domain;
    this.recovery = this.#recover();
    if (this.recovery !== "none") options.onRecovery?.(this.recovery);
  }

  get(key: string): Uint8Array | undefined {
    assertStoreWrite({ key, value: undefined }); // also keeps the journal's keys out of reach
    const pending = this.#pendingWrite(key);
    if (pending !== undefined) return pending.value === undefined ? undefined : pending.value.slice();
    const raw = this.#backend.get(this.#domain, key);
    if (raw === undefined) return undefined;
    if (!(raw instanceof ArrayBuffer)) {
      throw new StoreFormatError(`store key ${key} holds a ${typeof raw}, not bytes (provision it as an NVS blob: encoding hex2bin, base64 or binary)`);
    }
    return new Uint8Array(raw.slice(0)); // a copy: the caller may wipe it
  }

  keys(prefix: string): string[] {
    const found = new Set<string>();
    for (const key of this.#backend.keys(this.#domain)) if (!isJournalKey(key) && key.startsWith(prefix)) found.add(key);
    // A journal that is complete but not yet applied is the store's state already (see #pending).
    for (const { key, value } of this.#pending?.writes ?? []) {
      if (!key.startsWith(prefix)) continue;
      if (value === undefined) found.delete(key);
      else found.add(key);
    }
    return [...found];
  }

  commit(writes: readonly StoreWrite[]): void {
    for (const write of writes) {
      assertStoreWrite(write);
      if (write.value !== undefined && write.value.length === 0) {
        throw new StoreLimitError(`store value for ${write.key} is empty: Preference cannot keep an empty value (the simulator returns one zero byte); delete the key instead`);
      }
    }
    if (writes.length === 0) return;
    if (writes.length > MAX_WRITES) throw new StoreLimitError(`a store commit holds at most ${MAX_WRITES} writes`);

    // A single NVS operation is atomic when it cannot leave the key absent: a deletion (one
    // nvs_erase_key), or a set of a key that does not exist (the erase Preference.set() does first
    // then removes nothing). An overwrite must go through the journal.
    const only = writes.length === 1 ? writes[0]! : undefined;
    let current: Uint8Array | undefined;
    try {
      current = only !== undefined && only.value !== undefined ? this.#current(only.key) : undefined;
    } catch (error) {
      throw new PreferenceCommitError(`store commit of ${only!.key} could not read the key: nothing was written`, false, error);
    }
    if (only !== undefined && only.value !== undefined && current !== undefined && sameBytes(current, only.value)) {
      this.#finishPendingBeforeCommit();
      return; // already stored: spare the flash an erase cycle
    }
    const direct = only !== undefined && (only.value === undefined || current === undefined);
    let journal: Uint8Array<ArrayBuffer> | undefined;
    if (!direct) {
      const size = journalBytes(writes);
      if (size > JOURNAL_MAX_BYTES) {
        throw new StoreLimitError(`store commit of ${writes.length} write(s) needs a ${size}-byte journal, more than ${JOURNAL_MAX_BYTES} (${JOURNAL_SEGMENTS_MAX} NVS values)`);
      }
      journal = encodeJournal(writes, size);
    }

    this.#finishPendingBeforeCommit();
    if (journal === undefined) this.#commitDirect(only!);
    else if (journal.length <= JOURNAL_SEGMENT_BYTES) this.#commitJournaled(journal);
    else this.#commitSegmented(journal);
  }

  /** What the store holds for `key` now, pending journal included. Not a copy. */
  #current(key: string): Uint8Array | undefined {
    const pending = this.#pendingWrite(key);
    if (pending !== undefined) return pending.value;
    const raw = this.#backend.get(this.#domain, key);
    if (raw === undefined) return undefined;
    // Something that is not a blob (a string from a provisioning tool) is still an existing key:
    // overwriting it needs the journal like any other.
    return raw instanceof ArrayBuffer ? new Uint8Array(raw) : new Uint8Array(0);
  }

  /** The last pending write to `key`, if a pending journal writes it. */
  #pendingWrite(key: string): StoreWrite | undefined {
    const writes = this.#pending?.writes;
    if (writes === undefined) return undefined;
    for (let i = writes.length - 1; i >= 0; i--) {
      if (writes[i]!.key === key) return writes[i];
    }
    return undefined;
  }

  #finishPendingBeforeCommit(): void {
    try {
      this.#finishPending();
      if (this.#headMayRemain) {
        this.#backend.delete(this.#domain, JOURNAL_KEY);
        this.#headMayRemain = false;
      }
    } catch (error) {
      throw new PreferenceCommitError("an earlier commit could not be finished: nothing of this commit was written", false, error);
    }
  }

  #commitDirect(write: StoreWrite): void {
    try {
      if (write.value === undefined) this.#backend.delete(this.#domain, write.key);
      else this.#backend.set(this.#domain, write.key, write.value.slice().buffer);
    } catch (error) {
      // A failed nvs_set_blob leaves no item (its chunks are erased, its index never written), and
      // the key did not exist: nothing was written. A failed erase may or may not have happened.
      throw new PreferenceCommitError(`store ${write.value === undefined ? "deletion" : "write"} of ${write.key} failed`, write.value === undefined ? undefined : false, error);
    }
  }

  /** A journal of one value: its blob write into JOURNAL_KEY is the commit point. */
  #commitJournaled(journal: Uint8Array<ArrayBuffer>): void {
    // Here no journal is pending (finished above, or replayed or discarded at boot), so the set()
    // below erases nothing that is still needed.
    this.#writeVerified(JOURNAL_KEY, journal, "the store journal", (message, cause) => this.#abandonHead([], message, cause));
    // The commit point is passed: from here on the commit stands, also if the backend fails.
    this.#finishCommitted({ writes: decodeJournal(journal, JOURNAL_SEGMENT_BYTES)!, segmentKeys: [] });
  }

  /**
   * A journal of several values: its segments, each verified, then its head, whose blob write is
   * the commit point. Until then no head in NVS names these segments (none is pending, and one a
   * failure may have left was deleted above), so a cut leaves garbage that the next boot deletes.
   */
  #commitSegmented(journal: Uint8Array<ArrayBuffer>): void {
    const segments: Uint8Array[] = [];
    for (let at = 0; at < journal.length; at += JOURNAL_SEGMENT_BYTES) segments.push(journal.subarray(at, at + JOURNAL_SEGMENT_BYTES));
    const segmentKeys = segments.map((_, i) => journalSegmentKey(i + 1));
    for (let i = 0; i < segments.length; i++) {
      this.#writeVerified(segmentKeys[i]!, segments[i]!, `the store journal's segment ${segmentKeys[i]}`, (message, cause) => {
        this.#deleteSegments(segmentKeys.slice(0, i + 1));
        throw new PreferenceCommitError(`${message}: nothing of the commit was applied`, false, cause);
      });
    }
    this.#writeVerified(JOURNAL_KEY, encodeHead(segments), "the store journal's head", (message, cause) => this.#abandonHead(segmentKeys, message, cause));
    this.#finishCommitted({ writes: decodeJournal(journal, JOURNAL_MAX_BYTES)!, segmentKeys });
  }

  /**
   * Writes `bytes` into the journal key `key` with one set() and reads it back: no key is touched
   * until NVS holds the whole journal, checked rather than assumed. On failure calls `abandon` with
   * what went wrong; it throws.
   */
  #writeVerified(key: string, bytes: Uint8Array, what: string, abandon: (message: string, cause: unknown) => never): void {
    try {
      this.#backend.set(this.#domain, key, bytes.slice().buffer);
    } catch (error) {
      abandon(`${what} could not be written`, error);
    }
    let stored: PreferenceValue | undefined;
    try {
      stored = this.#backend.get(this.#domain, key);
    } catch (error) {
      abandon(`${what} could not be read back`, error);
    }
    if (!(stored instanceof ArrayBuffer) || !sameBytes(new Uint8Array(stored), bytes)) abandon(`${what} read back differs from what was written`, undefined);
  }

  #finishCommitted(pending: PendingJournal): void {
    this.#pending = pending;
    try {
      this.#finishPending();
    } catch (error) {
      throw new PreferenceCommitError("the store commit is journaled but not yet applied: it will be finished at the next commit or at boot", true, error);
    }
  }

  /**
   * Removes a journal (or head) that was not verified complete, so that no reboot can replay it,
   * and throws. A head whose segments are gone can no longer replay either, so the segments are
   * deleted too.
   */
  #abandonHead(segmentKeys: readonly string[], message: string, cause: unknown): never {
    let removed = true;
    try {
      this.#backend.delete(this.#domain, JOURNAL_KEY);
    } catch {
      removed = false; // it may have been written after all: a reboot may then replay it (all-new)
      this.#headMayRemain = true;
    }
    if (this.#deleteSegments(segmentKeys) > 0) removed = true;
    throw new PreferenceCommitError(
      `${message}: ${removed ? "nothing of the commit was applied" : "the commit may take effect at the next boot"}`,
      removed ? false : undefined,
      cause,
    );
  }

  /**
   * Applies the pending journal's writes in order, then deletes JOURNAL_KEY (the commit is done),
   * then its segments.
   */
  #finishPending(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    for (const { key, value } of pending.writes) {
      if (value === undefined) this.#backend.delete(this.#domain, key);
      else this.#backend.set(this.#domain, key, value.slice().buffer);
    }
    this.#backend.delete(this.#domain, JOURNAL_KEY);
    this.#pending = undefined;
    this.#deleteSegments(pending.segmentKeys);
  }

  /**
   * Deletes journal segments that no head names any more, and counts those deleted. A failure
   * leaves garbage, never state: no head names it, the next segmented commit overwrites it, and the
   * next boot deletes what is left. So the commit it follows is not failed for it.
   */
  #deleteSegments(segmentKeys: readonly string[]): number {
    let deleted = 0;
    for (const key of segmentKeys) {
      try {
        this.#backend.delete(this.#domain, key);
        deleted++;
      } catch {
        // Left for the next boot (see above).
      }
    }
    return deleted;
  }

  /**
   * Brings NVS to the state of the last commit at boot.
   *
   * Why a corrupt journal can be discarded: a commit touches its keys only after set() of the
   * journal (or of each segment, then of the head) returned and it read back identical byte for
   * byte (#writeVerified), and no other code writes JOURNAL_KEY or the segments. A head is written
   * only when its segments are verified, and they are deleted only after it. Every journal from
   * which anything was applied was thus intact when it was applied, and one that fails its CRC or
   * its format now, or whose head names segments that are missing or differ, was never verified:
   * nothing of it was applied, the keys hold the previous state. (A power cut during the blob write
   * leaves no journal at all, nvs_set_blob being atomic and the key absent before, see #pending; a
   * corrupt one would come from a foreign writer or failing flash. Flash that corrupts a blob after
   * it was verified is beyond what NVS guarantees; NVS checks its own entries with CRC-32s.)
   */
  #recover(): PreferenceRecovery {
    const raw = this.#backend.get(this.#domain, JOURNAL_KEY);
    const segmentKeys = this.#strayedSegments();
    if (raw === undefined) {
      this.#deleteSegments(segmentKeys); // a segmented commit cut before its head: nothing happened
      return "none";
    }
    const writes = raw instanceof ArrayBuffer ? this.#readJournal(new Uint8Array(raw)) : undefined;
    if (writes === undefined) {
      try {
        this.#backend.delete(this.#domain, JOURNAL_KEY);
      } catch {
        this.#headMayRemain = true; // discarded again at the next boot, or deleted by the next commit
      }
      this.#deleteSegments(segmentKeys);
      return "discarded";
    }
    // Every segment is garbage once JOURNAL_KEY is gone: the head's, and any a failure left.
    this.#pending = { writes, segmentKeys };
    try {
      this.#finishPending();
    } catch {
      return "deferred"; // get() shows the journal's writes; the next commit retries
    }
    return "replayed";
  }

  /** The journal segments in NVS. Only to clean up: if NVS cannot list them, the next boot will. */
  #strayedSegments(): string[] {
    try {
      return this.#backend.keys(this.#domain).filter((key) => key.startsWith(JOURNAL_SEGMENT_PREFIX));
    } catch {
      return [];
    }
  }

  /**
   * The writes of the journal in JOURNAL_KEY: itself (version 1), or the segments its head
   * (version 2) names; undefined when it is not intact. Throws when the backend fails reading.
   */
  #readJournal(stored: Uint8Array): StoreWrite[] | undefined {
    if (stored[2] !== HEAD_VERSION) return decodeJournal(stored, JOURNAL_SEGMENT_BYTES);
    const segments = decodeHead(stored);
    if (segments === undefined) return undefined;
    let total = 0;
    for (const { length } of segments) total += length;
    const journal = new Uint8Array(total);
    let at = 0;
    for (let i = 0; i < segments.length; i++) {
      const raw = this.#backend.get(this.#domain, journalSegmentKey(i + 1));
      if (!(raw instanceof ArrayBuffer) || raw.byteLength !== segments[i]!.length) return undefined;
      const segment = new Uint8Array(raw);
      if (crc32(segment) !== segments[i]!.crc) return undefined;
      journal.set(segment, at);
      at += segment.length;
    }
    return decodeJournal(journal, JOURNAL_MAX_BYTES);
  }
}

function isJournalKey(key: string): boolean {
  return key === JOURNAL_KEY || key.startsWith(JOURNAL_SEGMENT_PREFIX);
}

function encodeJournal(writes: readonly StoreWrite[], size: number): Uint8Array<ArrayBuffer> {
  const journal = new Uint8Array(size);
  const view = new DataView(journal.buffer);
  journal[0] = 0x43; // C
  journal[1] = 0x4a; // J
  journal[2] = JOURNAL_VERSION;
  view.setUint16(4, writes.length);
  let at = 6;
  for (const { key, value } of writes) {
    journal[at++] = key.length;
    for (let i = 0; i < key.length; i++) journal[at++] = key.charCodeAt(i); // [a-z0-9._-]: ASCII
    view.setUint16(at, value === undefined ? DELETION : value.length);
    at += 2;
    if (value !== undefined) {
      journal.set(value, at);
      at += value.length;
    }
  }
  view.setUint32(at, crc32(journal, 0, at));
  return journal;
}

/**
 * The writes of a journal of at most `maxBytes` (values are views into `journal`), or undefined when
 * it is not an intact version-1 journal of valid writes.
 */
function decodeJournal(journal: Uint8Array, maxBytes: number): StoreWrite[] | undefined {
  const length = journal.length;
  if (length < JOURNAL_FIXED_BYTES || length > maxBytes) return undefined;
  if (journal[0] !== 0x43 || journal[1] !== 0x4a || journal[2] !== JOURNAL_VERSION || journal[3] !== 0) return undefined;
  const view = new DataView(journal.buffer, journal.byteOffset, journal.byteLength);
  const end = length - 4;
  if (view.getUint32(end) !== crc32(journal, 0, end)) return undefined;
  const count = view.getUint16(4);
  const writes: StoreWrite[] = [];
  let at = 6;
  for (let n = 0; n < count; n++) {
    if (at + 1 > end) return undefined;
    const keyLength = journal[at++]!;
    if (keyLength === 0 || keyLength > STORE_KEY_MAX_LENGTH || at + keyLength + 2 > end) return undefined;
    let key = "";
    for (let i = 0; i < keyLength; i++) key += String.fromCharCode(journal[at++]!);
    const valueLength = view.getUint16(at);
    at += 2;
    let value: Uint8Array | undefined;
    if (valueLength !== DELETION) {
      if (valueLength === 0 || valueLength > STORE_VALUE_MAX_BYTES || at + valueLength > end) return undefined;
      value = journal.subarray(at, at + valueLength);
      at += valueLength;
    }
    const write = { key, value };
    try {
      assertStoreWrite(write);
    } catch {
      return undefined;
    }
    writes.push(write);
  }
  return count > 0 && at === end ? writes : undefined;
}

function encodeHead(segments: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const head = new Uint8Array(HEAD_FIXED_BYTES + HEAD_SEGMENT_BYTES * segments.length);
  const view = new DataView(head.buffer);
  head[0] = 0x43; // C
  head[1] = 0x4a; // J
  head[2] = HEAD_VERSION;
  head[3] = segments.length;
  let at = 4;
  for (const segment of segments) {
    view.setUint16(at, segment.length);
    view.setUint32(at + 2, crc32(segment));
    at += HEAD_SEGMENT_BYTES;
  }
  view.setUint32(at, crc32(head, 0, at));
  return head;
}

/** The segments (length, CRC-32) an intact version-2 head names, or undefined. */
function decodeHead(head: Uint8Array): Array<{ readonly length: number; readonly crc: number }> | undefined {
  if (head.length < HEAD_FIXED_BYTES || head[0] !== 0x43 || head[1] !== 0x4a || head[2] !== HEAD_VERSION) return undefined;
  const count = head[3]!;
  if (count === 0 || count > JOURNAL_SEGMENTS_MAX || head.length !== HEAD_FIXED_BYTES + HEAD_SEGMENT_BYTES * count) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const end = head.length - 4;
  if (view.getUint32(end) !== crc32(head, 0, end)) return undefined;
  const segments: Array<{ length: number; crc: number }> = [];
  for (let at = 4; at < end; at += HEAD_SEGMENT_BYTES) {
    const length = view.getUint16(at);
    if (length === 0 || length > JOURNAL_SEGMENT_BYTES) return undefined;
    segments.push({ length, crc: view.getUint32(at + 2) });
  }
  return segments;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
