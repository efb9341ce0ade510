/**
 * A power cut at every write the node makes, on ESP32 NVS as Moddable's Preference sees it (one
 * erase or blob write at a time; the store's journal makes a commit atomic): the counter, the key
 * chain, the privacy budget, the audit log, the outbox's records and the window mark all survive
 * it. For each NVS operation of a scenario (a broker outage, a key epoch ending at midnight, a day's
 * budget starting) the power fails there, the node boots again from what NVS holds, and then:
 * it boots; no (key, nonce) pair was ever sealed twice; no window was sealed twice; every summary
 * it had stored before the cut reaches the broker; and every record reads back intact.
 */
import { describe, expect, it } from "vitest";
import { CivicNode } from "../../src/node.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import type { Platform } from "../../src/platform.js";
import { decodeBudgetRecord, BUDGET_STORE_KEY } from "../../src/privacy/privacy-budget.js";
import { AUDIT_STORE_KEY, AuditLog } from "../../src/policy/audit-log.js";
import { decodeQueueRecord, QUEUE_KEY_PREFIX, sequenceOfKey } from "../../src/uplink/queue-record.js";
import { decodeWindowMark, WINDOW_MARK_KEY } from "../../src/aggregate/window-mark.js";
import { parseEncrypt0 } from "../../src/wire/cose-encrypt0.js";
import { decodeKid } from "../../src/wire/kid.js";
import { provisioningWrites } from "../../src/wire/key-ratchet.js";
import { decodeCounterRecord, SEAL_COUNTER_KEY } from "../../src/wire/seal-counter.js";
import { PreferenceStore } from "../../hosts/moddable/preference-store.js";
import { EmulatedNvs } from "../../hosts/sim/emulated-nvs.js";
import { LoopbackTransport } from "../../hosts/sim/loopback-transport.js";
import { SeededRandom } from "../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../hosts/sim/reference-board.js";
import { SimClock } from "../../hosts/sim/sim-clock.js";
import { streetNodeConfig } from "../../hosts/sim/street.js";
import { Keyring } from "../../hosts/collector/keyring.js";
import { MessageOpener } from "../../hosts/collector/message-opener.js";

const DEVICE = "street-07";
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 0x90 ^ i);
/** 23:40 UTC: the scenario crosses midnight, where the key epoch and the budget's day both turn. */
const START = Date.UTC(2026, 10, 30, 23, 40, 0);
const MINUTE = 60_000;

/** A small node (climate, and the loop detector's noisy vehicle count) that writes often: a counter block of 4. */
function config() {
  const raw = streetNodeConfig(DEVICE) as { sensors: Array<{ id: string }>; uplink: Record<string, unknown> };
  raw.sensors = raw.sensors.filter((sensor) => sensor.id === "climate" || sensor.id === "loop");
  raw.uplink = { ...raw.uplink, counterBlock: 4, outboxCapacity: 32, outboxBytes: 16384 };
  return parseNodeConfig(raw);
}

interface Run {
  readonly published: Uint8Array[];
  readonly cut: boolean;
}

/** Runs the node on `nvs` from `startMs` for `minutes`, offline for the first `offlineMinutes`; stops at a power cut. */
function run(nvs: EmulatedNvs, startMs: number, minutes: number, offlineMinutes: number): Run {
  const clock = new SimClock({ startWallMs: startMs });
  const transport = new LoopbackTransport(offlineMinutes === 0);
  const outcome = () => ({ published: transport.published.map((message) => message.payload), cut: !nvs.powered });
  // Whatever throws once the power is gone is the cut (a board would simply stop there).
  const poweredOrCut = (work: () => void): boolean => {
    try {
      work();
      return true;
    } catch (error) {
      if (nvs.powered) throw error;
      return false;
    }
  };
  const { board } = simulatedReferenceBoard(DEVICE, "demo-street", clock, clock);
  let node: CivicNode | undefined;
  const booted = poweredOrCut(() => {
    const platform: Platform = {
      clock,
      timers: clock,
      random: new SeededRandom(`${DEVICE}/${startMs}`),
      store: new PreferenceStore(nvs.preference, "civicnode"),
      transport,
      buses: board,
      log: () => {},
    };
    node = new CivicNode(platform, config());
    node.start();
  });
  if (!booted) return outcome();
  for (let minute = 0; minute < minutes && nvs.powered; minute++) {
    if (minute === offlineMinutes && offlineMinutes > 0) transport.setConnected(true);
    if (!poweredOrCut(() => clock.advanceBy(MINUTE))) break;
  }
  // A board without power does nothing more; what reached the broker before the cut did.
  return outcome();
}

function provisioned(): EmulatedNvs {
  const nvs = new EmulatedNvs();
  new PreferenceStore(nvs.preference, "civicnode").commit(provisioningWrites(ROOT, DEVICE));
  return nvs;
}

describe("a power cut at every NVS operation of the node", () => {
  it("never makes a (key, nonce) pair or a window repeat, never loses a stored summary, never leaves a record unreadable", () => {
    const reference = provisioned();
    const before = reference.operations;
    const first = run(reference, START, 40, 25);
    expect(first.cut).toBe(false);
    const operations = reference.operations - before;
    expect(operations).toBeGreaterThan(100);

    const keyring = new Keyring();
    keyring.add(DEVICE, "demo-street", ROOT);
    for (let cut = 0; cut < operations; cut++) {
      const nvs = provisioned();
      nvs.cutPowerAt(nvs.operations + cut);
      const before = run(nvs, START, 40, 25);
      expect(before.cut, `cut ${cut}`).toBe(true);
      // What NVS holds at the cut: the summaries queued there must reach the broker after the reboot.
      nvs.powerOn();
      const store = new PreferenceStore(nvs.preference, "civicnode");
      const queued = store
        .keys(QUEUE_KEY_PREFIX)
        .map((key) => decodeQueueRecord(store.get(key)!, sequenceOfKey(key)!))
        .filter((record) => record !== undefined);
      expect(queued.length, `cut ${cut}: a queue record no longer reads back`).toBe(store.keys(QUEUE_KEY_PREFIX).length);
      for (const [key, decode] of [
        [SEAL_COUNTER_KEY, decodeCounterRecord],
        [BUDGET_STORE_KEY, decodeBudgetRecord],
        [WINDOW_MARK_KEY, decodeWindowMark],
      ] as const) {
        const bytes = store.get(key);
        if (bytes !== undefined) expect(decode(bytes), `cut ${cut}: ${key} unreadable`).not.toBeUndefined();
      }
      if (store.get(AUDIT_STORE_KEY) !== undefined) {
        const audit = new AuditLog(store);
        audit.load();
        expect(audit.resetReason, `cut ${cut}: the audit log unreadable`).toBeUndefined();
      }

      const after = run(nvs, START + 41 * MINUTE, 30, 0);
      expect(after.cut, `cut ${cut}`).toBe(false);

      // No (epoch, counter) under two different messages, in anything published or queued.
      const sealed = new Map<string, string>();
      for (const bytes of [...before.published, ...after.published, ...queued.map((record) => record!.payload)]) {
        let envelope;
        try {
          envelope = parseEncrypt0(bytes);
        } catch {
          continue; // the disclosure is not sealed
        }
        const key = `${decodeKid(envelope.kid)!.epoch}/${envelope.counter}`;
        const hex = Buffer.from(bytes).toString("hex");
        expect(sealed.get(key) ?? hex, `cut ${cut}: nonce ${key} sealed twice`).toBe(hex);
        sealed.set(key, hex);
      }
      // Each window once, and every summary queued at the cut delivered after it.
      const opener = new MessageOpener(keyring);
      const windows = new Map<number, string>();
      for (const bytes of [...before.published, ...after.published]) {
        const result = opener.open(`civicnode/demo-street/${DEVICE}/summary`, bytes);
        if (!result.ok || result.kind !== "summary") continue;
        const { windowStart, counter, epoch } = result.summary;
        const id = `${epoch}/${counter}`;
        expect(windows.get(windowStart) ?? id, `cut ${cut}: window ${windowStart} sealed twice`).toBe(id);
        windows.set(windowStart, id);
      }
      const deliveredEnds = new Set([...windows.keys()].map((start) => start + 300));
      for (const record of queued) if (record!.kind === "summary") expect(deliveredEnds.has(record!.timeS), `cut ${cut}: queued window ending ${record!.timeS} lost`).toBe(true);
    }
  });
});
