/**
 * The dashboard's reads of the store beyond CollectorDb (routes/store-reads.ts), on both engines
 * (SQLite, and PostgreSQL where it runs): a device's messages with their sealed bytes as admitted,
 * in receipt order, by kind, by key epoch and counter, paged; its newest health report by time
 * (not by arrival); the newest alert's number.
 */
import { bytesToHex } from "@noble/hashes/utils.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { counterReuseAlert } from "../../../../hosts/collector/alerts.js";
import { storeReads } from "../../../../hosts/collector/api/routes/store-reads.js";
import { releasePostgres } from "../../../support/postgres.js";
import { healthRecords, SealingNode, Street, streetRecords, T0_S, WINDOW_S } from "../api/api-fixture.js";
import { cleanUpDatabases, ENGINES } from "../db/engines.js";

afterEach(cleanUpDatabases);
afterAll(releasePostgres);

describe.each(ENGINES)("the dashboard's store reads on $name", (engine) => {
  it.skipIf(!engine.available)("read every message as admitted, the newest report by time and the newest alert", async () => {
    const { db } = await engine.fresh();
    const street = new Street(db, [{ device: "lamp-1", zone: "old-town" }, { device: "lamp-2", zone: "old-town" }], () => (T0_S + 3600) * 1000);
    await street.sync();
    const node = new SealingNode("lamp-1", "old-town");
    const other = new SealingNode("lamp-2", "old-town");
    const sent: Array<{ kind: string; payload: Uint8Array }> = [];
    for (let w = 0; w < 3; w++) {
      const summary = node.summary(T0_S + w * WINDOW_S, streetRecords(w));
      await street.admit(summary, (T0_S + (w + 1) * WINDOW_S + 2) * 1000);
      sent.push({ kind: "summary", payload: summary.payload });
      await street.admit(other.summary(T0_S + w * WINDOW_S, streetRecords(w)), (T0_S + (w + 1) * WINDOW_S + 3) * 1000);
    }
    // Two health reports, the later one sealed first: the newest is the one of the later time.
    const late = node.health(T0_S + 2 * WINDOW_S, healthRecords(600));
    const early = node.health(T0_S + WINDOW_S, healthRecords(300));
    await street.admit(late, (T0_S + 3 * WINDOW_S) * 1000);
    await street.admit(early, (T0_S + 3 * WINDOW_S + 1) * 1000);
    sent.push({ kind: "health", payload: late.payload }, { kind: "health", payload: early.payload });

    const reads = storeReads(db);
    const all = await reads.messages({ device: "lamp-1", limit: 100 });
    expect(all.map((m) => bytesToHex(m.sealed))).toEqual(sent.map((m) => bytesToHex(m.payload)));
    expect(all.map((m) => m.kind)).toEqual(sent.map((m) => m.kind));
    expect(all.filter((m) => m.kind === "summary").map((m) => m.windowStart)).toEqual([0, 1, 2].map((w) => T0_S + w * WINDOW_S));
    expect(all.filter((m) => m.kind === "health").map((m) => m.healthTime)).toEqual([T0_S + 2 * WINDOW_S, T0_S + WINDOW_S]);
    expect(all.every((m) => m.device === "lamp-1" && m.topic === `civicnode/old-town/lamp-1/${m.kind}`)).toBe(true);

    const one = await reads.messages({ device: "lamp-1", epoch: all[1]!.epoch, counter: all[1]!.counter, limit: 10 });
    expect(one.map((m) => m.id)).toEqual([all[1]!.id]);
    expect((await reads.messages({ device: "lamp-1", kind: "health", limit: 100 })).map((m) => m.id)).toEqual(all.slice(3).map((m) => m.id));
    const page = await reads.messages({ device: "lamp-1", limit: 2 });
    expect(page).toHaveLength(3); // the page and one more: there is a next page
    expect((await reads.messages({ device: "lamp-1", after: page[1]!.id, limit: 2 })).map((m) => m.id)).toEqual(all.slice(2, 5).map((m) => m.id));

    expect((await reads.newestHealth("lamp-1"))?.time).toBe(T0_S + 2 * WINDOW_S);
    expect(await reads.newestHealth("lamp-2")).toBeUndefined();
    expect(await reads.newestAlert()).toBe(0);
    await db.recordAlert(counterReuseAlert({ device: "lamp-1", epoch: 0, counter: 1 }, "another tag", new Date(T0_S * 1000)));
    await db.recordAlert(counterReuseAlert({ device: "lamp-2", epoch: 0, counter: 1 }, "another tag", new Date(T0_S * 1000)));
    expect(await reads.newestAlert()).toBe(2);
  });
});
