/**
 * What the public page reads of a node's past, on both engines: the policies its stored summaries
 * were produced under (serial, hash, first and last window, how many), and its audit entries about
 * policy changes as its health reports carried them, each once and oldest first, through the real
 * collector from messages sealed by the node's own code.
 */
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { QueryParameterError } from "../../../../hosts/collector/db/page-cursor.js";
import { releasePostgres } from "../../../support/postgres.js";
import { cleanUpDatabases, ENGINES, onCleanup } from "../db/engines.js";
import { disclosureDocument, publicStreet, signedPolicy, windowStartMs } from "./public-street.js";

afterAll(releasePostgres);

const DEVICE = "lamp-1";
const FIRST = signedPolicy(DEVICE, 1);
const SECOND = signedPolicy(DEVICE, 2);
const POLICY_EVENTS = ["policy-updated", "policy-refused"];

describe.each(ENGINES)("a node's policy history on $name", (engine) => {
  afterEach(cleanUpDatabases);

  it.runIf(engine.available)("lists the policies its summaries were produced under, and its policy entries with their times", async () => {
    const { db } = await engine.fresh();
    const street = await publicStreet(db, DEVICE, [FIRST, SECOND], FIRST);
    onCleanup(() => street.close());
    await street.disclose(disclosureDocument(DEVICE, FIRST), windowStartMs(0) - 60_000);
    for (let w = 0; w < 3; w++) await street.deliver(w);
    const at = (w: number) => windowStartMs(w) / 1000 + 100;
    street.node.audit.append(at(3), "policy-refused", "serial 2 weakens /channels/7/privacy/k");
    street.node.audit.append(at(3) + 1, "boot", "epoch 0");
    await street.deliver(3);
    street.node.audit.append(at(4), "policy-updated", "serial 2 two keys");
    await street.deliver(4);
    street.node.run(SECOND);
    for (let w = 5; w < 9; w++) await street.deliver(w);

    expect(await db.policiesProducedUnder(DEVICE)).toEqual([
      { serial: 1, sha256: FIRST.sha256, firstWindowStart: windowStartMs(0) / 1000, lastWindowStart: windowStartMs(4) / 1000, windows: 5 },
      { serial: 2, sha256: SECOND.sha256, firstWindowStart: windowStartMs(5) / 1000, lastWindowStart: windowStartMs(8) / 1000, windows: 4 },
    ]);
    const entries = await db.auditEntries(DEVICE, { events: POLICY_EVENTS, limit: 100 });
    expect(entries.map(({ time, event, detail, reportTime }) => ({ time, event, detail, reportTime }))).toEqual([
      { time: at(3), event: "policy-refused", detail: "serial 2 weakens /channels/7/privacy/k", reportTime: windowStartMs(4) / 1000 },
      { time: at(4), event: "policy-updated", detail: "serial 2 two keys", reportTime: windowStartMs(5) / 1000 },
    ]);
    expect(entries.every((e) => typeof e.chain === "string" && typeof e.seq === "number")).toBe(true);
    expect(await db.auditEntries(DEVICE, { events: ["policy-updated"], limit: 100 })).toHaveLength(1);
    // Only the newest reports that hold one: the update's.
    expect((await db.auditEntries(DEVICE, { events: POLICY_EVENTS, limit: 1 })).map((e) => e.event)).toEqual(["policy-updated"]);
    expect(await db.auditEntries("lamp-9", { events: POLICY_EVENTS, limit: 100 })).toEqual([]);
    expect(await db.policiesProducedUnder("lamp-9")).toEqual([]);
  });

  it.runIf(engine.available)("lists an entry carried again by a later report once, and matches events exactly", async () => {
    const { db } = await engine.fresh();
    const street = await publicStreet(db, DEVICE, [FIRST], FIRST);
    onCleanup(() => street.close());
    street.node.audit.append(windowStartMs(0) / 1000 + 10, "policy-updated", "serial 1");
    street.node.audit.append(windowStartMs(0) / 1000 + 11, "policy-updates", "not a policy-updated entry");
    await street.deliver(0);
    // A node that lost its report mark carries its ring again (audit-log.ts): the same entries, the same chain.
    street.node.reloadAudit();
    await street.deliver(1);
    const carried = (await db.health(DEVICE, { limit: 10 })).items.map((r) => r.report.auditChain!.entries.filter((e) => e.event === "policy-updated").length);
    expect(carried).toEqual([1, 1]);
    const entries = await db.auditEntries(DEVICE, { events: ["policy-updated"], limit: 100 });
    expect(entries.map((e) => e.detail)).toEqual(["serial 1"]);
  });

  it.runIf(engine.available)("refuses an event that is not an audit event, rather than read it as a pattern", async () => {
    const { db } = await engine.fresh();
    for (const event of ["%", "policy_updated", "Policy-updated", ""]) {
      await expect(db.auditEntries(DEVICE, { events: [event], limit: 10 })).rejects.toBeInstanceOf(QueryParameterError);
    }
    await expect(db.auditEntries(DEVICE, { events: POLICY_EVENTS, limit: 0 })).rejects.toBeInstanceOf(QueryParameterError);
  });
});
