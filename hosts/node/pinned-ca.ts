/**
 * The CA certificate that a TLS connection to the broker pins: the only certificate authority
 * trusted for the broker's certificate, in place of the system's public roots. A public CA would
 * accept any certificate it issued for the broker's host name; a pinned private CA accepts only
 * the ones the deployment issued itself.
 *
 * Shared by the node's MQTT transport, the simulator's CLI and the collector, so that all of them
 * accept and refuse the same files. Error messages never quote the input: a private key handed
 * over by mistake must not end up in a log.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_BLOCK = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/**
 * Checks that `ca` is PEM text holding one or more X.509 certificates and no private key, and
 * returns just the certificates, PEM encoded. Throws a RangeError that says what is wrong.
 */
export function pinnedCaPem(ca: string | Uint8Array): string {
  if (typeof ca !== "string" && !(ca instanceof Uint8Array)) throw new TypeError("the CA must be PEM text or bytes");
  const text = typeof ca === "string" ? ca : new TextDecoder().decode(ca);
  if (PRIVATE_KEY_BLOCK.test(text)) {
    throw new RangeError("the CA holds a private key; give the CA certificate only (the key stays with whoever issues certificates)");
  }
  const blocks = text.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new RangeError(
      "the CA is not a PEM certificate (no -----BEGIN CERTIFICATE----- block); a DER file converts with `openssl x509 -inform der -in ca.der -out ca.pem`",
    );
  }
  blocks.forEach((block, index) => {
    try {
      new X509Certificate(block);
    } catch {
      throw new RangeError(`the CA's certificate #${index + 1} does not parse as X.509`);
    }
  });
  return blocks.join("\n") + "\n";
}

/** Reads and checks a pinned CA file (see `pinnedCaPem`); the error names the file and the problem. */
export function readPinnedCa(file: string): string {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(`cannot read CA file ${file}${code ? ` (${code})` : ""}`);
  }
  try {
    return pinnedCaPem(bytes);
  } catch (error) {
    throw new Error(`CA file ${file}: ${(error as Error).message}`);
  }
}
