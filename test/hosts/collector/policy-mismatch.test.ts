/**
 * policy-mismatch, with the real collector on SQLite: the operator's record of a node's signed
 * policies, the node's signed disclosures, and its messages sealed by the node's own code under the
 * policy it runs, on the collector's clock. Raised for a node that seals under an older policy than
 * it discloses, under another policy with the disclosure's serial, or under a newer one whose
 * disclosure never comes; never across a normal update (the outbox drains windows of the old
 * policy after the new disclosure, slowly or not), when the first summary of a new policy beats its
 * disclosure, for a node provisioned again on an earlier policy, nor in a clean run. The API's
 * verification (GET /api/nodes/{device}/verification, the disclosure's header) follows the same rule.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert } from "../../../hosts/collector/alerts.js";
import { Collector, type CollectorOptions } from "../../../hosts/collector/collector.js";
import { POLICY_MISMATCH_GRACE_MS } from "../../../hosts/collector/policy-agreement.js";
import { PolicyRegistry, recordSignedPolicy } from "../../../hosts/collector/policy-registry.js";
import { ed25519PublicKey } from "../../../src/wire/cose-sign1.js";
import { testCollectorDb } from "../../support/collector-db.js";
import { startTestApi } from "./api/api-fixture.js";
import { OPERATOR, PolicyNode, signedDisclosure, signedPolicy, windowStartMs, type TestPolicy } from "./policy-street.js";
import { keyringOf } from "./sealed-messages.js";

const DEVICE = "lamp-1";
const FIRST = signedPolicy(DEVICE, 1);
const SECOND = signedPolicy(DEVICE, 2);
/** Another policy the operator signed under serial 2. */
const SECOND_OTHER = signedPolicy(DEVICE, 2, "old-town-2-other");
const THIRD = signedPolicy(DEVICE, 3);
const GRACE = POLICY_MISMATCH_GRACE_MS;

interface Run {
  readonly collector: Collector;
  readonly node: PolicyNode;
  readonly alerts: Alert[];
  /** The collector's clock (Unix ms). */
  at(ms: number): void;
  /** The summary and health report of window `w`, received 2 s after it ended (or at `atMs`), never before the clock's last moment. */
  deliver(w: number, atMs?: number): Promise<void>;
  /** The node's disclosure naming `policy`, received at `atMs` (never before the clock's last moment). */
  disclose(policy: TestPolicy, atMs: number): Promise<void>;
  mismatches(): Promise<Alert[]>;
}

/**
 * The alerts a test did not provoke: a watch run past the grace also finds the node silent, more
 * than two windows after its last one, which is another test's (silent-nodes.test.ts).
 */
const unexpected = (alerts: readonly Alert[]): Alert[] => alerts.filter((alert) => alert.kind !== "node-silent");

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A collector whose operator's record holds `recorded`, and a node running `runs`. */
async function run(recorded: readonly TestPolicy[], runs: TestPolicy, more: Partial<CollectorOptions> = {}): Promise<Run> {
  const state = mkdtempSync(join(tmpdir(), "civicnode-policy-mismatch-"));
  cleanups.push(() => rmSync(state, { recursive: true, force: true }));
  for (const policy of recorded) recordSignedPolicy(state, DEVICE, policy.serial, policy.signed);
  const keyring = keyringOf(DEVICE);
  const db = await testCollectorDb();
  let nowMs = windowStartMs(0);
  const operatorKey = ed25519PublicKey(OPERATOR);
  const collector = new Collector({
    brokerUrl: "mqtt://127.0.0.1:1",
    keyring,
    db,
    operatorKey,
    policies: new PolicyRegistry(state, operatorKey, (device) => keyring.get(device)?.zone),
    now: () => nowMs,
    watchEveryMs: 0,
    ...more,
  });
  await collector.prepare();
  const alerts: Alert[] = [];
  collector.onAlert((alert) => alerts.push(alert));
  const node = new PolicyNode(DEVICE, runs);
  const stored = async (message: { topic: string; payload: Uint8Array }) => expect(await collector.handle(message.topic, message.payload)).toMatchObject({ ok: true });
  return {
    collector,
    node,
    alerts,
    at: (ms) => (nowMs = ms),
    async deliver(w, atMs = windowStartMs(w + 1) + 2000) {
      nowMs = Math.max(atMs, nowMs + 1000);
      await stored(node.summary(w));
      await stored(node.health(w));
    },
    async disclose(policy, atMs) {
      nowMs = Math.max(atMs, nowMs + 1000);
      const { topic, payload } = signedDisclosure(DEVICE, policy);
      expect(await collector.handle(topic, payload)).toMatchObject({ ok: false, cause: "topic" });
      expect(collector.disclosures.latest(DEVICE)).toMatchObject({ verified: true, policy: { serial: policy.serial, sha256: policy.sha256 } });
    },
    mismatches: async () => (await db.alerts({ limit: 100 })).items.filter((a) => a.kind === "policy-mismatch"),
  };
}

/** The API over the collector's database and disclosures: the node's verification and the disclosure's header. */
async function verificationOf(collector: Collector, nowMs: number): Promise<{ state: string; header: string | null; body: Record<string, unknown> }> {
  const api = await startTestApi({ db: collector.db, keyring: keyringOf(DEVICE), disclosures: collector.disclosures, now: () => nowMs });
  try {
    const response = await api.get(`/api/nodes/${DEVICE}/verification`, { token: null });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { state: string } & Record<string, unknown>;
    const disclosure = await api.get(`/api/nodes/${DEVICE}/disclosure`, { token: null });
    return { state: body.state, header: disclosure.headers.get("disclosure-verification"), body };
  } finally {
    await api.close();
  }
}

describe("policy-mismatch is not raised for what a node normally does", () => {
  it("a clean run: every message under the disclosed policy", async () => {
    const street = await run([FIRST], FIRST);
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    for (let w = 0; w < 12; w++) await street.deliver(w);
    expect(await street.collector.watchNow()).toEqual([]);
    street.at(windowStartMs(12) + 10 * GRACE);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    expect(unexpected(street.alerts)).toEqual([]);
    expect(street.collector.stats.accepted).toBe(24);
    expect(await verificationOf(street.collector, windowStartMs(12))).toMatchObject({ state: "verified", header: "verified" });
  });

  it("an update: the outbox drains windows of the old policy after the new disclosure, one of them 40 minutes late; then the new policy's", async () => {
    const street = await run([FIRST, SECOND], FIRST);
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    for (let w = 0; w < 4; w++) await street.deliver(w);
    // Windows 4 and 5 are sealed under serial 1 and still in the outbox when the node restarts on
    // serial 2 at the end of window 5: it publishes its disclosure first, then its queue.
    const window4 = { summary: street.node.summary(4), health: street.node.health(4) };
    const window5 = { summary: street.node.summary(5), health: street.node.health(5) };
    street.node.run(SECOND);
    await street.disclose(SECOND, windowStartMs(6) + 5000);
    expect(await verificationOf(street.collector, windowStartMs(6) + 5000)).toMatchObject({ state: "awaiting-summary", header: "awaiting-summary" });
    street.at(windowStartMs(6) + 6000);
    for (const message of [window4.summary, window4.health]) expect(await street.collector.handle(message.topic, message.payload)).toMatchObject({ ok: true });
    // A slow link: the last of the old policy's messages arrive 40 minutes after the disclosure.
    street.at(windowStartMs(6) + 40 * 60_000);
    for (const message of [window5.summary, window5.health]) expect(await street.collector.handle(message.topic, message.payload)).toMatchObject({ ok: true });
    expect(await verificationOf(street.collector, windowStartMs(6) + 40 * 60_000)).toMatchObject({ state: "awaiting-summary" });
    for (let w = 6; w < 20; w++) await street.deliver(w); // what waited behind them, then each window as it ends
    street.at(windowStartMs(20) + 10 * GRACE);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    expect(unexpected(street.alerts)).toEqual([]);
    expect(await street.mismatches()).toEqual([]);
    // The old policy's windows were stored after the new disclosure, each with the policy it was produced under.
    const serials = (await street.collector.db.summaries({ device: DEVICE, limit: 100 })).items.map((s) => s.policy?.serial);
    expect(serials).toEqual([1, 1, 1, 1, 1, 1, ...Array.from({ length: 14 }, () => 2)]);
    expect(await verificationOf(street.collector, windowStartMs(20))).toMatchObject({ state: "verified", header: "verified" });
  });

  it("an update whose first summary beats its disclosure to the collector", async () => {
    const street = await run([FIRST, SECOND], FIRST);
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    for (let w = 0; w < 6; w++) await street.deliver(w);
    street.node.run(SECOND);
    // Hours after the first disclosure: the rule cannot call it the node's past.
    await street.deliver(6, windowStartMs(7) + 2000);
    expect(street.alerts).toEqual([]);
    await street.disclose(SECOND, windowStartMs(7) + 30_000);
    street.at(windowStartMs(7) + 2 * GRACE);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    for (let w = 7; w < 10; w++) await street.deliver(w);
    expect(unexpected(street.alerts)).toEqual([]);
  });

  it("a node provisioned again on an earlier policy: what it sealed under the later one drains after", async () => {
    const street = await run([FIRST, SECOND], SECOND);
    await street.disclose(SECOND, windowStartMs(0) - 60_000);
    for (let w = 0; w < 4; w++) await street.deliver(w);
    const queued = street.node.summary(4);
    street.node.run(FIRST);
    await street.disclose(FIRST, windowStartMs(5) + 5000);
    street.at(windowStartMs(5) + 6000);
    expect(await street.collector.handle(queued.topic, queued.payload)).toMatchObject({ ok: true });
    for (let w = 5; w < 10; w++) await street.deliver(w);
    street.at(windowStartMs(10) + 2 * GRACE);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    expect(unexpected(street.alerts)).toEqual([]);
  });
});

describe("policy-mismatch is raised", () => {
  it("at once for a node that still seals under an older policy than its disclosure names, once", async () => {
    const street = await run([FIRST, SECOND], FIRST);
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    for (let w = 0; w < 4; w++) await street.deliver(w);
    await street.disclose(SECOND, windowStartMs(4)); // published, but the node goes on under serial 1
    // Windows begun, and health reports made, within the grace (15 minutes) of it: its past, perhaps.
    for (let w = 4; w < 7; w++) await street.deliver(w);
    expect(street.alerts).toEqual([]);
    for (let w = 7; w < 12; w++) await street.deliver(w);
    expect(street.alerts).toHaveLength(1);
    const [alert] = street.alerts;
    expect(alert).toMatchObject({ kind: "policy-mismatch", device: DEVICE });
    expect(alert!.detail).toContain(`health report of ${new Date(windowStartMs(8)).toISOString()} was produced under policy serial 1 (sha256 ${FIRST.sha256.slice(0, 16)}...)`);
    expect(alert!.detail).toContain(`verified disclosure of policy serial 2 (sha256 ${SECOND.sha256.slice(0, 16)}...)`);
    expect(alert!.action).toContain(`npm run cmd -- ${DEVICE} update-policy`);
    expect(await street.mismatches()).toEqual([alert]);
    expect(street.collector.stats.alerts["policy-mismatch"]).toBe(1);
    expect(await verificationOf(street.collector, windowStartMs(12))).toMatchObject({ state: "mismatch", header: "mismatch", body: { device: DEVICE, policy: { name: SECOND.name, serial: 2, sha256: SECOND.sha256 }, producedUnder: { serial: 1, sha256: FIRST.sha256 } } });
  });

  it("at once for another policy under the serial the disclosure names", async () => {
    const street = await run([FIRST, SECOND], FIRST);
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    await street.deliver(0);
    street.node.run(SECOND);
    await street.disclose(SECOND_OTHER, windowStartMs(1)); // the operator signed two policies as serial 2
    await street.deliver(1);
    expect(street.alerts.map((a) => a.kind)).toEqual(["policy-mismatch"]);
    expect(street.alerts[0]!.detail).toContain("two different policies under one serial");
    expect(street.alerts[0]!.action).toContain(`policies/${DEVICE}/2.cose`);
  });

  it("for a newer policy whose disclosure does not come within the grace (an older signed disclosure republished on the broker)", async () => {
    const street = await run([FIRST, SECOND, THIRD], SECOND);
    await street.disclose(SECOND, windowStartMs(0) - 60_000);
    for (let w = 0; w < 4; w++) await street.deliver(w);
    // Someone republishes the operator's disclosure of serial 1, an hour old and signed.
    await street.disclose(FIRST, windowStartMs(4) + 60_000);
    for (let w = 4; w < 7; w++) await street.deliver(w); // windows begun, reports made, before or within the grace of it
    expect(street.alerts).toEqual([]);
    expect(await street.collector.watchNow()).toEqual([]);
    await street.deliver(7); // its health report, made 19 minutes after: held, its disclosure may be on its way
    await street.deliver(8);
    expect(street.alerts).toEqual([]);
    street.at(windowStartMs(8) + GRACE - 60_000);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    street.at(windowStartMs(8) + GRACE + 60_000);
    const raised = unexpected(await street.collector.watchNow());
    expect(raised).toHaveLength(1);
    expect(raised[0]!.detail).toContain(`health report of ${new Date(windowStartMs(8)).toISOString()} was produced under policy serial 2 (sha256 ${SECOND.sha256.slice(0, 16)}...), newer than the policy serial 1`);
    expect(raised[0]!.detail).toContain("no disclosure of serial 2 arrived within 15 min");
    expect(raised[0]!.action).toContain("republish-disclosure");
    expect(unexpected(street.alerts)).toEqual(raised);
    expect(await street.mismatches()).toEqual(raised);
    for (let w = 9; w < 16; w++) await street.deliver(w);
    street.at(windowStartMs(16) + 2 * GRACE);
    expect(unexpected(await street.collector.watchNow())).toEqual([]);
    expect(unexpected(street.alerts)).toHaveLength(1);
    expect(await verificationOf(street.collector, windowStartMs(16))).toMatchObject({ state: "mismatch", header: "mismatch" });
    // The node's own disclosure back: its next summaries agree.
    await street.disclose(SECOND, windowStartMs(16) + 60_000);
    await street.deliver(16);
    expect(await verificationOf(street.collector, windowStartMs(17))).toMatchObject({ state: "verified" });
  });

  it("with a grace a collector chooses, and refuses one out of range, naming it", async () => {
    const street = await run([FIRST, SECOND], FIRST, { policyMismatchGraceMs: 60_000 });
    await street.disclose(FIRST, windowStartMs(0) - 60_000);
    await street.deliver(0);
    await street.disclose(SECOND, windowStartMs(1));
    // Window 1 began as the disclosure arrived; its health report, at its end 5 minutes later, is past a grace of a minute.
    await street.deliver(1);
    expect(street.alerts.map((a) => a.kind)).toEqual(["policy-mismatch"]);
    expect(street.alerts[0]!.detail).toContain(`health report of ${new Date(windowStartMs(2)).toISOString()} was produced under policy serial 1`);
    expect(street.alerts[0]!.detail).toContain("more than 60 s after");
    const db = await testCollectorDb();
    expect(() => new Collector({ brokerUrl: "mqtt://127.0.0.1:1", keyring: keyringOf(DEVICE), db, policyMismatchGraceMs: 0 })).toThrow(/policyMismatchGraceMs must be an integer from 1000 to 86400000, not 0/);
  });
});
