/**
 * A node for the public page's tests, end to end through the real collector: the operator's signed
 * policies of one device (policy-street.ts), the disclosure the node builds for each of them (the
 * node's own disclosureFor over the reference board), signed by the operator, and a node that seals
 * its summaries and health reports bound to the policy it runs, its health reports carrying the
 * entries of a real audit log (AuditLog, HealthReport) as a node's do. The collector verifies,
 * opens and stores them in a real database (SQLite, or PostgreSQL in the storage tests), on its
 * own clock.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Collector } from "../../../../hosts/collector/collector.js";
import type { CollectorDb } from "../../../../hosts/collector/db/collector-db.js";
import { PolicyRegistry, recordSignedPolicy } from "../../../../hosts/collector/policy-registry.js";
import { streetBoard } from "../../../../hosts/sim/street-board.js";
import { MemoryStore } from "../../../../hosts/sim/memory-store.js";
import { AuditLog } from "../../../../src/policy/audit-log.js";
import { disclosureFor } from "../../../../src/policy/disclosure.js";
import { parseNodeConfig } from "../../../../src/policy/node-config.js";
import { nodeConfigFromSignedPolicy } from "../../../../src/policy/node-from-policy.js";
import { openSignedPolicy } from "../../../../src/policy/signed-policy.js";
import { HealthReport } from "../../../../src/uplink/health-report.js";
import type { Outbox } from "../../../../src/uplink/outbox.js";
import { CborWriter } from "../../../../src/wire/cbor-writer.js";
import { ed25519PublicKey, signSign1 } from "../../../../src/wire/cose-sign1.js";
import { provisioningWrites } from "../../../../src/wire/key-ratchet.js";
import { messageAad } from "../../../../src/wire/message-aad.js";
import { writeSenmlPack, type SenmlRecordOut } from "../../../../src/wire/senml.js";
import { UplinkSealer } from "../../../../src/wire/uplink-sealer.js";
import { utf8Encode } from "../../../../src/wire/utf8.js";
import { OPERATOR, windowStartMs, type TestPolicy } from "../policy-street.js";
import { keyringOf, rootKeyOf, WINDOW_S, ZONE } from "../sealed-messages.js";

export { OPERATOR, signedPolicy, windowStartMs, type TestPolicy } from "../policy-street.js";
export { WINDOW_S, ZONE };

export type DisclosureDocument = Record<string, unknown> & { dataTypes: Array<Record<string, unknown>> };

/** The disclosure a node running `policy` publishes (the node's own code), as a document to read or alter. */
export function disclosureDocument(device: string, policy: TestPolicy): DisclosureDocument {
  const signed = openSignedPolicy(policy.signed, ed25519PublicKey(OPERATOR), { device, zone: ZONE });
  return disclosureFor(parseNodeConfig(nodeConfigFromSignedPolicy(signed, streetBoard()))) as DisclosureDocument;
}

/** `document` on the node's disclosure topic, signed by the operator (or by `key`). */
export function signedDocument(device: string, document: Record<string, unknown>, key: Uint8Array = OPERATOR): { topic: string; payload: Uint8Array } {
  return { topic: `civicnode/${ZONE}/${device}/disclosure`, payload: signSign1(utf8Encode(JSON.stringify(document)), key, utf8Encode("op")) };
}

/** The queue figures of a health report, for a node whose outbox is empty (the page never shows them). */
const EMPTY_OUTBOX = { depth: 0, storedBytes: 0, ramOnly: 0, stats: { queued: 0, delivered: 0, retried: 0, dropped: 0, droppedCorrupt: 0, storeErrors: 0 } } as unknown as Outbox;

/** A node that seals under the policy it runs and keeps a real audit log, whose entries its health reports carry. */
export class PublicNode {
  readonly device: string;
  readonly #store = new MemoryStore();
  #audit: AuditLog;
  readonly #sealer: UplinkSealer;
  readonly #health = new HealthReport([]);
  #policy: TestPolicy;

  constructor(device: string, policy: TestPolicy) {
    this.device = device;
    this.#policy = policy;
    this.#store.commit(provisioningWrites(rootKeyOf(device), device));
    this.#sealer = new UplinkSealer(this.#store, device, { counterBlock: 16, maxMessageBytes: 3072 });
    this.#sealer.boot();
    this.#audit = new AuditLog(this.#store);
    this.#audit.load(windowStartMs(0) / 1000);
  }

  get audit(): AuditLog {
    return this.#audit;
  }

  /**
   * The audit log read again from the node's flash, which holds no report mark (this node's health
   * reports never reach its outbox, whose commit writes it): its next report carries the entries
   * again, as a node's does after losing its mark.
   */
  reloadAudit(): void {
    this.#audit = new AuditLog(this.#store);
    this.#audit.load();
  }

  /** Runs `policy` from now on (a restart on an update, or provisioning again). */
  run(policy: TestPolicy): void {
    this.#policy = policy;
  }

  /** The summary of window `window`: a noise level, and a count of people (suppressed in odd windows). */
  summary(window: number): { topic: string; payload: Uint8Array } {
    const records: SenmlRecordOut[] = [
      { name: "window", unit: "s", value: WINDOW_S },
      { name: "noise/leq", unit: "dB", value: 50 + (window % 7) },
      window % 2 === 0 ? { name: "people/sum", value: 4 + window } : { name: "people/sum", status: "suppressed" },
    ];
    return this.#seal("summary", windowStartMs(window) / 1000, records, window);
  }

  /** The health report at the end of window `window`, carrying the audit entries no report carried yet. */
  health(window: number): { topic: string; payload: Uint8Array } {
    const time = windowStartMs(window + 1) / 1000;
    const audit = this.audit.takeReport(time);
    const records = this.#health.records((window + 1) * WINDOW_S, EMPTY_OUTBOX, { sealFailures: 0 }, [], { epoch: 0, commands: {}, audit, baseTimeS: time });
    const sealed = this.#seal("health", time, records, window);
    this.audit.reported(audit);
    return sealed;
  }

  #seal(kind: "summary" | "health", baseTimeS: number, records: SenmlRecordOut[], window: number): { topic: string; payload: Uint8Array } {
    const topic = `civicnode/${ZONE}/${this.device}/${kind}`;
    const writer = new CborWriter(3072);
    writeSenmlPack(writer, `${this.device}/`, baseTimeS, records);
    return { topic, payload: this.#sealer.seal(writer.written(), messageAad(topic, this.#policy.hash), windowStartMs(window + 1)) };
  }
}

export interface PublicStreet {
  readonly collector: Collector;
  readonly node: PublicNode;
  /** The collector's clock (Unix ms). */
  now(): number;
  /** The summary and health report of window `w`, received 2 s after the window ended; throws unless both are stored. */
  deliver(w: number): Promise<void>;
  /** `document` published on the node's disclosure topic at `atMs`, signed by the operator (or `key`). */
  disclose(document: Record<string, unknown>, atMs: number, key?: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** A real collector on `db` whose operator's record holds `recorded`, and its node `device` running `runs`. */
export async function publicStreet(db: CollectorDb, device: string, recorded: readonly TestPolicy[], runs: TestPolicy, options: { readonly operatorKey?: boolean } = {}): Promise<PublicStreet> {
  const state = mkdtempSync(join(tmpdir(), "civicnode-public-street-"));
  for (const policy of recorded) recordSignedPolicy(state, device, policy.serial, policy.signed);
  const keyring = keyringOf(device);
  const operatorKey = options.operatorKey === false ? undefined : ed25519PublicKey(OPERATOR);
  let nowMs = windowStartMs(0);
  const collector = new Collector({
    brokerUrl: "mqtt://127.0.0.1:1",
    keyring,
    db,
    ...(operatorKey ? { operatorKey, policies: new PolicyRegistry(state, operatorKey, (d) => keyring.get(d)?.zone) } : {}),
    now: () => nowMs,
    watchEveryMs: 0,
  });
  await collector.prepare();
  const node = new PublicNode(device, runs);
  const stored = async (message: { topic: string; payload: Uint8Array }) => {
    const result = await collector.handle(message.topic, message.payload);
    if (!result.ok) throw new Error(`the collector did not store a test message: ${JSON.stringify(result)}`);
  };
  return {
    collector,
    node,
    now: () => nowMs,
    async deliver(w) {
      nowMs = Math.max(windowStartMs(w + 1) + 2000, nowMs + 1000);
      await stored(node.summary(w));
      await stored(node.health(w));
    },
    async disclose(document, atMs, key) {
      nowMs = Math.max(atMs, nowMs + 1000);
      const { topic, payload } = signedDocument(device, document, key ?? OPERATOR);
      await collector.handle(topic, payload); // a disclosure is the disclosure store's, not a stored message
    },
    async close() {
      await collector.stop();
      rmSync(state, { recursive: true, force: true });
    },
  };
}
