/**
 * Plantower PMS5003 UART frames (PMS5003 series data manual, appendix I "transport protocol, active
 * mode" and appendix II "transport protocol, passive mode"; PMS7003 and PMSA003 use the same frames).
 *
 * Line: 9600 baud, 8N1. Everything is big-endian.
 *   Data frame, 32 bytes:  0x42 0x4D | length = 2*13+2 = 28 (2 bytes) | 13 data words | checksum (2 bytes)
 *     words 0..2   PM1.0, PM2.5, PM10 "CF=1, standard particle" µg/m³ (for factory environments)
 *     words 3..5   PM1.0, PM2.5, PM10 "under atmospheric environment" µg/m³
 *     words 6..11  particles > 0.3, 0.5, 1.0, 2.5, 5.0, 10 µm in 0.1 L of air
 *     word 12      reserved (in practice: firmware version in the high byte, error code in the low byte)
 *   checksum = sum of all bytes before it, modulo 65536.
 *   Command, 7 bytes (host to part): 0x42 0x4D | command | data high | data low | checksum (2 bytes)
 *     0xE1 data 0/1: passive/active mode; 0xE2: read one frame in passive mode; 0xE4 data 0/1: sleep/wakeup.
 *   Acknowledgement, 8 bytes (part to host): 0x42 0x4D 0x00 0x04 | command | data | checksum (2 bytes)
 *     The manual does not list it, but PMS5003/7003 parts answer the mode (0xE1) and sleep (0xE4 0) commands
 *     this way (widely observed: e.g. 42 4D 00 04 E1 01 01 75 after "active mode"). It is a well-formed frame
 *     of length 4, so the parser accepts it instead of counting every configure() as a bad frame.
 *
 * The parser is a fixed 64-byte buffer (two frames) compacted with `copyWithin`: bytes go in with `push`,
 * results come out with `next`, one at a time, without allocation. It resynchronises on anything:
 * - bytes that cannot start a frame (not 0x42 0x4D) are skipped and counted in `skippedBytes`;
 * - a start with a length other than 28 (data) or 4 (acknowledgement) is a bad frame; only its first byte
 *   is dropped, so a real frame starting right after it is still found;
 * - a complete frame whose checksum is wrong is dropped up to the first place inside it where a frame could
 *   start (so a frame that follows a truncated one is never lost); when such a place shows a frame header,
 *   the frame was truncated by the next one ("frame"), otherwise it was corrupted ("checksum").
 * Every call consumes at least one byte or returns `PMS_NEED_MORE`, and after `PMS_NEED_MORE` at most 31
 * bytes wait in the buffer, so `push` always has room again: nothing can hang and nothing grows.
 *
 * Example:
 *   const parser = new PmsFrameParser();
 *   let offset = 0;
 *   while (offset < count) {
 *     offset += parser.push(chunk, offset, count - offset);
 *     for (let r = parser.next(); r !== PMS_NEED_MORE; r = parser.next()) {
 *       if (r === PMS_FRAME) use(parser.words[PMS_WORD.pm25]);
 *     }
 *   }
 */

export const PMS_START_1 = 0x42; // "B"
export const PMS_START_2 = 0x4d; // "M"
/** Length field of a data frame: 13 data words and the checksum. */
export const PMS_DATA_LENGTH = 28;
export const PMS_DATA_FRAME_BYTES = 32;
export const PMS_DATA_WORDS = 13;
/** Length field of an acknowledgement: command, data and the checksum. */
export const PMS_ACK_LENGTH = 4;
export const PMS_ACK_BYTES = 8;
export const PMS_COMMAND_BYTES = 7;

/** Indices of the data words in a frame (manual, appendix I). */
export const PMS_WORD = {
  pm1Cf1: 0,
  pm25Cf1: 1,
  pm10Cf1: 2,
  pm1: 3,
  pm25: 4,
  pm10: 5,
  count03: 6,
  count05: 7,
  count10: 8,
  count25: 9,
  count50: 10,
  count100: 11,
  reserved: 12,
} as const;

/** Command bytes (manual, appendix II) and their data values. */
export const PMS_COMMAND = {
  /** data 0: passive, 1: active */
  mode: 0xe1,
  /** read one frame in passive mode */
  read: 0xe2,
  /** data 0: sleep, 1: wakeup */
  sleep: 0xe4,
} as const;

/** `next()` results. */
export const PMS_NEED_MORE = 0;
/** A data frame with a valid checksum: `words` holds its 13 words. */
export const PMS_FRAME = 1;
/** An acknowledgement of a command: `ackCommand` and `ackData` hold it. */
export const PMS_ACK = 2;
/** A complete frame whose checksum is wrong. */
export const PMS_BAD_CHECKSUM = 3;
/** A frame start with an impossible length, or a frame cut short by the next one. */
export const PMS_BAD_FRAME = 4;
export type PmsParseResult = 0 | 1 | 2 | 3 | 4;

/** Sum of `bytes[start..end)` modulo 65536: the frame and command checksum. */
export function pmsChecksum(bytes: Uint8Array, start: number, end: number): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum += bytes[i]!;
  return sum & 0xffff;
}

/** The 7 bytes of a command (allocates: build commands once, at construction). */
export function pmsCommand(command: number, data: number): Uint8Array {
  const bytes = Uint8Array.of(PMS_START_1, PMS_START_2, command & 0xff, (data >>> 8) & 0xff, data & 0xff, 0, 0);
  const sum = pmsChecksum(bytes, 0, 5);
  bytes[5] = sum >>> 8;
  bytes[6] = sum & 0xff;
  return bytes;
}

/** Writes a complete 32-byte data frame with `words` (13 values, each taken modulo 65536) at `into[offset..]`. */
export function pmsEncodeDataFrame(words: ArrayLike<number>, into: Uint8Array, offset = 0): void {
  into[offset] = PMS_START_1;
  into[offset + 1] = PMS_START_2;
  into[offset + 2] = 0;
  into[offset + 3] = PMS_DATA_LENGTH;
  for (let i = 0; i < PMS_DATA_WORDS; i++) {
    const word = words[i]! & 0xffff;
    into[offset + 4 + 2 * i] = word >>> 8;
    into[offset + 5 + 2 * i] = word & 0xff;
  }
  const sum = pmsChecksum(into, offset, offset + 30);
  into[offset + 30] = sum >>> 8;
  into[offset + 31] = sum & 0xff;
}

/** Writes an 8-byte acknowledgement of `command`/`data` at `into[offset..]`. */
export function pmsEncodeAck(command: number, data: number, into: Uint8Array, offset = 0): void {
  into[offset] = PMS_START_1;
  into[offset + 1] = PMS_START_2;
  into[offset + 2] = 0;
  into[offset + 3] = PMS_ACK_LENGTH;
  into[offset + 4] = command & 0xff;
  into[offset + 5] = data & 0xff;
  const sum = pmsChecksum(into, offset, offset + 6);
  into[offset + 6] = sum >>> 8;
  into[offset + 7] = sum & 0xff;
}

/** Buffer size: two data frames, so that a frame cut short by the next one can be seen whole. */
const CAPACITY = 2 * PMS_DATA_FRAME_BYTES;

export class PmsFrameParser {
  /** The 13 data words of the newest valid data frame. */
  readonly words = new Uint16Array(PMS_DATA_WORDS);
  /** Command and data of the newest acknowledgement. */
  ackCommand = 0;
  ackData = 0;
  /** Bytes skipped because no frame could start there, since construction. */
  skippedBytes = 0;
  readonly #buffer = new Uint8Array(CAPACITY);
  #head = 0;
  #tail = 0;

  /** The fixed size of the receive buffer. */
  get capacity(): number {
    return CAPACITY;
  }

  /** Bytes waiting in the buffer (at most a frame's prefix after `next()` returned `PMS_NEED_MORE`). */
  get buffered(): number {
    return this.#tail - this.#head;
  }

  /** Drops whatever is buffered (counters stay). */
  reset(): void {
    this.#head = 0;
    this.#tail = 0;
  }

  /**
   * Copies up to `count` bytes from `bytes[offset..]` into the buffer; returns how many it took (fewer when
   * the buffer is full: call `next()` until `PMS_NEED_MORE`, then push the rest).
   */
  push(bytes: Uint8Array, offset: number, count: number): number {
    const available = bytes.length - offset;
    if (count > available) count = available;
    if (!(count > 0)) return 0;
    const buffer = this.#buffer;
    if (this.#tail + count > CAPACITY && this.#head > 0) {
      buffer.copyWithin(0, this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
    const room = CAPACITY - this.#tail;
    const n = count < room ? count : room;
    let tail = this.#tail;
    for (let i = 0; i < n; i++) buffer[tail++] = bytes[offset + i]!;
    this.#tail = tail;
    return n;
  }

  /** The next frame, acknowledgement or error in the buffered bytes, or `PMS_NEED_MORE`. */
  next(): PmsParseResult {
    const b = this.#buffer;
    const tail = this.#tail;
    let head = this.#head;
    // Skip what cannot start a frame: anything but 0x42 followed (when known) by 0x4D.
    while (head < tail && !(b[head] === PMS_START_1 && (head + 1 === tail || b[head + 1] === PMS_START_2))) {
      head++;
      this.skippedBytes++;
    }
    this.#head = head;
    if (tail - head < 4) return PMS_NEED_MORE;
    const length = (b[head + 2]! << 8) | b[head + 3]!;
    if (length !== PMS_DATA_LENGTH && length !== PMS_ACK_LENGTH) {
      this.#head = head + 1; // a real frame may start right after the false one
      return PMS_BAD_FRAME;
    }
    const total = length + 4;
    if (tail - head < total) return PMS_NEED_MORE;
    const stated = (b[head + total - 2]! << 8) | b[head + total - 1]!;
    if (pmsChecksum(b, head, head + total - 2) === stated) {
      if (length === PMS_DATA_LENGTH) {
        const words = this.words;
        for (let i = 0; i < PMS_DATA_WORDS; i++) words[i] = (b[head + 4 + 2 * i]! << 8) | b[head + 5 + 2 * i]!;
        this.#head = head + total;
        return PMS_FRAME;
      }
      this.ackCommand = b[head + 4]!;
      this.ackData = b[head + 5]!;
      this.#head = head + total;
      return PMS_ACK;
    }
    // Drop the bad frame up to the first place inside it where a frame could start.
    const end = head + total;
    let k = 1;
    while (k < total && !headerPrefixAt(b, head + k, end)) k++;
    this.#head = head + k;
    // Two or more header bytes inside: the next frame began before this one ended.
    return total - k >= 2 ? PMS_BAD_FRAME : PMS_BAD_CHECKSUM;
  }
}

/** True when the bytes at `b[i..end)` (at most 4) are the start of a frame header: 42 4D 00 1C or 42 4D 00 04. */
function headerPrefixAt(b: Uint8Array, i: number, end: number): boolean {
  if (b[i] !== PMS_START_1) return false;
  if (i + 1 < end && b[i + 1] !== PMS_START_2) return false;
  if (i + 2 < end && b[i + 2] !== 0) return false;
  if (i + 3 < end && b[i + 3] !== PMS_DATA_LENGTH && b[i + 3] !== PMS_ACK_LENGTH) return false;
  return true;
}
