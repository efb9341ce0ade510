import { describe, expect, it } from "vitest";
import { decode as cbor2Decode } from "cbor2";
import { hexToBytes } from "@noble/hashes/utils.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { readSenmlPack, SenmlError, writeSenmlPack } from "../../../src/wire/senml.js";

function pack(records: Parameters<typeof writeSenmlPack>[3]): Uint8Array {
  const writer = new CborWriter(512);
  writeSenmlPack(writer, "street-01/", 1764201600, records);
  return writer.written().slice();
}

describe("SenML CBOR packs (RFC 8428)", () => {
  const records = [
    { name: "window", unit: "s", value: 300 },
    { name: "temperature/mean", unit: "Cel", value: 12.34 },
    { name: "temperature/count", value: 30 },
    { name: "humidity/status", status: "missing" },
  ];

  it("uses the CBOR labels of RFC 8428 section 6, as an independent decoder reads them", () => {
    const decoded = cbor2Decode(pack(records), { preferMap: true }) as Map<number, unknown>[];
    expect(decoded).toHaveLength(4);
    expect(decoded[0]).toEqual(new Map<number, unknown>([[-2, "street-01/"], [-3, 1764201600], [0, "window"], [1, "s"], [2, 300]]));
    expect(decoded[1]).toEqual(new Map<number, unknown>([[0, "temperature/mean"], [1, "Cel"], [2, 12.34]]));
    expect(decoded[3]).toEqual(new Map<number, unknown>([[0, "humidity/status"], [3, "missing"]]));
  });

  it("resolves base name and base time when read back", () => {
    expect(readSenmlPack(pack(records))).toEqual([
      { name: "street-01/window", unit: "s", value: 300, time: 1764201600 },
      { name: "street-01/temperature/mean", unit: "Cel", value: 12.34, time: 1764201600 },
      { name: "street-01/temperature/count", value: 30, time: 1764201600 },
      { name: "street-01/humidity/status", stringValue: "missing", time: 1764201600 },
    ]);
  });

  it("resolves base values, base units and relative times written by another encoder", () => {
    // [{-2: "urn:dev:ow:10e2073a01080063:", -3: 1320067464, -4: "A", 0: "voltage", 1: "V", 2: 120.1},
    //  {0: "current", 6: -5, 2: 1.2}, {0: "current", 2: 1.5}]  (the shape of RFC 8428 section 5.1.2)
    const writer = new CborWriter(256);
    writer.array(3);
    writer.map(6).int(-2).text("urn:dev:ow:10e2073a01080063:").int(-3).int(1320067464).int(-4).text("A");
    writer.int(0).text("voltage").int(1).text("V").int(2).float(120.1);
    writer.map(3).int(0).text("current").int(6).int(-5).int(2).float(1.2);
    writer.map(2).int(0).text("current").int(2).float(1.5);
    const read = readSenmlPack(writer.written());
    expect(read).toEqual([
      { name: "urn:dev:ow:10e2073a01080063:voltage", unit: "V", value: 120.1, time: 1320067464 },
      { name: "urn:dev:ow:10e2073a01080063:current", unit: "A", value: 1.2, time: 1320067459 },
      { name: "urn:dev:ow:10e2073a01080063:current", unit: "A", value: 1.5, time: 1320067464 },
    ]);
  });

  it.each([
    ["not an array", "a0"],
    ["record not a map", "8101"],
    ["record without value", "81a1006161"],
    ["two values", "81a3006161020103616b"],
    ["invalid name", "81a20061210201"],
    ["unknown label", "81a300616102011864 01".replace(" ", "")],
    ["non-finite value", "81a2006161 02f97c00".replace(" ", "")],
  ])("rejects %s", (_name, hex) => {
    expect(() => readSenmlPack(hexToBytes(hex))).toThrow(SenmlError);
  });

  it("pads a pack to exactly the requested size, at every size, and readers keep the records intact", () => {
    const records = [{ name: "window", unit: "s", value: 300 }, { name: "people/sum", value: 12 }];
    for (let target = 60; target < 400; target++) {
      const writer = new CborWriter(512);
      writeSenmlPack(writer, "street-01/", 1764201600, records, target);
      expect(writer.length).toBe(target);
      const read = readSenmlPack(writer.written());
      expect(read.slice(0, 2).map((r) => r.name)).toEqual(["street-01/window", "street-01/people/sum"]);
      expect(read[2]!.name).toBe("street-01/pad");
    }
    expect(() => writeSenmlPack(new CborWriter(512), "street-01/", 1764201600, records, 30)).toThrow(RangeError);
  });

  it("refuses to write a record with both or neither of value and status", () => {
    expect(() => pack([{ name: "x", value: 1, status: "y" }])).toThrow(RangeError);
    expect(() => pack([{ name: "x" }])).toThrow(RangeError);
  });
});
