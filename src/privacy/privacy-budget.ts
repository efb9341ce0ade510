/**
 * The per-day differential-privacy budget of each noisy channel, persisted so that a reboot can
 * never hand out a day's budget twice.
 *
 * Every release of a channel with ε-noise spends ε from the channel's budget for the UTC day of
 * the window. By sequential composition, the privacy loss any one person can suffer from that
 * channel in a day is at most the daily cap, whatever the window length or how often windows are
 * released. When the budget cannot pay for a release, the release is suppressed and says so.
 *
 * Like the seal counter, the budget is written ahead: the store holds a reservation (spent plus
 * a few windows' worth), and values up to it are handed out without writing. After a power cut
 * the node resumes from the reservation, so it can only under-spend. Amounts are integers of
 * micro-ε, so sums never drift. A record that cannot be read means "spent": the node stays
 * silent for the rest of that day rather than guess.
 *
 * Record under store key "dp.budget": CBOR [1, day, [[channel, reserved micro-ε], ...]] followed
 * by its CRC-32 (4 bytes, big-endian).
 */
import type { KeyValueStore } from "../platform.js";
import { CborWriter } from "../wire/cbor-writer.js";
import { decodeCbor } from "../wire/cbor-reader.js";
import { crc32 } from "../wire/crc32.js";

export const BUDGET_STORE_KEY = "dp.budget";
const DAY_MS = 86_400_000;

export interface BudgetChannel {
  readonly name: string;
  /** Daily cap, micro-ε. */
  readonly dailyMicro: number;
  /** ε of one release, micro-ε. */
  readonly costMicro: number;
}

export type SpendResult = "spent" | "exhausted" | "unavailable";

export class PrivacyBudget {
  readonly #store: KeyValueStore;
  readonly #channels: readonly BudgetChannel[];
  readonly #reserveReleases: number;
  readonly #spent: Float64Array;
  readonly #reserved: Float64Array;
  #day = -1;
  /** Set when the record could not be read: the first day the node releases on stays silent. */
  #blocked = false;
  #blockedDay: number | undefined;
  /** Reservations the store refused (the release was then suppressed, never paid on credit). */
  writeFailures = 0;

  /** `reserveReleases`: releases paid for per store write (wear vs. budget lost at a power cut). */
  constructor(store: KeyValueStore, channels: readonly BudgetChannel[], reserveReleases = 12) {
    this.#store = store;
    this.#channels = channels;
    this.#reserveReleases = reserveReleases;
    this.#spent = new Float64Array(channels.length);
    this.#reserved = new Float64Array(channels.length);
  }

  /** UTC day number of a wall time. */
  static dayOf(wallMs: number): number {
    return Math.floor(wallMs / DAY_MS);
  }

  /** Reads the persisted reservation: what was reserved on a day counts as spent on that day. */
  load(): void {
    const record = this.#store.get(BUDGET_STORE_KEY);
    if (record === undefined) return;
    const state = decodeBudgetRecord(record);
    if (state === undefined) {
      // Unreadable: assume the current day's budget is gone (we cannot know what was released).
      this.#blocked = true;
      return;
    }
    this.#day = state.day;
    this.#channels.forEach(({ name }, c) => {
      const reserved = state.reserved.get(name) ?? 0;
      this.#spent[c] = reserved;
      this.#reserved[c] = reserved;
    });
  }

  /** Micro-ε left today for channel `c`. */
  remainingMicro(c: number, wallMs: number): number {
    const day = PrivacyBudget.dayOf(wallMs);
    if (this.#isBlocked(day)) return 0;
    if (day !== this.#day) return this.#channels[c]!.dailyMicro;
    return Math.max(0, this.#channels[c]!.dailyMicro - this.#spent[c]!);
  }

  /** Pays for one release of channel `c` in the window starting at `wallMs`. */
  spend(c: number, wallMs: number): SpendResult {
    const day = PrivacyBudget.dayOf(wallMs);
    if (this.#isBlocked(day)) {
      this.#blockedDay ??= day;
      return "exhausted";
    }
    if (day !== this.#day) {
      if (day < this.#day) return "exhausted"; // the clock went back across midnight: do not reopen a day
      this.#day = day;
      this.#spent.fill(0);
      this.#reserved.fill(0);
    }
    const channel = this.#channels[c]!;
    const after = this.#spent[c]! + channel.costMicro;
    if (after > channel.dailyMicro) return "exhausted";
    if (after > this.#reserved[c]!) {
      const reserve = Math.min(channel.dailyMicro, this.#spent[c]! + channel.costMicro * this.#reserveReleases);
      const previous = this.#reserved[c]!;
      this.#reserved[c] = reserve;
      try {
        this.#store.commit([{ key: BUDGET_STORE_KEY, value: this.#encode() }]);
      } catch {
        this.#reserved[c] = previous;
        this.writeFailures++;
        return "unavailable";
      }
    }
    this.#spent[c] = after;
    return "spent";
  }

  #isBlocked(day: number): boolean {
    if (!this.#blocked) return false;
    if (this.#blockedDay === undefined || day === this.#blockedDay) return true;
    this.#blocked = false; // a new day: its budget is whole
    return false;
  }

  #encode(): Uint8Array {
    const writer = new CborWriter(64 + this.#channels.length * 48);
    writer.array(3).int(1).int(this.#day).array(this.#channels.length);
    this.#channels.forEach(({ name }, c) => writer.array(2).text(name).int(this.#reserved[c]!));
    const body = writer.written();
    const record = new Uint8Array(body.length + 4);
    record.set(body);
    new DataView(record.buffer).setUint32(body.length, crc32(body));
    return record;
  }
}

/**
 * The day and reservations a record holds, or undefined when it is not a valid record. The numbers
 * must be what `#encode` writes, whole and not negative: a CRC-valid record from another writer with
 * a negative reservation would otherwise leave more than the daily cap to spend.
 */
export function decodeBudgetRecord(record: Uint8Array): { day: number; reserved: Map<string, number> } | undefined {
  if (record.length < 5) return undefined;
  const body = record.subarray(0, record.length - 4);
  if (new DataView(record.buffer, record.byteOffset, record.byteLength).getUint32(record.length - 4) !== crc32(body)) return undefined;
  try {
    const value = decodeCbor(body);
    if (!Array.isArray(value) || value[0] !== 1 || !isWholeCount(value[1]) || !Array.isArray(value[2])) return undefined;
    const reserved = new Map<string, number>();
    for (const entry of value[2]) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || !isWholeCount(entry[1])) return undefined;
      reserved.set(entry[0], entry[1]);
    }
    return { day: value[1], reserved };
  } catch {
    return undefined;
  }
}

function isWholeCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
