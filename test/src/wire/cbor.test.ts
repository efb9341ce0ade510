import { describe, expect, it } from "vitest";
import { decode as cbor2Decode } from "cbor2";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { CborCapacityError, CborWriter } from "../../../src/wire/cbor-writer.js";
import { CBOR_UNDEFINED, CborDecodeError, CborTagged, decodeCbor, type CborValue } from "../../../src/wire/cbor-reader.js";

/** Writes a decoded-shape value back through the writer (floats kept as floats when marked). */
function write(w: CborWriter, value: CborValue | { float: number }): void {
  if (typeof value === "number") w.int(value);
  else if (typeof value === "string") w.text(value);
  else if (typeof value === "boolean") w.bool(value);
  else if (value === null) w.null();
  else if (value instanceof Uint8Array) w.bytes(value);
  else if (Array.isArray(value)) {
    w.array(value.length);
    for (const item of value) write(w, item);
  } else if (value instanceof Map) {
    w.map(value.size);
    for (const [k, v] of value) {
      write(w, k);
      write(w, v);
    }
  } else if (value instanceof CborTagged) {
    w.tag(value.tag);
    write(w, value.value);
  } else if (typeof value === "object" && value !== null && "float" in value) w.float(value.float);
  else throw new Error("unsupported in test writer");
}

function encode(value: CborValue | { float: number }): string {
  const w = new CborWriter(256);
  write(w, value);
  return bytesToHex(w.written());
}

// RFC 8949 Appendix A, the examples within what civicnode encodes (integers up to 2^53,
// definite lengths, no bignums).
const integers: Array<[number, string]> = [
  [0, "00"], [1, "01"], [10, "0a"], [23, "17"], [24, "1818"], [25, "1819"], [100, "1864"],
  [1000, "1903e8"], [1000000, "1a000f4240"], [1000000000000, "1b000000e8d4a51000"],
  [-1, "20"], [-10, "29"], [-100, "3863"], [-1000, "3903e7"],
];
const floats: Array<[number, string]> = [
  [0.0, "f90000"], [-0.0, "f98000"], [1.0, "f93c00"], [1.1, "fb3ff199999999999a"], [1.5, "f93e00"],
  [65504.0, "f97bff"], [100000.0, "fa47c35000"], [3.4028234663852886e38, "fa7f7fffff"],
  [1.0e300, "fb7e37e43c8800759c"], [5.960464477539063e-8, "f90001"], [0.00006103515625, "f90400"],
  [-4.0, "f9c400"], [-4.1, "fbc010666666666666"], [Infinity, "f97c00"], [NaN, "f97e00"], [-Infinity, "f9fc00"],
];
const texts: Array<[string, string]> = [
  ["", "60"], ["a", "6161"], ["IETF", "6449455446"], ['"\\', "62225c"], ["\u00fc", "62c3bc"],
  ["\u6c34", "63e6b0b4"], ["\u{10151}", "64f0908591"],
];
const structures: Array<[CborValue, string]> = [
  [new Uint8Array(0), "40"],
  [hexToBytes("01020304"), "4401020304"],
  [[], "80"],
  [[1, 2, 3], "83010203"],
  [[1, [2, 3], [4, 5]], "8301820203820405"],
  [Array.from({ length: 25 }, (_, i) => i + 1), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"],
  [new Map(), "a0"],
  [new Map([[1, 2], [3, 4]]), "a201020304"],
  [new Map<string, CborValue>([["a", 1], ["b", [2, 3]]]), "a26161016162820203"],
  [["a", new Map([["b", "c"]])], "826161a161626163"],
  [new Map([["a", "A"], ["b", "B"], ["c", "C"], ["d", "D"], ["e", "E"]]), "a56161614161626142616361436164614461656145"],
  [new CborTagged(0, "2013-03-21T20:04:00Z"), "c074323031332d30332d32315432303a30343a30305a"],
  [new CborTagged(1, 1363896240), "c11a514b67b0"],
  [new CborTagged(23, hexToBytes("01020304")), "d74401020304"],
  [new CborTagged(24, hexToBytes("6449455446")), "d818456449455446"],
  [new CborTagged(32, "http://www.example.com"), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"],
  [false, "f4"], [true, "f5"], [null, "f6"],
];

describe("CBOR writer: RFC 8949 Appendix A", () => {
  it.each(integers)("integer %d -> %s", (value, hex) => expect(encode(value)).toBe(hex));
  it.each(floats)("float %d -> %s", (value, hex) => expect(encode({ float: value })).toBe(hex));
  it.each(texts)("text %j -> %s", (value, hex) => expect(encode(value)).toBe(hex));
  it.each(structures)("%j -> %s", (value, hex) => expect(encode(value)).toBe(hex));

  it("tag 1 with a double (1363896240.5)", () => {
    const w = new CborWriter(16).tag(1).float(1363896240.5);
    expect(bytesToHex(w.written())).toBe("c1fb41d452d9ec200000");
  });

  it("number() writes integers as integers and fractions as the shortest exact float", () => {
    const w = new CborWriter(32);
    w.number(30).number(-3).number(21.5).number(0.1);
    expect(bytesToHex(w.written())).toBe("181e" + "22" + "f94d60" + "fb3fb999999999999a");
  });

  it("refuses to write past its capacity instead of growing", () => {
    const w = new CborWriter(4);
    expect(() => w.text("hello")).toThrow(CborCapacityError);
    expect(w.length).toBeLessThanOrEqual(4);
  });

  it("agrees with an independent decoder (cbor2) on every example", () => {
    for (const [value, hex] of structures) {
      if (value instanceof CborTagged) continue; // cbor2 interprets well-known tags (dates, URIs)
      expect(cbor2Decode(hexToBytes(hex), { preferMap: true })).toEqual(value);
    }
  });
});

describe("CBOR reader", () => {
  it.each(integers)("integer %d <- %s", (value, hex) => expect(decodeCbor(hexToBytes(hex))).toBe(value));
  it.each(floats)("float %d <- %s", (value, hex) => expect(decodeCbor(hexToBytes(hex))).toBe(value));
  it.each(texts)("text %j <- %s", (value, hex) => expect(decodeCbor(hexToBytes(hex))).toBe(value));
  it.each(structures)("%j <- %s", (value, hex) => expect(decodeCbor(hexToBytes(hex))).toEqual(value));

  it("reads undefined distinctly", () => expect(decodeCbor(hexToBytes("f7"))).toBe(CBOR_UNDEFINED));

  const malformed: Array<[string, string]> = [
    ["", "empty input"],
    ["18", "truncated argument"],
    ["1b0020000000000000", "integer beyond 2^53"],
    ["62c3", "truncated text"],
    ["62c328", "invalid UTF-8"],
    ["83010203ff", "trailing byte"],
    ["9f0102ff", "indefinite array"],
    ["5f42010243030405ff", "indefinite bytes"],
    ["1c", "reserved additional information"],
    ["a2010201", "truncated map"],
    ["a201020103", "duplicate key"],
    ["a18101", "array as map key"],
    ["9a7fffffff", "huge declared count"],
    ["f818", "simple value in two bytes"],
    ["81".repeat(40) + "00", "nesting too deep"],
  ];
  it.each(malformed)("rejects %s (%s) with CborDecodeError", (hex) => {
    expect(() => decodeCbor(hexToBytes(hex))).toThrow(CborDecodeError);
  });

  it("never throws anything but CborDecodeError on random input", () => {
    let state = 0x12345678;
    const next = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) >>> 24);
    for (let round = 0; round < 5000; round++) {
      const bytes = Uint8Array.from({ length: 1 + (round % 40) }, next);
      try {
        decodeCbor(bytes);
      } catch (error) {
        expect(error).toBeInstanceOf(CborDecodeError);
      }
    }
  });
});
