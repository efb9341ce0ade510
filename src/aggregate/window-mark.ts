/**
 * The end of the newest window the node has sealed, kept in the store so that no window is ever
 * sealed twice: not after a reboot, and not when the wall clock reads earlier than before (SNTP
 * sets it back, an RTC was wrong, a simulator resumes an older time). New windows never start
 * before the mark; readings taken while the clock is behind it are not aggregated.
 *
 * The mark is written in the same atomic commit as the summary's outbox record (outbox.ts), so a
 * window is either sealed and queued with its mark, or neither: a power cut at any instant loses
 * at most the window in progress and never seals one again.
 *
 * Record under store key "win.end", 12 bytes, big-endian:
 *   [0..1] "CW"  [2] version 1  [3] 0  [4..7] window end, Unix s  [8..11] CRC-32 of bytes 0..7
 */
import type { StoreWrite } from "../platform.js";
import { crc32 } from "../wire/crc32.js";

export const WINDOW_MARK_KEY = "win.end";

export function windowMarkWrite(windowEndS: number): StoreWrite {
  const bytes = new Uint8Array(12);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x43; // C
  bytes[1] = 0x57; // W
  bytes[2] = 1;
  view.setUint32(4, windowEndS);
  view.setUint32(8, crc32(bytes, 0, 8));
  return { key: WINDOW_MARK_KEY, value: bytes };
}

/** The window end a record holds (Unix s), or undefined when it is not an intact record. */
export function decodeWindowMark(bytes: Uint8Array): number | undefined {
  if (bytes.length !== 12 || bytes[0] !== 0x43 || bytes[1] !== 0x57 || bytes[2] !== 1 || bytes[3] !== 0) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(8) !== crc32(bytes, 0, 8)) return undefined;
  return view.getUint32(4);
}
