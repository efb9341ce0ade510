/** Starts an XS worker with the scenario bundle and sends it bridge commands. */
import { bundleForXs } from "../../hosts/xs/bundle.js";
import { decodeBridge, encodeBridge, type BridgeValue } from "../../hosts/xs/bridge-codec.js";
import { XsnapWorker, type XsMeter } from "../../hosts/xs/xsnap-worker.js";

export interface ScenarioWorker {
  run(...message: BridgeValue[]): Promise<{ result: unknown; meter: XsMeter }>;
  close(): Promise<void>;
}

export async function startScenarioWorker(): Promise<ScenarioWorker> {
  const worker = new XsnapWorker({ name: "civicnode-test" });
  await worker.evaluate(bundleForXs("scenario").code);
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
