/**
 * The passphrase a test's state folder is sealed under: its local passphrase file
 * (`<state>/passphrase`), created on the first seal as the quick start creates it, so that the
 * built tools a test runs on the folder open it the same way. The test process's own environment
 * is ignored: a CIVICNODE_PASSPHRASE in the shell must not change what a test does.
 *
 *   keyring.save(state, localPassphrase(state));
 *   Keyring.load(state, localPassphrase(state));
 */
import { PassphraseSource } from "../../hosts/collector/passphrase-source.js";

export function localPassphrase(stateDir: string): PassphraseSource {
  return new PassphraseSource(stateDir, { env: {}, notify: () => {} });
}
