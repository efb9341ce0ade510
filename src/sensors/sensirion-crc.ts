/**
 * CRC-8 as Sensirion parts use it on every 16-bit word they send (SHT4x, SCD4x, SGP4x):
 * polynomial 0x31 (x^8 + x^5 + x^4 + 1), initial value 0xFF, no reflection, no final XOR.
 * Datasheet example: the word 0xBEEF has CRC 0x92.
 */
export function sensirionCrc8(bytes: Uint8Array, offset: number, length: number): number {
  let crc = 0xff;
  for (let i = offset; i < offset + length; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
    }
  }
  return crc;
}

/** True when the 2-byte word at `offset` is followed by its correct CRC byte. */
export function sensirionWordValid(bytes: Uint8Array, offset: number): boolean {
  return sensirionCrc8(bytes, offset, 2) === bytes[offset + 2];
}
