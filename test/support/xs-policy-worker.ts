/**
 * An XS worker with the policy-update bundle (hosts/xs/worker/policy-update-entry.ts). Built like
 * the other XS bundles (hosts/xs/bundle.ts), but with class static fields lowered, which
 * @noble/curves' Ed25519 needs in this XS, and which only this entry gets: lowering them for the
 * street node made the XS street twice as slow.
 */
import { decodeBridge, encodeBridge, type BridgeValue } from "../../hosts/xs/bridge-codec.js";
import { bundleForXs } from "../../hosts/xs/bundle.js";
import { XsnapWorker, type XsMeter } from "../../hosts/xs/xsnap-worker.js";

export interface PolicyWorker {
  run(...message: BridgeValue[]): Promise<{ result: unknown; meter: XsMeter }>;
  close(): Promise<void>;
}

export async function startPolicyWorker(): Promise<PolicyWorker> {
  const worker = new XsnapWorker({ name: "civicnode-policy-test" });
  await worker.evaluate(bundleForXs("policy-update").code);
  return {
    async run(...message) {
      const { reply, meter } = await worker.command(encodeBridge(message));
      const [status, json] = decodeBridge(reply);
      if (status !== "ok") throw new Error(`XS replied ${String(status)}`);
      return { result: JSON.parse(String(json)), meter };
    },
    close: () => worker.close(),
  };
}
