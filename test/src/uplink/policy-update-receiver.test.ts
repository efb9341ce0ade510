/**
 * update-policy through the node's downlink: policy-chunk commands sealed as the commander seals
 * them, delivered to a real CivicNode, reassembled, checked, stored and audited once per update.
 */
import { afterAll, describe, expect, it } from "vitest";
import { CivicNode } from "../../../src/node.js";
import type { Platform } from "../../../src/platform.js";
import { applyPolicyUpdate } from "../../../src/policy/policy-update.js";
import { provisionedPolicy } from "../../../src/policy/signed-policy.js";
import { MAX_COMMAND_BYTES, sealCommand } from "../../../src/uplink/downlink-command.js";
import { POLICY_CHUNK_BYTES, POLICY_UPDATE_MAX_CHUNKS, policyChunkArgs, policyChunks, type PolicyChunk } from "../../../src/uplink/policy-chunks.js";
import { POLICY_UPDATE_TIMEOUT_MS } from "../../../src/uplink/policy-update-receiver.js";
import { POLICY_UPDATE_MAX_BYTES } from "../../../src/policy/policy-update-bundle.js";
import { provisioningWrites } from "../../../src/wire/key-ratchet.js";
import { downlinkKeysFromRoot } from "../../../src/wire/key-schedule.js";
import { LoopbackTransport } from "../../../hosts/sim/loopback-transport.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { SeededRandom } from "../../../hosts/sim/prng.js";
import { simulatedReferenceBoard } from "../../../hosts/sim/reference-board.js";
import { SimClock } from "../../../hosts/sim/sim-clock.js";
import { referencePolicyJson } from "../policy/policy-corpus.js";
import { bootConfig, policyUpdateKeys, provision, UPDATE_IDENTITY, updateFor } from "../../support/policy-updates.js";

const { device: DEVICE, zone: ZONE } = UPDATE_IDENTITY;
const ROOT = new Uint8Array(32).fill(0x6d);
const START = Date.UTC(2026, 8, 1, 6, 0, 0);
const CMD_TOPIC = `civicnode/${ZONE}/${DEVICE}/cmd`;
const keys = policyUpdateKeys();
afterAll(() => keys.remove());

const REFERENCE = referencePolicyJson();
const STRONGER = (() => {
  const policy = referencePolicyJson();
  policy.channels[7].privacy.k = 5;
  return policy;
})();

function street(options: { withUpdates?: boolean } = {}) {
  const store = new MemoryStore();
  store.commit(provisioningWrites(ROOT, DEVICE));
  provision(store, keys, REFERENCE);
  const clock = new SimClock({ startWallMs: START });
  const transport = new LoopbackTransport();
  const { board } = simulatedReferenceBoard(DEVICE, ZONE, clock, clock);
  const platform: Platform = { clock, timers: clock, random: new SeededRandom("policy-update"), store, transport, buses: board, log: () => {} };
  const restarts: string[][] = [];
  const node: CivicNode = new CivicNode(platform, bootConfig(store), {
    ...(options.withUpdates === false ? {} : { applyPolicyUpdate }),
    // What the node has audited when it asks to be restarted.
    restart: () => restarts.push(node.audit.entries.map((e) => `${e.event} ${e.detail}`)),
  });
  node.start();
  const sent: Uint8Array[] = [];
  const send = (chunks: readonly PolicyChunk[]) => {
    const downlink = downlinkKeysFromRoot(ROOT, DEVICE);
    for (const chunk of chunks) {
      sent.push(sealCommand({ name: "policy-chunk", issued: clock.wallMs() / 1000, args: policyChunkArgs(chunk) }, DEVICE, CMD_TOPIC, downlink, sent.length));
      transport.deliver(CMD_TOPIC, sent.at(-1)!);
    }
  };
  const audited = () => node.audit.entries.map((e) => `${e.event} ${e.detail}`);
  return { store, clock, transport, node, restarts, send, sent, audited };
}

/** A seeded shuffle, so a run is reproducible. */
function shuffled<T>(items: readonly T[], seed: string): T[] {
  const random = new SeededRandom(seed);
  const out = [...items];
  const byte = new Uint8Array(1);
  for (let i = out.length - 1; i > 0; i--) {
    random.fill(byte);
    const j = byte[0]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("a policy update through the downlink", () => {
  it("is taken when whole: stored, audited once (not chunk by chunk), and then the node asks to restart", () => {
    const { store, node, restarts, send, audited } = street();
    const chunks = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" }));
    expect(chunks.length).toBeGreaterThan(15);
    const entries = node.audit.entries.length;
    send(chunks.slice(0, -1));
    expect(node.commands.counts.partial).toBe(chunks.length - 1);
    expect(node.policyUpdates.bufferedBytes).toBe(chunks.length * POLICY_CHUNK_BYTES);
    expect(provisionedPolicy(store, UPDATE_IDENTITY).serial).toBe(1);
    send(chunks.slice(-1));
    expect(node.commands.counts).toMatchObject({ accepted: 1, partial: chunks.length - 1, bounds: 0 });
    expect(node.audit.entries.length).toBe(entries + 1);
    expect(audited().at(-1)).toBe("policy-updated serial 2");
    expect(provisionedPolicy(store, UPDATE_IDENTITY).serial).toBe(2);
    expect(node.policyUpdates.pendingSerial).toBe(2);
    expect(node.policyUpdates.bufferedBytes).toBe(0);
    // The restart comes after the entry is in the log.
    expect(restarts).toHaveLength(1);
    expect(restarts[0]!.at(-1)).toBe("policy-updated serial 2");
    // It runs on the old policy until it boots again.
    expect(node.config.disclosure.policySerial).toBe(1);
    expect(bootConfig(store).disclosure.policySerial).toBe(2);
  });

  it("takes its chunks in any order and twice", () => {
    const { store, send, audited } = street();
    const chunks = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" }));
    send(shuffled([...chunks, ...chunks.slice(3, 9)], "order"));
    expect(audited().at(-1)).toBe("policy-updated serial 2");
  });

  it("refuses a weakening with one key once, tallies the same update sent again, and takes it with both keys", () => {
    const { store, node, restarts, send, audited } = street();
    const weaker = referencePolicyJson();
    weaker.channels[7].privacy.k = 2;
    const oneKey = policyChunks(updateFor(store, keys, weaker, { countersign: "none" }));
    send(oneKey);
    expect(audited().at(-1)).toBe("policy-refused serial 2 weakens /channels/7/privacy/k");
    expect(node.commands.counts.bounds).toBe(1);
    const entries = node.audit.entries.length;
    send(oneKey); // the same update, in fresh commands
    expect(node.audit.entries.length).toBe(entries);
    expect(node.audit.refusals).toContainEqual(expect.objectContaining({ cause: "replay", count: oneKey.length }));
    expect(provisionedPolicy(store, UPDATE_IDENTITY).serial).toBe(1);
    expect(restarts).toEqual([]);

    send(policyChunks(updateFor(store, keys, weaker, { countersign: "oversight" })));
    expect(audited().at(-1)).toBe("policy-updated serial 2 two keys");
    expect(provisionedPolicy(store, UPDATE_IDENTITY).policy.channels[7]!.privacy!.k).toBe(2);
  });

  it("gives up an update that lost a chunk after ten minutes without one, freeing its buffer; sent again whole, it is taken", () => {
    const { store, clock, node, send, audited } = street();
    const update = updateFor(store, keys, STRONGER, { countersign: "none" });
    const chunks = policyChunks(update);
    send(chunks.filter((_, i) => i !== 4));
    expect(node.policyUpdates.bufferedBytes).toBeGreaterThan(0);
    clock.advanceBy(POLICY_UPDATE_TIMEOUT_MS + 300_000); // windows close meanwhile
    expect(node.policyUpdates.bufferedBytes).toBe(0);
    const hex = Buffer.from(chunks[0]!.digest).toString("hex").slice(0, 8);
    expect(audited()).toContain(`policy-incomplete ${hex} ${chunks.length - 1}/${chunks.length} timed out`);
    send(chunks);
    expect(audited().at(-1)).toBe("policy-updated serial 2");
  });

  it("starts over on a chunk of another update, which it says", () => {
    const { store, send, audited } = street();
    const first = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" }));
    const second = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none", nowS: 1_790_000_700 }));
    expect(second[0]!.digest).not.toEqual(first[0]!.digest);
    send(first.slice(0, 5));
    send(second);
    const hex = Buffer.from(first[0]!.digest).toString("hex").slice(0, 8);
    expect(audited().slice(-2)).toEqual([`policy-incomplete ${hex} 5/${first.length} replaced`, "policy-updated serial 2"]);
    // The first one, finished after all, comes too late: the store holds serial 2 now.
    send(first);
    expect(audited().at(-1)).toBe("policy-refused serial 2 the store holds serial 2");
  });

  it("refuses replayed chunks of an old update by their counters", () => {
    const { store, node, transport, send, sent } = street();
    send(policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" })));
    const replays = node.commands.counts.replay;
    for (const message of [...sent]) transport.deliver(CMD_TOPIC, message);
    expect(node.commands.counts.replay).toBe(replays + sent.length);
    expect(provisionedPolicy(store, UPDATE_IDENTITY).serial).toBe(2);
  });

  it("refuses chunks that do not add up, once per update", () => {
    const { store, node, send, audited } = street();
    const chunks = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" }));
    send([chunks[0]!, { ...chunks[0]!, data: chunks[1]!.data }]);
    expect(audited().at(-1)).toBe("policy-refused chunk 0 twice, different");
    send(chunks.slice(1)); // the rest of the refused update: tallied
    expect(node.commands.counts.replay).toBe(chunks.length - 1);
    send([{ ...chunks[0]!, digest: new Uint8Array(32).fill(7), index: 0, total: 2, data: chunks[0]!.data }, { ...chunks[0]!, digest: new Uint8Array(32).fill(7), index: 1, total: 3, data: chunks[0]!.data }]);
    expect(audited().at(-1)).toBe("policy-refused chunk 1 names 3 chunks, not 2");
    send([{ ...chunks[0]!, index: 5, total: 5 }]);
    expect(audited().at(-1)).toBe("command-refused bounds policy-chunk");
    const corrupt = updateFor(store, keys, STRONGER, { countersign: "none", nowS: 1_790_000_800 }).slice();
    const parts = policyChunks(corrupt);
    corrupt[100]! ^= 1;
    send(policyChunks(corrupt).map((chunk) => ({ ...chunk, digest: parts[0]!.digest })));
    expect(audited().at(-1)).toBe("policy-refused digest does not match");
    expect(provisionedPolicy(store, UPDATE_IDENTITY).serial).toBe(1);
  });

  it("a node built without the check refuses updates, once per update", () => {
    const { store, node, send, audited } = street({ withUpdates: false });
    const chunks = policyChunks(updateFor(store, keys, STRONGER, { countersign: "none" }));
    send(chunks);
    expect(audited().filter((e) => e.startsWith("policy-"))).toEqual(["policy-refused this node takes no policy updates"]);
    expect(node.commands.counts).toMatchObject({ bounds: 1, replay: chunks.length - 1 });
  });

  it("the widest chunk seals within a command's 512 bytes; the buffer is bounded", () => {
    const device = "d".repeat(32);
    const topic = `civicnode/${"z".repeat(32)}/${device}/cmd`;
    const chunk: PolicyChunk = { digest: new Uint8Array(32).fill(0xff), index: POLICY_UPDATE_MAX_CHUNKS - 2, total: POLICY_UPDATE_MAX_CHUNKS, data: new Uint8Array(POLICY_CHUNK_BYTES).fill(0xff) };
    const sealed = sealCommand({ name: "policy-chunk", issued: 2 ** 40, args: policyChunkArgs(chunk) }, device, topic, downlinkKeysFromRoot(ROOT, device), 2 ** 40 - 1);
    expect(sealed.length).toBeLessThanOrEqual(MAX_COMMAND_BYTES);
    expect(POLICY_UPDATE_MAX_CHUNKS * POLICY_CHUNK_BYTES).toBeLessThan(POLICY_UPDATE_MAX_BYTES + POLICY_CHUNK_BYTES);
    expect(() => policyChunks(new Uint8Array(POLICY_UPDATE_MAX_BYTES + 1))).toThrow(RangeError);
  });
});
