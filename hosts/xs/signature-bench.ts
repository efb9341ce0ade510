/**
 * The signature part of `npm run bench` (bench.ts): what the node's Ed25519 checks cost in the XS
 * engine, at boot (the signed policy, src/policy/signed-policy.ts) and on a policy update (the
 * two-key rule, src/policy/policy-update.ts), read from XS's meter like the rest of the bench.
 *
 * The bundle (worker/signature-bench-entry.ts) holds these modules alone, built with class static
 * fields lowered: this XS cannot initialise @noble/curves' Point class otherwise, and lowering them
 * for the street node's bundle made the whole XS street twice as slow, so that one has no Ed25519.
 *
 * The keys are fixed (not drawn), so that the signatures, and so the figures, are the same on every
 * run: Ed25519's cost depends a little on the scalars. They are sealed as the city's tools seal
 * theirs and used through the same classes, in a temporary folder removed afterwards.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesToHex } from "@noble/hashes/utils.js";
import { nodeConfigFromSignedPolicy } from "../../src/policy/node-from-policy.js";
import { parseNodeConfig } from "../../src/policy/node-config.js";
import { applyPolicyUpdate } from "../../src/policy/policy-update.js";
import { provisionedPolicy } from "../../src/policy/signed-policy.js";
import REFERENCE_STREET_POLICY from "../../src/policy/reference-street.policy.json" with { type: "json" };
import { OPERATOR_KEY_FILE, OperatorKey } from "../collector/operator-key.js";
import { OVERSIGHT_KEY_FILE, OversightKey } from "../collector/oversight-key.js";
import { PASSPHRASE_ENV, PassphraseSource } from "../collector/passphrase-source.js";
import { issuePolicyUpdate } from "../collector/policy-update-issuer.js";
import { writeSecretFile } from "../collector/secret-file.js";
import { installSignedPolicy } from "../node/street-policy.js";
import { MemoryStore } from "../sim/memory-store.js";
import { streetBoard, streetPosition } from "../sim/street.js";
import { decodeBridge, encodeBridge, type BridgeValue } from "./bridge-codec.js";
import { bundleForXs } from "./bundle.js";
import { XsnapWorker, type XsMeter } from "./xsnap-worker.js";

const IDENTITY = { device: "street-01", zone: "demo-street" };
/** Fixed signing keys (Ed25519 secret keys), for figures that repeat. */
const OPERATOR_SECRET_HEX = "b1".repeat(32);
const OVERSIGHT_SECRET_HEX = "c2".repeat(32);
/** Unix seconds of the provisioning and of the update (any fixed values). */
const PROVISIONED_S = 1_773_014_400;
const UPDATED_S = PROVISIONED_S + 86_400;

/**
 * Free objects' worth of slots the engine is given before measuring (32 MB on this host): more
 * than any step takes, so that no collection runs during a step for want of slots (the slots a
 * step took are then the heap count after it minus the live slots before it).
 */
const RESERVE_OBJECTS = 1_000_000;
/** The chunk heap's free room is counted in ArrayBuffers of this size. */
const FILL_BYTES = 1024;

export interface SignatureStep {
  readonly step: string;
  /** Ed25519 verifications the step makes. */
  readonly verifications: number;
  readonly computrons: number;
  readonly slotsAllocated: number;
  readonly liveSlotsKept: number;
  /** Host wall time of the crank, context only. */
  readonly ms: number;
}

/** The steps and what the first verification keeps, with the base point's table or without it. */
export interface SignatureRun {
  readonly steps: readonly SignatureStep[];
  /** Chunk-heap bytes the first verification keeps (BigInt digits, byte arrays), to within FILL_BYTES. */
  readonly chunkBytesKept: number;
}

export interface SignatureBench {
  /** As @noble/curves does by default: a W=6 table of the base point, built at the first use. */
  readonly withTable: SignatureRun;
  /** As the firmware runs it: `Point.BASE.precompute(1)` before any verification. */
  readonly withoutTable: SignatureRun;
  /** The engine's allocated space (slot and chunk heaps), bytes, in an engine not grown beforehand. */
  readonly allocated: { readonly loaded: number; readonly afterFirstVerification: number };
  readonly signedPolicyBytes: number;
  readonly noopComputrons: number;
}

interface Reply<T> {
  readonly result: T;
  readonly meter: XsMeter;
  readonly ms: number;
}

class SignatureWorker {
  readonly #worker = new XsnapWorker({ name: "civicnode-bench-signatures" });
  #noopComputrons = 0;

  /** Loads the bundle and the node's store; with `reserve`, grows the heap for measuring; with `table: false`, as the firmware, no base point table. */
  async load(node: ProvisionedNode, options: { reserve: boolean; table: boolean }): Promise<void> {
    await this.#worker.evaluate(bundleForXs("signature-bench").code);
    await this.store(node);
    if (!options.table) await this.run("no-table");
    if (options.reserve) await this.run("reserve", RESERVE_OBJECTS);
    await this.gc();
    this.#noopComputrons = (await this.run("noop")).meter.compute;
  }

  get noopComputrons(): number {
    return this.#noopComputrons;
  }

  /** A fresh store as provisioned, and the node's boot configuration. */
  async store(node: ProvisionedNode): Promise<void> {
    await this.run("store", node.entries, node.configJson);
  }

  async run<T>(...message: BridgeValue[]): Promise<Reply<T>> {
    const start = performance.now();
    const { reply, meter } = await this.#worker.command(encodeBridge(message));
    const ms = performance.now() - start;
    const [status, json] = decodeBridge(reply);
    if (status !== "ok") throw new Error(`the signature bench's worker replied ${String(status)}`);
    return { result: JSON.parse(String(json)) as T, meter, ms };
  }

  /** A command that only collects garbage: its heap count is the live slots. */
  async gc(): Promise<XsMeter> {
    return (await this.run("gc")).meter;
  }

  /** The command minus an empty one; slots taken and kept against the live slots before it. */
  async measure<T>(step: string, verifications: number, ...message: BridgeValue[]): Promise<{ result: T; measured: SignatureStep }> {
    await this.gc();
    const live = (await this.gc()).currentHeapCount;
    const crank = await this.run<T>(...message);
    const liveAfter = (await this.gc()).currentHeapCount;
    const slotsAllocated = crank.meter.currentHeapCount - live;
    if (slotsAllocated >= RESERVE_OBJECTS) throw new Error(`${step} took ${slotsAllocated} slots, more than the bench reserves: raise RESERVE_OBJECTS`);
    return {
      result: crank.result,
      measured: { step, verifications, computrons: crank.meter.compute - this.#noopComputrons, slotsAllocated, liveSlotsKept: liveAfter - live, ms: crank.ms },
    };
  }

  /**
   * The room free in the chunk heap after a collection, in FILL_BYTES: ArrayBuffers held one by
   * one until the engine grows its heap. Leaves the engine full: the last thing asked of it.
   */
  async freeChunkBytes(): Promise<number> {
    const start = (await this.gc()).allocate;
    for (let held = 0; ; held++) {
      if ((await this.run("fill", FILL_BYTES)).meter.allocate !== start) return held * FILL_BYTES;
    }
  }

  close(): Promise<void> {
    return this.#worker.close();
  }
}

export async function measureSignatures(): Promise<SignatureBench> {
  const node = provisionedNode();
  const withTable = await measureRun(node, true);
  const withoutTable = await measureRun(node, false);
  const plain = await chunkRoom(node, { verified: false, table: true });
  return {
    withTable: withTable.run,
    withoutTable: withoutTable.run,
    allocated: { loaded: plain.loaded, afterFirstVerification: withTable.allocatedAfterVerification },
    signedPolicyBytes: node.signedPolicyBytes,
    noopComputrons: withTable.noopComputrons,
  };
}

async function measureRun(node: ProvisionedNode, table: boolean): Promise<{ run: SignatureRun; noopComputrons: number; allocatedAfterVerification: number }> {
  const steps: SignatureStep[] = [];
  const boot = ["boot", JSON.stringify(IDENTITY)] as const;
  const worker = new SignatureWorker();
  let noopComputrons: number;
  try {
    await worker.load(node, { reserve: true, table });
    noopComputrons = worker.noopComputrons;
    steps.push((await worker.measure(`first verification of the signed policy${table ? " (builds the table)" : ""}`, 1, "verify")).measured);
    steps.push((await worker.measure("a second verification of the signed policy", 1, "verify")).measured);
    steps.push((await worker.measure("boot: `provisionedPolicy` (verify and parse), after a verification", 1, ...boot)).measured);
    for (const twoKeys of [false, true]) {
      await worker.store(node);
      const step = `policy update, ${twoKeys ? "two keys (a weakening, countersigned)" : "one key (a strengthening)"}: \`applyPolicyUpdate\``;
      const { result, measured } = await worker.measure<{ accepted: boolean; twoKeys?: boolean }>(step, twoKeys ? 4 : 3, "apply", twoKeys ? node.twoKeyUpdate : node.oneKeyUpdate);
      if (!result.accepted || result.twoKeys !== twoKeys) throw new Error(`${step}: XS did not take the update as Node does (${JSON.stringify(result)})`);
      steps.push(measured);
    }
  } finally {
    await worker.close();
  }

  // The boot as the device makes it: the first verification its engine makes.
  const fresh = new SignatureWorker();
  try {
    await fresh.load(node, { reserve: true, table });
    steps.splice(3, 0, (await fresh.measure("boot at power-on: `provisionedPolicy` in a fresh engine", 1, ...boot)).measured);
  } finally {
    await fresh.close();
  }

  // What the first verification keeps in the chunk heap: the room free there in an engine that
  // has verified once, against one that has not.
  const without = await chunkRoom(node, { verified: false, table });
  const verified = await chunkRoom(node, { verified: true, table });
  return { run: { steps, chunkBytesKept: without.free - verified.free }, noopComputrons, allocatedAfterVerification: verified.after };
}

/** An engine not grown for measuring: its allocated space loaded and after an optional verification, and the room then free in its chunk heap. */
async function chunkRoom(node: ProvisionedNode, options: { verified: boolean; table: boolean }): Promise<{ loaded: number; after: number; free: number }> {
  const plain = new SignatureWorker();
  try {
    await plain.load(node, { reserve: false, table: options.table });
    const loaded = (await plain.gc()).allocate;
    if (options.verified) await plain.run("verify");
    const after = (await plain.gc()).allocate;
    return { loaded, after, free: await plain.freeChunkBytes() };
  } finally {
    await plain.close();
  }
}

interface ProvisionedNode {
  /** The store as provisioned: JSON { key: hex }. */
  readonly entries: string;
  /** The node's boot configuration, JSON. */
  readonly configJson: string;
  readonly oneKeyUpdate: Uint8Array;
  readonly twoKeyUpdate: Uint8Array;
  readonly signedPolicyBytes: number;
}

/**
 * The reference node provisioned with the reference street's policy, the operator's key and the
 * oversight key, and two updates of it: one key (people counted with k = 4 instead of 3, a
 * strengthening) and two keys (k = 2, a weakening the oversight key countersigns). Each is checked
 * on Node first, so the bench measures updates the node takes.
 */
function provisionedNode(): ProvisionedNode {
  const dir = mkdtempSync(join(tmpdir(), "civicnode-bench-keys-"));
  try {
    const operator = OperatorKey.loadOrCreate(dir, sealedKey(dir, OPERATOR_KEY_FILE, "operator", OPERATOR_SECRET_HEX)).key;
    const boardDir = join(dir, "board");
    const oversight = OversightKey.loadOrCreate(boardDir, sealedKey(boardDir, OVERSIGHT_KEY_FILE, "oversight", OVERSIGHT_SECRET_HEX)).key;

    const store = new MemoryStore();
    const installed = installSignedPolicy(store, IDENTITY, streetPosition(IDENTITY.device), REFERENCE_STREET_POLICY, streetBoard(), operator, PROVISIONED_S, oversight.publicKey);
    if (installed.outcome === "unverifiable") throw new Error(installed.why);
    const running = provisionedPolicy(store, IDENTITY);
    const configJson = JSON.stringify(nodeConfigFromSignedPolicy(running, streetBoard()));
    const updateTo = (k: number, countersigned: boolean) =>
      issuePolicyUpdate({ running, policy: withPeopleK(k), board: streetBoard(), operator, ...(countersigned ? { oversight } : {}), nowSeconds: UPDATED_S }).update;
    const oneKeyUpdate = updateTo(4, false);
    const twoKeyUpdate = updateTo(2, true);
    for (const [update, twoKeys] of [
      [oneKeyUpdate, false],
      [twoKeyUpdate, true],
    ] as const) {
      const copy = new MemoryStore();
      copy.commit(store.keys("").map((key) => ({ key, value: store.get(key)! })));
      const verdict = applyPolicyUpdate(update, copy, parseNodeConfig(JSON.parse(configJson)));
      if (!verdict.accepted || verdict.twoKeys !== twoKeys) throw new Error(`the bench's ${twoKeys ? "two" : "one"}-key update is not taken on Node: ${JSON.stringify(verdict)}`);
    }
    operator.wipe();
    oversight.wipe();
    const entries = JSON.stringify(Object.fromEntries(store.keys("").map((key) => [key, bytesToHex(store.get(key)!)])));
    return { entries, configJson, oneKeyUpdate, twoKeyUpdate, signedPolicyBytes: running.signed.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Seals the secret key `secretHex` into `folder` as the key's class keeps it; the passphrases that open it. */
function sealedKey(folder: string, file: string, name: string, secretHex: string): PassphraseSource {
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const passphrases = new PassphraseSource(folder, { env: { [PASSPHRASE_ENV]: "civicnode bench: fixed keys, no secret" }, notify: () => {} });
  const path = join(folder, file);
  writeSecretFile(path, { format: `civicnode-${name}-key`, version: 1, secretKey: secretHex }, passphrases.forFirstSeal(path).bytes);
  return passphrases;
}

/** The reference street's policy with the people count's k set to `k`. */
function withPeopleK(k: number): unknown {
  const policy = structuredClone(REFERENCE_STREET_POLICY) as { channels: Array<{ name: string; privacy?: { k: number } }> };
  const people = policy.channels.find((c) => c.name === "people");
  if (people?.privacy === undefined) throw new Error("the reference policy has no people count with a k");
  people.privacy.k = k;
  return policy;
}

/** BENCHMARKS.md's section on signatures. */
export function renderSignatureSection(r: SignatureBench, format: { n: (value: number, digits?: number) => string }): string[] {
  const { n } = format;
  const step = (run: SignatureRun, prefix: string) => run.steps.find((s) => s.step.startsWith(prefix))!;
  const kib = (bytes: number) => n(bytes / 1024);
  const table = (run: SignatureRun) => [
    "| step | Ed25519 verifications | computrons | slots allocated | live slots kept (bytes on the ESP32) | host wall time, ms |",
    "|---|---|---|---|---|---|",
    ...run.steps.map(
      (s) => `| ${s.step} | ${s.verifications} | ${n(s.computrons)} | ${n(s.slotsAllocated)} | ${n(s.liveSlotsKept)} (${n(s.liveSlotsKept * ESP32_SLOT_BYTES)}) | ${n(s.ms, 1)} |`,
    ),
  ];
  const kept = (run: SignatureRun) => {
    const slots = step(run, "first verification").liveSlotsKept;
    return { slots, chunks: run.chunkBytesKept, bytes: slots * ESP32_SLOT_BYTES + run.chunkBytesKept };
  };
  const withTable = kept(r.withTable);
  const withoutTable = kept(r.withoutTable);
  const warm = step(r.withTable, "a second verification").computrons;
  const tableless = step(r.withoutTable, "a second verification").computrons;
  const powerOnWith = step(r.withTable, "boot at power-on");
  const powerOnWithout = step(r.withoutTable, "boot at power-on");
  return [
    "## Signatures (boot and update-policy)",
    "",
    `The node verifies its signed policy (Ed25519 over a COSE_Sign1 of ${n(r.signedPolicyBytes)} bytes, the reference street's) at every boot, and a policy update's signatures before it takes it: the policy in its store, the new one, its disclosure, and the oversight key's countersignature when there is one. Measured in the same engine on a bundle of these modules alone (\`hosts/xs/worker/signature-bench-entry.ts\`, driven by \`hosts/xs/signature-bench.ts\`), **built with class static fields lowered**: this XS cannot initialise @noble/curves' \`Point\` class otherwise (the street node's bundle has no Ed25519). Moddable's XS on the ESP32 runs @noble/curves unmodified, so the figures there may be a little lower.`,
    "",
    "### As the firmware runs it: no table of the base point",
    "",
    "`hosts/moddable/firmware.ts` calls `ed25519.Point.BASE.precompute(1)` before any verification.",
    "",
    ...table(r.withoutTable),
    "",
    "### With @noble/curves' default: a W=6 table of the base point, built at its first use",
    "",
    ...table(r.withTable),
    "",
    `- **Memory: with the table, the first verification keeps ${n(withTable.slots)} live slots (${n(withTable.slots * ESP32_SLOT_BYTES)} bytes at the ESP32's 16 bytes a slot) and ${n(withTable.chunks)} bytes of chunks, about ${kib(withTable.bytes)} KiB in all for the engine's life, where an ESP32 has about 300 KB of heap for everything the node does.** It is @noble/curves' W=6 table of the base point (\`Point.BASE.precompute(6)\`: 44 windows of 32 points, 1,408 points): the points are slots, their coordinates' BigInt digits chunks. Without the table, the first verification keeps ${n(withoutTable.slots)} slots and ${n(withoutTable.chunks)} bytes of chunks.`,
    `- **Time: without the table a verification costs ${n(tableless)} computrons, ${n((100 * (tableless - warm)) / warm)}% more than one with the table built (${n(warm)}); the boot at power-on costs ${n(powerOnWithout.computrons)} without it, against ${n(powerOnWith.computrons)} with it, which builds the table first.**`,
    `- Chunks are counted as the room free in the chunk heap, by filling it with ${FILL_BYTES}-byte ArrayBuffers until the engine grows it, in an engine that has verified once against one that has not (xsnap reports no chunk figures); sizes are this host's, and on the 32-bit ESP32 each chunk's header is 8 bytes smaller. The engine's allocated space (its slot and chunk heaps; xsnap-worker starts with 256 Ki slots and 32 MiB of chunks), in an engine not grown for measuring: ${n(r.allocated.loaded)} bytes with the bundle loaded, ${n(r.allocated.afterFirstVerification)} after a first verification with the table${r.allocated.afterFirstVerification === r.allocated.loaded ? " (it fits in what xsnap-worker reserves from the start, so this figure does not show it)" : ""}.`,
    "- A policy update checks the policy in its store too (`provisionedPolicy`), then the new policy, its disclosure and, with two keys, the countersignature. Its figures include the store's commit, here into the simulator's store in RAM (NVS flash on the device): what it keeps is the new policy in place of the old.",
    `- An ESP32 must boot in seconds. On this host the boot at power-on, as the firmware runs it, took ${n(powerOnWithout.ms, 1)} ms of wall time in xsnap-worker (${n(powerOnWith.ms, 1)} ms with the table): context only, this machine's CPU and not the ESP32's; no device timing is claimed here.`,
    `- Computrons are the command's minus an empty command's (${n(r.noopComputrons)}). "Slots allocated" are all the slots the step took, garbage or not: the heap count after it minus the live slots before it, in an engine given ${n(RESERVE_OBJECTS)} free slots beforehand, so that it did not collect during the step.`,
    "",
  ];
}

/** sizeof(txSlot) on the 32-bit ESP32. */
const ESP32_SLOT_BYTES = 16;
