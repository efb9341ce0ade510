/**
 * The soak, short form (CI): days of the reference node in XS with faults on — bus faults, a broker
 * outage every day (one beyond the queue's budget), a flash that refuses writes, SNTP corrections.
 * After warm-up the live heap (slots in use after a full collection, at midnight) does not grow,
 * every outage's queue drains within the hour, every window is sealed, and every message is either
 * delivered or counted as dropped. The full form (30 days) is `npm run soak`; figures in
 * docs/reliability.md.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startScenarioWorker, type ScenarioWorker } from "../../support/xs-scenario-worker.js";
import { SOAK_LIMITS, type SoakStats } from "../../../hosts/xs/soak-run.js";

const DAYS = Number(process.env.CIVICNODE_SOAK_DAYS ?? 5);
const { WARM_UP_DAYS, HEAP_WOBBLE_SLOTS } = SOAK_LIMITS;

describe("soak in XS", () => {
  let worker: ScenarioWorker;

  beforeAll(async () => {
    worker = await startScenarioWorker();
  });

  afterAll(async () => worker?.close());

  it(`runs ${DAYS} simulated days with faults on: flat heap after warm-up, every queue drained, nothing lost uncounted`, { timeout: DAYS * 120_000 }, async () => {
    const options = { device: "street-02", street: "demo-street", rootKey: "07".repeat(32), startWallMs: Date.UTC(2026, 5, 1), seed: "soak", busFaultHours: 12, longOutageDay: 3 };
    await worker.run("soak.setup", JSON.stringify(options));
    const heap: number[] = [];
    let stats: SoakStats | undefined;
    for (let day = 1; day <= DAYS; day++) {
      stats = (await worker.run("soak.day")).result as SoakStats;
      heap.push((await worker.run("gc")).meter.currentHeapCount);
    }
    const s = stats!;
    const report = `stats ${JSON.stringify(s)}, live heap per day ${heap.join(", ")}`;
    // Each day's SNTP correction sets the clock back 1.5 s: the last window of the run closes 1.5 s
    // per day after the run's last midnight, so it is still open.
    expect(s.windowsClosed, report).toBe(DAYS * 288 - 1);
    expect(s.summariesSealed, report).toBe(s.windowsClosed);
    expect(s.sealFailures, report).toBe(0);
    expect(s.outages).toBe(DAYS);
    expect(s.undrained).toBe(0);
    expect(s.queueDepth).toBe(0);
    // Everything sealed went out or was dropped and counted (the disclosure, once, besides).
    expect(s.messages + s.dropped).toBe(s.summariesSealed + s.healthReportsSealed + 1);
    // Only the day beyond the budget drops, and it does.
    if (DAYS >= 3) expect(s.dropped).toBeGreaterThan(0);
    expect(s.peakQueueBytes).toBeLessThanOrEqual(163840);
    expect(s.busFaultEpisodes).toBeGreaterThan(DAYS);
    expect(s.storeErrors).toBeGreaterThan(0);
    expect(s.clockBehind, report).toBe(DAYS); // once a day, one second into a window
    expect(s.windowsDiscarded, report).toBe(DAYS);
    // After warm-up (the third day's long outage fills the store's table to its largest), the live
    // heap does not grow. It may move by a few slots with what the simulated radio is doing at
    // midnight (a scan the driver restarted during a silent episode); a leak of one slot per hour
    // would be 24 a day.
    const afterWarmUp = heap.slice(WARM_UP_DAYS - 1);
    expect(Math.max(...afterWarmUp) - Math.min(...afterWarmUp), `live heap per day: ${heap.join(", ")}`).toBeLessThanOrEqual(HEAP_WOBBLE_SLOTS);
  });
});
