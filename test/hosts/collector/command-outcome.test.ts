/**
 * CommandOutcomeWatch (`npm run cmd -- ... --wait`) on a real SQLite collector database holding
 * health reports as the collector stores them: the verdict comes from the first report stored
 * after the watch began that audits the command; reports stored before are not read for it; a
 * tally of refusals is a probable verdict; two reports without a word mean not received; the
 * node's health interval is the narrowest spacing of its stored reports.
 */
import { describe, expect, it } from "vitest";
import { CommandOutcomeWatch } from "../../../hosts/collector/command-outcome.js";
import type { OpenedMessage } from "../../../hosts/collector/db/collector-db.js";
import type { DecodedHealth } from "../../../hosts/collector/decoded-messages.js";
import { testCollectorDb } from "../../support/collector-db.js";

const ZONE = "demo-street";
const DEVICE = "street-01";
const KEY_ID = "00112233445566778899aabbccddeeff";
/** A health report every 900 s of the node's clock, from here. */
const T0_S = Date.UTC(2026, 10, 27, 2, 0, 0) / 1000;

let counter = 0;

function report(time: number, audit: readonly string[], commands: Record<string, number> = {}): OpenedMessage {
  const n = counter++;
  const health: DecodedHealth = {
    zone: ZONE,
    device: DEVICE,
    epoch: 0,
    counter: n,
    time,
    node: { uptime: time - T0_S },
    budget: {},
    commands,
    audit: audit.map((entry) => ({ time: time - 10, entry })),
    sensors: {},
  };
  const tag = new Uint8Array(16).fill(n + 1);
  return { kind: "health", topic: `civicnode/${ZONE}/${DEVICE}/health`, sealed: new Uint8Array(40).fill(n), tag, sealedAt: time, receivedAtMs: time * 1000, keyId: KEY_ID, health };
}

async function streetDb() {
  const db = await testCollectorDb();
  await db.syncDevices([{ device: DEVICE, zone: ZONE, keyId: KEY_ID }]);
  return db;
}

async function store(db: Awaited<ReturnType<typeof streetDb>>, message: OpenedMessage): Promise<void> {
  expect(await db.admit(message)).toMatchObject({ outcome: "stored" });
}

describe("CommandOutcomeWatch", () => {
  it("finds the verdict in the first report stored after it began, not in those before", async () => {
    const db = await streetDb();
    // Before the command: an earlier rotate-epoch, accepted, which is not this one's verdict.
    await store(db, report(T0_S, ["command-accepted rotate-epoch"]));
    await store(db, report(T0_S + 900, []));
    const watch = await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 1000);
    expect(watch.healthSeconds).toBe(900);
    expect(await watch.poll({ name: "rotate-epoch" })).toBeUndefined();

    await store(db, report(T0_S + 1800, ["command-accepted rotate-epoch", "epoch-rotated command to 1"], { accepted: 2 }));
    const verdict = await watch.poll({ name: "rotate-epoch" });
    expect(verdict).toMatchObject({ kind: "accepted", outcome: "accepted", probable: false, entries: ["command-accepted rotate-epoch", "epoch-rotated command to 1"] });
    expect(verdict?.report.time).toBe(T0_S + 1800);
  });

  it("reads an authentic refusal with its reason, and tells commands apart by name", async () => {
    const db = await streetDb();
    await store(db, report(T0_S, []));
    const watch = await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 60);
    await store(db, report(T0_S + 900, ["command-accepted rotate-epoch", "command-refused bounds set-window"]));
    expect(await watch.poll({ name: "set-window" })).toMatchObject({ kind: "refused", outcome: "bounds", reason: "outside what its signed policy allows", probable: false });
  });

  it("takes a tally of refusals as a probable verdict, and two silent reports as not received", async () => {
    const db = await streetDb();
    const tallied = await CommandOutcomeWatch.begin(db, DEVICE, T0_S);
    expect(tallied.healthSeconds).toBeUndefined(); // no reports yet: the caller falls back to the board's
    await store(db, report(T0_S, [`refusals stale 1 ${T0_S - 30} ${T0_S - 30}`]));
    const stale = await tallied.poll({ name: "rotate-epoch" });
    expect(stale).toMatchObject({ kind: "refused", outcome: "stale", probable: true });
    expect(stale?.reason).toContain("issued more than a day away from the node's clock");

    const silent = await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 60);
    await store(db, report(T0_S + 900, ["boot epoch 0"]));
    expect(await silent.poll({ name: "rotate-epoch" })).toBeUndefined();
    await store(db, report(T0_S + 1800, []));
    const missed = await silent.poll({ name: "rotate-epoch" });
    expect(missed).toMatchObject({ kind: "not-received", outcome: "not-received" });
    expect(missed?.reason).toBe("its health reports of 2026-11-27 02:15Z and 2026-11-27 02:30Z say nothing of it: the node has not received it");
  });

  it("reads a policy update's verdict by its serial", async () => {
    const db = await streetDb();
    await store(db, report(T0_S, ["policy-updated serial 2"]));
    const watch = await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 60);
    await store(db, report(T0_S + 900, ["boot epoch 0"]));
    await store(db, report(T0_S + 1800, ["policy-refused serial 3 weakens /channels/7/privacy/k"]));
    expect(await watch.poll({ update: 3 })).toMatchObject({ kind: "refused", reason: "weakens /channels/7/privacy/k" });

    const next = await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 1860);
    await store(db, report(T0_S + 2700, ["policy-updated serial 3 two keys"]));
    expect(await next.poll({ update: 3 })).toMatchObject({ kind: "accepted", reason: "accepted: it runs serial 3 from now on" });
  });

  it("takes the node's health interval from the narrowest spacing of its newest reports (a gap only widens one)", async () => {
    const db = await streetDb();
    for (const offset of [0, 300, 600, 4200, 4500]) await store(db, report(T0_S + offset, []));
    expect((await CommandOutcomeWatch.begin(db, DEVICE, T0_S + 4600)).healthSeconds).toBe(300);
  });
});
