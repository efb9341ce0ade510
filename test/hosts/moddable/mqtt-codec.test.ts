/**
 * The device's MQTT codec, cross-checked against the independent `mqtt-packet` library: whatever
 * we encode, mqtt-packet parses to the same fields (and generates byte for byte); whatever
 * mqtt-packet generates, our decoder decodes to the same fields, whole, byte by byte and in random
 * chunks, including Remaining Lengths at the boundaries of the variable length encoding.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { generate, parser as createParser, type Packet } from "mqtt-packet";

import {
  DISCONNECT_PACKET_BYTES,
  MqttDecoder,
  PINGREQ_PACKET_BYTES,
  PUBACK_PACKET_BYTES,
  connectPacketBytes,
  encodeConnect,
  encodeDisconnect,
  encodePingreq,
  encodePuback,
  encodePublish,
  encodeSubscribe,
  publishPacketBytes,
  remainingLengthBytes,
  subscribePacketBytes,
  type IncomingPacket,
} from "../../../hosts/moddable/mqtt/mqtt-codec.js";
import { utf8Length } from "../../../src/wire/utf8.js";

const SEED = 0x4d515454; // "MQTT"

/** Every packet mqtt-packet finds in `bytes`; fails the test on a parse error or leftover bytes. */
function parseWithMqttPacket(bytes: Uint8Array): Packet[] {
  const packets: Packet[] = [];
  const parser = createParser({ protocolVersion: 4 });
  parser.on("packet", (packet: Packet) => packets.push(packet));
  parser.on("error", (error: Error) => {
    throw error;
  });
  const left = parser.parse(Buffer.from(bytes));
  expect(left).toBe(0);
  return packets;
}

/** Encodes into a buffer larger than needed, at an offset, and checks the size function was exact. */
function encodeAt(size: number, encode: (target: Uint8Array, offset: number) => number): Uint8Array {
  const target = new Uint8Array(size + 10).fill(0xee);
  const end = encode(target, 3);
  expect(end - 3).toBe(size);
  // Nothing written outside the packet.
  expect([...target.subarray(0, 3)]).toEqual([0xee, 0xee, 0xee]);
  expect([...target.subarray(end)].every((b) => b === 0xee)).toBe(true);
  return target.slice(3, end);
}

function encodePublishPacket(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean, packetId: number): Uint8Array {
  const topicBytes = utf8Length(topic);
  return encodeAt(publishPacketBytes(topicBytes, payload.length, qos), (t, o) =>
    encodePublish(t, o, topic, topicBytes, payload, qos, retain, packetId),
  );
}

/** Decodes a stream fed in the given chunk sizes; the decoder must report no error. */
function decodeInChunks(bytes: Uint8Array, chunkSizes: readonly number[], maxPacketBytes = 1 << 22): IncomingPacket[] {
  const decoder = new MqttDecoder(maxPacketBytes);
  const packets: IncomingPacket[] = [];
  let offset = 0;
  let i = 0;
  while (offset < bytes.length) {
    const size = Math.max(1, chunkSizes.length > 0 ? chunkSizes[i++ % chunkSizes.length]! : bytes.length);
    const end = Math.min(bytes.length, offset + size);
    let at = offset;
    while (at < end) {
      at = decoder.consume(bytes, at, end);
      expect(decoder.error).toBeUndefined();
      const packet = decoder.take();
      if (packet !== undefined) packets.push(packet);
    }
    offset = end;
  }
  expect(decoder.midPacket).toBe(false);
  return packets;
}

/** The first error the decoder reports for `bytes` fed whole, or undefined. */
function decodeError(bytes: Uint8Array, maxPacketBytes = 8192): { error: string | undefined; tooLarge: boolean; packets: number } {
  const decoder = new MqttDecoder(maxPacketBytes);
  let at = 0;
  let packets = 0;
  while (at < bytes.length && decoder.error === undefined) {
    at = decoder.consume(bytes, at, bytes.length);
    if (decoder.take() !== undefined) packets++;
  }
  return { error: decoder.error, tooLarge: decoder.tooLarge, packets };
}

/** Our decoded packet in mqtt-packet's terms, to compare with what it was generated from. */
function asMqttPacketFields(packet: IncomingPacket): Record<string, unknown> {
  switch (packet.kind) {
    case "connack":
      return { cmd: "connack", sessionPresent: packet.sessionPresent, returnCode: packet.returnCode };
    case "publish":
      return {
        cmd: "publish",
        topic: packet.topic,
        payload: [...packet.payload],
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
        ...(packet.qos === 1 ? { messageId: packet.packetId } : {}),
      };
    case "puback":
      return { cmd: "puback", messageId: packet.packetId };
    case "suback":
      return { cmd: "suback", messageId: packet.packetId, granted: [...packet.returnCodes] };
    case "pingresp":
      return { cmd: "pingresp" };
  }
}

// Topic names: any text without wildcards or NUL, including multi-byte and astral characters.
const topicName = fc
  .string({ unit: fc.oneof(fc.constantFrom("a", "/", "é", "€", "😀", "Z", "0", " ", "$"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), minLength: 1, maxLength: 40 })
  .filter((t) => !/[+#\u0000]/.test(t));
const packetId = fc.integer({ min: 1, max: 0xffff });

// --- encoding --------------------------------------------------------------------------------

describe("encoding, parsed by mqtt-packet", () => {
  it("CONNECT: clean session, keepalive and client id, byte for byte as mqtt-packet generates it", () => {
    for (const [clientId, keepalive] of [
      ["street-01", 30],
      ["", 0],
      ["nöde-€-😀", 65535],
      ["x".repeat(200), 1],
    ] as const) {
      const idBytes = utf8Length(clientId);
      const bytes = encodeAt(connectPacketBytes(idBytes), (t, o) => encodeConnect(t, o, clientId, idBytes, keepalive));
      const [packet] = parseWithMqttPacket(bytes);
      expect(packet).toMatchObject({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive });
      expect(packet).not.toHaveProperty("username");
      expect(packet).not.toHaveProperty("will");
      const reference = generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, clientId, keepalive });
      expect([...bytes]).toEqual([...reference]);
    }
  });

  it("PUBLISH: topic, payload, QoS, retain and packet id, for any topic and payload", () => {
    fc.assert(
      fc.property(
        topicName,
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom<0 | 1>(0, 1),
        fc.boolean(),
        packetId,
        (topic, payload, qos, retain, id) => {
          const bytes = encodePublishPacket(topic, payload, qos, retain, id);
          const [packet] = parseWithMqttPacket(bytes);
          expect(packet).toMatchObject({ cmd: "publish", topic, qos, retain, dup: false });
          expect([...(packet as { payload: Buffer }).payload]).toEqual([...payload]);
          if (qos === 1) expect(packet).toMatchObject({ messageId: id });
          const reference = generate({
            cmd: "publish",
            topic,
            payload: Buffer.from(payload),
            qos,
            retain,
            dup: false,
            ...(qos === 1 ? { messageId: id } : {}),
          });
          expect([...bytes]).toEqual([...reference]);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("PUBLISH with Remaining Lengths at the boundaries of the variable length encoding", () => {
    const topic = "t/x"; // 2 + 3 bytes of topic
    for (const remaining of [0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000]) {
      for (const qos of [0, 1] as const) {
        const payload = new Uint8Array(remaining - 5 - (qos === 1 ? 2 : 0)).map((_, i) => i * 7);
        const bytes = encodePublishPacket(topic, payload, qos, false, 513);
        expect(bytes.length).toBe(1 + remainingLengthBytes(remaining) + remaining);
        const [packet] = parseWithMqttPacket(bytes);
        expect(packet).toMatchObject({ cmd: "publish", topic, qos, length: remaining });
        expect(Buffer.compare((packet as { payload: Buffer }).payload, Buffer.from(payload))).toBe(0);
      }
    }
    expect([0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff].map(remainingLengthBytes)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  it("a payload that is a view into a larger buffer: exactly the viewed bytes go out", () => {
    const backing = new Uint8Array([0xaa, 0x00, 0x01, 0xfe, 0xff, 0x7f, 0xbb]);
    const [packet] = parseWithMqttPacket(encodePublishPacket("a", backing.subarray(1, 6), 1, false, 9));
    expect([...(packet as { payload: Buffer }).payload]).toEqual([0x00, 0x01, 0xfe, 0xff, 0x7f]);
  });

  it("PUBACK, SUBSCRIBE (QoS 1 per filter), PINGREQ and DISCONNECT", () => {
    const puback = encodeAt(PUBACK_PACKET_BYTES, (t, o) => encodePuback(t, o, 0xbeef));
    expect(parseWithMqttPacket(puback)[0]).toMatchObject({ cmd: "puback", messageId: 0xbeef });
    expect([...puback]).toEqual([...generate({ cmd: "puback", messageId: 0xbeef })]);

    const filters = ["civicnode/z1/street-01/cmd", "alerts/#", "city/+/air", "ünï/😀"];
    const filterBytes = filters.reduce((sum, f) => sum + utf8Length(f), 0);
    const subscribe = encodeAt(subscribePacketBytes(filterBytes, filters.length), (t, o) =>
      encodeSubscribe(t, o, 7, filters, filterBytes),
    );
    const [parsed] = parseWithMqttPacket(subscribe);
    expect(parsed).toMatchObject({ cmd: "subscribe", messageId: 7, qos: 1 });
    expect((parsed as { subscriptions: Array<{ topic: string; qos: number }> }).subscriptions.map((s) => [s.topic, s.qos])).toEqual(
      filters.map((f) => [f, 1]),
    );
    expect([...subscribe]).toEqual([
      ...generate({ cmd: "subscribe", messageId: 7, subscriptions: filters.map((topic) => ({ topic, qos: 1 as const })) }),
    ]);

    const ping = encodeAt(PINGREQ_PACKET_BYTES, (t, o) => encodePingreq(t, o));
    expect(parseWithMqttPacket(ping)[0]).toMatchObject({ cmd: "pingreq" });
    const disconnect = encodeAt(DISCONNECT_PACKET_BYTES, (t, o) => encodeDisconnect(t, o));
    expect(parseWithMqttPacket(disconnect)[0]).toMatchObject({ cmd: "disconnect" });
  });

  it("refuses to write past the end of its buffer", () => {
    const small = new Uint8Array(10);
    expect(() => encodePublish(small, 0, "topic", 5, new Uint8Array(4), 0, false, 0)).toThrow(RangeError);
    expect(() => encodePuback(small, 7, 1)).toThrow(RangeError);
    expect([...small].every((b) => b === 0)).toBe(true);
  });
});

// --- decoding --------------------------------------------------------------------------------

/** Packets a broker may send us, as mqtt-packet fields. */
const brokerPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.record({
    cmd: fc.constant("connack" as const),
    sessionPresent: fc.boolean(),
    returnCode: fc.integer({ min: 0, max: 5 }),
  }),
  fc.record({
    cmd: fc.constant("publish" as const),
    topic: topicName,
    payload: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    qos: fc.constant(0 as const),
    retain: fc.boolean(),
    dup: fc.constant(false),
  }),
  fc.record({
    cmd: fc.constant("publish" as const),
    topic: topicName,
    payload: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    qos: fc.constant(1 as const),
    retain: fc.boolean(),
    dup: fc.boolean(),
    messageId: packetId,
  }),
  fc.record({ cmd: fc.constant("puback" as const), messageId: packetId }),
  fc.record({
    cmd: fc.constant("suback" as const),
    messageId: packetId,
    granted: fc.array(fc.constantFrom(0, 1, 2, 128), { minLength: 1, maxLength: 20 }),
  }),
  fc.record({ cmd: fc.constant("pingresp" as const) }),
);

/** What our decoder must produce for a packet mqtt-packet generated from `fields`. */
function expectedFields(fields: Packet): Record<string, unknown> {
  const p = fields as unknown as Record<string, unknown>;
  switch (fields.cmd) {
    case "connack":
      return { cmd: "connack", sessionPresent: p["sessionPresent"], returnCode: p["returnCode"] };
    case "publish":
      return {
        cmd: "publish",
        topic: p["topic"],
        payload: [...(p["payload"] as Buffer)],
        qos: p["qos"],
        retain: p["retain"],
        dup: p["dup"],
        ...(p["qos"] === 1 ? { messageId: p["messageId"] } : {}),
      };
    case "puback":
      return { cmd: "puback", messageId: p["messageId"] };
    case "suback":
      return { cmd: "suback", messageId: p["messageId"], granted: p["granted"] };
    default:
      return { cmd: fields.cmd };
  }
}

describe("decoding what mqtt-packet generates", () => {
  it("decodes every packet type identically, whole, byte by byte and in random chunks", () => {
    fc.assert(
      fc.property(
        fc.array(brokerPacket, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 }),
        (packets, chunkSizes) => {
          const stream = Buffer.concat(packets.map((p) => generate(p)));
          const expected = packets.map(expectedFields);
          for (const sizes of [[], [1], chunkSizes]) {
            expect(decodeInChunks(stream, sizes).map(asMqttPacketFields)).toEqual(expected);
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("decodes Remaining Lengths at the variable length boundaries, also split inside the length field", () => {
    for (const remaining of [0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000]) {
      for (const qos of [0, 1] as const) {
        const topic = "a/b";
        const payload = Buffer.alloc(remaining - 5 - (qos === 1 ? 2 : 0), 0x5a);
        const fields: Packet = { cmd: "publish", topic, payload, qos, retain: true, dup: false, ...(qos === 1 ? { messageId: 4242 } : {}) };
        const bytes = generate(fields);
        expect(bytes.length).toBe(1 + remainingLengthBytes(remaining) + remaining);
        // Whole; then one byte at a time through the header and length field, then in big chunks.
        const byteByByteHeader = [1, 1, 1, 1, 1, 4096];
        for (const sizes of [[], byteByByteHeader, [3, 1000]]) {
          const [decoded] = decodeInChunks(bytes, sizes);
          expect(decoded).toMatchObject({ kind: "publish", topic, qos, retain: true, packetId: qos === 1 ? 4242 : 0 });
          expect((decoded as { payload: Uint8Array }).payload.length).toBe(payload.length);
          expect(Buffer.compare(Buffer.from((decoded as { payload: Uint8Array }).payload), payload)).toBe(0);
        }
      }
    }
  });

  it("byte by byte at the 127/128 and 16383/16384 boundaries, checked on every byte", () => {
    for (const remaining of [0x7f, 0x80, 0x3fff, 0x4000]) {
      const payload = Buffer.alloc(remaining - 3, 1);
      const bytes = generate({ cmd: "publish", topic: "t", payload, qos: 0, retain: false, dup: false });
      const [decoded] = decodeInChunks(bytes, [1]);
      expect((decoded as { payload: Uint8Array }).payload.length).toBe(remaining - 3);
    }
  });

  it("hands each PUBLISH a payload buffer of its own", () => {
    const stream = Buffer.concat([
      generate({ cmd: "publish", topic: "a", payload: Buffer.from([1, 2]), qos: 0, retain: false, dup: false }),
      generate({ cmd: "publish", topic: "a", payload: Buffer.from([3, 4]), qos: 0, retain: false, dup: false }),
    ]);
    const [first, second] = decodeInChunks(stream, [1]) as Array<{ payload: Uint8Array }>;
    expect(first!.payload.buffer).not.toBe(second!.payload.buffer);
    expect([...first!.payload, ...second!.payload]).toEqual([1, 2, 3, 4]);
  });

  it("accepts a packet of exactly maxPacketBytes", () => {
    const max = 300;
    const bytes = generate({ cmd: "publish", topic: "t", payload: Buffer.alloc(max - 6), qos: 0, retain: false, dup: false });
    expect(bytes.length).toBe(max);
    expect(decodeInChunks(bytes, [7], max)).toHaveLength(1);
    expect(decodeError(bytes, max - 1)).toMatchObject({ tooLarge: true, packets: 0 });
  });
});

describe("decoding malformed and unwanted input", () => {
  const cases: Array<[string, number[], RegExp]> = [
    ["CONNECT from the broker", [0x10, 0x00], /unexpected packet type 1/],
    ["PUBREC (QoS 2 flow)", [0x50, 0x02, 0x00, 0x01], /unexpected packet type 5/],
    ["PUBREL", [0x62, 0x02, 0x00, 0x01], /unexpected packet type 6/],
    ["PUBCOMP", [0x70, 0x02, 0x00, 0x01], /unexpected packet type 7/],
    ["SUBSCRIBE from the broker", [0x82, 0x02, 0x00, 0x01], /unexpected packet type 8/],
    ["UNSUBACK", [0xb0, 0x02, 0x00, 0x01], /unexpected packet type 11/],
    ["PINGREQ from the broker", [0xc0, 0x00], /unexpected packet type 12/],
    ["DISCONNECT from the broker", [0xe0, 0x00], /unexpected packet type 14/],
    ["reserved type 0", [0x00, 0x00], /unexpected packet type 0/],
    ["reserved type 15", [0xf0, 0x00], /unexpected packet type 15/],
    ["CONNACK with reserved header flags", [0x2f, 0x02, 0x00, 0x00], /reserved flags/],
    ["PUBACK with reserved header flags", [0x41, 0x02, 0x00, 0x01], /reserved flags/],
    ["CONNACK of the wrong length", [0x20, 0x03, 0x00, 0x00, 0x00], /connack length/],
    ["CONNACK with reserved acknowledge flags", [0x20, 0x02, 0x02, 0x00], /connack reserved/],
    ["PUBACK of the wrong length", [0x40, 0x01, 0x00], /puback length/],
    ["PUBACK with packet id 0", [0x40, 0x02, 0x00, 0x00], /packet id 0/],
    ["PINGRESP with a body", [0xd0, 0x01, 0x00], /pingresp length/],
    ["SUBACK without return codes", [0x90, 0x02, 0x00, 0x01], /suback shorter/],
    ["SUBACK with return code 3", [0x90, 0x03, 0x00, 0x01, 0x03], /invalid return code/],
    ["PUBLISH QoS 2", [0x34, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], /qos 2/],
    ["PUBLISH QoS 3", [0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01], /qos 3/],
    ["PUBLISH with an empty topic", [0x30, 0x03, 0x00, 0x00, 0x61], /empty topic|too short/],
    ["PUBLISH topic longer than the packet", [0x30, 0x04, 0x00, 0x09, 0x61, 0x62], /longer than the packet/],
    ["PUBLISH with a wildcard topic", [0x30, 0x03, 0x00, 0x01, 0x23], /wildcard/],
    ["PUBLISH with a NUL in its topic", [0x30, 0x04, 0x00, 0x02, 0x61, 0x00], /wildcard or NUL/],
    ["PUBLISH with an invalid UTF-8 topic", [0x30, 0x04, 0x00, 0x02, 0xc3, 0x28], /UTF-8/],
    ["PUBLISH with an overlong UTF-8 topic", [0x30, 0x04, 0x00, 0x02, 0xc0, 0xaf], /UTF-8/],
    ["QoS 1 PUBLISH with packet id 0", [0x32, 0x05, 0x00, 0x01, 0x61, 0x00, 0x00], /packet id 0/],
    ["QoS 1 PUBLISH too short for its packet id", [0x32, 0x04, 0x00, 0x01, 0x61, 0x00], /too short/],
    ["a Remaining Length of five bytes", [0x30, 0xff, 0xff, 0xff, 0xff, 0x01], /longer than 4 bytes/],
  ];

  for (const [name, bytes, reason] of cases) {
    it(`rejects ${name}`, () => {
      const result = decodeError(new Uint8Array(bytes));
      expect(result.error).toMatch(reason);
      expect(result.tooLarge).toBe(false);
      expect(result.packets).toBe(0);
    });
  }

  it("rejects a packet announced larger than maxPacketBytes before buffering any of its body", () => {
    const decoder = new MqttDecoder(8192);
    // PUBLISH announcing 268,435,455 bytes: only the five header bytes are ever looked at.
    const header = new Uint8Array([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x01]);
    expect(decoder.consume(header, 0, header.length)).toBe(header.length);
    expect(decoder.error).toMatch(/exceeds 8192/);
    expect(decoder.tooLarge).toBe(true);
    expect(decoder.take()).toBeUndefined();
  });

  it("stops at the first error and ignores everything after it until reset", () => {
    const decoder = new MqttDecoder();
    const good = generate({ cmd: "puback", messageId: 5 });
    const stream = new Uint8Array([...good, 0xf0, 0x00, ...good]);
    let at = decoder.consume(stream, 0, stream.length);
    expect(decoder.take()).toEqual({ kind: "puback", packetId: 5 });
    at = decoder.consume(stream, at, stream.length);
    expect(at).toBe(stream.length);
    expect(decoder.error).toBeDefined();
    expect(decoder.take()).toBeUndefined();
    expect(decoder.consume(good, 0, good.length)).toBe(good.length);
    expect(decoder.take()).toBeUndefined();
    decoder.reset();
    expect(decoder.error).toBeUndefined();
    decoder.consume(good, 0, good.length);
    expect(decoder.take()).toEqual({ kind: "puback", packetId: 5 });
  });

  it("never throws and never holds more than maxPacketBytes, whatever bytes arrive", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.integer({ min: 1, max: 50 }), (bytes, chunk) => {
        const decoder = new MqttDecoder(64);
        for (let offset = 0; offset < bytes.length; offset += chunk) {
          const end = Math.min(bytes.length, offset + chunk);
          let at = offset;
          while (at < end) {
            const next = decoder.consume(bytes, at, end);
            expect(next).toBeGreaterThan(at);
            at = next;
            const packet = decoder.take();
            if (packet?.kind === "publish") expect(packet.payload.buffer.byteLength).toBeLessThanOrEqual(64);
          }
        }
      }),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("rejects maxPacketBytes below the minimum", () => {
    expect(() => new MqttDecoder(10)).toThrow(RangeError);
    expect(() => new MqttDecoder(1.5e3 + 0.5)).toThrow(RangeError);
  });
});
