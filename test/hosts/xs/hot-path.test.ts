/**
 * Firmware discipline, checked with XS's allocation count (deterministic, not a timing): taking
 * readings allocates nothing on the XS heap once the node runs. The reference node with all seven
 * parts, on buses playing back what the simulated street said (the playback itself allocates
 * nothing per event, so any slot taken is the firmware's).
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

  it("takes no heap slot per reading: thousands of readings from every part cost what none cost", async () => {
    const options = { device: "street-03", street: "demo-street", rootKey: "42".repeat(32), startWallMs: Date.UTC(2026, 8, 1, 7, 0, 5), source: "recorded" };
    await worker.run("node.setup", JSON.stringify(options));
    await worker.run("node.advance", 600_000); // warm-up: two windows
    const before = (await worker.run("node.advance", 0)).result as { windowsClosed: number; valuesAggregated: number };
    const idle = await slotsTakenBy("node.advance", 0);
    const readings = await slotsTakenBy("node.advance", 290_000); // up to 5 s before the next window ends
    const after = (await worker.run("node.advance", 0)).result as { windowsClosed: number; valuesAggregated: number };
    expect(after.windowsClosed).toBe(before.windowsClosed); // no window closed inside the measured span
    expect(after.valuesAggregated - before.valuesAggregated).toBeGreaterThan(5000);
    expect(readings).toBe(idle);
  });
});
