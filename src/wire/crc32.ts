/**
 * CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), bitwise so that no table sits in RAM.
 * Guards small persisted records against flash corruption; it is not a MAC. check("123456789") = 0xCBF43926.
 */
export function crc32(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
  let crc = 0xffffffff;
  for (let i = offset; i < offset + length; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
