/**
 * MQTT 3.1.1 topic names and filters (OASIS MQTT 3.1.1, section 4.7).
 *
 * Kept apart from the transport so the rules can be tested on their own. Levels are separated by
 * "/", "+" matches exactly one level (which may be empty), "#" matches any number of levels,
 * including none, and must be the last level of a filter.
 */

/** True when `topic` may be published to: non-empty, no wildcards, no NUL, at most 65,535 UTF-8 bytes. */
export function isValidTopicName(topic: string): boolean {
  return (
    topic.length > 0 &&
    !/[+#\u0000]/.test(topic) &&
    Buffer.byteLength(topic, "utf8") <= 0xffff
  );
}

/** True when `filter` may be subscribed to: wildcards only as whole levels, "#" only last. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes("\u0000") || Buffer.byteLength(filter, "utf8") > 0xffff) {
    return false;
  }
  const levels = filter.split("/");
  return levels.every((level, index) =>
    level === "#" ? index === levels.length - 1 : level === "+" || !/[+#]/.test(level),
  );
}

/** True when the topic name `topic` matches the (valid) topic filter `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  // 4.7.2: a filter starting with a wildcard must not match topics starting with "$" ($SYS and
  // the like); those are only matched by filters that name the "$" level literally.
  if (topic.startsWith("$") && (filter.startsWith("+") || filter.startsWith("#"))) {
    return false;
  }
  const filterLevels = filter.split("/");
  const topicLevels = topic.split("/");
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i];
    // "#" also matches the parent level itself: "city/#" matches "city".
    if (level === "#") return true;
    if (i >= topicLevels.length) return false;
    if (level !== "+" && level !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
