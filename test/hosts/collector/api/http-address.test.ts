/** `--http host:port`: what it takes, what it refuses, and the default (a free port on 127.0.0.1). */
import { describe, expect, it } from "vitest";
import { DEFAULT_HTTP_ADDRESS, HttpAddressError, isLoopback, parseHttpAddress } from "../../../../hosts/collector/api/http-address.js";

describe("the API's listening address", () => {
  it("takes host:port with a name, an IPv4 address or a bracketed IPv6 address", () => {
    expect(parseHttpAddress("127.0.0.1:8080")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseHttpAddress("localhost:0")).toEqual({ host: "localhost", port: 0 });
    expect(parseHttpAddress("[::1]:65535")).toEqual({ host: "::1", port: 65535 });
    expect(parseHttpAddress("0.0.0.0:80")).toEqual({ host: "0.0.0.0", port: 80 });
    expect(parseHttpAddress("api.city.example:443")).toEqual({ host: "api.city.example", port: 443 });
  });

  it("refuses anything else, saying what it expects", () => {
    for (const text of ["", "8080", "localhost", ":8080", "localhost:", "localhost:65536", "localhost:-1", "localhost:80x", "::1:8080", "[::1]", "[nope]:80", "a b:80", "-bad:80", "host:08080000000"]) {
      expect(() => parseHttpAddress(text), text).toThrow(HttpAddressError);
    }
    expect(() => parseHttpAddress("localhost")).toThrow(/expected host:port/);
    expect(() => parseHttpAddress("localhost:70000")).toThrow(/0 to 65535/);
  });

  it("defaults to a free port on the loopback interface", () => {
    expect(DEFAULT_HTTP_ADDRESS).toEqual({ host: "127.0.0.1", port: 0 });
    expect(isLoopback(DEFAULT_HTTP_ADDRESS.host)).toBe(true);
    expect(["localhost", "::1", "127.0.0.1", "127.1.2.3"].every(isLoopback)).toBe(true);
    expect(["0.0.0.0", "::", "10.0.0.1", "api.city.example"].some(isLoopback)).toBe(false);
  });
});
