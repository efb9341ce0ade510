/**
 * Netstrings (D. J. Bernstein): `<decimal length>:<bytes>,`, the framing of xsnap-worker's pipes.
 */

/** Frames `payload` as a netstring. */
export function encodeNetstring(payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${payload.length}:`, "ascii"), payload, Buffer.from(",", "ascii")]);
}

/** Reassembles netstrings from a byte stream that arrives in arbitrary chunks. */
export class NetstringReader {
  readonly #onMessage: (message: Uint8Array) => void;
  readonly #maxLength: number;
  #buffer: Buffer = Buffer.alloc(0);

  constructor(onMessage: (message: Uint8Array) => void, maxLength = 64 * 1024 * 1024) {
    this.#onMessage = onMessage;
    this.#maxLength = maxLength;
  }

  /** Adds bytes; calls onMessage for every complete netstring. Throws on malformed framing. */
  push(chunk: Uint8Array): void {
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) {
        if (this.#buffer.length > 20) throw new Error("netstring length prefix too long");
        return;
      }
      const prefix = this.#buffer.subarray(0, colon).toString("ascii");
      if (!/^(0|[1-9][0-9]*)$/.test(prefix)) throw new Error(`bad netstring length "${prefix.slice(0, 20)}"`);
      const length = Number(prefix);
      if (length > this.#maxLength) throw new Error(`netstring of ${length} bytes exceeds ${this.#maxLength}`);
      const end = colon + 1 + length;
      if (this.#buffer.length < end + 1) return;
      if (this.#buffer[end] !== 0x2c) throw new Error("netstring not terminated by ','");
      const message = this.#buffer.subarray(colon + 1, end);
      this.#buffer = this.#buffer.subarray(end + 1);
      this.#onMessage(message);
    }
  }
}
