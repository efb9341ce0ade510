/** The device's portable topic rules, checked by example and against the Node host's (the reference). */
import { describe, expect, it } from "vitest";
import fc from "fast-check";

import { isValidTopicFilter, isValidTopicName, topicMatches } from "../../../hosts/moddable/mqtt/topic-filter.js";
import * as reference from "../../../hosts/node/topic-match.js";

describe("portable topic matching", () => {
  it("matches + as one level and # as any number of trailing levels", () => {
    expect(topicMatches("city/+/air", "city/n1/air")).toBe(true);
    expect(topicMatches("city/+/air", "city//air")).toBe(true);
    expect(topicMatches("city/+/air", "city/n1/noise")).toBe(false);
    expect(topicMatches("city/+/air", "city/n1/air/raw")).toBe(false);
    expect(topicMatches("city/+/air", "city/air")).toBe(false);
    expect(topicMatches("city/#", "city")).toBe(true);
    expect(topicMatches("city/#", "city/n1/air")).toBe(true);
    expect(topicMatches("city/#", "town/n1")).toBe(false);
    expect(topicMatches("city/#", "cityscape")).toBe(false);
    expect(topicMatches("#", "a/b/c")).toBe(true);
    expect(topicMatches("+/+", "/a")).toBe(true);
    expect(topicMatches("+", "/a")).toBe(false);
    expect(topicMatches("+", "")).toBe(true);
    expect(topicMatches("a/b", "a/b")).toBe(true);
    expect(topicMatches("a/b", "a/b/")).toBe(false);
    expect(topicMatches("a/+", "a")).toBe(false);
    expect(topicMatches("a/+", "a/")).toBe(true);
    expect(topicMatches("a/b/c", "a/b")).toBe(false);
  });

  it("keeps $ topics away from filters that start with a wildcard", () => {
    expect(topicMatches("#", "$SYS/broker/uptime")).toBe(false);
    expect(topicMatches("+/broker/uptime", "$SYS/broker/uptime")).toBe(false);
    expect(topicMatches("$SYS/#", "$SYS/broker/uptime")).toBe(true);
  });

  it("validates names and filters", () => {
    expect(isValidTopicName("city/n1/air")).toBe(true);
    expect(isValidTopicName("")).toBe(false);
    expect(isValidTopicName("city/+/air")).toBe(false);
    expect(isValidTopicName("city/#")).toBe(false);
    expect(isValidTopicName("a\u0000b")).toBe(false);
    expect(isValidTopicName("€".repeat(21845))).toBe(true); // 65,535 bytes
    expect(isValidTopicName("€".repeat(21845) + "a")).toBe(false);
    expect(isValidTopicFilter("city/+/air")).toBe(true);
    expect(isValidTopicFilter("#")).toBe(true);
    expect(isValidTopicFilter("city/#/air")).toBe(false);
    expect(isValidTopicFilter("city/n+/air")).toBe(false);
    expect(isValidTopicFilter("city/a#")).toBe(false);
    expect(isValidTopicFilter("")).toBe(false);
  });

  it("agrees with the Node host's rules on random filters and topics", () => {
    const level = fc.constantFrom("", "a", "b", "ab", "+", "#", "$SYS", "é", "a+", "#b");
    const text = fc.array(level, { minLength: 1, maxLength: 5 }).map((levels) => levels.join("/"));
    fc.assert(
      fc.property(text, text, (filter, topic) => {
        expect(isValidTopicFilter(filter)).toBe(reference.isValidTopicFilter(filter));
        expect(isValidTopicName(topic)).toBe(reference.isValidTopicName(topic));
        if (reference.isValidTopicFilter(filter) && reference.isValidTopicName(topic)) {
          expect(topicMatches(filter, topic)).toBe(reference.topicMatches(filter, topic));
        }
      }),
      { seed: 0x70c1c, numRuns: 3000 },
    );
  });
});
