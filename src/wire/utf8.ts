/**
 * UTF-8 without TextEncoder/TextDecoder, which the Moddable runtime does not provide by default.
 * Lone surrogates are encoded as U+FFFD, as TextEncoder does (WHATWG Encoding).
 */

/** Number of bytes `text` takes in UTF-8. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) length += 1;
    else if (unit < 0x800) length += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/** Writes `text` as UTF-8 into `target` at `offset`; returns the offset after the last byte. */
export function utf8Write(text: string, target: Uint8Array, offset: number): number {
  let at = offset;
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = text.charCodeAt(i + 1);
      if (code <= 0xdbff && isLowSurrogate(next)) {
        code = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        i++;
      } else code = 0xfffd;
    }
    if (code < 0x80) target[at++] = code;
    else if (code < 0x800) {
      target[at++] = 0xc0 | (code >> 6);
      target[at++] = 0x80 | (code & 0x3f);
    } else if (code < 0x10000) {
      target[at++] = 0xe0 | (code >> 12);
      target[at++] = 0x80 | ((code >> 6) & 0x3f);
      target[at++] = 0x80 | (code & 0x3f);
    } else {
      target[at++] = 0xf0 | (code >> 18);
      target[at++] = 0x80 | ((code >> 12) & 0x3f);
      target[at++] = 0x80 | ((code >> 6) & 0x3f);
      target[at++] = 0x80 | (code & 0x3f);
    }
  }
  return at;
}

/** `text` as a new UTF-8 byte array. */
export function utf8Encode(text: string): Uint8Array {
  const bytes = new Uint8Array(utf8Length(text));
  utf8Write(text, bytes, 0);
  return bytes;
}

/**
 * Decodes strict UTF-8 (RFC 3629): overlong forms, surrogates, code points above U+10FFFF and
 * truncated sequences throw, because a CBOR text string must be valid UTF-8 (RFC 8949 section 3.1).
 */
export function utf8Decode(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let text = "";
  let i = start;
  while (i < end) {
    const lead = bytes[i++]!;
    let code: number;
    if (lead < 0x80) code = lead;
    else if (lead >= 0xc2 && lead <= 0xdf) code = ((lead & 0x1f) << 6) | continuation(bytes, i++, end);
    else if (lead >= 0xe0 && lead <= 0xef) {
      code = ((lead & 0x0f) << 12) | (continuation(bytes, i, end) << 6) | continuation(bytes, i + 1, end);
      i += 2;
      if (code < 0x800 || (code >= 0xd800 && code <= 0xdfff)) throw new Error("invalid UTF-8: overlong or surrogate");
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      code =
        ((lead & 0x07) << 18) |
        (continuation(bytes, i, end) << 12) |
        (continuation(bytes, i + 1, end) << 6) |
        continuation(bytes, i + 2, end);
      i += 3;
      if (code < 0x10000 || code > 0x10ffff) throw new Error("invalid UTF-8: overlong or out of range");
    } else throw new Error("invalid UTF-8 lead byte");
    text += String.fromCodePoint(code);
  }
  return text;
}

function continuation(bytes: Uint8Array, index: number, end: number): number {
  if (index >= end) throw new Error("invalid UTF-8: truncated sequence");
  const byte = bytes[index]!;
  if ((byte & 0xc0) !== 0x80) throw new Error("invalid UTF-8: bad continuation byte");
  return byte & 0x3f;
}

function isLowSurrogate(unit: number): boolean {
  return unit >= 0xdc00 && unit <= 0xdfff;
}
