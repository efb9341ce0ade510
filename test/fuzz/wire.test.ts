/**
 * Fuzzing the decoders of what arrives from the broker, before and after authentication (docs/fuzzing.md):
 * CBOR (src/wire/cbor-reader.ts), COSE_Encrypt0 (src/wire/cose-encrypt0.ts), SenML packs
 * (src/wire/senml.ts) and key ids (src/wire/kid.ts). Random bytes and mutations of valid encodings.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CborDecodeError, CborTagged, decodeCbor, type CborValue } from "../../src/wire/cbor-reader.js";
import { CborWriter } from "../../src/wire/cbor-writer.js";
import { CoseOpenError, MAX_COUNTER, openEncrypt0, parseEncrypt0, sealEncrypt0, type Encrypt0Envelope } from "../../src/wire/cose-encrypt0.js";
import { EpochKeys } from "../../src/wire/key-schedule.js";
import { decodeKid, encodeKid } from "../../src/wire/kid.js";
import { readSenmlPack, SenmlError, writeSenmlPack, type SenmlRecordOut } from "../../src/wire/senml.js";
import { utf8Encode } from "../../src/wire/utf8.js";
import { isValidId } from "../../src/uplink/topics.js";
import { anyBytes, applyMutations, expectOnly, fuzzProperty, mutantsOf, mutation } from "../support/fuzz.js";

// --- valid inputs to mutate ----------------------------------------------------------------------

/** A CBOR item as the writer can encode it (the decoder's whole vocabulary). */
type Tree =
  | { readonly t: "int"; readonly v: number }
  | { readonly t: "float"; readonly v: number }
  | { readonly t: "text"; readonly v: string }
  | { readonly t: "bytes"; readonly v: Uint8Array }
  | { readonly t: "simple"; readonly v: boolean | null }
  | { readonly t: "array"; readonly v: readonly Tree[] }
  | { readonly t: "map"; readonly v: ReadonlyArray<readonly [number | string, Tree]> }
  | { readonly t: "tag"; readonly tag: number; readonly v: Tree };

const treeArb: fc.Arbitrary<Tree> = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ t: fc.constant("int" as const), v: fc.oneof(fc.integer({ min: -30, max: 30 }), fc.maxSafeInteger(), fc.integer().map((x) => -x)) }),
    fc.record({ t: fc.constant("float" as const), v: fc.double() }),
    fc.record({ t: fc.constant("text" as const), v: fc.string({ unit: "grapheme", maxLength: 12 }) }),
    fc.record({ t: fc.constant("bytes" as const), v: fc.uint8Array({ maxLength: 40 }) }),
    fc.record({ t: fc.constant("simple" as const), v: fc.constantFrom(true, false, null) }),
    fc.record({ t: fc.constant("array" as const), v: fc.array(tie("tree"), { maxLength: 5 }) }),
    fc.record({
      t: fc.constant("map" as const),
      v: fc.uniqueArray(fc.tuple(fc.oneof(fc.integer({ min: -10, max: 10 }), fc.string({ maxLength: 6 })), tie("tree")), {
        maxLength: 5,
        selector: ([key]) => key,
      }),
    }),
    fc.record({ t: fc.constant("tag" as const), tag: fc.oneof(fc.constantFrom(0, 1, 16, 24, 55799), fc.nat()), v: tie("tree") }),
  ),
})).tree;

function writeTree(writer: CborWriter, tree: Tree): void {
  switch (tree.t) {
    case "int":
      writer.int(tree.v);
      break;
    case "float":
      writer.float(tree.v);
      break;
    case "text":
      writer.text(tree.v);
      break;
    case "bytes":
      writer.bytes(tree.v);
      break;
    case "simple":
      if (tree.v === null) writer.null();
      else writer.bool(tree.v);
      break;
    case "array":
      writer.array(tree.v.length);
      for (const item of tree.v) writeTree(writer, item);
      break;
    case "map":
      writer.map(tree.v.length);
      for (const [key, value] of tree.v) {
        if (typeof key === "number") writer.int(key);
        else writer.text(key);
        writeTree(writer, value);
      }
      break;
    case "tag":
      writer.tag(tree.tag);
      writeTree(writer, tree.v);
      break;
  }
}

function encodeTree(tree: Tree): Uint8Array {
  const writer = new CborWriter(1 << 16);
  writeTree(writer, tree);
  return writer.written().slice();
}

const validCbor = treeArb.map(encodeTree);

/** Nesting of the tree (0 for a leaf), as the decoder counts it against maxDepth. */
function treeDepth(tree: Tree): number {
  switch (tree.t) {
    case "array":
      return tree.v.length === 0 ? 0 : 1 + Math.max(...tree.v.map(treeDepth));
    case "map":
      return tree.v.length === 0 ? 0 : 1 + Math.max(...tree.v.map(([, v]) => treeDepth(v)));
    case "tag":
      return 1 + treeDepth(tree.v);
    default:
      return 0;
  }
}

/**
 * Bytes the encoding of `value` takes at least: one head byte per item, plus the content of byte and
 * text strings (UTF-8 takes at least one byte per UTF-16 unit). A decoded value can never need more
 * than the input held, which bounds every allocation the decoder made.
 */
function minimumEncodedBytes(value: CborValue): number {
  if (value instanceof Uint8Array) return 1 + value.length;
  if (typeof value === "string") return 1 + value.length;
  if (Array.isArray(value)) return 1 + value.reduce((sum: number, item) => sum + minimumEncodedBytes(item), 0);
  if (value instanceof Map) {
    let sum = 1;
    for (const [key, item] of value) sum += minimumEncodedBytes(key) + minimumEncodedBytes(item);
    return sum;
  }
  if (value instanceof CborTagged) return 1 + minimumEncodedBytes(value.value);
  return 1;
}

/** Nesting of a decoded value, counted as the decoder does (containers and tags). */
function decodedDepth(value: CborValue): number {
  if (Array.isArray(value)) return value.length === 0 ? 0 : 1 + Math.max(...value.map(decodedDepth));
  if (value instanceof Map) return value.size === 0 ? 0 : 1 + Math.max(...[...value.values()].map(decodedDepth));
  if (value instanceof CborTagged) return 1 + decodedDepth(value.value);
  return 0;
}

function checkDecoded(input: Uint8Array, value: CborValue, maxDepth: number): void {
  expect(minimumEncodedBytes(value)).toBeLessThanOrEqual(input.length);
  expect(decodedDepth(value)).toBeLessThanOrEqual(maxDepth);
  expect(value).not.toBeUndefined(); // CBOR's undefined is CBOR_UNDEFINED, never a missing value
}

const randomBytes = anyBytes(600);
/** Random bytes that start like a container, so that more of them reach the nested paths. */
const containerish = fc
  .tuple(fc.constantFrom(0x80, 0xa0, 0xc0), fc.integer({ min: 0, max: 23 }), anyBytes(400))
  .map(([major, count, rest]) => Uint8Array.of(major | count, ...rest));

describe("CBOR decoder under fuzzing (CborDecodeError only, output bounded by input and depth)", () => {
  it("random bytes", () => {
    fuzzProperty("cbor.random", 3000, fc.tuple(fc.oneof(randomBytes, containerish), fc.integer({ min: 0, max: 20 })), ([bytes, maxDepth]) => {
      const value = expectOnly([CborDecodeError], () => decodeCbor(bytes, { maxDepth }));
      if (value !== undefined) checkDecoded(bytes, value, maxDepth);
    });
  });

  it("valid encodings decode, and every mutation of one decodes or is refused with CborDecodeError", () => {
    fuzzProperty("cbor.valid", 500, treeArb, (tree) => {
      const bytes = encodeTree(tree);
      const depth = treeDepth(tree);
      // The default limit (16) and any tighter one: deeper nesting is refused, never followed.
      for (const maxDepth of [16, depth, Math.max(0, depth - 1)]) {
        if (depth <= maxDepth) checkDecoded(bytes, decodeCbor(bytes, { maxDepth }), maxDepth);
        else expect(() => decodeCbor(bytes, { maxDepth })).toThrow(CborDecodeError);
      }
    });
    fuzzProperty("cbor.mutated", 3000, mutantsOf(validCbor), (mutant) => {
      const value = expectOnly([CborDecodeError], () => decodeCbor(mutant.bytes));
      if (value !== undefined) checkDecoded(mutant.bytes, value, 16);
    });
  });

  it("a declared count larger than the input is refused before anything is allocated for it", () => {
    // Arrays and maps of 2^32 - 1 and 2^53 - 1 entries, and a byte string of 2^32 - 1 bytes.
    fuzzProperty("cbor.huge-counts", 300, fc.tuple(fc.constantFrom(0x9a, 0xba, 0x5a, 0x7a, 0x9b, 0xbb), fc.uint8Array({ maxLength: 64 })), ([head, rest]) => {
      const bytes = Uint8Array.of(head, ...(head & 1 ? [0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : [0xff, 0xff, 0xff, 0xff]), ...rest);
      expect(() => decodeCbor(bytes)).toThrow(CborDecodeError);
    });
  });
});

// --- COSE_Encrypt0 --------------------------------------------------------------------------------

const keysArb = fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 12, maxLength: 12 })).map(([key, iv]) => new EpochKeys(0, key, iv));
const sealedArb = fc.record({
  keys: keysArb,
  kid: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  counter: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: MAX_COUNTER })),
  plaintext: anyBytes(300),
  topic: fc.string({ maxLength: 60 }),
});

function seal(s: { keys: EpochKeys; kid: Uint8Array; counter: number; plaintext: Uint8Array; topic: string }): Uint8Array {
  return sealEncrypt0(new CborWriter(4096), s.plaintext, s.keys, s.kid, s.counter, utf8Encode(s.topic)).slice();
}

function checkEnvelope(input: Uint8Array, envelope: Encrypt0Envelope): void {
  expect(envelope.kid.length).toBeGreaterThan(0);
  expect(envelope.partialIv.length).toBeGreaterThanOrEqual(1);
  expect(envelope.partialIv.length).toBeLessThanOrEqual(5);
  expect(envelope.counter).toBeLessThanOrEqual(MAX_COUNTER);
  expect(envelope.ciphertext.length).toBeGreaterThanOrEqual(16);
  expect(envelope.kid.length + envelope.partialIv.length + envelope.ciphertext.length).toBeLessThan(input.length);
}

function parseOnly(bytes: Uint8Array): Encrypt0Envelope | undefined {
  try {
    return parseEncrypt0(bytes);
  } catch (error) {
    if (error instanceof CoseOpenError && (error.failure === "malformed" || error.failure === "unsupported")) return undefined;
    throw new Error(`parseEncrypt0 threw ${(error as Error).name} ${(error as CoseOpenError).failure ?? ""}: ${(error as Error).message}`);
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

describe("COSE_Encrypt0 under fuzzing", () => {
  it("parseEncrypt0: random bytes give CoseOpenError malformed/unsupported or a bounded envelope", () => {
    // Random bytes behind the real prefix (tag 16, array of 3, the protected header) reach the header checks.
    const prefixed = anyBytes(200).map((rest) => Uint8Array.of(0xd0, 0x83, 0x44, 0xa1, 0x01, 0x18, 0x18, ...rest));
    fuzzProperty("cose.parse-random", 2000, fc.oneof(randomBytes, prefixed), (bytes) => {
      const envelope = parseOnly(bytes);
      if (envelope) checkEnvelope(bytes, envelope);
    });
  });

  it("a mutated sealed message opens only when its ciphertext and partial IV are untouched, and then to the same plaintext", () => {
    const mutated = fc.tuple(sealedArb, sealedArb.map(seal), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([sealed, other, mutations]) => {
      const original = seal(sealed);
      return { sealed, original, mutations, bytes: applyMutations(original, mutations, other) };
    });
    fuzzProperty("cose.open-mutated", 1500, mutated, ({ sealed, original, bytes }) => {
      const envelope = parseOnly(bytes);
      if (!envelope) return;
      checkEnvelope(bytes, envelope);
      const genuine = parseEncrypt0(original);
      const authentic = sameBytes(envelope.ciphertext, genuine.ciphertext) && sameBytes(envelope.partialIv, genuine.partialIv);
      let plaintext: Uint8Array | undefined;
      try {
        plaintext = openEncrypt0(envelope, sealed.keys, utf8Encode(sealed.topic));
      } catch (error) {
        expect(error).toBeInstanceOf(CoseOpenError);
        expect((error as CoseOpenError).failure).toBe("authentication");
      }
      expect(plaintext !== undefined).toBe(authentic);
      if (plaintext) expect(sameBytes(plaintext, sealed.plaintext)).toBe(true);
    });
  });

  it("the topic is authenticated: any other external AAD fails", () => {
    fuzzProperty("cose.other-topic", 500, fc.tuple(sealedArb, fc.string({ maxLength: 60 })), ([sealed, topic]) => {
      fc.pre(topic !== sealed.topic);
      expect(() => openEncrypt0(parseEncrypt0(seal(sealed)), sealed.keys, utf8Encode(topic))).toThrow(CoseOpenError);
    });
  });
});

// --- SenML ----------------------------------------------------------------------------------------

const senmlName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}(\/[a-z0-9]{1,6}){0,2}$/);
const senmlRecord: fc.Arbitrary<SenmlRecordOut> = fc.oneof(
  fc.record({ name: senmlName, unit: fc.option(fc.constantFrom("Cel", "%RH", "ppm", "dB", "s"), { nil: undefined }), value: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
  fc.record({ name: senmlName, status: fc.constantFrom("missing", "suppressed", "budget-exhausted"), time: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }) }),
);
const validPack = fc
  .record({
    baseName: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,12}\/$/),
    baseTime: fc.integer({ min: 0, max: 2 ** 32 }),
    records: fc.array(senmlRecord, { minLength: 1, maxLength: 8 }),
    pad: fc.boolean(),
  })
  .map(({ baseName, baseTime, records, pad }) => {
    const writer = new CborWriter(4096);
    writeSenmlPack(writer, baseName, baseTime, records);
    if (pad) {
      const size = writer.length + 40;
      writer.reset();
      writeSenmlPack(writer, baseName, baseTime, records, size);
    }
    return writer.written().slice();
  });

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:./_-]*$/;

describe("SenML reader under fuzzing (SenmlError only)", () => {
  it("random bytes and mutated packs", () => {
    fuzzProperty("senml.random", 2000, fc.oneof(randomBytes, containerish), (bytes) => {
      const records = expectOnly([SenmlError], () => readSenmlPack(bytes));
      if (records) for (const r of records) expect(r.name).toMatch(NAME_PATTERN);
    });
    fuzzProperty("senml.mutated", 2000, mutantsOf(validPack), (mutant) => {
      const records = expectOnly([SenmlError], () => readSenmlPack(mutant.bytes));
      if (!records) return;
      // One record per map, each map at least two bytes: nothing beyond what the input could hold.
      expect(records.length * 2).toBeLessThanOrEqual(mutant.bytes.length);
      for (const r of records) {
        expect(r.name).toMatch(NAME_PATTERN);
        expect(Number.isFinite(r.time)).toBe(true);
        if (r.value !== undefined) expect(Number.isFinite(r.value)).toBe(true);
      }
    });
  });

  it("valid packs read back", () => {
    fuzzProperty("senml.valid", 300, validPack, (bytes) => {
      expect(readSenmlPack(bytes).length).toBeGreaterThan(0);
    });
  });
});

// --- kid ------------------------------------------------------------------------------------------

describe("kid decoder under fuzzing (never throws; only canonical civicnode kids)", () => {
  it("random bytes and mutated kids", () => {
    const validKid = fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,31}$/), fc.nat({ max: 0xffffffff })).map(([device, epoch]) => encodeKid(device, epoch));
    fuzzProperty("kid.random", 3000, fc.oneof(anyBytes(48), mutantsOf(validKid).map((m) => m.bytes)), (bytes) => {
      let decoded;
      try {
        decoded = decodeKid(bytes);
      } catch (error) {
        throw new Error(`decodeKid threw ${(error as Error).name}`);
      }
      if (decoded === undefined) return;
      expect(isValidId(decoded.device)).toBe(true);
      expect(sameBytes(encodeKid(decoded.device, decoded.epoch), bytes)).toBe(true);
    });
  });
});
