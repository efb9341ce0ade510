/**
 * Firmware discipline, checked with XS's allocation count (deterministic, not a timing): taking a
 * reading allocates nothing on the XS heap once the node runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScenarioWorker, type ScenarioWorker } from "../../support/xs-scenario-worker.js";

describe("the sample path in XS", () => {
  let worker: ScenarioWorker;

  beforeAll(async () => {
    worker = await startScenarioWorker();
  });

  afterAll(async () => worker?.close());

  async function slotsTakenBy(...message: Parameters<ScenarioWorker["run"]>): Promise<number> {
    await worker.run("gc");
    const live = (await worker.run("gc")).meter.currentHeapCount;
    return (await worker.run(...message)).meter.currentHeapCount - live;
  }

  it("takes no heap slot per reading: 29 readings cost what none cost", async () => {
    const options = { device: "street-03", street: "demo-street", rootKey: "42".repeat(32), startWallMs: Date.UTC(2026, 8, 1, 0, 0, 5), canned: true };
    await worker.run("node.setup", JSON.stringify(options));
    await worker.run("node.advance", 600_000); // warm-up: two windows
    const idle = await slotsTakenBy("node.advance", 0);
    const readings = await slotsTakenBy("node.advance", 290_000); // samples at 610 s ... 890 s
    const stats = (await worker.run("node.advance", 0)).result as { windowsClosed: number; valuesAggregated: number };
    expect(stats.windowsClosed).toBe(2); // no window closed inside the measured span
    expect(stats.valuesAggregated).toBe(2 * (60 + 29)); // two channels per reading: 60 in warm-up, 29 measured
    expect(readings).toBe(idle);
  });
});
