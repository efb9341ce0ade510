import { describe, expect, it } from "vitest";
import { ReplayWindow } from "../../../src/wire/replay-window.js";

describe("ReplayWindow", () => {
  it("accepts each counter once, in any order within the window", () => {
    const window = new ReplayWindow(64);
    for (const c of [5, 3, 4, 10, 0, 9]) {
      expect(window.check(c)).toBe("new");
      window.accept(c);
    }
    for (const c of [5, 3, 4, 10, 0, 9]) expect(window.check(c)).toBe("replay");
    expect(window.check(6)).toBe("new");
    expect(window.highest).toBe(10);
  });

  it("refuses counters older than the window", () => {
    const window = new ReplayWindow(64);
    window.accept(100);
    expect(window.check(37)).toBe("new");
    expect(window.check(36)).toBe("too-old");
  });

  it("forgets the bits of counters that slid out, and jumps far ahead cleanly", () => {
    const window = new ReplayWindow(8);
    for (let c = 0; c < 8; c++) window.accept(c);
    window.accept(12); // 0..4 slide out; 5..7 still seen; 8..11 unseen
    for (const c of [5, 6, 7, 12]) expect(window.check(c)).toBe("replay");
    for (const c of [8, 9, 10, 11]) expect(window.check(c)).toBe("new");
    window.accept(1000);
    expect(window.check(999)).toBe("new");
    expect(window.check(1000)).toBe("replay");
  });

  it("agrees with a set-based model on a random sequence", () => {
    const window = new ReplayWindow(64);
    const seen = new Set<number>();
    let highest = -1;
    let state = 42;
    for (let i = 0; i < 20000; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      const c = Math.max(0, highest + ((state >>> 8) % 40) - 30);
      const expected = c > highest ? "new" : highest - c >= 64 ? "too-old" : seen.has(c) ? "replay" : "new";
      expect(window.check(c)).toBe(expected);
      if (expected === "new") {
        window.accept(c);
        seen.add(c);
        highest = Math.max(highest, c);
      }
    }
  });
});
