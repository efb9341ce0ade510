/**
 * Frame parser for the byte stream of the HLK-LD2410 24 GHz presence radar (Hi-Link, "serial
 * communication protocol" V1.02; little-endian throughout).
 *
 * The radar sends two kinds of frames on its TX line, and nothing tells where one starts except the
 * 4-byte headers, so the parser hunts for them and resynchronises on anything else:
 *   report frame  F4 F3 F2 F1 | length (2, LE) | data | F8 F7 F6 F5
 *     data = type (0x02 basic, 0x01 engineering) | 0xAA | target data | 0x55 | 0x00 (check)
 *     basic target data (9 bytes, so length 13 = 0x0D): state (0 none, 1 moving, 2 stationary,
 *       3 both) | moving distance cm (2) | moving energy 0..100 | stationary distance cm (2) |
 *       stationary energy 0..100 | detection distance cm (2)
 *     engineering (length 35 = 0x23 with 8 gates): the 9 basic bytes, then max moving gate M, max
 *       stationary gate S, M+1 moving gate energies, S+1 stationary gate energies, and (on V1.02
 *       firmware) 2 bytes of additional data
 *   ACK frame     FD FC FB FA | length (2, LE) | command word | 0x0100 (2) | status (2) | values | 04 03 02 01
 *     (the radar's answers to configuration commands, which use the same framing from the host)
 *
 * Why this shape: the driver reads whatever bytes have arrived into this parser's fixed buffer and
 * then takes complete frames out one by one. A frame split across reads simply waits for its rest;
 * garbage, a truncated frame or a frame with a wrong length, tail, head or check byte is counted
 * (`badFrames`, `discardedBytes`) and skipped ONE byte at a time, so that a genuine frame that
 * starts inside the rejected bytes is still found. Every call either returns a frame or consumes
 * bytes or waits for more, so it cannot hang. A candidate whose data holds another frame's header is
 * rejected too: it is a cut frame whose claimed length happens to end where a later frame ends, and
 * taking it would lose that later frame. The buffer never grows (a candidate frame is at most
 * 74 bytes, far below the capacity, so a full buffer always holds a decision). Decoded fields are
 * plain number fields and fixed arrays, reused for every frame: nothing is allocated per frame.
 *
 * Example:
 *   const parser = new Ld2410FrameParser();
 *   parser.push(chunk, bytesRead);
 *   for (let kind = parser.next(); kind !== LD2410_NONE; kind = parser.next()) {
 *     if (kind === LD2410_REPORT) use(parser.targetState, parser.movingCm, parser.stationaryCm);
 *   }
 */

/** `next()` found no complete frame: push more bytes. */
export const LD2410_NONE = 0;
/** `next()` decoded a report frame into the report fields. */
export const LD2410_REPORT = 1;
/** `next()` decoded an ACK frame into the ack fields. */
export const LD2410_ACK = 2;
export type Ld2410FrameKind = typeof LD2410_NONE | typeof LD2410_REPORT | typeof LD2410_ACK;

/** Report data types. */
export const LD2410_TYPE_ENGINEERING = 0x01;
export const LD2410_TYPE_BASIC = 0x02;

/** Length of the basic report's intra-frame data. */
export const LD2410_BASIC_DATA_LENGTH = 13;
/** Highest distance gate of the LD2410 (gates 0..8). */
export const LD2410_MAX_GATE = 8;
/**
 * Longest intra-frame data accepted. The longest frames of the protocol are the engineering report
 * (35 bytes) and the read-parameters ACK (28); anything much longer is a corrupted length field.
 */
export const LD2410_MAX_DATA_LENGTH = 64;
/** Header, length, data, tail. */
export const LD2410_MAX_FRAME_LENGTH = 4 + 2 + LD2410_MAX_DATA_LENGTH + 4;

const REPORT_HEAD = 0xaa;
const REPORT_TAIL = 0x55;
const REPORT_CHECK = 0x00;
/** type, head, 9 target bytes, tail, check */
const MIN_REPORT_LENGTH = LD2410_BASIC_DATA_LENGTH;
/** Engineering data before the gate energies: type, head, 9 target bytes, M, S. */
const ENGINEERING_GATES_OFFSET = 13;

export class Ld2410FrameParser {
  readonly #buffer: Uint8Array;
  #start = 0;
  #end = 0;

  // The last report frame (valid after next() returned LD2410_REPORT).
  /** LD2410_TYPE_BASIC or LD2410_TYPE_ENGINEERING. */
  dataType = 0;
  /** 0 no target, 1 moving, 2 stationary, 3 moving and stationary. */
  targetState = 0;
  movingCm = 0;
  movingEnergy = 0;
  stationaryCm = 0;
  stationaryEnergy = 0;
  detectionCm = 0;
  /** A 32-bit hash of the frame's target data (engineering gates included), for stuck detection. */
  fingerprint = 0;
  /** Engineering frames only: the highest gate reported (-1 for basic frames). */
  maxMovingGate = -1;
  maxStationaryGate = -1;
  /** Engineering frames only: energy per gate 0..max gate (entries above the max gate are 0). */
  readonly movingGateEnergy = new Uint8Array(LD2410_MAX_GATE + 1);
  readonly stationaryGateEnergy = new Uint8Array(LD2410_MAX_GATE + 1);

  // The last ACK frame (valid after next() returned LD2410_ACK).
  /** The command word as sent back, i.e. the command | 0x0100. */
  ackCommand = 0;
  /** 0 success, 1 failure; 0 when the ACK carries no status. */
  ackStatus = 0;
  /** The return values after the status word. */
  readonly ackData = new Uint8Array(LD2410_MAX_DATA_LENGTH);
  ackDataLength = 0;

  // Counters since construction.
  reports = 0;
  acks = 0;
  /** Candidate frames (a full header) rejected for their length, tail, head, type, state or check byte. */
  badFrames = 0;
  /** Bytes skipped while hunting for a header, including the first byte of each rejected frame. */
  discardedBytes = 0;

  /** `capacity`: bytes the parser can hold; at least twice the longest frame (default 256). */
  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 2 * LD2410_MAX_FRAME_LENGTH) {
      throw new RangeError(`Ld2410FrameParser: capacity must be an integer >= ${2 * LD2410_MAX_FRAME_LENGTH}`);
    }
    this.#buffer = new Uint8Array(capacity);
  }

  get capacity(): number {
    return this.#buffer.length;
  }

  /** Bytes held, waiting to complete a frame. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Bytes `push` accepts now. After `next()` returned LD2410_NONE this is at least capacity - 73. */
  get free(): number {
    return this.#buffer.length - this.#end + this.#start;
  }

  /** Appends the first `count` bytes of `bytes`; returns how many fitted (the rest are the caller's). */
  push(bytes: Uint8Array, count: number): number {
    const buffer = this.#buffer;
    let n = count < bytes.length ? count : bytes.length;
    if (n <= 0) return 0;
    if (buffer.length - this.#end < n && this.#start > 0) {
      buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const room = buffer.length - this.#end;
    if (n > room) n = room;
    let end = this.#end;
    for (let i = 0; i < n; i++) buffer[end++] = bytes[i]!;
    this.#end = end;
    return n;
  }

  /** Forgets every buffered byte (e.g. after the port was reopened). Counters stay. */
  reset(): void {
    this.#start = 0;
    this.#end = 0;
  }

  /**
   * Takes the next complete, valid frame out of the buffer and decodes it; skips (and counts) garbage
   * and bad frames on the way. Returns LD2410_NONE when the buffered bytes end before a frame does.
   */
  next(): Ld2410FrameKind {
    const b = this.#buffer;
    const end = this.#end;
    for (;;) {
      let s = this.#start;
      while (s < end && b[s] !== 0xf4 && b[s] !== 0xfd) s++;
      this.discardedBytes += s - this.#start;
      this.#start = s;
      const available = end - s;
      if (available === 0) {
        this.#start = 0;
        this.#end = 0;
        return LD2410_NONE;
      }
      const report = b[s] === 0xf4;
      // The rest of the header, as far as it has arrived: F4 F3 F2 F1 or FD FC FB FA.
      let headerOk = true;
      for (let i = 1; i < 4 && i < available; i++) {
        if (b[s + i] !== b[s]! - i) {
          headerOk = false;
          break;
        }
      }
      if (!headerOk) {
        this.#start = s + 1;
        this.discardedBytes++;
        continue;
      }
      if (available < 6) return LD2410_NONE;
      const length = b[s + 4]! | (b[s + 5]! << 8);
      if (length < (report ? MIN_REPORT_LENGTH : 2) || length > LD2410_MAX_DATA_LENGTH) {
        this.#reject(s);
        continue;
      }
      const total = length + 10;
      if (available < total) return LD2410_NONE;
      // Tail: F8 F7 F6 F5 after a report, 04 03 02 01 after an ACK.
      const t = s + 6 + length;
      const tailOk = report
        ? b[t] === 0xf8 && b[t + 1] === 0xf7 && b[t + 2] === 0xf6 && b[t + 3] === 0xf5
        : b[t] === 0x04 && b[t + 1] === 0x03 && b[t + 2] === 0x02 && b[t + 3] === 0x01;
      if (!tailOk || this.#containsHeader(s + 6, length) || !(report ? this.#decodeReport(s + 6, length) : this.#decodeAck(s + 6, length))) {
        this.#reject(s);
        continue;
      }
      this.#start = s + total;
      if (report) {
        this.reports++;
        return LD2410_REPORT;
      }
      this.acks++;
      return LD2410_ACK;
    }
  }

  /** A candidate frame at `s` is bad: count it and resume the hunt one byte further. */
  #reject(s: number): void {
    this.badFrames++;
    this.discardedBytes++;
    this.#start = s + 1;
  }

  /**
   * True when a frame header lies inside the data: then the candidate is a cut frame whose claimed
   * length happens to reach the tail of the next frame, and the next frame is the real one. Report
   * data cannot contain a header (energies are at most 100, so no F4 F3 F2 F1 or FD FC FB FA run
   * fits its fields), and ACK values in practice do not.
   */
  #containsHeader(o: number, length: number): boolean {
    const b = this.#buffer;
    for (let i = o, last = o + length - 4; i <= last; i++) {
      const first = b[i];
      if ((first === 0xf4 || first === 0xfd) && b[i + 1] === first - 1 && b[i + 2] === first - 2 && b[i + 3] === first - 3) return true;
    }
    return false;
  }

  #decodeReport(o: number, length: number): boolean {
    const b = this.#buffer;
    const type = b[o]!;
    if (b[o + 1] !== REPORT_HEAD || b[o + length - 2] !== REPORT_TAIL || b[o + length - 1] !== REPORT_CHECK) return false;
    const state = b[o + 2]!;
    if (state > 3) return false;
    let maxMoving = -1;
    let maxStationary = -1;
    if (type === LD2410_TYPE_BASIC) {
      if (length !== LD2410_BASIC_DATA_LENGTH) return false;
    } else if (type === LD2410_TYPE_ENGINEERING) {
      if (length < ENGINEERING_GATES_OFFSET + 2 + 2) return false;
      maxMoving = b[o + 11]!;
      maxStationary = b[o + 12]!;
      if (maxMoving > LD2410_MAX_GATE || maxStationary > LD2410_MAX_GATE) return false;
      // The gate energies must fit between the gate counts and the tail.
      if (ENGINEERING_GATES_OFFSET + maxMoving + 1 + maxStationary + 1 + 2 > length) return false;
    } else {
      return false;
    }
    this.dataType = type;
    this.targetState = state;
    this.movingCm = b[o + 3]! | (b[o + 4]! << 8);
    this.movingEnergy = b[o + 5]!;
    this.stationaryCm = b[o + 6]! | (b[o + 7]! << 8);
    this.stationaryEnergy = b[o + 8]!;
    this.detectionCm = b[o + 9]! | (b[o + 10]! << 8);
    this.maxMovingGate = maxMoving;
    this.maxStationaryGate = maxStationary;
    const moving = this.movingGateEnergy;
    const stationary = this.stationaryGateEnergy;
    moving.fill(0);
    stationary.fill(0);
    const m0 = o + ENGINEERING_GATES_OFFSET;
    for (let g = 0; g <= maxMoving; g++) moving[g] = b[m0 + g]!;
    const s0 = m0 + maxMoving + 1;
    for (let g = 0; g <= maxStationary; g++) stationary[g] = b[s0 + g]!;
    // FNV-1a over the target data (everything between the head and the tail byte).
    let h = 0x811c9dc5;
    for (let i = o + 2, last = o + length - 2; i < last; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
    this.fingerprint = h >>> 0;
    return true;
  }

  #decodeAck(o: number, length: number): boolean {
    const b = this.#buffer;
    this.ackCommand = b[o]! | (b[o + 1]! << 8);
    this.ackStatus = length >= 4 ? b[o + 2]! | (b[o + 3]! << 8) : 0;
    const n = length > 4 ? length - 4 : 0;
    const data = this.ackData;
    for (let i = 0; i < n; i++) data[i] = b[o + 4 + i]!;
    this.ackDataLength = n;
    return true;
  }
}
