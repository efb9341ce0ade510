/**
 * The same seeded scenario on Node and in the XS engine (the engine of the Moddable SDK, built by
 * @agoric/xsnap) must produce the same sealed bytes. Nothing is skipped: a missing engine fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { runReferenceScenario, type ScenarioResult } from "../../../hosts/sim/reference-scenario.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { xsnapWorkerPath } from "../../../hosts/xs/xsnap-worker.js";
import { startScenarioWorker, type ScenarioWorker } from "../../support/xs-scenario-worker.js";

const ROOT_HEX = "5a".repeat(16) + "c3".repeat(16);
const OPTIONS = { device: "street-04", street: "demo-street", rootKey: ROOT_HEX, startWallMs: Date.UTC(2026, 2, 9, 6, 0, 0) };

describe("conformance: Node and XS seal the same bytes", () => {
  let worker: ScenarioWorker;
  let onNode: ScenarioResult;
  let onXs: ScenarioResult;

  beforeAll(async () => {
    expect(existsSync(xsnapWorkerPath())).toBe(true);
    worker = await startScenarioWorker();
    onNode = runReferenceScenario({ ...OPTIONS, rootKey: new Uint8Array(Buffer.from(ROOT_HEX, "hex")) });
    onXs = (await worker.run("conformance", JSON.stringify(OPTIONS))).result as ScenarioResult;
  });

  afterAll(async () => worker?.close());

  it("produces identical sealed messages, byte for byte", () => {
    expect(onXs.messages.length).toBe(onNode.messages.length);
    onNode.messages.forEach((message, i) => expect(onXs.messages[i]).toEqual(message));
    expect(onXs).toEqual(onNode);
  });

  it("is a scenario worth comparing: faults, an offline window, a missing channel, a reboot", () => {
    const keyring = new Keyring();
    keyring.add(OPTIONS.device, OPTIONS.street, Buffer.from(ROOT_HEX, "hex"));
    const opener = new MessageOpener(keyring);
    // the disclosure is public and unsealed: published once per boot, then everything else is sealed
    const disclosures = onNode.messages.filter((m) => m.topic.endsWith("/disclosure"));
    expect(disclosures).toHaveLength(2);
    const disclosure = JSON.parse(Buffer.from(disclosures[0]!.payloadHex, "hex").toString("utf8"));
    expect(disclosure.device).toBe(OPTIONS.device);
    const opened = onNode.messages.filter((m) => !m.topic.endsWith("/disclosure")).map((m) => {
      const result = opener.open(m.topic, Buffer.from(m.payloadHex, "hex"));
      if (!result.ok) throw new Error(result.cause);
      return result;
    });
    const summaries = opened.flatMap((r) => (r.kind === "summary" ? [r.summary] : []));
    const health = opened.flatMap((r) => (r.kind === "health" ? [r.health] : []));
    expect(summaries.length).toBe(8);
    expect(health.length).toBe(2); // at 15 and 30 minutes
    expect(health[1]!.sensors.climate!.drops.checksum).toBe(2);
    expect(onNode.windowsClosed).toBe(8);
    expect(onNode.drops.checksum).toBe(2);
    expect(onNode.drops.bus).toBeGreaterThanOrEqual(30);
    expect(summaries.filter((s) => s.channels.temperature?.status === "missing")).toHaveLength(1);
    const counters = opened.map((r) => (r.kind === "summary" ? r.summary.counter : r.health.counter));
    expect(counters.slice(0, 8)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(counters[8]).toBe(32); // after the reboot: above the reserved block, never reused
    expect(summaries.every((s) => Object.keys(s.channels).length === 11)).toBe(true);
    const starts = summaries.map((s) => s.windowStart);
    expect(new Set(starts).size).toBe(starts.length);
    // the root key was consumed at first boot; only the ratchet's chain key (and no root) stays in
    // flash; the outbox is empty at the end (its records gone with their PUBACKs), the window mark
    // and the audit chain with its reported mark stay
    expect(onNode.storeKeys).toEqual(["audit.log", "audit.sent", "dp.budget", "key.chain", "key.down", "key.id", "seal.ctr", "win.end"]);
    // the privacy engine ran in both: pseudonyms into a sketch, counts through the gate (with CSPRNG noise)
    expect(summaries.every((s) => s.channels.devices!.distinct !== undefined)).toBe(true);
    expect(health[1]!.budget.people).toBeLessThan(144);
  });
});
