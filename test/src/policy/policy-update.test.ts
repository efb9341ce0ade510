/**
 * The node's check of a policy update (src/policy/policy-update.ts), on updates made as the city
 * makes them: the two-key rule for every kind of change, and every other reason to refuse one.
 */
import { afterAll, describe, expect, it } from "vitest";
import { applyPolicyUpdate, checkPolicyUpdate, OVERSIGHT_KEY_STORE_KEY, type PolicyUpdateVerdict } from "../../../src/policy/policy-update.js";
import { decodePolicyUpdate, encodePolicyUpdate } from "../../../src/policy/policy-update-bundle.js";
import { provisionedDisclosure } from "../../../src/policy/signed-disclosure.js";
import { provisionedPolicy, SIGNED_POLICY_STORE_KEY } from "../../../src/policy/signed-policy.js";
import { disclosureFor, encodeDisclosure } from "../../../src/policy/disclosure.js";
import { unverifiedSign1Payload } from "../../../src/wire/cose-sign1.js";
import { MemoryStore } from "../../../hosts/sim/memory-store.js";
import { FaultyStore } from "../../../hosts/sim/faulty-store.js";
import { EmulatedNvs } from "../../../hosts/sim/emulated-nvs.js";
import { PreferenceStore } from "../../../hosts/moddable/preference-store.js";
import { changeDocuments, STRENGTHENINGS, WEAKENINGS } from "./policy-change-corpus.js";
import { referencePolicyJson } from "./policy-corpus.js";
import { bootConfig, policyUpdateKeys, provision, UPDATE_IDENTITY, updateFor, type UpdateOptions } from "../../support/policy-updates.js";

const keys = policyUpdateKeys();
afterAll(() => keys.remove());

/** A node provisioned with `running`, and its verdict on an update to `proposed`. */
function verdict(running: unknown, proposed: unknown, options: UpdateOptions, provisioning: { oversight?: boolean } = {}): { verdict: PolicyUpdateVerdict; store: MemoryStore } {
  const store = new MemoryStore();
  provision(store, keys, running, provisioning);
  const update = updateFor(store, keys, proposed, options);
  return { verdict: applyPolicyUpdate(update, store, bootConfig(store)), store };
}

describe("the two-key rule on the node", () => {
  for (const c of WEAKENINGS) {
    it(`${c.name}: refused with the operator's key alone, taken with the oversight key's too`, () => {
      const { running, proposed, proposedAt } = changeDocuments(c);
      const one = verdict(running, proposed, { countersign: "none", position: proposedAt });
      expect(one.verdict).toMatchObject({ accepted: false, serial: 2, reason: `weakens ${c.weakens[0]}` });
      expect(one.verdict.accepted === false && one.verdict.weakenings?.map((w) => w.pointer)).toEqual(c.weakens);
      expect(provisionedPolicy(one.store, UPDATE_IDENTITY).serial).toBe(1);

      const two = verdict(running, proposed, { countersign: "oversight", position: proposedAt });
      expect(two.verdict).toEqual({ accepted: true, serial: 2, twoKeys: true });
      const taken = provisionedPolicy(two.store, UPDATE_IDENTITY);
      expect(taken.serial).toBe(2);
      expect(taken.position).toEqual(proposedAt);
      // The node boots on it: its disclosure is the one it would say itself.
      expect(() => provisionedDisclosure(two.store, encodeDisclosure(disclosureFor(bootConfig(two.store))))).not.toThrow();
    });
  }

  for (const c of STRENGTHENINGS) {
    it(`${c.name}: taken with the operator's key alone`, () => {
      const { running, proposed } = changeDocuments(c);
      const one = verdict(running, proposed, { countersign: "none" });
      expect(one.verdict).toEqual({ accepted: true, serial: 2, twoKeys: false });
      expect(bootConfig(one.store).disclosure.policySerial).toBe(2);
    });
  }

  it("refuses a countersignature by a key it was not given, whatever the change", () => {
    const weaker = changeDocuments(WEAKENINGS[0]!);
    expect(verdict(weaker.running, weaker.proposed, { countersign: "stranger" }).verdict).toMatchObject({ accepted: false, serial: 2, reason: "countersignature does not verify" });
    const stronger = changeDocuments(STRENGTHENINGS[1]!);
    expect(verdict(stronger.running, stronger.proposed, { countersign: "stranger" }).verdict).toMatchObject({ accepted: false, reason: "countersignature does not verify" });
  });

  it("refuses a forged countersignature (one byte of it changed)", () => {
    const { running, proposed } = changeDocuments(WEAKENINGS[0]!);
    const store = new MemoryStore();
    provision(store, keys, running);
    const bundle = decodePolicyUpdate(updateFor(store, keys, proposed, { countersign: "oversight" }));
    const forged = bundle.countersignature!.slice();
    forged[forged.length - 5]! ^= 0x01;
    expect(applyPolicyUpdate(encodePolicyUpdate({ ...bundle, countersignature: forged }), store, bootConfig(store))).toMatchObject({ accepted: false, reason: "countersignature does not verify" });
    // A countersignature of another payload (the same policy, signed another time) does not fit this one.
    const other = decodePolicyUpdate(updateFor(store, keys, proposed, { countersign: "oversight", nowS: 1_790_000_601 }));
    expect(applyPolicyUpdate(encodePolicyUpdate({ ...bundle, countersignature: other.countersignature }), store, bootConfig(store))).toMatchObject({ reason: "countersignature does not verify" });
  });

  it("without an oversight key provisioned, takes no weakening at all, and strengthenings still", () => {
    const weaker = changeDocuments(WEAKENINGS[0]!);
    const { verdict: refused, store } = verdict(weaker.running, weaker.proposed, { countersign: "oversight" }, { oversight: false });
    expect(store.get(OVERSIGHT_KEY_STORE_KEY)).toBeUndefined();
    expect(refused).toMatchObject({ accepted: false, reason: `weakens ${WEAKENINGS[0]!.weakens[0]}, no oversight key` });
    const stronger = changeDocuments(STRENGTHENINGS[1]!);
    expect(verdict(stronger.running, stronger.proposed, { countersign: "none" }, { oversight: false }).verdict).toMatchObject({ accepted: true });
  });
});

describe("a policy update refused for what it is", () => {
  const reference = referencePolicyJson();
  const stronger = changeDocuments(STRENGTHENINGS[1]!).proposed;

  it("a serial that skips ahead of the store's", () => {
    expect(verdict(reference, stronger, { countersign: "none", serialSkew: 1 }).verdict).toMatchObject({ accepted: false, serial: 3, reason: "the store holds serial 1" });
  });

  it("an update taken once, given again (its serial is the store's now)", () => {
    const store = new MemoryStore();
    provision(store, keys, reference);
    const update = updateFor(store, keys, stronger, { countersign: "none" });
    expect(applyPolicyUpdate(update, store, bootConfig(store))).toMatchObject({ accepted: true, serial: 2 });
    expect(applyPolicyUpdate(update, store, bootConfig(store))).toMatchObject({ accepted: false, serial: 2, reason: "the store holds serial 2" });
  });

  it("weighs the next update against the one stored, not the one still running", () => {
    const store = new MemoryStore();
    provision(store, keys, reference);
    const running = bootConfig(store);
    expect(applyPolicyUpdate(updateFor(store, keys, stronger, { countersign: "none" }), store, running)).toMatchObject({ accepted: true, serial: 2 });
    // Back to the reference from the stronger one stored: a weakening, though the node still runs the reference.
    expect(applyPolicyUpdate(updateFor(store, keys, reference, { countersign: "none" }), store, running)).toMatchObject({ accepted: false, serial: 3, reason: "weakens /channels/7/privacy/k" });
    expect(applyPolicyUpdate(updateFor(store, keys, reference, { countersign: "oversight" }), store, running)).toMatchObject({ accepted: true, serial: 3, twoKeys: true });
  });

  it("one signed for another node", () => {
    expect(verdict(reference, stronger, { countersign: "none", device: "street-02" }).verdict).toMatchObject({ accepted: false, serial: undefined, reason: "for another node" });
  });

  it("one not signed by the operator's key, or altered", () => {
    const store = new MemoryStore();
    provision(store, keys, reference);
    const bundle = decodePolicyUpdate(updateFor(store, keys, stronger, { countersign: "none" }));
    const altered = bundle.signedPolicy.slice();
    altered[200]! ^= 0x01;
    expect(checkPolicyUpdate(encodePolicyUpdate({ ...bundle, signedPolicy: altered }), store, bootConfig(store))).toMatchObject({ accepted: false, reason: "not the operator's signature" });
    // Signed by the oversight key instead: a countersignature is no signature of the operator's.
    const { countersignature } = decodePolicyUpdate(updateFor(store, keys, stronger, { countersign: "oversight" }));
    expect(countersignature).toBeDefined();
    expect(checkPolicyUpdate(encodePolicyUpdate({ ...bundle, signedPolicy: countersignature! }), store, bootConfig(store))).toMatchObject({ accepted: false, reason: "not the operator's signature" });
  });

  it("one whose disclosure is another policy's, or not the operator's signature", () => {
    const store = new MemoryStore();
    provision(store, keys, reference);
    const bundle = decodePolicyUpdate(updateFor(store, keys, stronger, { countersign: "none" }));
    const otherPolicy = decodePolicyUpdate(updateFor(store, keys, changeDocuments(STRENGTHENINGS[2]!).proposed, { countersign: "none" }));
    expect(checkPolicyUpdate(encodePolicyUpdate({ ...bundle, signedDisclosure: otherPolicy.signedDisclosure }), store, bootConfig(store))).toMatchObject({ accepted: false, serial: 2, reason: "disclosure is not this policy's" });
    const forged = bundle.signedDisclosure.slice();
    forged[forged.length - 1]! ^= 0x01; // in the signature
    expect(unverifiedSign1Payload(forged)).toEqual(unverifiedSign1Payload(bundle.signedDisclosure));
    expect(checkPolicyUpdate(encodePolicyUpdate({ ...bundle, signedDisclosure: forged }), store, bootConfig(store))).toMatchObject({ accepted: false, serial: 2, reason: "disclosure not the operator's" });
  });

  it("one the node's board cannot run: a sensor its running policy does not read", () => {
    const fewer = referencePolicyJson();
    fewer.channels = fewer.channels.filter((c: { sensor: string }) => c.sensor !== "pm");
    const back = referencePolicyJson();
    const store = new MemoryStore();
    provision(store, keys, fewer);
    // The city's tool sees the board as the node does, and refuses to issue it.
    expect(() => updateFor(store, keys, back, { countersign: "oversight" })).toThrow('no sensor "pm" on this board');
  });

  it("what is not a policy update", () => {
    const store = new MemoryStore();
    provision(store, keys, reference);
    expect(checkPolicyUpdate(Uint8Array.of(0x83, 1, 2, 3), store, bootConfig(store))).toMatchObject({ accepted: false, serial: undefined, reason: "not a policy update" });
  });
});

describe("storing a policy update", () => {
  const reference = referencePolicyJson();
  const stronger = changeDocuments(STRENGTHENINGS[1]!).proposed;

  it("a power cut during its commit leaves the old policy and disclosure whole, or the new", () => {
    for (const applies of [false, true]) {
      const flash = new MemoryStore();
      provision(flash, keys, reference);
      const update = updateFor(flash, keys, stronger, { countersign: "none" });
      const before = flash.get(SIGNED_POLICY_STORE_KEY);
      const store = new FaultyStore(flash);
      store.cutPowerAtCommit(0, applies);
      expect(applyPolicyUpdate(update, store, bootConfig(flash))).toMatchObject({ accepted: false, storeFailure: "PowerCutError" });
      expect(store.powered).toBe(false);
      // Power on: the node boots on one pair, whole.
      const config = bootConfig(flash);
      expect(config.disclosure.policySerial).toBe(applies ? 2 : 1);
      expect(() => provisionedDisclosure(flash, encodeDisclosure(disclosureFor(config)))).not.toThrow();
      if (!applies) expect(flash.get(SIGNED_POLICY_STORE_KEY)).toEqual(before);
    }
  });

  it("a store that fails the commit keeps the old pair, and says why", () => {
    const flash = new MemoryStore();
    provision(flash, keys, reference);
    const store = new FaultyStore(flash);
    store.failWrites("ENOSPC");
    expect(applyPolicyUpdate(updateFor(flash, keys, stronger, { countersign: "none" }), store, bootConfig(flash))).toEqual({ accepted: false, serial: 2, reason: "store ENOSPC", storeFailure: "ENOSPC" });
    expect(bootConfig(flash).disclosure.policySerial).toBe(1);
  });

  it("on the ESP32's NVS store, the commit (about 7 KB, over its one-value journal limit) is taken through a journal in segments", () => {
    const provisioned = new MemoryStore();
    provision(provisioned, keys, reference);
    // Written as an ESP32 is provisioned: each key on its own (one NVS write each, no journal).
    const nvs = new EmulatedNvs();
    const store = new PreferenceStore(nvs.preference, "civicnode");
    for (const key of provisioned.keys("")) store.commit([{ key, value: provisioned.get(key) }]);
    const verdict = applyPolicyUpdate(updateFor(store, keys, stronger, { countersign: "none" }), store, bootConfig(store));
    expect(verdict).toEqual({ accepted: true, serial: 2, twoKeys: false });
    expect(nvs.log).toContain("write ~journal.2"); // test/hosts/moddable/preference-store.test.ts cuts it at every operation
    const rebooted = new PreferenceStore(nvs.preference, "civicnode");
    const config = bootConfig(rebooted);
    expect(config.disclosure.policySerial).toBe(2);
    expect(() => provisionedDisclosure(rebooted, encodeDisclosure(disclosureFor(config)))).not.toThrow();
  });
});
