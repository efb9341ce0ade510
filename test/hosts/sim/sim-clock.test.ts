import { describe, expect, it } from "vitest";
import { SimClock } from "../../../hosts/sim/sim-clock.js";

const START = Date.UTC(2026, 6, 1, 12, 0, 0);

describe("SimClock", () => {
  it("starts at monotonic 0 with wall = start, synced by default", () => {
    const clock = new SimClock({ startWallMs: START });
    expect(clock.monotonicMs()).toBe(0);
    expect(clock.wallMs()).toBe(START);
    expect(clock.wallSynced()).toBe(true);
    expect(new SimClock({ startWallMs: START, synced: false }).wallSynced()).toBe(false);
  });

  it("moves wall time with monotonic time", () => {
    const clock = new SimClock({ startWallMs: START });
    clock.advanceBy(1500);
    expect(clock.monotonicMs()).toBe(1500);
    expect(clock.wallMs()).toBe(START + 1500);
    clock.advanceTo(10_000);
    expect(clock.wallMs() - clock.monotonicMs()).toBe(START);
  });

  it("setWall jumps wall time only, and marks synced", () => {
    const clock = new SimClock({ startWallMs: 0, synced: false });
    clock.advanceBy(5000);
    const fired: number[] = [];
    clock.once(() => fired.push(clock.monotonicMs()), 1000);
    clock.setWall(START);
    expect(clock.wallSynced()).toBe(true);
    expect(clock.wallMs()).toBe(START);
    expect(clock.monotonicMs()).toBe(5000);
    clock.advanceBy(2000);
    expect(clock.wallMs()).toBe(START + 2000);
    expect(fired).toEqual([6000]);
    // backwards jump: monotonic keeps going forward
    clock.setWall(START - 3_600_000);
    expect(clock.wallMs()).toBe(START - 3_600_000);
    expect(clock.monotonicMs()).toBe(7000);
  });

  it("runs timers in due order, ties in creation order, at their due times", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: string[] = [];
    const at = (name: string) => () => log.push(`${name}@${clock.monotonicMs()}`);
    clock.once(at("c"), 30);
    clock.once(at("a"), 10);
    clock.once(at("b1"), 20);
    clock.once(at("b2"), 20);
    clock.once(at("late"), 101);
    expect(clock.nextDueMs()).toBe(10);
    clock.advanceTo(100);
    expect(log).toEqual(["a@10", "b1@20", "b2@20", "c@30"]);
    expect(clock.monotonicMs()).toBe(100);
    expect(clock.nextDueMs()).toBe(101);
    clock.advanceBy(1);
    expect(log.at(-1)).toBe("late@101");
    expect(clock.nextDueMs()).toBeUndefined();
  });

  it("keeps creation order among many timers due at the same time", () => {
    const clock = new SimClock({ startWallMs: START });
    const order: number[] = [];
    for (let i = 0; i < 50; i++) clock.once(() => order.push(i), i % 2 === 0 ? 100 : 50);
    clock.advanceTo(100);
    const odd = Array.from({ length: 25 }, (_, k) => 2 * k + 1);
    const even = Array.from({ length: 25 }, (_, k) => 2 * k);
    expect(order).toEqual([...odd, ...even]);
  });

  it("fires repeat timers without drift, however large the advance", () => {
    const clock = new SimClock({ startWallMs: START });
    const times: number[] = [];
    clock.repeat(() => times.push(clock.monotonicMs()), 1000);
    clock.advanceBy(3500);
    clock.advanceBy(10);
    clock.advanceTo(10_000);
    expect(times).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    clock.advanceTo(1_000_000);
    expect(times.length).toBe(1000);
    expect(times.at(-1)).toBe(1_000_000);
  });

  it("runs timers created by callbacks when due within the advance", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: number[] = [];
    clock.once(() => {
      log.push(clock.monotonicMs());
      clock.once(() => {
        log.push(clock.monotonicMs());
        clock.once(() => log.push(clock.monotonicMs()), 100); // beyond the target
      }, 5);
    }, 10);
    clock.advanceTo(50);
    expect(log).toEqual([10, 15]);
    clock.advanceTo(115);
    expect(log).toEqual([10, 15, 115]);
  });

  it("a timer created at the same instant as another due timer runs after it", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: string[] = [];
    clock.once(() => {
      log.push("first");
      clock.once(() => log.push("spawned"), 1);
    }, 10);
    clock.once(() => log.push("second"), 10);
    clock.once(() => log.push("at11"), 11);
    clock.advanceTo(20);
    expect(log).toEqual(["first", "second", "at11", "spawned"]);
  });

  it("clears timers, also from inside callbacks", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: string[] = [];
    let count = 0;
    const repeating = clock.repeat(() => {
      count++;
      if (count === 3) clock.clear(repeating);
    }, 10);
    const victim = clock.once(() => log.push("victim"), 25);
    clock.once(() => clock.clear(victim), 20);
    const self = clock.once(() => {
      log.push("self");
      clock.clear(self); // clearing a fired timer is harmless
    }, 5);
    clock.advanceTo(1000);
    expect(count).toBe(3);
    expect(log).toEqual(["self"]);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextDueMs()).toBeUndefined();
    clock.clear(repeating); // twice: harmless
    clock.clear({}); // foreign handle: harmless
  });

  it("clear before due prevents the callback, and many clears stay cheap", () => {
    const clock = new SimClock({ startWallMs: START });
    let fired = 0;
    for (let i = 0; i < 10_000; i++) {
      const handle = clock.once(() => fired++, 1000 + i);
      clock.clear(handle);
    }
    const keep = clock.once(() => fired++, 5000);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextDueMs()).toBe(5000);
    clock.advanceTo(20_000);
    expect(fired).toBe(1);
    clock.clear(keep);
  });

  it("treats zero, negative and NaN delays as 1 ms, so self-re-arming cannot hang", () => {
    const clock = new SimClock({ startWallMs: START });
    const times: number[] = [];
    clock.repeat(() => times.push(clock.monotonicMs()), 0);
    clock.advanceTo(5);
    expect(times).toEqual([1, 2, 3, 4, 5]);
    const clock2 = new SimClock({ startWallMs: START });
    let n = 0;
    const rearm = (): void => {
      n++;
      clock2.once(rearm, -5);
    };
    clock2.once(rearm, Number.NaN);
    clock2.advanceTo(100);
    expect(n).toBe(100);
  });

  it("reports callback errors to onError and carries on", () => {
    const errors: unknown[] = [];
    const clock = new SimClock({ startWallMs: START, onError: (error) => errors.push(error) });
    const log: number[] = [];
    clock.repeat(() => {
      log.push(clock.monotonicMs());
      throw new Error("boom");
    }, 10);
    clock.once(() => log.push(-1), 15);
    clock.advanceTo(30);
    expect(log).toEqual([10, -1, 20, 30]);
    expect(errors.length).toBe(3);
  });

  it("without onError rethrows, leaving the scheduler consistent to continue", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: number[] = [];
    let fail = true;
    clock.repeat(() => {
      log.push(clock.monotonicMs());
      if (fail) {
        fail = false;
        throw new Error("boom");
      }
    }, 10);
    clock.once(() => log.push(-15), 15);
    expect(() => clock.advanceTo(40)).toThrow("boom");
    expect(clock.monotonicMs()).toBe(10); // stands at the failing timer
    expect(clock.nextDueMs()).toBe(15);
    clock.advanceTo(40);
    expect(log).toEqual([10, -15, 20, 30, 40]);
  });

  it("refuses to go backwards and to advance re-entrantly", () => {
    const clock = new SimClock({ startWallMs: START });
    clock.advanceTo(100);
    expect(() => clock.advanceTo(50)).toThrow(RangeError);
    expect(() => clock.advanceBy(-1)).toThrow(RangeError);
    expect(() => clock.advanceTo(Number.NaN)).toThrow(RangeError);
    let caught: unknown;
    clock.once(() => {
      try {
        clock.advanceBy(10);
      } catch (error) {
        caught = error;
      }
    }, 1);
    clock.advanceBy(5);
    expect(caught).toBeInstanceOf(Error);
    expect(clock.monotonicMs()).toBe(105);
  });

  it("advanceToNextDue steps from event to event", () => {
    const clock = new SimClock({ startWallMs: START });
    const log: number[] = [];
    clock.once(() => log.push(clock.monotonicMs()), 7);
    clock.once(() => log.push(clock.monotonicMs()), 3);
    expect(clock.advanceToNextDue()).toBe(true);
    expect(clock.monotonicMs()).toBe(3);
    expect(clock.advanceToNextDue()).toBe(true);
    expect(clock.monotonicMs()).toBe(7);
    expect(clock.advanceToNextDue()).toBe(false);
    expect(log).toEqual([3, 7]);
  });

  it("keeps timers of two clocks apart", () => {
    const a = new SimClock({ startWallMs: START });
    const b = new SimClock({ startWallMs: START });
    let fired = 0;
    const handle = a.once(() => fired++, 10);
    b.clear(handle); // not b's timer: no effect
    a.advanceBy(10);
    expect(fired).toBe(1);
  });

  it("keeps the live timers and their order when purgeCleared() takes the cleared ones out", () => {
    const clock = new SimClock({ startWallMs: START });
    const order: number[] = [];
    const handles = Array.from({ length: 10 }, (_, i) => clock.once(() => order.push(i), 100 - i * 5));
    for (const i of [1, 3, 5, 7]) clock.clear(handles[i]!);
    clock.purgeCleared();
    expect(clock.pendingTimers).toBe(6);
    clock.once(() => order.push(10), 100); // after the purge, as before it: by due time, then by age
    clock.advanceBy(200);
    expect(order).toEqual([9, 8, 6, 4, 2, 0, 10]);
  });
});
