/**
 * Small pieces the collector's verdicts share (the opener's and the database's judgement of a
 * counter, a window's placement): comparing two tags, and naming a node's seal time in a detail.
 */

/** Compares two tags in constant time (how far they agree says nothing about either). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/** A node's time (Unix s) as ISO 8601 for a detail; a value no Date can hold is shown as it is. */
export function isoSeconds(unixSeconds: number): string {
  const ms = unixSeconds * 1000;
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : String(unixSeconds);
}
