/**
 * MQTT 3.1.1 topic names and filters (OASIS MQTT 3.1.1, section 4.7), portable to XS.
 *
 * The same rules as hosts/node/topic-match.ts, which cannot run on the device because it measures
 * UTF-8 with Node's Buffer. Levels are separated by "/", "+" matches exactly one level (which may
 * be empty), "#" matches any number of trailing levels including none and must come last.
 */
import { utf8Length } from "../../../src/wire/utf8.js";

/** Longest topic name or filter: a UTF-8 string with a 16-bit length prefix (1.5.3). */
export const MAX_TOPIC_BYTES = 0xffff;

/** True when `topic` may be published to: non-empty, no wildcards, no NUL, at most 65,535 UTF-8 bytes. */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0 || utf8Length(topic) > MAX_TOPIC_BYTES) return false;
  for (let i = 0; i < topic.length; i++) {
    const unit = topic.charCodeAt(i);
    if (unit === 0x2b /* + */ || unit === 0x23 /* # */ || unit === 0) return false;
  }
  return true;
}

/** True when `filter` may be subscribed to: wildcards only as whole levels, "#" only last. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000") || utf8Length(filter) > MAX_TOPIC_BYTES) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === "#") {
      if (i !== levels.length - 1) return false;
    } else if (level !== "+" && (level.includes("+") || level.includes("#"))) {
      return false;
    }
  }
  return true;
}

/** True when the topic name `topic` matches the (valid) topic filter `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  // 4.7.2: a filter starting with a wildcard must not match topics starting with "$" ($SYS and
  // the like); only filters that name the "$" level literally match those.
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) return false;
  // Walks both strings level by level instead of splitting them: this runs for every incoming
  // message and every subscription, and splitting would allocate two arrays each time.
  let f = 0;
  let t = 0;
  for (;;) {
    const fEnd = levelEnd(filter, f);
    const tEnd = levelEnd(topic, t);
    const fLevelLength = fEnd - f;
    if (fLevelLength === 1 && filter.charCodeAt(f) === 0x23 /* # */) return true; // also the parent level: "a/#" matches "a"
    if (t > topic.length) return false; // the topic ran out of levels before the filter
    const wildcard = fLevelLength === 1 && filter.charCodeAt(f) === 0x2b; /* + */
    if (!wildcard && !sameLevel(filter, f, fEnd, topic, t, tEnd)) return false;
    const filterDone = fEnd >= filter.length;
    const topicDone = tEnd >= topic.length;
    if (filterDone) return topicDone;
    f = fEnd + 1;
    // A topic that ended while the filter goes on is past its last level; only "#" can still match.
    t = topicDone ? topic.length + 1 : tEnd + 1;
  }
}

function sameLevel(filter: string, f: number, fEnd: number, topic: string, t: number, tEnd: number): boolean {
  if (fEnd - f !== tEnd - t) return false;
  for (let i = 0; i < fEnd - f; i++) if (filter.charCodeAt(f + i) !== topic.charCodeAt(t + i)) return false;
  return true;
}

/** Index of the "/" that ends the level starting at `start`, or the string's length. */
function levelEnd(text: string, start: number): number {
  if (start > text.length) return start;
  const slash = text.indexOf("/", start);
  return slash < 0 ? text.length : slash;
}
