import { describe, expect, it } from "vitest";
import { CivicNode } from "../../../src/node.js";
import { AUDIT_REPORT_ENTRIES, type AuditReport } from "../../../src/policy/audit-log.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import type { Platform } from "../../../src/platform.js";
import { HealthReport } from "../../../src/uplink/health-report.js";
import { Outbox } from "../../../src/uplink/outbox.js";
import { CborWriter } from "../../../src/wire/cbor-writer.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { writeSenmlPack } from "../../../src/wire/senml.js";
import { Keyring } from "../../../hosts/collector/keyring.js";
import { MessageOpener } from "../../../hosts/collector/message-opener.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../../hosts/sim/street.js";

const BASE_S = 1_780_000_000;

/** The widest audit a report can carry: 12 entries of the longest event and detail, 9-digit sequence numbers, an unset clock's time. */
function widest(): AuditReport {
  const first = 999_999_000;
  return {
    chain: "f".repeat(16),
    seq: first + AUDIT_REPORT_ENTRIES - 1,
    head: "e".repeat(32),
    prev: "d".repeat(32),
    entries: Array.from({ length: AUDIT_REPORT_ENTRIES }, (_, i) => ({ seq: first + i, time: 0, event: "x".repeat(24), detail: "y".repeat(48) })),
    lost: 0xffffffff,
    pending: 0xffffffff,
    write: { key: "audit.sent", value: undefined },
  };
}

describe("the health report's audit records", () => {
  it("take at most 1,400 bytes", () => {
    const outbox = new Outbox(new MemoryStore(), new LoopbackTransport(), () => {}, { capacity: 1, budgetBytes: 4096, ramBytes: 4096, maxInFlight: 1 });
    const records = new HealthReport([]).records(1, outbox, { sealFailures: 0 }, [], { epoch: 0, commands: {}, audit: widest(), baseTimeS: BASE_S });
    const size = (list: typeof records) => {
      const writer = new CborWriter(8192);
      writeSenmlPack(writer, "street-01/", BASE_S, list);
      return writer.length;
    };
    const audit = size(records) - size(records.filter((r) => !r.name.startsWith("audit/")));
    expect(audit).toBeGreaterThan(1200);
    expect(audit).toBeLessThanOrEqual(1400);
  });

  it("carry a full report of the reference node, sealed within the plaintext's limit", () => {
    const store = new MemoryStore();
    const root = new Uint8Array(32).fill(0x21);
    store.commit(provisioningWrites(root, "street-09"));
    const clock = new SimClock({ startWallMs: BASE_S * 1000 });
    const transport = new LoopbackTransport();
    const { board } = simulatedReferenceBoard("street-09", "demo-street", clock, clock);
    const platform: Platform = { clock, timers: clock, random: new SeededRandom("health"), store, transport, buses: board, log: () => {} };
    const node = new CivicNode(platform, parseNodeConfig(streetNodeConfig("street-09", "demo-street")));
    node.start();
    for (let i = 0; i < 40; i++) node.audit.append(0, "command-history-lost", "z".repeat(60));
    clock.advanceBy(900_001);
    expect(node.stats.sealFailures).toBe(0);
    const keyring = new Keyring();
    keyring.add("street-09", "demo-street", root);
    const opener = new MessageOpener(keyring);
    const [health] = transport.published.filter((m) => m.topic.endsWith("/health"));
    const opened = opener.open(health!.topic, health!.payload);
    if (!opened.ok || opened.kind !== "health") throw new Error("the health report did not open");
    expect(opened.health.auditChain!.entries).toHaveLength(AUDIT_REPORT_ENTRIES);
    // 42 entries (the chain's reset, the boot, 40 more) in a log of 32: 10 evicted, 32 waiting
    expect(opened.health.auditChain).toMatchObject({ lost: 10, pending: 32 - AUDIT_REPORT_ENTRIES });
    expect(health!.payload.length).toBeLessThan(2300);
  });
});
