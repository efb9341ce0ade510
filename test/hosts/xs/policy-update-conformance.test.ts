/**
 * The two-key rule on Node and in the XS engine: the comparison of policies gives the same
 * weakenings for every change of the corpus, and the node's check of whole updates (Ed25519
 * signatures, countersignatures, serials, disclosures, the store commit) the same verdicts and the
 * same store afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToHex } from "@noble/hashes/utils.js";
import { parsePolicy } from "../../../src/policy/deployment-policy.js";
import { nodeConfigFromSignedPolicy } from "../../../src/policy/node-from-policy.js";
import { policyWeakenings } from "../../../src/policy/policy-change.js";
import { applyPolicyUpdate } from "../../../src/policy/policy-update.js";
import { decodePolicyUpdate, encodePolicyUpdate } from "../../../src/policy/policy-update-bundle.js";
import { parseNodeConfig } from "../../../src/policy/node-config.js";
import { provisionedPolicy } from "../../../src/policy/signed-policy.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { streetBoard } from "../../../hosts/sim/street.js";
import { changeDocuments, STRENGTHENINGS, WEAKENINGS } from "../../src/policy/policy-change-corpus.js";
import { referencePolicyJson } from "../../src/policy/policy-corpus.js";
import { policyUpdateKeys, provision, UPDATE_IDENTITY, updateFor, type UpdateOptions } from "../../support/policy-updates.js";
import { startPolicyWorker, type PolicyWorker } from "../../support/xs-policy-worker.js";

const keys = policyUpdateKeys();

describe("conformance: Node and XS apply the two-key rule the same", () => {
  let worker: PolicyWorker;

  beforeAll(async () => {
    worker = await startPolicyWorker();
  });

  afterAll(async () => {
    await worker?.close();
    keys.remove();
  });

  it("find the same weakenings in every change of the corpus", async () => {
    const cases = [...WEAKENINGS, ...STRENGTHENINGS];
    const documents = cases.map(changeDocuments);
    const onNode = documents.map((d) => policyWeakenings({ policy: parsePolicy(d.running), position: d.runningAt }, { policy: parsePolicy(d.proposed), position: d.proposedAt }).map((w) => w.pointer));
    const { result: onXs } = await worker.run("weakenings", JSON.stringify(documents));
    expect(onXs).toEqual(onNode);
    expect(onNode).toEqual(cases.map((c) => c.weakens));
  });

  it("give the same verdicts on whole updates, and leave the same store", async () => {
    const weaker = changeDocuments(WEAKENINGS.find((c) => c.name === "a smaller k")!);
    const moved = changeDocuments(WEAKENINGS.find((c) => c.name === "a moved exact position")!);
    const stronger = changeDocuments(STRENGTHENINGS.find((c) => c.name === "a larger k")!);
    const trials: Array<{ name: string; running: unknown; proposed: unknown; options: UpdateOptions; tamper?: (update: Uint8Array) => Uint8Array }> = [
      { name: "weaker, one key", running: weaker.running, proposed: weaker.proposed, options: { countersign: "none" } },
      { name: "weaker, two keys", running: weaker.running, proposed: weaker.proposed, options: { countersign: "oversight" } },
      { name: "moved, two keys", running: moved.running, proposed: moved.proposed, options: { countersign: "oversight", position: moved.proposedAt } },
      { name: "weaker, a stranger's countersignature", running: weaker.running, proposed: weaker.proposed, options: { countersign: "stranger" } },
      { name: "stronger, one key", running: stronger.running, proposed: stronger.proposed, options: { countersign: "none" } },
      { name: "stronger, skipping a serial", running: stronger.running, proposed: stronger.proposed, options: { countersign: "none", serialSkew: 1 } },
      {
        name: "stronger, a forged disclosure",
        running: stronger.running,
        proposed: stronger.proposed,
        options: { countersign: "none" },
        tamper: (update) => {
          const bundle = decodePolicyUpdate(update);
          const forged = bundle.signedDisclosure.slice();
          forged[forged.length - 1]! ^= 1;
          return encodePolicyUpdate({ ...bundle, signedDisclosure: forged });
        },
      },
      { name: "the reference, one key, from itself", running: referencePolicyJson(), proposed: referencePolicyJson(), options: { countersign: "none" } },
    ];
    const verdicts: unknown[] = [];
    for (const trial of trials) {
      const store = new MemoryStore();
      provision(store, keys, trial.running);
      const update = (trial.tamper ?? ((u: Uint8Array) => u))(updateFor(store, keys, trial.proposed, trial.options));
      const configJson = JSON.stringify(nodeConfigFromSignedPolicy(provisionedPolicy(store, UPDATE_IDENTITY), streetBoard()));
      const entries = Object.fromEntries(store.keys("").map((key) => [key, bytesToHex(store.get(key)!)]));
      const verdict = applyPolicyUpdate(update, store, parseNodeConfig(JSON.parse(configJson)));
      const onNode = JSON.parse(JSON.stringify({ verdict, keys: Object.fromEntries(store.keys("").sort().map((key) => [key, bytesToHex(store.get(key)!)])) }));
      const { result: onXs } = await worker.run("apply", JSON.stringify(entries), configJson, update);
      expect(onXs, trial.name).toEqual(onNode);
      verdicts.push([trial.name, verdict.accepted ? `taken${verdict.twoKeys ? " with two keys" : ""}` : verdict.reason]);
    }
    expect(verdicts).toEqual([
      ["weaker, one key", "weakens /channels/7/privacy/k"],
      ["weaker, two keys", "taken with two keys"],
      ["moved, two keys", "taken with two keys"],
      ["weaker, a stranger's countersignature", "countersignature does not verify"],
      ["stronger, one key", "taken"],
      ["stronger, skipping a serial", "the store holds serial 1"],
      ["stronger, a forged disclosure", "disclosure not the operator's"],
      ["the reference, one key, from itself", "taken"],
    ]);
  });
});
