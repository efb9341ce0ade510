/**
 * Windows aligned to the wall clock: a 300 s window starts at every multiple of 300 s of Unix time,
 * so windows of all nodes in a city line up and a summary's base time names its window.
 */

/** Start (ms) of the window that contains `wallMs`. */
export function windowStartFor(wallMs: number, windowMs: number): number {
  return Math.floor(wallMs / windowMs) * windowMs;
}

/** True when `windowSeconds` divides a day, so windows also align to midnight UTC. */
export function isDayAlignedWindow(windowSeconds: number): boolean {
  return Number.isInteger(windowSeconds) && windowSeconds > 0 && 86400 % windowSeconds === 0;
}
