/** The bounded send buffer and the reconnect backoff of the device MQTT client. */
import { describe, expect, it } from "vitest";

import { ReconnectBackoff } from "../../../hosts/moddable/mqtt/reconnect-backoff.js";
import { SendBuffer } from "../../../hosts/moddable/mqtt/send-buffer.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";

describe("SendBuffer", () => {
  it("hands out contiguous space, compacts when the free space is split, and never grows", () => {
    const buffer = new SendBuffer(10);
    const a = buffer.reserve(4);
    buffer.bytes.set([1, 2, 3, 4], a);
    const b = buffer.reserve(4);
    buffer.bytes.set([5, 6, 7, 8], b);
    expect(buffer.reserve(3)).toBe(-1); // 8 + 3 > 10
    expect([...buffer.peek(6)]).toEqual([1, 2, 3, 4, 5, 6]);
    buffer.consume(6);
    expect(buffer.queued).toBe(2);
    // 2 queued at offsets 6..8: 7 more bytes fit only after moving them to the front.
    const c = buffer.reserve(7);
    expect(c).toBe(2);
    buffer.bytes.set([9, 10, 11, 12, 13, 14, 15], c);
    expect([...buffer.peek(100)]).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15]);
    expect(buffer.bytes.length).toBe(10);
    expect(buffer.appendedTotal).toBe(15);
    expect(buffer.consumedTotal).toBe(6);
    buffer.consume(9);
    expect(buffer.queued).toBe(0);
    expect(buffer.reserve(10)).toBe(0); // empty again: back to the start
  });

  it("keeps the requested room free and counts cleared bytes as gone", () => {
    const buffer = new SendBuffer(10);
    expect(buffer.reserve(7, 4)).toBe(-1);
    expect(buffer.reserve(6, 4)).toBe(0);
    expect(buffer.reserve(1, 4)).toBe(-1);
    expect(buffer.reserve(4)).toBe(6);
    buffer.clear();
    expect(buffer.queued).toBe(0);
    expect(buffer.consumedTotal).toBe(buffer.appendedTotal);
  });
});

describe("ReconnectBackoff", () => {
  it("doubles its ceiling up to the maximum, jitters within [ceiling/2, ceiling] and starts over after reset", () => {
    const backoff = new ReconnectBackoff(100, 1000, new SeededRandom("backoff"));
    const ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
    const delays = ceilings.map(() => backoff.next());
    delays.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(ceilings[i]! / 2);
      expect(delay).toBeLessThanOrEqual(ceilings[i]!);
      expect(Number.isInteger(delay)).toBe(true);
    });
    expect(new Set(delays.slice(4)).size).toBeGreaterThan(1); // jittered, not constant
    backoff.reset();
    expect(backoff.next()).toBeLessThanOrEqual(100);
    // The jitter comes from the injected source: all-zero bytes give exactly half the ceiling, all-ones nearly all of it.
    expect(new ReconnectBackoff(100, 1000, { fill: (t) => t.fill(0) }).next()).toBe(50);
    expect(new ReconnectBackoff(100, 1000, { fill: (t) => t.fill(0xff) }).next()).toBe(100);
  });
});
