/**
 * Whether a node is reporting, from the age of its newest stored window against its own window
 * length (a node on 900 s windows is not late when a 300 s one would be). A healthy node's newest
 * window closed less than one window length ago, plus the time its summary takes to arrive; a node
 * that missed a window or two is late (an outage its outbox will flush); one that has sent nothing
 * for longer, or never, is silent: someone should look at it.
 *
 *   age = now - (lastWindowStart + windowSeconds)
 *   reporting: age <= 2 windows   late: age <= 6 windows   silent: older, or no window stored
 */
import type { NODE_STATUSES } from "./api-schemas.js";

export type NodeStatus = (typeof NODE_STATUSES)[number];

export const LATE_AFTER_WINDOWS = 2;
export const SILENT_AFTER_WINDOWS = 6;

export function nodeStatus(lastWindowStart: number | undefined, windowSeconds: number | undefined, nowSeconds: number): NodeStatus {
  if (lastWindowStart === undefined || windowSeconds === undefined || windowSeconds <= 0) return "silent";
  const age = nowSeconds - (lastWindowStart + windowSeconds);
  if (age <= LATE_AFTER_WINDOWS * windowSeconds) return "reporting";
  if (age <= SILENT_AFTER_WINDOWS * windowSeconds) return "late";
  return "silent";
}
