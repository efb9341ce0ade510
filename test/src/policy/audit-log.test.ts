import { describe, expect, it } from "vitest";
import { AUDIT_CAPACITY, AUDIT_STORE_KEY, AuditLog } from "../../../src/policy/audit-log.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";

describe("AuditLog", () => {
  it("keeps the newest entries in order, in the store, across a reboot", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store);
    log.load();
    for (let i = 0; i < AUDIT_CAPACITY + 5; i++) log.append(1_000 + i, "epoch-rotated", `time to ${i}`);
    expect(log.entries).toHaveLength(AUDIT_CAPACITY);
    expect(log.entries[0]).toEqual({ time: 1_005, event: "epoch-rotated", detail: "time to 5" });
    expect(log.entries.at(-1)).toEqual({ time: 1_000 + AUDIT_CAPACITY + 4, event: "epoch-rotated", detail: `time to ${AUDIT_CAPACITY + 4}` });

    const rebooted = new AuditLog(store);
    rebooted.load();
    expect(rebooted.entries).toEqual(log.entries);
    rebooted.append(9_999, "boot", "epoch 3");
    expect(rebooted.entries.at(-1)).toEqual({ time: 9_999, event: "boot", detail: "epoch 3" });
    expect(rebooted.entries[0]!.detail).toBe("time to 6");
  });

  it("hands each entry to one health report, and at most the capacity", () => {
    const log = new AuditLog(new MemoryStore());
    log.append(1, "boot", "epoch 0");
    log.append(2, "command-accepted", "rotate-epoch");
    expect(log.takeUnreported().map((e) => e.event)).toEqual(["boot", "command-accepted"]);
    expect(log.takeUnreported()).toEqual([]);
    for (let i = 0; i < AUDIT_CAPACITY * 2; i++) log.append(10 + i, "command-refused", "replay");
    const unreported = log.takeUnreported();
    expect(unreported).toHaveLength(AUDIT_CAPACITY);
    expect(unreported[0]!.time).toBe(10 + AUDIT_CAPACITY);
  });

  it("cuts long details and floors times", () => {
    const log = new AuditLog(new MemoryStore());
    log.append(12.9, "command-refused", "x".repeat(100));
    expect(log.entries[0]).toEqual({ time: 12, event: "command-refused", detail: "x".repeat(40) });
  });

  it("ignores a corrupt record and replaces it with the next entry", () => {
    const store = new MemoryStore();
    const first = new AuditLog(store);
    first.append(5, "boot", "epoch 0");
    const record = store.get(AUDIT_STORE_KEY)!;
    record[3]! ^= 0xff;
    store.commit([{ key: AUDIT_STORE_KEY, value: record }]);
    const second = new AuditLog(store);
    second.load();
    expect(second.entries).toEqual([]);
    second.append(6, "boot", "epoch 0");
    const third = new AuditLog(store);
    third.load();
    expect(third.entries).toEqual([{ time: 6, event: "boot", detail: "epoch 0" }]);
  });

  it("counts an entry the store could not take, and keeps it for the health report", () => {
    const store = new MemoryStore();
    const log = new AuditLog(store);
    store.failCommitIn(0);
    log.append(7, "command-accepted", "rotate-epoch");
    expect(log.writeFailures).toBe(1);
    expect(log.takeUnreported()).toEqual([{ time: 7, event: "command-accepted", detail: "rotate-epoch" }]);
  });
});
