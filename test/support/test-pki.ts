/**
 * A throwaway public-key infrastructure for the TLS tests, made with the `openssl` command-line
 * tool in a temporary folder: a CA (the one the tests pin), a server certificate it issued for
 * `localhost` and 127.0.0.1, and the certificates a client must refuse. All keys are P-256 and
 * live only as long as the folder.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM */
  readonly cert: string;
  /** PEM */
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** The CA the clients pin. */
  readonly caFile: string;
  readonly ca: string;
  /** Issued by `ca` for DNS:localhost and IP:127.0.0.1: the broker's proper certificate. */
  readonly server: TestCertificate;
  /** Issued by `ca`, but for DNS:elsewhere.invalid only: a valid chain, the wrong name. */
  readonly wrongName: TestCertificate;
  /** Issued by `ca` for localhost and 127.0.0.1, valid only on 1-2 January 2020. */
  readonly expired: TestCertificate;
  /** An unrelated CA, which no client trusts. */
  readonly otherCaFile: string;
  readonly otherCa: string;
  /** Issued by `otherCa` for localhost and 127.0.0.1: right name, wrong CA (an impostor). */
  readonly impostor: TestCertificate;
  remove(): void;
}

/** Fails with a clear message when the `openssl` tool is missing (CI installs it). */
export function opensslVersion(): string {
  try {
    return execFileSync("openssl", ["version"], { encoding: "utf8" }).trim();
  } catch (error) {
    throw new Error(`the openssl command-line tool is needed for the TLS tests (apt-get install openssl): ${(error as Error).message}`);
  }
}

const CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
authorityKeyIdentifier = keyid
[wrong_name_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:elsewhere.invalid
authorityKeyIdentifier = keyid
# "openssl ca" is only used for the expired certificate: unlike "openssl x509" it takes a start date.
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
rand_serial = yes
default_md = sha256
policy = any_name
unique_subject = no
[any_name]
commonName = supplied
`;

export function makeTestPki(): TestPki {
  opensslVersion();
  const dir = mkdtempSync(join(tmpdir(), "civicnode-pki-"));
  const openssl = (...args: string[]): void => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
      throw new Error(`openssl ${args[0]} failed: ${stderr || (error as Error).message}`);
    }
  };
  writeFileSync(join(dir, "openssl.cnf"), CONFIG);
  writeFileSync(join(dir, "index.txt"), "");
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const selfSignedCa = (name: string, cn: string): void =>
    openssl("req", "-x509", "-config", "openssl.cnf", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${cn}`, "-extensions", "ca_ext");
  const request = (name: string, cn: string): void =>
    openssl("req", "-new", "-config", "openssl.cnf", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
  const issue = (name: string, ca: string, extensions: string): void =>
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-extfile", "openssl.cnf", "-extensions", extensions, "-out", `${name}.crt`);

  selfSignedCa("ca", "civicnode test CA");
  selfSignedCa("other-ca", "an unrelated CA");
  request("server", "localhost");
  issue("server", "ca", "server_ext");
  request("wrong-name", "elsewhere.invalid");
  issue("wrong-name", "ca", "wrong_name_ext");
  request("impostor", "localhost");
  issue("impostor", "other-ca", "server_ext");
  request("expired", "localhost");
  openssl("ca", "-batch", "-config", "openssl.cnf", "-cert", "ca.crt", "-keyfile", "ca.key", "-in", "expired.csr", "-out", "expired.crt", "-notext", "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-extfile", "openssl.cnf", "-extensions", "server_ext");

  const certificate = (name: string): TestCertificate => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
  };
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    ca: readFileSync(join(dir, "ca.crt"), "utf8"),
    server: certificate("server"),
    wrongName: certificate("wrong-name"),
    expired: certificate("expired"),
    otherCaFile: join(dir, "other-ca.crt"),
    otherCa: readFileSync(join(dir, "other-ca.crt"), "utf8"),
    impostor: certificate("impostor"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
