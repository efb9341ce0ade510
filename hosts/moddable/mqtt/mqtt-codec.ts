/**
 * The MQTT 3.1.1 packets a device client needs (OASIS MQTT 3.1.1, chapters 2 and 3), portable to XS.
 *
 * Encoding writes straight into a buffer the caller owns (the session's send buffer), at an offset,
 * after the caller sized the packet with the matching `...PacketBytes` function: no intermediate
 * arrays, so publishing allocates nothing. Only what the device sends is encoded: CONNECT (clean
 * session, keepalive, client id; no will, user name or password), PUBLISH (QoS 0/1), PUBACK,
 * SUBSCRIBE (QoS 1), PINGREQ and DISCONNECT.
 *
 * Decoding is incremental and bounded: `MqttDecoder` takes the byte stream in chunks of any size
 * (down to single bytes) and never holds more than one packet of at most `maxPacketBytes`. It
 * accepts only what a broker may send to a client that subscribes at QoS 1: CONNACK, PUBLISH
 * (QoS 0 and 1), PUBACK, SUBACK and PINGRESP. Anything else, a packet too large, a reserved flag
 * set or a malformed field is a protocol error that ends the stream (`error`); the session then
 * drops the connection. The decoder never throws on input.
 */
import { utf8Decode, utf8Write } from "../../../src/wire/utf8.js";

/** Control packet types (2.2.1). */
export const PacketType = Object.freeze({
  CONNECT: 1,
  CONNACK: 2,
  PUBLISH: 3,
  PUBACK: 4,
  SUBSCRIBE: 8,
  SUBACK: 9,
  PINGREQ: 12,
  PINGRESP: 13,
  DISCONNECT: 14,
});

/** Largest Remaining Length the four-byte variable length encoding can express (2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;
/** Default bound for one packet, fixed header included: a street node only receives small commands. */
export const DEFAULT_MAX_PACKET_BYTES = 8192;
/** Smallest bound accepted for `maxPacketBytes`: room for a CONNECT and a short PUBLISH. */
export const MIN_MAX_PACKET_BYTES = 64;
/** Largest packet id (2.3.1); 0 is not a valid id. */
export const MAX_PACKET_ID = 0xffff;
/** SUBACK return code of a refused filter (3.9.3). */
export const SUBACK_FAILURE = 0x80;

/** PUBACK, PINGREQ and DISCONNECT have a fixed size. */
export const PUBACK_PACKET_BYTES = 4;
export const PINGREQ_PACKET_BYTES = 2;
export const DISCONNECT_PACKET_BYTES = 2;

/** "MQTT" protocol name and level 4 (3.1.2.1, 3.1.2.2) at the start of CONNECT's variable header. */
const PROTOCOL_NAME_AND_LEVEL = Object.freeze([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04]);
/** Connect flags: Clean Session only (3.1.2.4); the device keeps no session state at the broker. */
const CONNECT_FLAGS_CLEAN_SESSION = 0x02;
/** Fixed header of SUBSCRIBE: its reserved flags must be 0010 (3.8.1). */
const SUBSCRIBE_HEADER = (PacketType.SUBSCRIBE << 4) | 0x02;

// --- sizes -----------------------------------------------------------------------------------

/** Bytes the Remaining Length field takes for `length` (2.2.3). */
export function remainingLengthBytes(length: number): number {
  if (length < 128) return 1;
  if (length < 16_384) return 2;
  if (length < 2_097_152) return 3;
  return 4;
}

/** Size of a whole packet with a variable header and payload of `remaining` bytes. */
function packetBytes(remaining: number): number {
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError(`MQTT packet too large: remaining length ${remaining}`);
  return 1 + remainingLengthBytes(remaining) + remaining;
}

/** Size of CONNECT for a client id of `clientIdBytes` UTF-8 bytes. */
export function connectPacketBytes(clientIdBytes: number): number {
  // protocol name and level (7), flags (1), keepalive (2), client id (2 + n)
  return packetBytes(10 + 2 + clientIdBytes);
}

/** Size of PUBLISH for a topic of `topicBytes` UTF-8 bytes and `payloadBytes` of payload. */
export function publishPacketBytes(topicBytes: number, payloadBytes: number, qos: 0 | 1): number {
  return packetBytes(2 + topicBytes + (qos === 1 ? 2 : 0) + payloadBytes);
}

/** Size of SUBSCRIBE for `count` filters whose UTF-8 lengths add up to `filterBytes`. */
export function subscribePacketBytes(filterBytes: number, count: number): number {
  // packet id (2), then per filter: length (2), the filter, requested QoS (1)
  return packetBytes(2 + filterBytes + 3 * count);
}

// --- encoding --------------------------------------------------------------------------------

/**
 * Writes a CONNECT with Clean Session set. `clientIdBytes` is `utf8Length(clientId)`, which the
 * caller already computed to size the packet. Returns the offset after the packet.
 */
export function encodeConnect(
  target: Uint8Array,
  offset: number,
  clientId: string,
  clientIdBytes: number,
  keepAliveSeconds: number,
): number {
  const remaining = 10 + 2 + clientIdBytes;
  let at = fixedHeader(target, offset, PacketType.CONNECT << 4, remaining);
  for (const byte of PROTOCOL_NAME_AND_LEVEL) target[at++] = byte;
  target[at++] = CONNECT_FLAGS_CLEAN_SESSION;
  at = writeUint16(target, at, keepAliveSeconds);
  at = writeUint16(target, at, clientIdBytes);
  return utf8Write(clientId, target, at);
}

/**
 * Writes a PUBLISH. `packetId` is ignored for QoS 0, which carries none (3.3.2.2). DUP is never
 * set: the device keeps no session across connections, so it never retransmits on the same one.
 */
export function encodePublish(
  target: Uint8Array,
  offset: number,
  topic: string,
  topicBytes: number,
  payload: Uint8Array,
  qos: 0 | 1,
  retain: boolean,
  packetId: number,
): number {
  const remaining = 2 + topicBytes + (qos === 1 ? 2 : 0) + payload.length;
  let at = fixedHeader(target, offset, (PacketType.PUBLISH << 4) | (qos << 1) | (retain ? 1 : 0), remaining);
  at = writeUint16(target, at, topicBytes);
  at = utf8Write(topic, target, at);
  if (qos === 1) at = writeUint16(target, at, packetId);
  target.set(payload, at);
  return at + payload.length;
}

/** Writes the PUBACK for an incoming QoS 1 PUBLISH. */
export function encodePuback(target: Uint8Array, offset: number, packetId: number): number {
  const at = fixedHeader(target, offset, PacketType.PUBACK << 4, 2);
  return writeUint16(target, at, packetId);
}

/**
 * Writes a SUBSCRIBE asking for QoS 1 on every filter. `filterBytes` is the sum of the filters'
 * UTF-8 lengths, as passed to `subscribePacketBytes`.
 */
export function encodeSubscribe(
  target: Uint8Array,
  offset: number,
  packetId: number,
  filters: readonly string[],
  filterBytes: number,
): number {
  let at = fixedHeader(target, offset, SUBSCRIBE_HEADER, 2 + filterBytes + 3 * filters.length);
  at = writeUint16(target, at, packetId);
  for (const filter of filters) {
    const lengthAt = at;
    at = utf8Write(filter, target, at + 2);
    writeUint16(target, lengthAt, at - lengthAt - 2);
    target[at++] = 1; // requested QoS
  }
  return at;
}

export function encodePingreq(target: Uint8Array, offset: number): number {
  return fixedHeader(target, offset, PacketType.PINGREQ << 4, 0);
}

export function encodeDisconnect(target: Uint8Array, offset: number): number {
  return fixedHeader(target, offset, PacketType.DISCONNECT << 4, 0);
}

/** Writes the fixed header; checks that the whole packet fits, so a sizing bug cannot write past it silently. */
function fixedHeader(target: Uint8Array, offset: number, first: number, remaining: number): number {
  if (offset + packetBytes(remaining) > target.length) throw new RangeError("MQTT packet does not fit its buffer");
  target[offset] = first;
  let at = offset + 1;
  let length = remaining;
  do {
    let digit = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) digit |= 0x80;
    target[at++] = digit;
  } while (length > 0);
  return at;
}

function writeUint16(target: Uint8Array, at: number, value: number): number {
  target[at] = (value >> 8) & 0xff;
  target[at + 1] = value & 0xff;
  return at + 2;
}

// --- decoding --------------------------------------------------------------------------------

export interface Connack {
  readonly kind: "connack";
  readonly sessionPresent: boolean;
  /** 0 accepted, 1..5 refused (3.2.2.3). */
  readonly returnCode: number;
}

export interface IncomingPublish {
  readonly kind: "publish";
  readonly topic: string;
  /** A view into a buffer allocated for this one packet, which nothing else refers to. */
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
  readonly dup: boolean;
  /** The packet id of a QoS 1 message; 0 for QoS 0, which has none. */
  readonly packetId: number;
}

export interface Puback {
  readonly kind: "puback";
  readonly packetId: number;
}

export interface Suback {
  readonly kind: "suback";
  readonly packetId: number;
  /** One per filter of the SUBSCRIBE, in order: the granted QoS 0..2, or 0x80 for a refusal. */
  readonly returnCodes: Uint8Array;
}

export interface Pingresp {
  readonly kind: "pingresp";
}

export type IncomingPacket = Connack | IncomingPublish | Puback | Suback | Pingresp;

/** Decoder states: the first byte of a fixed header, its Remaining Length, or the rest of the packet. */
const READ_HEADER = 0;
const READ_LENGTH = 1;
const READ_BODY = 2;
/** Bodies up to this size (all but PUBLISH and very long SUBACKs) reuse one scratch buffer. */
const SCRATCH_BODY_BYTES = 16;

export class MqttDecoder {
  /** Largest packet accepted, fixed header included. */
  readonly maxPacketBytes: number;
  readonly #scratch = new Uint8Array(SCRATCH_BODY_BYTES);
  #state = READ_HEADER;
  #first = 0;
  #remaining = 0;
  #lengthBytes = 0;
  #multiplier = 1;
  #body: Uint8Array = this.#scratch;
  #filled = 0;
  #packet: IncomingPacket | undefined;
  #error: string | undefined;
  #tooLarge = false;

  constructor(maxPacketBytes: number = DEFAULT_MAX_PACKET_BYTES) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < MIN_MAX_PACKET_BYTES) {
      throw new RangeError(`maxPacketBytes must be an integer >= ${MIN_MAX_PACKET_BYTES}, got ${String(maxPacketBytes)}`);
    }
    this.maxPacketBytes = maxPacketBytes;
  }

  /** Why the stream is malformed, once it is; the decoder then ignores all further input. */
  get error(): string | undefined {
    return this.#error;
  }

  /** True when the error is a packet larger than `maxPacketBytes` (rather than a malformed one). */
  get tooLarge(): boolean {
    return this.#tooLarge;
  }

  /** True while part of a packet has been consumed but not all of it. */
  get midPacket(): boolean {
    return this.#state !== READ_HEADER;
  }

  /**
   * Consumes `bytes[start..end)` up to and including the last byte of the next complete packet,
   * and returns the index after the last byte consumed. The caller then `take()`s that packet and
   * calls again with the rest. Handing packets out one at a time lets the caller stop between two
   * packets of one chunk (after dropping the connection, say) without the decoder running ahead.
   */
  consume(bytes: Uint8Array, start: number, end: number): number {
    let at = start;
    while (at < end && this.#packet === undefined && this.#error === undefined) {
      switch (this.#state) {
        case READ_HEADER:
          this.#startPacket(bytes[at++]!);
          break;
        case READ_LENGTH:
          this.#lengthByte(bytes[at++]!);
          break;
        default: {
          const count = Math.min(end - at, this.#remaining - this.#filled);
          this.#body.set(bytes.subarray(at, at + count), this.#filled);
          this.#filled += count;
          at += count;
          if (this.#filled === this.#remaining) this.#finishPacket();
        }
      }
    }
    // After an error the rest of the stream means nothing: report it all consumed.
    return this.#error === undefined ? at : end;
  }

  /** The packet the last `consume` completed, once; undefined when none is complete. */
  take(): IncomingPacket | undefined {
    const packet = this.#packet;
    this.#packet = undefined;
    return packet;
  }

  /** Forgets any partial packet and error, for a new connection. */
  reset(): void {
    this.#state = READ_HEADER;
    this.#body = this.#scratch;
    this.#packet = undefined;
    this.#error = undefined;
    this.#tooLarge = false;
  }

  #startPacket(first: number): void {
    const type = first >> 4;
    const flags = first & 0x0f;
    if (type === PacketType.PUBLISH) {
      const qos = (flags >> 1) & 0x03;
      // QoS 3 is malformed (3.3.1.2); QoS 2 the broker must not send, as we subscribe at QoS 1 (3.8.4).
      if (qos > 1) return this.#fail(qos === 3 ? "publish with qos 3" : "publish with qos 2");
    } else if (
      type === PacketType.CONNACK ||
      type === PacketType.PUBACK ||
      type === PacketType.SUBACK ||
      type === PacketType.PINGRESP
    ) {
      if (flags !== 0) return this.#fail("reserved flags set"); // 2.2.2
    } else {
      // CONNECT, SUBSCRIBE, PINGREQ and DISCONNECT only go to servers; a clean-session QoS 1 client
      // never gets PUBREC/PUBREL/PUBCOMP, and it never unsubscribes, so UNSUBACK is as unexpected.
      return this.#fail(`unexpected packet type ${type}`);
    }
    this.#first = first;
    this.#remaining = 0;
    this.#lengthBytes = 0;
    this.#multiplier = 1;
    this.#state = READ_LENGTH;
  }

  #lengthByte(byte: number): void {
    this.#remaining += (byte & 0x7f) * this.#multiplier;
    this.#multiplier *= 128;
    this.#lengthBytes++;
    if (byte & 0x80) {
      if (this.#lengthBytes === 4) this.#fail("remaining length longer than 4 bytes"); // 2.2.3
      return;
    }
    const total = 1 + this.#lengthBytes + this.#remaining;
    // Refused before a single body byte is buffered: the bound holds whatever the broker announces.
    if (total > this.maxPacketBytes) {
      this.#tooLarge = true;
      return this.#fail(`packet of ${total} bytes exceeds ${this.maxPacketBytes}`);
    }
    const problem = lengthProblem(this.#first >> 4, (this.#first >> 1) & 0x03, this.#remaining);
    if (problem !== undefined) return this.#fail(problem);
    // A PUBLISH gets its own buffer: its payload goes to the subscriber, which may keep it.
    this.#body =
      this.#first >> 4 === PacketType.PUBLISH || this.#remaining > SCRATCH_BODY_BYTES
        ? new Uint8Array(this.#remaining)
        : this.#scratch;
    this.#filled = 0;
    this.#state = READ_BODY;
    if (this.#remaining === 0) this.#finishPacket();
  }

  #finishPacket(): void {
    this.#state = READ_HEADER;
    const body = this.#body;
    this.#body = this.#scratch;
    const type = this.#first >> 4;
    switch (type) {
      case PacketType.CONNACK: {
        const ackFlags = body[0]!;
        if (ackFlags & 0xfe) return this.#fail("connack reserved flags set"); // 3.2.2.1
        this.#packet = { kind: "connack", sessionPresent: ackFlags === 1, returnCode: body[1]! };
        return;
      }
      case PacketType.PUBACK: {
        const packetId = readUint16(body, 0);
        if (packetId === 0) return this.#fail("puback with packet id 0"); // 2.3.1
        this.#packet = { kind: "puback", packetId };
        return;
      }
      case PacketType.SUBACK: {
        const packetId = readUint16(body, 0);
        if (packetId === 0) return this.#fail("suback with packet id 0");
        const returnCodes = body.slice(2, this.#remaining);
        for (const code of returnCodes) {
          if (code > 2 && code !== SUBACK_FAILURE) return this.#fail("suback with an invalid return code"); // 3.9.3
        }
        this.#packet = { kind: "suback", packetId, returnCodes };
        return;
      }
      case PacketType.PINGRESP:
        this.#packet = { kind: "pingresp" };
        return;
      default:
        this.#finishPublish(body);
    }
  }

  #finishPublish(body: Uint8Array): void {
    const flags = this.#first & 0x0f;
    const qos = ((flags >> 1) & 0x03) as 0 | 1;
    const topicBytes = readUint16(body, 0);
    const topicEnd = 2 + topicBytes;
    const payloadStart = topicEnd + (qos === 1 ? 2 : 0);
    if (topicBytes === 0) return this.#fail("publish with an empty topic"); // 4.7.3
    if (payloadStart > body.length) return this.#fail("publish topic longer than the packet");
    let topic: string;
    try {
      topic = utf8Decode(body, 2, topicEnd);
    } catch {
      return this.#fail("publish topic is not UTF-8"); // 1.5.3
    }
    // A topic name carries no wildcards (3.3.2.1), and no string may contain U+0000 (1.5.3).
    for (let i = 0; i < topic.length; i++) {
      const unit = topic.charCodeAt(i);
      if (unit === 0x2b || unit === 0x23 || unit === 0) return this.#fail("publish topic with a wildcard or NUL");
    }
    const packetId = qos === 1 ? readUint16(body, topicEnd) : 0;
    if (qos === 1 && packetId === 0) return this.#fail("publish with packet id 0");
    this.#packet = {
      kind: "publish",
      topic,
      payload: body.subarray(payloadStart),
      qos,
      retain: (flags & 0x01) !== 0,
      dup: (flags & 0x08) !== 0,
      packetId,
    };
  }

  #fail(reason: string): void {
    this.#error = reason;
    this.#body = this.#scratch;
  }
}

/** Why a Remaining Length cannot be right for this packet type, or undefined when it can. */
function lengthProblem(type: number, qos: number, remaining: number): string | undefined {
  switch (type) {
    case PacketType.CONNACK:
      return remaining === 2 ? undefined : "connack length is not 2";
    case PacketType.PUBACK:
      return remaining === 2 ? undefined : "puback length is not 2";
    case PacketType.PINGRESP:
      return remaining === 0 ? undefined : "pingresp length is not 0";
    case PacketType.SUBACK:
      return remaining >= 3 ? undefined : "suback shorter than 3 bytes";
    default:
      // topic length, at least one topic byte, and the packet id of QoS 1
      return remaining >= 3 + (qos === 1 ? 2 : 0) ? undefined : "publish too short";
  }
}

function readUint16(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 8) | bytes[at + 1]!;
}
