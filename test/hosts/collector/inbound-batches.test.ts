/**
 * Batches of received messages and their acknowledgements (hosts/collector/inbound-batches.ts):
 * a batch goes out full or when its first message has waited, one at a time; the answers become
 * acknowledgements in arrival order, never past the first message that is not stored. The clock is
 * vitest's, so the waits are exact and cost nothing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InboundBatches, type BrokerMessage, type Delivery } from "../../../hosts/collector/inbound-batches.js";
import type { LogDetail, LogLevel } from "../../../src/platform.js";

interface Pending {
  readonly messages: readonly BrokerMessage[];
  answer(answers: readonly Delivery[]): Promise<void>;
  fail(error: Error): Promise<void>;
}

function harness(max: number, waitMs: number) {
  const delivered: Pending[] = [];
  const acknowledged: number[] = [];
  const held: number[] = [];
  const logged: Array<{ level: LogLevel; event: string; detail?: LogDetail }> = [];
  let settled = 0;
  const batches = new InboundBatches<number>({
    max,
    waitMs,
    deliver: (messages) =>
      new Promise<readonly Delivery[]>((resolve, reject) => {
        delivered.push({
          messages,
          // Lets the batch's answer be turned into acknowledgements before the test looks.
          answer: async (answers) => {
            resolve(answers);
            await vi.advanceTimersByTimeAsync(0);
          },
          fail: async (error) => {
            reject(error);
            await vi.advanceTimersByTimeAsync(0);
          },
        });
      }),
    acknowledge: (ticket) => acknowledged.push(ticket),
    hold: (left) => held.push(left),
    settled: () => settled++,
    log: (level, event, detail) => logged.push({ level, event, detail }),
  });
  const add = (...tickets: number[]) => {
    for (const t of tickets) batches.add({ topic: `civicnode/z/d${t}/summary`, payload: new Uint8Array([t]) }, t);
  };
  const topics = (pending: Pending) => pending.messages.map((m) => m.payload[0]);
  return { batches, delivered, acknowledged, held, logged, add, topics, settled: () => settled };
}

describe("inbound batches", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("hands over a full batch at once, one batch at a time, and the rest when its first message has waited", async () => {
    const h = harness(3, 50);
    h.add(0, 1, 2, 3, 4, 5, 6);
    expect(h.delivered.map(h.topics)).toEqual([[0, 1, 2]]); // the others wait for this one
    await h.delivered[0]!.answer(["ack", "ack", "ack"]);
    expect(h.acknowledged).toEqual([0, 1, 2]);
    expect(h.delivered.map(h.topics)).toEqual([[0, 1, 2], [3, 4, 5]]);
    await h.delivered[1]!.answer(["ack", "ack", "ack"]);
    expect(h.delivered).toHaveLength(2); // 6 waits for company
    await vi.advanceTimersByTimeAsync(49);
    expect(h.delivered).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(h.delivered.map(h.topics)[2]).toEqual([6]);
    await h.delivered[2]!.answer(["ack"]);
    expect(h.acknowledged).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(h.held).toEqual([]);
    expect(h.batches.size).toBe(0);
  });

  it("counts the wait from the first message's arrival, also across a batch being stored", async () => {
    const h = harness(10, 50);
    h.add(0);
    await vi.advanceTimersByTimeAsync(50);
    expect(h.delivered.map(h.topics)).toEqual([[0]]);
    h.add(1);
    await vi.advanceTimersByTimeAsync(80); // 1 has waited past 50 ms while 0 was being stored
    expect(h.delivered).toHaveLength(1);
    await h.delivered[0]!.answer(["ack"]);
    expect(h.delivered.map(h.topics)[1]).toEqual([1]); // at once, not 50 ms later
  });

  it("acknowledges in order up to the first hold, and holds that one, the rest of its batch and what waits", async () => {
    const h = harness(4, 50);
    h.add(0, 1, 2, 3, 4, 5);
    await h.delivered[0]!.answer(["ack", "ack", "hold", "ack"]);
    expect(h.acknowledged).toEqual([0, 1]); // not 3: a PUBACK may not pass one that is not sent
    expect(h.held).toEqual([2 + 2]);
    expect(h.batches.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.delivered).toHaveLength(1); // what waited is left to the broker
  });

  it("holds everything a store that throws was given, and logs the defect", async () => {
    const h = harness(3, 50);
    h.add(0, 1, 2);
    await h.delivered[0]!.fail(new Error("database went away"));
    expect(h.acknowledged).toEqual([]);
    expect(h.held).toEqual([3]);
    expect(h.logged.map((l) => l.event)).toEqual(["collector-batch-defect"]);
  });

  it("holds the messages a store left unanswered, and logs the defect", async () => {
    const h = harness(3, 50);
    h.add(0, 1, 2);
    await h.delivered[0]!.answer(["ack"]);
    expect(h.acknowledged).toEqual([0]);
    expect(h.held).toEqual([2]);
    expect(h.logged[0]).toMatchObject({ level: "error", event: "collector-batch-defect", detail: { messages: 3, answers: 1 } });
  });

  it("forgets what waits when its connection ends, and still answers the batch being stored", async () => {
    const h = harness(2, 50);
    h.add(0, 1, 2, 3);
    expect(h.batches.forget()).toBe(2);
    expect(h.batches.size).toBe(2);
    await h.delivered[0]!.answer(["ack", "ack"]);
    expect(h.acknowledged).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.delivered).toHaveLength(1);
  });

  it("stops: resolves once the batch being stored is answered, and hands nothing over after", async () => {
    const h = harness(2, 50);
    h.add(0, 1, 2);
    let stopped = false;
    const stopping = h.batches.stop().then(() => (stopped = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    await h.delivered[0]!.answer(["ack", "ack"]);
    await stopping;
    expect(h.acknowledged).toEqual([0, 1]);
    h.add(3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(h.delivered).toHaveLength(1);
  });

  it("without a wait, hands over at once what is there, and gathers what arrives while a batch is stored", async () => {
    const h = harness(10, 0);
    h.add(0, 1, 2);
    expect(h.delivered.map(h.topics)).toEqual([[0]]);
    await h.delivered[0]!.answer(["ack"]);
    expect(h.delivered.map(h.topics)[1]).toEqual([1, 2]);
  });

  it("tells when a batch is answered (the session lets more in then)", async () => {
    const h = harness(1, 0);
    h.add(0);
    expect(h.settled()).toBe(0);
    await h.delivered[0]!.answer(["ack"]);
    expect(h.settled()).toBe(1);
  });

  it("refuses limits out of range, naming them", () => {
    const make = (max: number, waitMs: number) => () => harness(max, waitMs);
    expect(make(0, 10)).toThrow(/batch\.max/);
    expect(make(32_768, 10)).toThrow(/batch\.max/);
    expect(make(1.5, 10)).toThrow(/batch\.max/);
    expect(make(10, -1)).toThrow(/batch\.waitMs/);
    expect(make(10, Number.NaN)).toThrow(/batch\.waitMs/);
  });
});
