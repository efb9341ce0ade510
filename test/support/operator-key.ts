/**
 * The operator's signing key of a test's state folder (hosts/collector/operator-key.ts), created
 * on first use and sealed under the folder's local passphrase, as the quick start does.
 */
import { OperatorKey } from "../../hosts/collector/operator-key.js";
import { localPassphrase } from "./local-passphrase.js";

export function testOperatorKey(stateDir: string): OperatorKey {
  return OperatorKey.loadOrCreate(stateDir, localPassphrase(stateDir)).key;
}
