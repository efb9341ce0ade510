/**
 * The API's listening address, as `--http host:port` gives it to `npm start` and `npm run
 * collector`: `127.0.0.1:8080`, `localhost:0`, `[::1]:8080`, `0.0.0.0:8080`. Port 0 asks the OS for
 * a free port. The default is a free port on 127.0.0.1: the API speaks plain HTTP, and a bearer
 * token sent in the clear over a network can be read by anyone on it, so a city serves it beyond
 * the machine only behind a TLS reverse proxy (docs/api.md).
 */

export interface HttpAddress {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_HTTP_ADDRESS: HttpAddress = { host: "127.0.0.1", port: 0 };

export class HttpAddressError extends Error {
  override name = "HttpAddressError";
}

/** A host name (RFC 1123 labels) or an IPv4 address; IPv6 addresses come in brackets. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

/** Parses `host:port`; throws HttpAddressError saying what is wrong and what is expected. */
export function parseHttpAddress(text: string): HttpAddress {
  const expected = "expected host:port, e.g. 127.0.0.1:8080, localhost:0 or [::1]:8080";
  const bracketed = /^\[([^\]]*)\]:(\d+)$/.exec(text);
  const plain = /^([^:[\]]+):(\d+)$/.exec(text);
  const match = bracketed ?? plain;
  if (!match) throw new HttpAddressError(`--http ${JSON.stringify(text)}: ${expected}`);
  const host = match[1]!;
  if (bracketed ? !IPV6.test(host) || !host.includes(":") : !HOST_NAME.test(host)) {
    throw new HttpAddressError(`--http ${JSON.stringify(text)}: ${JSON.stringify(host)} is not a host name or IP address`);
  }
  const port = Number(match[2]);
  if (!Number.isSafeInteger(port) || port > 65535) throw new HttpAddressError(`--http ${JSON.stringify(text)}: the port must be 0 to 65535 (0: a free one)`);
  return { host, port };
}

/** Whether the address is reachable only from this machine. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
