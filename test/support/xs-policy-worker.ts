/**
 * An XS worker with the policy-update bundle (hosts/xs/worker/policy-update-entry.ts). Built like
 * the other XS bundles (hosts/xs/bundle.ts), but with class static fields lowered, which
 * @noble/curves' Ed25519 needs in this XS, and which only this entry gets: lowering them for the
 * street node made the XS street twice as slow.
 */
import { join } from "node:path";
import { buildSync } from "esbuild";
import { decodeBridge, encodeBridge, type BridgeValue } from "../../hosts/xs/bridge-codec.js";
import { projectRoot } from "../../hosts/xs/bundle.js";
import { XsnapWorker, type XsMeter } from "../../hosts/xs/xsnap-worker.js";

export interface PolicyWorker {
  run(...message: BridgeValue[]): Promise<{ result: unknown; meter: XsMeter }>;
  close(): Promise<void>;
}

export async function startPolicyWorker(): Promise<PolicyWorker> {
  const built = buildSync({
    entryPoints: [join(projectRoot(), "hosts", "xs", "worker", "policy-update-entry.ts")],
    bundle: true,
    write: false,
    format: "iife",
    platform: "neutral",
    target: "es2022",
    supported: { "class-static-field": false },
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    legalComments: "none",
    logLevel: "silent",
  });
  const worker = new XsnapWorker({ name: "civicnode-policy-test" });
  await worker.evaluate(built.outputFiles[0]!.text);
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
