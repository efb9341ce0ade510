/**
 * Seven simulated days of the reference node inside XS, every sensor on the buses as the simulated
 * street recorded them (played back in a loop, so the run meters the firmware, not the simulation):
 * after a day of warm-up, the live heap (slots in use after a full garbage collection) does not
 * grow at all.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScenarioWorker, type ScenarioWorker } from "../../support/xs-scenario-worker.js";

const DAY_MS = 86_400_000;

describe("long run in XS", () => {
  let worker: ScenarioWorker;

  beforeAll(async () => {
    worker = await startScenarioWorker();
  });

  afterAll(async () => worker?.close());

  it("keeps a flat live heap over 7 simulated days while sealing every window", { timeout: 600_000 }, async () => {
    const options = { device: "street-02", street: "demo-street", rootKey: "07".repeat(32), startWallMs: Date.UTC(2026, 5, 1, 0, 0, 5), source: "recorded" };
    await worker.run("node.setup", JSON.stringify(options));
    const heapAfterDay: number[] = [];
    let stats: { windowsClosed: number; messages: number; outboxDepth: number } | undefined;
    for (let day = 1; day <= 7; day++) {
      stats = (await worker.run("node.advance", DAY_MS)).result as typeof stats;
      heapAfterDay.push((await worker.run("gc")).meter.currentHeapCount);
    }
    expect(stats!.windowsClosed).toBe(7 * 288);
    expect(stats!.messages).toBe(7 * 288 + 7 * 96 + 1); // every summary, a health report every quarter hour, the disclosure at boot
    expect(stats!.outboxDepth).toBe(0);
    const afterWarmUp = heapAfterDay.slice(1);
    expect(new Set(afterWarmUp).size, `live heap per day: ${heapAfterDay.join(", ")}`).toBe(1);
  });
});
