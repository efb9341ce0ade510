/**
 * Fuzzing with fast-check for the suites in test/fuzz/ (docs/fuzzing.md): how many cases a property
 * runs, with which seed, how long one case may take, and the mutations of valid inputs that every
 * parser family shares.
 *
 * - Cases: each property states its CI count. `CIVICNODE_FUZZ_SCALE=n` runs n times as many (the
 *   long run); the count is never below the CI count.
 * - Seeds: fixed. Each property's seed is derived from its id and `CIVICNODE_FUZZ_SEED` (default
 *   below), so properties do not share a random stream and adding one changes no other. A failure's
 *   message names the seed, the counterexample's path and the command that replays it.
 * - Replay: `CIVICNODE_FUZZ_REPLAY="<id>:<seed>:<path>"` runs property <id> on that one
 *   counterexample (fast-check's `seed` + `path`); every other property runs as usual.
 * - Hangs: a synchronous case runs under a watchdog, node:vm's `timeout`, which terminates even an
 *   endless loop in code called from inside it (V8 TerminateExecution); an asynchronous case under
 *   fast-check's per-run `timeout`. A hang is therefore a failing case with its counterexample, never
 *   a stuck test.
 */
import vm from "node:vm";
import fc from "fast-check";

const DEFAULT_SEED = 0x11f0_2026;
/**
 * The longest one synchronous case may take. The cases parse at most a few kilobytes, which takes
 * well under a millisecond here; 2 s leaves three orders of magnitude for a loaded machine, and a
 * hang exceeds any bound.
 */
export const CASE_LIMIT_MS = 2000;

function envInteger(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return value;
}

/** How many times the CI case counts a run makes (1 in CI). */
export const FUZZ_SCALE = envInteger("CIVICNODE_FUZZ_SCALE", 1, 1);
const BASE_SEED = envInteger("CIVICNODE_FUZZ_SEED", DEFAULT_SEED, 0);
/** Properties print their count and time when scaled up, or with CIVICNODE_FUZZ_VERBOSE=1. */
const VERBOSE = FUZZ_SCALE > 1 || process.env.CIVICNODE_FUZZ_VERBOSE === "1";

/** The cases a property with `ciCases` in CI runs now. */
export function fuzzCases(ciCases: number): number {
  return ciCases * FUZZ_SCALE;
}

/**
 * A vitest timeout for a property of `ciCases` whose cases take up to `caseMs` each (socket cases,
 * with reconnects): the work, doubled for a loaded machine, and at least the default 30 s.
 */
export function fuzzTestTimeout(ciCases: number, caseMs: number): number {
  return Math.max(30_000, 2 * fuzzCases(ciCases) * caseMs);
}

/** The fixed seed of property `id`: FNV-1a of the id, mixed with the base seed. */
export function fuzzSeed(id: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return (hash ^ BASE_SEED) | 0;
}

interface Replay {
  readonly id: string;
  readonly seed: number;
  readonly path: string;
}

function replayRequest(): Replay | undefined {
  const raw = process.env.CIVICNODE_FUZZ_REPLAY;
  if (raw === undefined || raw === "") return undefined;
  const match = /^([^:]+):(-?\d+):([\d:]+)$/.exec(raw);
  if (!match) throw new RangeError(`CIVICNODE_FUZZ_REPLAY must be "<id>:<seed>:<path>", got ${JSON.stringify(raw)}`);
  return { id: match[1]!, seed: Number(match[2]), path: match[3]! };
}

const REPLAY = replayRequest();

function parameters<T>(id: string, ciCases: number, extra: fc.Parameters<T> = {}): fc.Parameters<T> {
  if (REPLAY !== undefined && REPLAY.id === id) return { ...extra, seed: REPLAY.seed, path: REPLAY.path, endOnFailure: true };
  return { ...extra, seed: fuzzSeed(id), numRuns: fuzzCases(ciCases) };
}

function report<T>(id: string, details: fc.RunDetails<T>, startedMs: number): void {
  if (VERBOSE) {
    const seconds = ((performance.now() - startedMs) / 1000).toFixed(1);
    console.log(`fuzz ${id}: ${details.numRuns} cases in ${seconds} s (seed ${details.seed})`);
  }
  if (!details.failed) return;
  const replay = details.counterexamplePath === null ? "" : `\nreplay: CIVICNODE_FUZZ_REPLAY='${id}:${details.seed}:${details.counterexamplePath}' npx vitest run test/fuzz`;
  const cause = details.errorInstance;
  const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  throw new Error(`fuzz property ${id} failed (seed ${details.seed}): ${why}${replay}\n${fc.defaultReportMessage(details) ?? ""}`, { cause });
}

/**
 * Once a case of a property has hung, the cases fast-check tries while shrinking it get this much:
 * still a hundred times a normal case, but shrinking a hang does not take minutes.
 */
const SHRINK_CASE_LIMIT_MS = 200;

const watchdog = vm.createContext({ job: undefined as (() => void) | undefined });
const runJob = new vm.Script("job()");

/** Runs `work` and fails (with the case) when it takes longer than `limitMs`, endless loops included. */
export function withinCaseLimit(work: () => void, limitMs = CASE_LIMIT_MS): void {
  watchdog.job = work;
  try {
    runJob.runInContext(watchdog, { timeout: limitMs });
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") throw new CaseHangError(`case did not finish within ${limitMs} ms (a hang)`);
    throw error;
  } finally {
    watchdog.job = undefined;
  }
}

export class CaseHangError extends Error {
  override name = "CaseHangError";
}

/** Checks a synchronous property: `ciCases` cases in CI, each under the hang watchdog. */
export function fuzzProperty<T>(id: string, ciCases: number, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => void): void {
  const started = performance.now();
  let limitMs = CASE_LIMIT_MS;
  const property = fc.property(arbitrary, (value) => {
    try {
      withinCaseLimit(() => predicate(value), limitMs);
    } catch (error) {
      if (error instanceof CaseHangError) limitMs = SHRINK_CASE_LIMIT_MS;
      throw error;
    }
  });
  report(id, fc.check(property, parameters(id, ciCases)), started);
}

/** Checks an asynchronous property; one case failing to settle within `caseMs` fails it. */
export async function fuzzAsyncProperty<T>(
  id: string,
  ciCases: number,
  caseMs: number,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => Promise<void>,
): Promise<void> {
  const started = performance.now();
  const property = fc.asyncProperty(arbitrary, predicate);
  report(id, await fc.check(property, parameters(id, ciCases, { timeout: caseMs })), started);
}

// --- inputs ---------------------------------------------------------------------------------------

/**
 * Random bytes of any length up to `maxLength`. fast-check's default size keeps arrays to about ten
 * elements even with a larger `maxLength`; a third of these are that short, the rest spread over the
 * whole range (still biased towards small values, where the edge cases are).
 */
export function anyBytes(maxLength: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength }), fc.uint8Array({ maxLength, size: "max" }), fc.uint8Array({ maxLength, size: "max" }));
}

// --- mutations of valid inputs ----------------------------------------------------------------

/** One change to a valid input. Positions are taken modulo the input's length when applied. */
export type Mutation =
  /** one bit flipped */
  | { readonly kind: "flip"; readonly at: number; readonly bit: number }
  /** one byte replaced by another value */
  | { readonly kind: "set"; readonly at: number; readonly byte: number }
  /** cut short before `at` */
  | { readonly kind: "truncate"; readonly at: number }
  /** bytes appended */
  | { readonly kind: "extend"; readonly bytes: Uint8Array }
  /** bytes inserted before `at` */
  | { readonly kind: "insert"; readonly at: number; readonly bytes: Uint8Array }
  /** `count` bytes removed from `at` */
  | { readonly kind: "delete"; readonly at: number; readonly count: number }
  /** a length field (or any byte, where the family names none) set to an edge value, or nudged by ±1 */
  | { readonly kind: "length"; readonly at: number; readonly edit: number }
  /** this input up to `at`, then the other valid input from `from` */
  | { readonly kind: "splice"; readonly at: number; readonly from: number };

/** Byte values where length and type fields change meaning (CBOR's 23/24..27/31, varints' 0x7F/0x80). */
const EDGE_BYTES = [0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x7f, 0x80, 0xfe, 0xff];

const smallBytes = fc.uint8Array({ minLength: 1, maxLength: 48 });

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("set" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), bytes: smallBytes }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), bytes: smallBytes }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }) },
  // edit < EDGE_BYTES.length: set to that edge value; otherwise nudge by +1 (even) or -1 (odd)
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("length" as const), at: fc.nat(), edit: fc.integer({ min: 0, max: EDGE_BYTES.length + 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("splice" as const), at: fc.nat(), from: fc.nat() }) },
);

/** A mutated input, with what it was made from (fast-check prints all of it for a counterexample). */
export interface Mutant {
  readonly original: Uint8Array;
  readonly mutations: readonly Mutation[];
  readonly bytes: Uint8Array;
}

export interface MutantOptions {
  /** Offsets of the input's length fields, aimed at by "length" edits (default: any byte). */
  readonly lengthFields?: (input: Uint8Array) => readonly number[];
  readonly maxMutations?: number;
}

/** Applies `mutations` in order; `other` is the second valid input that splices take their tail from. */
export function applyMutations(input: Uint8Array, mutations: readonly Mutation[], other: Uint8Array, options: MutantOptions = {}): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (const m of mutations) {
    const n = bytes.length;
    switch (m.kind) {
      case "flip":
        if (n > 0) bytes[m.at % n]! ^= 1 << m.bit;
        break;
      case "set":
        if (n > 0) bytes[m.at % n] = m.byte;
        break;
      case "truncate":
        bytes = bytes.slice(0, n === 0 ? 0 : m.at % n);
        break;
      case "extend":
        bytes = concat(bytes, m.bytes);
        break;
      case "insert": {
        const at = m.at % (n + 1);
        bytes = concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
        break;
      }
      case "delete": {
        if (n === 0) break;
        const at = m.at % n;
        bytes = concat(bytes.subarray(0, at), bytes.subarray(at + m.count));
        break;
      }
      case "length": {
        if (n === 0) break;
        const fields = options.lengthFields?.(bytes).filter((offset) => offset < n) ?? [];
        const at = fields.length > 0 ? fields[m.at % fields.length]! : m.at % n;
        bytes[at] = m.edit < EDGE_BYTES.length ? EDGE_BYTES[m.edit]! : (bytes[at]! + (m.edit % 2 === 0 ? 1 : 255)) & 0xff;
        break;
      }
      case "splice":
        bytes = concat(bytes.subarray(0, n === 0 ? 0 : m.at % (n + 1)), other.subarray(other.length === 0 ? 0 : m.from % other.length));
        break;
    }
  }
  return bytes;
}

/** Inputs made from valid ones by 1..maxMutations mutations (bit flips, cuts, insertions, splices, ...). */
export function mutantsOf(valid: fc.Arbitrary<Uint8Array>, options: MutantOptions = {}): fc.Arbitrary<Mutant> {
  return fc
    .tuple(valid, valid, fc.array(mutation, { minLength: 1, maxLength: options.maxMutations ?? 4 }))
    .map(([original, other, mutations]) => ({ original, mutations, bytes: applyMutations(original, mutations, other, options) }));
}

/**
 * Changes that a CRC-32 over the record always detects: 1 to 3 bit flips (CRC-32 has a Hamming
 * distance of at least 4 up to 91,607 bits, far beyond any store record), or one burst of up to 32
 * bits (any CRC of degree 32 detects those). Never the identity.
 */
export const crcDetectable: fc.Arbitrary<(record: Uint8Array) => Uint8Array> = fc.oneof(
  fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 3 }).map((positions) => (record: Uint8Array) => {
    const bits = [...new Set(positions.map((p) => p % (record.length * 8)))];
    const out = record.slice();
    for (const bit of bits) out[bit >> 3]! ^= 0x80 >> (bit & 7);
    return out;
  }),
  fc.record({ at: fc.nat(), burst: fc.uint8Array({ minLength: 1, maxLength: 4 }) }).map(({ at, burst }) => (record: Uint8Array) => {
    const out = record.slice();
    const start = at % record.length;
    let changed = false;
    for (let i = 0; i < burst.length && start + i < out.length; i++) {
      out[start + i]! ^= burst[i]!;
      if (burst[i] !== 0) changed = true;
    }
    if (!changed) out[start]! ^= 1; // keep it a change
    return out;
  }),
);

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Lossy UTF-8 (U+FFFD for what is not), for mutating text formats through their bytes. */
export function textOf(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** True when `error` is an instance of one of the declared error types. */
export function isOneOf(error: unknown, types: ReadonlyArray<abstract new (...args: never[]) => Error>): boolean {
  return types.some((type) => error instanceof type);
}

/** Runs `parse`; returns its result, or `undefined` when it threw one of `declared`, and rethrows anything else. */
export function expectOnly<T>(declared: ReadonlyArray<abstract new (...args: never[]) => Error>, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (isOneOf(error, declared)) return undefined;
    throw new Error(`threw an undeclared ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}
